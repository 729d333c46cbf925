//! The `rekey.yaml` manifest: reading it, and resolving it into [`ProfileSpec`]s.
//!
//! Two stages, as in ripgrep's argument handling: [`load`] only parses and checks the
//! text (errors carry file, line and column), and [`Manifest::resolve`] turns it into
//! fully specified profiles (defaults applied, paths expanded) without touching the
//! filesystem or the network. Doing I/O is left to the engine.

pub mod duration;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rekey_sinks::credentials_file::CredentialsFile;
use rekey_sinks::dotenv::{DotEnv, Variables};
use rekey_sinks::exec::{self, Plugin};
use rekey_sinks::file::{Fields, Format, StructuredFile};
use rekey_sinks::keyring::{self, Keyring};

use duration::HumanDuration;
use rekey_sinks::Sink;

use crate::config::paths::Paths;
use crate::config::profile::{Policy, ProfileSpec, Propagation, Verify};
pub use schema::{RawManifest, RawPolicy, RawProfile, RawPropagation, RawSink, RawVerify};

/// The manifest file name looked for in the current folder.
pub const FILE_NAME: &str = "rekey.yaml";

/// A manifest that parsed, with the folder its relative paths are relative to.
#[derive(Debug)]
pub struct Manifest {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its contents.
    pub raw: RawManifest,
}

/// The manifest could not be read or does not follow the schema.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read manifest {}: {source}", path.display())]
    Read {
        /// The manifest path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed or breaks the schema.
    #[error("{}:{line}:{column}: {message}", path.display())]
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

/// Reads and checks the manifest at `path`.
pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

/// Parses manifest `text` read from `path` (the path is used in errors and to resolve
/// relative sink paths).
pub fn parse(path: &Path, text: &str) -> Result<Manifest, ManifestError> {
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
    let mut field = String::new();
    let parsed = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize::<_, RawManifest>(de).map_err(|e| {
            field = field_path(e.path());
            e.into_inner()
        })
    });
    let raw = parsed.map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        let message = without_position(&e.to_string(), line, column);
        match field.as_str() {
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
    // The policies, each with the path that names it in errors.
    let defaults = &raw.defaults;
    let policies = std::iter::once((
        "defaults".to_owned(),
        &defaults.propagation,
        &defaults.verify,
    ))
    .chain(
        raw.profiles
            .iter()
            .map(|(name, p)| (format!("profiles.{name}"), &p.propagation, &p.verify)),
    );
    for (at_path, propagation, verify) in policies {
        let consecutive = propagation.as_ref().and_then(|p| p.consecutive.as_ref());
        if let Some(consecutive) = consecutive.filter(|c| c.value == 0) {
            let at = consecutive.referenced;
            return Err(invalid(
                at.line(),
                at.column(),
                format!("{at_path}.propagation.consecutive must be at least 1"),
            ));
        }
        if let Some(verify) = verify {
            if verify.command.value.first().is_none_or(|p| p.is_empty()) {
                let at = verify.command.referenced;
                return Err(invalid(
                    at.line(),
                    at.column(),
                    format!("{at_path}.verify needs `command: [program, args...]`"),
                ));
            }
        }
    }
    for (name, profile) in &raw.profiles {
        let sinks = profile.sinks.iter().flat_map(|s| s.value.iter());
        for sink in sinks {
            let at = profile
                .sinks
                .as_ref()
                .map(|s| s.referenced)
                .expect("has sinks");
            if let RawSink::Exec(plugin) = sink {
                if plugin.command.first().is_none_or(|p| p.is_empty()) {
                    return Err(invalid(
                        at.line(),
                        at.column(),
                        "an exec sink needs `command: [program, args...]`".into(),
                    ));
                }
                if let Some(Err(e)) = plugin.timeout.as_deref().map(str::parse::<HumanDuration>) {
                    return Err(invalid(
                        at.line(),
                        at.column(),
                        format!("exec sink timeout: {e}"),
                    ));
                }
            }
            if let RawSink::File(file) = sink {
                if file.format.is_none() && Format::from_extension(Path::new(&file.path)).is_none()
                {
                    let at = profile
                        .sinks
                        .as_ref()
                        .map(|s| s.referenced)
                        .expect("has sinks");
                    return Err(invalid(
                        at.line(),
                        at.column(),
                        format!("cannot tell the format of `{}` from its extension; add `format: json`, `yaml` or `toml`", file.path),
                    ));
                }
            }
        }
        if let Some(sinks) = profile.sinks.as_ref().filter(|s| s.value.is_empty()) {
            let at = sinks.referenced;
            return Err(invalid(
                at.line(),
                at.column(),
                format!("profile `{name}` has an empty sink list; remove `sinks:` to use the credentials file"),
            ));
        }
    }
    Ok(Manifest {
        path: path.to_owned(),
        raw,
    })
}

