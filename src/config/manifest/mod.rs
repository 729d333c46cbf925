//! The `rekey.yaml` manifest: reading it, and resolving it into [`ProfileSpec`]s.
//!
//! Two stages, as in ripgrep's argument handling: [`load`] only parses and checks the
//! text (errors carry file, line and column), and [`Manifest::resolve`] turns it into
//! fully specified profiles (defaults applied, paths expanded) without touching the
//! filesystem or the network. Doing I/O is left to the engine.

/// Durations as the manifest writes them (the type lives in `rekey-sinks`, whose sink
/// configurations use it too).
pub(crate) use rekey_sinks::duration;
pub(crate) mod find;
mod reach;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rekey_sinks::credentials_file::CredentialsFile;
use rekey_sinks::file::path::{KeyPath, Segment};
use rekey_sinks::file::yaml_node_position;
use rekey_sinks::registry::BuildContext;

use crate::config::argv::Argv;
use crate::config::paths::Paths;
use crate::config::profile::{
    PendingStore, Policy, ProfileSpec, Propagation, SharedState, Sinks, Verify,
};
pub(crate) use reach::Reach;
pub(crate) use schema::{
    IgnoreGlob, Notify, RawManifest, RawPropagation, RawSink, RawSinks, RawState, WebhookUrl,
};

/// The manifest file name looked for in the current folder and its parents.
pub(crate) const FILE_NAME: &str = "rekey.yaml";

/// A manifest that parsed, with the folder its relative paths are relative to.
#[derive(Debug)]
pub(crate) struct Manifest {
    /// Where it was read from.
    pub(crate) path: PathBuf,
    /// Its contents.
    pub(crate) raw: RawManifest,
    /// The SHA-256 of the text it was parsed from (what a trust pins).
    pub(crate) sha256: String,
}

/// The manifest could not be read or does not follow the schema.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ManifestError {
    /// Someone other than the user or root could have written the file.
    #[error("manifest: {0}")]
    NotYours(#[from] rekey_sinks::ownership::NotYours),
    /// The file could not be read.
    #[error("cannot read manifest {}: {source}", rekey_sinks::shown::path(path))]
    Read {
        /// The manifest path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed or breaks the schema.
    #[error("{}:{line}:{column}: {message}", rekey_sinks::shown::path(path))]
    Invalid {
        /// The manifest path.
        path: PathBuf,
        /// 1-based line (0 if unknown).
        line: u64,
        /// 1-based column (0 if unknown).
        column: u64,
        /// What is wrong.
        message: String,
    },
}

/// Reads and checks the manifest at `path`, once it is sure to be the user's (or
/// root's) file that nobody else could have written ([`rekey_sinks::ownership`]).
pub(crate) fn load(path: &Path) -> Result<Manifest, ManifestError> {
    rekey_sinks::ownership::check_file(path)?;
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

/// Parses manifest `text` read from `path` (the path is used in errors and to resolve
/// relative sink paths).
pub(crate) fn parse(path: &Path, text: &str) -> Result<Manifest, ManifestError> {
    let invalid = |line, column, message: String| ManifestError::Invalid {
        path: path.to_owned(),
        line,
        column,
        message,
    };
    // One-line errors: rekey prints `file:line:column: message`, not a source snippet.
    let options = serde_saphyr::Options {
        with_snippet: false,
        ..Default::default()
    };
    // serde_path_to_error tracks which field was being read, so a bad value is named
    // (`defaults.grace: invalid value …`), not only placed.
    let mut field = Vec::new();
    let parsed = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize::<_, RawManifest>(de).map_err(|e| {
            field = field_segments(e.path());
            e.into_inner()
        })
    });
    let raw = parsed.map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            // A shape refused by a field's own visitor (`scan:`) comes back placed at the
            // document's start: no position either.
            .filter(|&at| at != (1, 1) || field.is_empty())
            // A value refused after it was read (a sink's configuration) has no position
            // of its own: find where its field starts.
            .or_else(|| yaml_node_position(text, &KeyPath(field.clone())))
            .unwrap_or((0, 0));
        let message = without_position(&e.to_string(), line, column);
        match KeyPath(field.clone()).to_string().as_str() {
            "" => invalid(line, column, message),
            field => invalid(line, column, format!("{field}: {message}")),
        }
    })?;
    if raw.version.value != 1 {
        let at = raw.version.referenced;
        return Err(invalid(
            at.line(),
            at.column(),
            format!(
                "unsupported manifest version {}: this rekey reads version 1",
                raw.version.value
            ),
        ));
    }
    if !matches!(raw.state, RawState::S3(..)) {
        let only_s3 = [
            (
                "state_lease",
                raw.state_lease.as_ref().map(|l| l.referenced),
            ),
            (
                "state_kms_key_id",
                raw.state_kms_key_id.as_ref().map(|k| k.referenced),
            ),
            (
                "state_bucket_owner",
                raw.state_bucket_owner.as_ref().map(|o| o.referenced),
            ),
        ];
        if let Some((field, Some(at))) = only_s3.into_iter().find(|(_, at)| at.is_some()) {
            return Err(invalid(
                at.line(),
                at.column(),
                format!("`{field}` belongs to a shared state in S3; it needs `state: s3://BUCKET/PREFIX`"),
            ));
        }
    }
    Ok(Manifest {
        path: path.to_owned(),
        raw,
        sha256: crate::digest::sha256_hex(text.as_bytes()),
    })
}

