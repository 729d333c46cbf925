//! `rekey credential-process`: print a keyring-held key as `credential_process` JSON,
//! and nothing else, on stdout.

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use super::Outcome;
use rekey_sinks::Sink;

use crate::config::manifest;

/// Which keyring entry: a manifest profile's keyring sink, or one named directly.
pub struct Options {
    /// The profile whose (first) keyring sink to read.
    pub profile: Option<String>,
    /// The manifest naming the profile.
    pub manifest: Option<PathBuf>,
    /// The keyring service, with `account`.
    pub service: Option<String>,
    /// The keyring account.
    pub account: Option<String>,
}

/// Runs `rekey credential-process`.
pub async fn run(args: Options) -> Result<Outcome> {
    let entry = match (&args.account, &args.profile) {
        (Some(account), _) => {
            let service = args
                .service
                .as_deref()
                .unwrap_or(rekey_sinks::keyring::DEFAULT_SERVICE);
            rekey_sinks::keyring::Keyring::new(service, account.as_str())
        }
        (None, Some(profile)) => {
            let path = args
                .manifest
                .clone()
                .unwrap_or_else(|| PathBuf::from(manifest::FILE_NAME));
            let path = std::path::absolute(&path).unwrap_or(path);
            let loaded = manifest::load(&path)?;
            let spec = loaded
                .raw
                .profiles
                .get(profile)
                .with_context(|| format!("no profile `{profile}` in {}", path.display()))?;
            let config = spec
                .sinks
                .iter()
                .flat_map(|s| s.value.iter())
                .find_map(|sink| match sink {
                    manifest::RawSink::Keyring(config) => Some(config),
                    _ => None,
                })
                .with_context(|| {
                    format!(
                        "profile `{profile}` has no keyring sink in {}",
                        path.display()
                    )
                })?;
            config.entry(profile)
        }
        (None, None) => unreachable!("clap requires --profile or --account"),
    };
    let json = rekey_sinks::blocking::off_runtime(move || -> Result<_> {
        let json = entry.read_json()?;
        json.with_context(|| {
            format!(
                "{} does not exist; run `rekey apply` first",
                entry.describe()
            )
        })
    })
    .await?;
    println!("{}", json.as_str());
    Ok(Outcome::Success)
}