/// `profiles.dev.propagation.consecutive`: the path serde_path_to_error tracked, less the
/// `value` of the `Spanned` wrappers that give rekey its line numbers (a profile named
/// `value` is the one map key of user data, and it is kept).
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    let mut previous: Option<&Segment> = None;
    for segment in path.iter() {
        let after_profiles = matches!(previous, Some(Segment::Map { key }) if key == "profiles");
        match segment {
            Segment::Map { key } if key == "value" && !after_profiles => {}
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
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

impl Manifest {
    /// The fully specified profiles, in manifest order. Pure: no I/O.
    pub fn resolve(&self, paths: &Paths) -> Vec<ProfileSpec> {
        let base = self.path.parent().unwrap_or(Path::new("."));
        let defaults = &self.raw.defaults;
        self.raw
            .profiles
            .iter()
            .map(|(name, profile)| {
                let sinks = match &profile.sinks {
                    None => vec![default_sink(paths, name)],
                    Some(sinks) => sinks
                        .value
                        .iter()
                        .map(|sink| build_sink(sink, name, paths, base))
                        .collect(),
                };
                let propagation = |pick: fn(&RawPropagation) -> Option<Duration>| {
                    profile
                        .propagation
                        .as_ref()
                        .and_then(pick)
                        .or_else(|| defaults.propagation.as_ref().and_then(pick))
                };
                let consecutive =
                    |p: &Option<RawPropagation>| p.as_ref()?.consecutive.as_ref().map(|c| c.value);
                let default_policy = Policy::default();
                let verify = profile
                    .verify
                    .as_ref()
                    .or(defaults.verify.as_ref())
                    .map(|v| Verify {
                        command: resolve_program(&v.command.value, paths, base),
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
                        max_age: profile.max_age.or(defaults.max_age).map(|d| d.0),
                        propagation: Propagation {
                            timeout: propagation(|p| p.timeout.map(|d| d.0))
                                .unwrap_or(default_policy.propagation.timeout),
                            consecutive: consecutive(&profile.propagation)
                                .or_else(|| consecutive(&defaults.propagation))
                                .unwrap_or(default_policy.propagation.consecutive),
                        },
                        verify,
                    },
                )
            })
            .collect()
    }
}

/// `[program, args...]` with a program containing `/` made relative to the manifest's
/// folder (a bare name is left for `PATH`).
fn resolve_program(command: &[String], paths: &Paths, base: &Path) -> Vec<String> {
    let mut resolved = command.to_vec();
    if let Some(program) = resolved.first_mut() {
        if program.contains('/') {
            *program = paths.expand(program, base).display().to_string();
        }
    }
    resolved
}

/// The sink a manifest entry describes, with its defaults filled in and paths resolved.
fn build_sink(sink: &RawSink, profile: &str, paths: &Paths, base: &Path) -> Arc<dyn Sink> {
    match sink {
        RawSink::CredentialsFile(config) => {
            let path = config
                .path
                .as_deref()
                .map_or_else(|| paths.credentials_file.clone(), |p| paths.expand(p, base));
            let section = config.section.clone().unwrap_or_else(|| profile.to_owned());
            Arc::new(CredentialsFile::new(path, section))
        }
        RawSink::Dotenv(config) => {
            let defaults = Variables::default();
            let variables = Variables {
                access_key_id: config
                    .access_key_id
                    .clone()
                    .unwrap_or(defaults.access_key_id),
                secret_access_key: config
                    .secret_access_key
                    .clone()
                    .unwrap_or(defaults.secret_access_key),
            };
            Arc::new(DotEnv::new(paths.expand(&config.path, base), variables))
        }
        RawSink::File(config) => {
            let path = paths.expand(&config.path, base);
            let fields = Fields {
                format: config
                    .format
                    .or_else(|| Format::from_extension(&path))
                    .expect("checked by parse"),
                access_key_id: config.access_key_id.clone(),
                secret_access_key: config.secret_access_key.clone(),
            };
            Arc::new(StructuredFile::new(path, fields))
        }
        RawSink::Keyring(config) => Arc::new(keyring_sink(config, profile)),
        RawSink::Exec(config) => {
            let (program, args) = config.command.split_first().expect("checked by parse");
            // `./plugin` is relative to the manifest; a bare name is found on PATH.
            let program = if program.contains('/') {
                paths.expand(program, base)
            } else {
                PathBuf::from(program)
            };
            let timeout = config
                .timeout
                .as_deref()
                .map_or(exec::DEFAULT_TIMEOUT, |t| {
                    t.parse::<HumanDuration>().expect("checked by parse").0
                });
            Arc::new(Plugin::new(program, args.to_vec(), timeout))
        }
    }
}

/// The keyring entry a `keyring` sink of `profile` names.
pub fn keyring_sink(config: &keyring::Config, profile: &str) -> Keyring {
    Keyring::new(
        config
            .service
            .as_deref()
            .unwrap_or(keyring::DEFAULT_SERVICE),
        config.account.as_deref().unwrap_or(profile),
    )
}

/// The sink a profile gets when the manifest names none: its section of the shared
/// credentials file.
pub fn default_sink(paths: &Paths, profile: &str) -> Arc<dyn rekey_sinks::Sink> {
    Arc::new(CredentialsFile::new(
        paths.credentials_file.clone(),
        profile,
    ))
}

#[cfg(test)]
mod tests;