/// The field serde_path_to_error tracked (`profiles.dev.propagation.consecutive`), less
/// the `value` of the `Spanned` wrappers that give rekey its line numbers (a profile
/// named `value` is the one map key of user data, and it is kept).
fn field_segments(path: &serde_path_to_error::Path) -> Vec<Segment> {
    use serde_path_to_error::Segment as Tracked;
    let mut out = Vec::new();
    let mut previous: Option<&Tracked> = None;
    for segment in path.iter() {
        let after_profiles = matches!(previous, Some(Tracked::Map { key }) if key == "profiles");
        match segment {
            Tracked::Map { key } if key == "value" && !after_profiles => {}
            Tracked::Seq { index } => out.push(Segment::Index(*index)),
            Tracked::Map { key } | Tracked::Enum { variant: key } => {
                out.push(Segment::Key(key.clone()))
            }
            Tracked::Unknown => {}
        }
        previous = Some(segment);
    }
    out
}

/// serde-saphyr's messages carry the position too (as a prefix or suffix); rekey puts it
/// in front, compiler-style, so it is removed from the message.
fn without_position(message: &str, line: u64, column: u64) -> String {
    let prefix = format!("error: line {line} column {column}: ");
    let suffix = format!(" at line {line}, column {column}");
    let message = message.strip_prefix(&prefix).unwrap_or(message);
    message.strip_suffix(&suffix).unwrap_or(message).to_owned()
}

/// Where to look for other copies of the keys a run rotates: the manifest's `scan:`,
/// resolved, or default mode's search of the home folder.
#[derive(Debug, Clone)]
pub(crate) struct Scan {
    /// The folders to search, absolute.
    pub(crate) roots: Vec<PathBuf>,
    /// Files whose copies do not stop a rotation.
    pub(crate) ignore: globset::GlobSet,
    /// How long the search may take; what it did not reach by then is reported.
    /// `None`: no limit (a manifest's `scan:` names its roots on purpose).
    pub(crate) budget: Option<std::time::Duration>,
    /// Whether a manifest asked for it (else default mode did, issue 31).
    pub(crate) from_manifest: bool,
}

impl Scan {
    /// How long default mode's search of the home folder may take.
    pub(crate) const DEFAULT_MODE_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

    /// Default mode's search: the home folder, within [`Scan::DEFAULT_MODE_BUDGET`].
    /// The shared credentials and config files are not copies to adopt: default mode
    /// rotates their profiles, and a key left in a section the other file overrides is
    /// never used by an AWS tool.
    pub(crate) fn home(paths: &Paths) -> Self {
        let mut ignore = globset::GlobSetBuilder::new();
        for file in [&paths.credentials_file, &paths.config_file] {
            let literal = globset::escape(&file.display().to_string());
            if let Ok(glob) = globset::Glob::new(&literal) {
                ignore.add(glob);
            }
        }
        Self {
            roots: vec![paths.home.clone()],
            ignore: ignore.build().unwrap_or_else(|_| globset::GlobSet::empty()),
            budget: Some(Self::DEFAULT_MODE_BUDGET),
            from_manifest: false,
        }
    }
}

