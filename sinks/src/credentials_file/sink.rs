//! The credentials-file format: reading and setting the key of one section.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::edit::{self, EditError};
use super::profile_file::{self, FileKind};
use super::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN};
use crate::text_file::{key_from_values, FileSink, TextFormat, Value};
use crate::{AccessKey, SinkError};

/// One `[section]` of an AWS shared credentials file, as a [`Sink`](crate::Sink).
pub type CredentialsFile = FileSink<Section>;

/// Which profile's section holds the key, in a credentials file (`[name]`) or a config
/// file (`[profile name]`, `[default]`).
#[derive(Debug, Clone)]
pub struct Section {
    name: String,
    kind: FileKind,
}

impl CredentialsFile {
    /// The sink for `[section]` of the credentials file at `path` (already expanded and
    /// absolute).
    pub fn new(path: impl Into<PathBuf>, section: impl Into<String>) -> Self {
        let (name, kind) = (section.into(), FileKind::Credentials);
        Self::with_format(path, Section { name, kind })
    }

    /// The sink for profile `profile`'s section (`[profile NAME]`, or `[default]`) of the
    /// AWS config file at `path`, which the CLI and SDKs read static keys from too.
    pub fn in_config_file(path: impl Into<PathBuf>, profile: impl Into<String>) -> Self {
        let (name, kind) = (profile.into(), FileKind::Config);
        Self::with_format(path, Section { name, kind })
    }

    /// The section name.
    pub fn section(&self) -> &str {
        &self.format().name
    }
}

fn edit_error(path: &Path, error: EditError) -> SinkError {
    let path = path.to_owned();
    match error {
        EditError::Parse(e) => SinkError::Parse {
            path,
            line: e.line,
            message: e.message,
        },
        EditError::TemporaryCredentials { section } => {
            SinkError::TemporaryCredentials { path, section }
        }
        EditError::Verification(detail) => SinkError::EditCheckFailed { path, detail },
        other => SinkError::Unsupported {
            path,
            message: other.to_string(),
        },
    }
}

impl TextFormat for Section {
    fn describe(&self, path: &Path) -> String {
        let path = crate::shown::path(path);
        match self.kind {
            FileKind::Credentials => format!("credentials file {path} [{}]", self.name),
            FileKind::Config if self.name == "default" => {
                format!("config file {path} [default]")
            }
            FileKind::Config => format!("config file {path} [profile {}]", self.name),
        }
    }

    fn read_key(&self, path: &Path, text: &str) -> Result<Option<AccessKey>, SinkError> {
        let file = profile_file::parse(text).map_err(|e| edit_error(path, e.into()))?;
        let merged = profile_file::merged_profiles(&[(self.kind, &file)]);
        let Some(profile) = merged.profiles.get(&self.name) else {
            return Ok(None);
        };
        if profile.contains_key(SESSION_TOKEN) {
            return Err(edit_error(
                path,
                EditError::TemporaryCredentials {
                    section: self.name.clone(),
                },
            ));
        }
        key_from_values(
            path,
            &format!("[{}] ", self.name),
            || self.describe(path),
            Value {
                name: ACCESS_KEY_ID,
                value: profile.get(ACCESS_KEY_ID).map(|v| v.as_str()),
            },
            Value {
                name: SECRET_ACCESS_KEY,
                value: profile.get(SECRET_ACCESS_KEY).map(|v| v.as_str()),
            },
        )
    }

    fn set_key(
        &self,
        path: &Path,
        text: &str,
        key: &AccessKey,
    ) -> Result<Zeroizing<String>, SinkError> {
        edit::set_key(text, &self.name, key, self.kind).map_err(|e| edit_error(path, e))
    }
}

#[cfg(test)]
mod tests;
