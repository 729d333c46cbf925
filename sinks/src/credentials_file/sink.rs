//! The credentials-file format: reading and setting the key of one section.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use zeroize::Zeroizing;

use super::edit::{self, EditError};
use super::profile_file::{self, FileKind};
use super::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN};
use crate::text_file::{FileSink, TextFormat};
use crate::{AccessKey, SinkError};

/// One `[section]` of an AWS shared credentials file, as a [`Sink`](crate::Sink).
pub type CredentialsFile = FileSink<Section>;

/// Which section of a credentials file holds the key.
#[derive(Debug, Clone)]
pub struct Section {
    name: String,
}

impl CredentialsFile {
    /// The sink for `[section]` of the file at `path` (already expanded and absolute).
    pub fn new(path: impl Into<PathBuf>, section: impl Into<String>) -> Self {
        Self::with_format(
            path,
            Section {
                name: section.into(),
            },
        )
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
        format!("credentials file {} [{}]", path.display(), self.name)
    }

    fn read_key(&self, path: &Path, text: &str) -> Result<Option<AccessKey>, SinkError> {
        let file = profile_file::parse(text).map_err(|e| edit_error(path, e.into()))?;
        let merged = profile_file::merged_profiles(&[(FileKind::Credentials, &file)]);
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
        let unsupported = |message: String| SinkError::Unsupported {
            path: path.to_owned(),
            message,
        };
        match (profile.get(ACCESS_KEY_ID), profile.get(SECRET_ACCESS_KEY)) {
            (None, None) => Ok(None),
            (Some(id), Some(secret)) => {
                AccessKey::new(id.as_str(), SecretString::from(secret.as_str()))
                    .map(Some)
                    .map_err(|source| SinkError::InvalidKey {
                        place: self.describe(path),
                        source,
                    })
            }
            (Some(_), None) => Err(unsupported(format!(
                "[{}] has {ACCESS_KEY_ID} but no {SECRET_ACCESS_KEY}",
                self.name
            ))),
            (None, Some(_)) => Err(unsupported(format!(
                "[{}] has {SECRET_ACCESS_KEY} but no {ACCESS_KEY_ID}",
                self.name
            ))),
        }
    }

    fn set_key(
        &self,
        path: &Path,
        text: &str,
        key: &AccessKey,
    ) -> Result<Zeroizing<String>, SinkError> {
        edit::set_key(text, &self.name, key).map_err(|e| edit_error(path, e))
    }
}

#[cfg(test)]
mod tests;