impl Manifest {
    /// The `scan:` section, its roots and globs resolved like every path of the
    /// manifest (`~`, relative to the manifest's folder; `**/…` anywhere).
    pub(crate) fn scan(&self, paths: &Paths) -> Option<Scan> {
        let raw = self.raw.scan.as_ref()?;
        let base = self.path.parent().unwrap_or(Path::new("."));
        let mut ignore = globset::GlobSetBuilder::new();
        for IgnoreGlob(pattern) in &raw.ignore {
            let anchored = if let Some(rest) = pattern.strip_prefix("~/") {
                format!(
                    "{}/{rest}",
                    globset::escape(&paths.home.display().to_string())
                )
            } else if pattern.starts_with('/') || pattern.starts_with("**") {
                pattern.clone()
            } else {
                format!("{}/{pattern}", globset::escape(&base.display().to_string()))
            };
            // Checked when the manifest was read; a home or folder name full of glob
            // syntax is escaped above.
            if let Ok(glob) = globset::Glob::new(&anchored) {
                ignore.add(glob);
            }
        }
        Some(Scan {
            roots: raw.roots.iter().map(|r| paths.expand(r, base)).collect(),
            ignore: ignore.build().unwrap_or_else(|_| globset::GlobSet::empty()),
            budget: None,
            from_manifest: true,
        })
    }

    /// The fully specified profiles, in manifest order. Pure: no I/O.
    pub(crate) fn resolve(
        &self,
        paths: &Paths,
        sdk: &rekey_sinks::aws::SdkConfig,
    ) -> Vec<ProfileSpec> {
        let base = self.path.parent().unwrap_or(Path::new("."));
        let defaults = &self.raw.defaults;
        self.raw
            .profiles
            .iter()
            .map(|(name, profile)| {
                let expand = |path: &str| paths.expand(path, base);
                let ctx = BuildContext {
                    profile: name,
                    credentials_file: &paths.credentials_file,
                    config_file: &paths.config_file,
                    expand: &expand,
                    sdk,
                };
                let sinks = match &profile.sinks {
                    None => Sinks::one(default_sink(paths, name)),
                    Some(sinks) => {
                        let (first, rest) = sinks.split_first();
                        let rest = rest.iter().map(|sink| sink.build(&ctx)).collect();
                        Sinks::new(first.build(&ctx), rest)
                    }
                };
                let propagation = |pick: fn(&RawPropagation) -> Option<Duration>| {
                    profile
                        .propagation
                        .as_ref()
                        .and_then(pick)
                        .or_else(|| defaults.propagation.as_ref().and_then(pick))
                };
                let consecutive = |p: &Option<RawPropagation>| p.as_ref()?.consecutive.map(|c| c.0);
                let default_policy = Policy::default();
                let verify = profile
                    .verify
                    .as_ref()
                    .or(defaults.verify.as_ref())
                    .map(|v| Verify {
                        command: resolve_program(&v.command, paths, base),
                        timeout: v.timeout.map_or(Verify::DEFAULT_TIMEOUT, |t| t.0),
                    });
                ProfileSpec::new(
                    name.clone(),
                    sinks,
                    Policy {
                        grace: profile
                            .grace
                            .or(defaults.grace)
                            .map_or(default_policy.grace, |d| d.0),
                        overlap: profile
                            .overlap
                            .or(defaults.overlap)
                            .map_or(default_policy.overlap, |d| d.0),
                        max_age: profile.max_age.or(defaults.max_age).map(|d| d.0),
                        propagation: Propagation {
                            timeout: propagation(|p| p.timeout.map(|d| d.0))
                                .unwrap_or(default_policy.propagation.timeout),
                            consecutive: consecutive(&profile.propagation)
                                .or_else(|| consecutive(&defaults.propagation))
                                .unwrap_or(default_policy.propagation.consecutive),
                        },
                        verify,
                        via: profile.via.clone(),
                        user: profile.user.clone(),
                        mfa_serial: profile.mfa_serial.clone().or(defaults.mfa_serial.clone()),
                        // Relative to the manifest's folder, as verify's, the plugins' and
                        // notify's programs are (and as the trust review shows it).
                        mfa_command: (profile.mfa_command.as_ref())
                            .or(defaults.mfa_command.as_ref())
                            .map(|command| resolve_program(command, paths, base)),
                        mfa_timeout: profile
                            .mfa_timeout
                            .or(defaults.mfa_timeout)
                            .map_or(default_policy.mfa_timeout, |d| d.0),
                        pending_store: match self.raw.state {
                            RawState::Local => PendingStore::Local,
                            // The tags stay, as a mirror every machine (and person) sees.
                            RawState::Iam | RawState::S3(..) => PendingStore::Iam,
                        },
                        shared_state: match &self.raw.state {
                            RawState::S3(bucket, prefix) => Some(SharedState {
                                bucket: bucket.clone(),
                                prefix: prefix.clone(),
                                lease: self
                                    .raw
                                    .state_lease
                                    .as_ref()
                                    .map_or(SharedState::DEFAULT_LEASE, |d| d.value.0),
                                kms_key_id: self
                                    .raw
                                    .state_kms_key_id
                                    .as_ref()
                                    .map(|k| k.value.clone()),
                                bucket_owner: self
                                    .raw
                                    .state_bucket_owner
                                    .as_ref()
                                    .map(|o| o.value.0.clone()),
                            }),
                            _ => None,
                        },
                        leaked: None,
                    },
                )
            })
            .collect()
    }
}

