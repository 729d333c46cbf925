//! [`CredentialsFile`]: reading, checking, writing and restoring one section.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use secrecy::SecretString;
use zeroize::Zeroizing;

use super::edit::{self, EditError};
use super::profile_file::{self, FileKind};
use super::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN};
use crate::{atomic, AccessKey, Sink, SinkError, Snapshot};

/// One `[section]` of an AWS shared credentials file.
#[derive(Debug, Clone)]
pub struct CredentialsFile {
    path: PathBuf,
    section: String,
}

impl CredentialsFile {
    /// The sink for `[section]` of the file at `path` (already expanded and absolute).
    pub fn new(path: impl Into<PathBuf>, section: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            section: section.into(),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The section name.
    pub fn section(&self) -> &str {
        &self.section
    }

    fn read_text(&self) -> Result<Option<Zeroizing<String>>, SinkError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => String::from_utf8(bytes)
                .map(|s| Some(Zeroizing::new(s)))
                .map_err(|e| {
                    // Drop the bytes through Zeroizing; report only the position.
                    let at = e.utf8_error().valid_up_to();
                    drop(Zeroizing::new(e.into_bytes()));
                    self.unsupported(format!("is not UTF-8 text (invalid byte at offset {at})"))
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SinkError::io("read", &self.path, e)),
        }
    }

    fn unsupported(&self, message: String) -> SinkError {
        SinkError::Unsupported {
            path: self.path.clone(),
            message,
        }
    }

    fn edit_error(&self, error: EditError) -> SinkError {
        match error {
            EditError::Parse(e) => SinkError::Parse {
                path: self.path.clone(),
                line: e.line,
                message: e.message,
            },
            EditError::TemporaryCredentials { section } => SinkError::TemporaryCredentials {
                path: self.path.clone(),
                section,
            },
            EditError::Verification(detail) => SinkError::EditCheckFailed {
                path: self.path.clone(),
                detail,
            },
            other => self.unsupported(other.to_string()),
        }
    }

    fn read_blocking(&self) -> Result<Option<AccessKey>, SinkError> {
        let Some(text) = self.read_text()? else {
            return Ok(None);
        };
        let file = profile_file::parse(&text).map_err(|e| self.edit_error(e.into()))?;
        let merged = profile_file::merged_profiles(&[(FileKind::Credentials, &file)]);
        let Some(profile) = merged.profiles.get(&self.section) else {
            return Ok(None);
        };
        if profile.contains_key(SESSION_TOKEN) {
            return Err(self.edit_error(EditError::TemporaryCredentials {
                section: self.section.clone(),
            }));
        }
        match (profile.get(ACCESS_KEY_ID), profile.get(SECRET_ACCESS_KEY)) {
            (None, None) => Ok(None),
            (Some(id), Some(secret)) => {
                AccessKey::new(id.as_str(), SecretString::from(secret.as_str()))
                    .map(Some)
                    .map_err(|source| SinkError::InvalidKey {
                        place: self.describe(),
                        source,
                    })
            }
            (Some(_), None) => Err(self.unsupported(format!(
                "[{}] has {ACCESS_KEY_ID} but no {SECRET_ACCESS_KEY}",
                self.section
            ))),
            (None, Some(_)) => Err(self.unsupported(format!(
                "[{}] has {SECRET_ACCESS_KEY} but no {ACCESS_KEY_ID}",
                self.section
            ))),
        }
    }

    fn check_blocking(&self) -> Result<(), SinkError> {
        let target = atomic::resolve_symlink(&self.path)
            .map_err(|e| SinkError::io("resolve", &self.path, e))?;
        if target.is_dir() {
            return Err(self.unsupported("is a directory, not a file".into()));
        }
        if let Some(text) = self.read_text()? {
            // A dry run of the real edit finds everything `write` would refuse
            // (duplicate sections or keys, multi-line values, session tokens).
            let probe =
                AccessKey::new("AKIACHECK", SecretString::from("check")).expect("valid probe key");
            edit::set_key(&text, &self.section, &probe).map_err(|e| self.edit_error(e))?;
        }
        // The file is replaced by a rename, so what must be writable is its folder (or,
        // if that does not exist yet, the nearest folder that does).
        let mut dir = target.parent().map(Path::to_path_buf).unwrap_or_default();
        while !dir.as_os_str().is_empty() && !dir.exists() {
            dir = dir.parent().map(Path::to_path_buf).unwrap_or_default();
        }
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        rustix::fs::access(
            &dir,
            rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
        )
        .map_err(|e| SinkError::io("write into", &dir, e.into()))
    }

    fn write_blocking(&self, key: &AccessKey) -> Result<(), SinkError> {
        let text = self.read_text()?.unwrap_or_default();
        let new_text = edit::set_key(&text, &self.section, key).map_err(|e| self.edit_error(e))?;
        atomic::write_file(&self.path, new_text.as_bytes())
            .map_err(|e| SinkError::io("replace", &self.path, e))
    }
}

#[async_trait]
impl Sink for CredentialsFile {
    fn describe(&self) -> String {
        format!(
            "credentials file {} [{}]",
            self.path.display(),
            self.section
        )
    }

    async fn read(&self) -> Result<Option<AccessKey>, SinkError> {
        let this = self.clone();
        blocking(move || this.read_blocking()).await
    }

    async fn check(&self) -> Result<(), SinkError> {
        let this = self.clone();
        blocking(move || this.check_blocking()).await
    }

    async fn snapshot(&self) -> Result<Snapshot, SinkError> {
        let path = self.path.clone();
        blocking(move || match std::fs::read(&path) {
            Ok(bytes) => Ok(Snapshot::Bytes(bytes.into())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Snapshot::Absent),
            Err(e) => Err(SinkError::io("read", &path, e)),
        })
        .await
    }

    async fn write(&self, key: &AccessKey) -> Result<(), SinkError> {
        let (this, key) = (self.clone(), key.clone());
        blocking(move || this.write_blocking(&key)).await
    }

    async fn restore(&self, snapshot: &Snapshot) -> Result<(), SinkError> {
        let path = self.path.clone();
        let bytes = match snapshot {
            Snapshot::Absent => None,
            Snapshot::Bytes(bytes) => Some(Zeroizing::new(
                secrecy::ExposeSecret::expose_secret(bytes).to_vec(),
            )),
        };
        blocking(move || match bytes {
            None => atomic::remove_file(&path).map_err(|e| SinkError::io("remove", &path, e)),
            Some(bytes) => {
                atomic::write_file(&path, &bytes).map_err(|e| SinkError::io("restore", &path, e))
            }
        })
        .await
    }
}

/// Runs file I/O off the async runtime's worker threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SinkError> + Send + 'static,
) -> Result<T, SinkError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}

#[cfg(test)]
mod tests;
