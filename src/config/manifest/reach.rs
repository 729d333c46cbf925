//! What a manifest names that runs a program or sends something beyond this machine's
//! files: the list a person reviews before trusting it (`rekey trust`), and the reason
//! a manifest needs trust at all (issue 29). A manifest whose list is empty only moves
//! the user's key between places of this machine that exist, and is used as found.

use std::fmt;
use std::path::{Component, Path};

use rekey_sinks::registry::BuildContext;
use rekey_sinks::Reach as SinkReach;

use super::schema::{Notify, RawSinks, RawState};
use super::{resolve_program, Manifest};
use crate::config::argv::Argv;
use crate::config::paths::Paths;
use crate::escape;

/// One thing a manifest would run or send, and the field that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reach {
    /// Where in the manifest: `profiles.dev.sinks[1]`, `notify[0]`, `state`.
    pub(crate) field: String,
    /// What it does.
    pub(crate) what: Does,
}

/// What a manifest's field makes rekey do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Does {
    /// Run this program with these arguments (resolved as rekey will run it).
    Runs(Vec<String>),
    /// Send the key to this place.
    SendsKeyTo(String),
    /// Send events (key ids, user names, the host) to this webhook host.
    NotifiesHost(String),
    /// Copy journals (with the new and old secret) to this bucket and prefix.
    SharesStateIn {
        /// `s3://BUCKET/PREFIX`.
        location: String,
        /// The KMS key they are encrypted with, if named.
        kms_key_id: Option<String>,
        /// The account that must own the bucket, if named.
        owner: Option<String>,
    },
    /// Sign IAM calls with this AWS profile (an administrator's key).
    SignsAs(String),
    /// Create this file, outside the manifest's folder, to hold the key.
    CreatesOutside(String),
}

impl fmt::Display for Reach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = escape::shown(&self.field);
        match &self.what {
            Does::Runs(argv) => write!(f, "{field}: runs {}", escape::argv(argv)),
            Does::SendsKeyTo(place) => {
                write!(f, "{field}: sends the key to {}", escape::shown(place))
            }
            Does::NotifiesHost(host) => write!(
                f,
                "{field}: sends events (key ids, user names, this host's name) to {}",
                escape::shown(host)
            ),
            Does::SharesStateIn {
                location,
                kms_key_id,
                owner,
            } => {
                write!(
                    f,
                    "{field}: copies journals, which hold secrets, to {}",
                    escape::shown(location)
                )?;
                match owner {
                    Some(owner) => write!(f, " (a bucket of account {owner}")?,
                    None => write!(f, " (a bucket of the rotated users' account")?,
                }
                match kms_key_id {
                    Some(k) => write!(f, ", KMS key {})", escape::shown(k)),
                    None => write!(f, ", the account's aws/s3 KMS key)"),
                }
            }
            Does::SignsAs(profile) => write!(
                f,
                "{field}: signs its IAM calls with AWS profile {}",
                escape::shown(profile)
            ),
            Does::CreatesOutside(path) => write!(
                f,
                "{field}: creates {} (outside the manifest's folder) to hold the key",
                escape::shown(path)
            ),
        }
    }
}

impl Manifest {
    /// Everything this manifest would run or send, in the manifest's order. Pure: paths
    /// are resolved as the run would resolve them, nothing is read.
    pub(crate) fn reach(&self, paths: &Paths) -> Vec<Reach> {
        let base = self.path.parent().unwrap_or(Path::new("."));
        let mut out = Vec::new();
        let mut add = |field: String, what: Does| out.push(Reach { field, what });
        let runs = |argv: &Argv| {
            let argv = resolve_program(argv, paths, base);
            let (program, args) = argv.split_first();
            Does::Runs(std::iter::once(program).chain(args).cloned().collect())
        };
        if let RawState::S3(bucket, prefix) = &self.raw.state {
            add(
                "state".into(),
                Does::SharesStateIn {
                    location: format!("s3://{bucket}/{prefix}"),
                    kms_key_id: self.raw.state_kms_key_id.as_ref().map(|k| k.value.clone()),
                    owner: self
                        .raw
                        .state_bucket_owner
                        .as_ref()
                        .map(|o| o.value.0.clone()),
                },
            );
        }
        let defaults = &self.raw.defaults;
        if let Some(verify) = &defaults.verify {
            add("defaults.verify".into(), runs(&verify.command));
        }
        if let Some(command) = &defaults.mfa_command {
            add("defaults.mfa_command".into(), runs(command));
        }
        let sdk = rekey_sinks::aws::SdkConfig::builder().build();
        for (name, profile) in &self.raw.profiles {
            let at = |field: &str| format!("profiles.{name}.{field}");
            if let Some(via) = &profile.via {
                add(at("via"), Does::SignsAs(via.clone()));
            }
            if let Some(verify) = &profile.verify {
                add(at("verify"), runs(&verify.command));
            }
            if let Some(command) = &profile.mfa_command {
                add(at("mfa_command"), runs(command));
            }
            let expand = |path: &str| paths.expand(path, base);
            let ctx = BuildContext {
                profile: name,
                credentials_file: &paths.credentials_file,
                config_file: &paths.config_file,
                expand: &expand,
                sdk: &sdk,
            };
            for (i, sink) in profile.sinks.iter().flat_map(RawSinks::iter).enumerate() {
                let what = match sink.reach(&ctx) {
                    None => continue,
                    Some(SinkReach::Runs(argv)) => Does::Runs(argv),
                    Some(SinkReach::SendsTo(place)) => Does::SendsKeyTo(place),
                    Some(SinkReach::Creates(path)) if inside(&path, base) => continue,
                    Some(SinkReach::Creates(path)) => Does::CreatesOutside(paths.show(&path)),
                };
                add(at(&format!("sinks[{i}]")), what);
            }
        }
        for (i, target) in self.raw.notify.iter().enumerate() {
            let what = match target {
                Notify::Webhook(url) => Does::NotifiesHost(url.host()),
                Notify::Command(argv) => runs(argv),
            };
            add(format!("notify[{i}]"), what);
        }
        out
    }
}

/// Whether `path` lies in `folder`, judged by its words alone (a `..` anywhere counts
/// as outside).
fn inside(path: &Path, folder: &Path) -> bool {
    path.starts_with(folder) && !path.components().any(|c| c == Component::ParentDir)
}