impl Manifest {
    /// The `notify:` targets, a command's program resolved as verify's and the plugins'
    /// are: relative to the manifest's folder, not the current one.
    pub(crate) fn notify_targets(&self, paths: &Paths) -> Vec<Notify> {
        let base = self.path.parent().unwrap_or(Path::new("."));
        let resolve = |target: &Notify| match target {
            Notify::Command(argv) => Notify::Command(resolve_program(argv, paths, base)),
            webhook => webhook.clone(),
        };
        self.raw.notify.iter().map(resolve).collect()
    }
}

/// `[program, args...]` with a program containing `/` made relative to the manifest's
/// folder (a bare name is left for `PATH`).
fn resolve_program(command: &Argv, paths: &Paths, base: &Path) -> Argv {
    command.with_program(|program| match program.contains('/') {
        true => paths.expand(program, base).display().to_string(),
        false => program.to_owned(),
    })
}

/// Where the manifest's JSON Schema is published: the copy committed with this version
/// (`docs/rekey.schema.json`), which `rekey init` names for editors.
pub(crate) const SCHEMA_URL: &str = concat!(
    "https://raw.githubusercontent.com/rekey-dev/rekey/v",
    env!("CARGO_PKG_VERSION"),
    "/docs/rekey.schema.json"
);

/// The JSON Schema of `rekey.yaml`, generated from the types the manifest is read into
/// (sinks included), as committed in `docs/rekey.schema.json`.
#[cfg(test)]
pub(crate) fn json_schema() -> String {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator();
    let mut schema = generator.into_root_schema_for::<RawManifest>();
    schema.insert("$id".into(), SCHEMA_URL.into());
    schema.insert(
        "title".into(),
        "rekey manifest (rekey.yaml), version 1".into(),
    );
    serde_json::to_string_pretty(&schema).expect("a schema is JSON") + "\n"
}

/// The sink a profile gets when the manifest names none: its section of the shared
/// credentials file.
pub(crate) fn default_sink(paths: &Paths, profile: &str) -> Arc<dyn rekey_sinks::Sink> {
    Arc::new(CredentialsFile::new(
        paths.credentials_file.clone(),
        profile,
    ))
}

#[cfg(test)]
mod tests;
