//! What every sink that edits a text file shares.
//!
//! A format (credentials-file section, `.env` variables, …) only says how to find the
//! key in a text and how to change it ([`TextFormat`]); [`FileSink`] does the rest the
//! same way for all of them: UTF-8 reading into zeroized buffers, a dry-run edit as the
//! check, snapshots, atomic replacement that keeps mode and owner, and running the file
//! I/O off the async runtime's worker threads.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::{atomic, AccessKey, Sink, SinkError, Snapshot};

/// How one kind of file holds an access key.
pub trait TextFormat: Clone + Send + Sync + 'static {
    /// A secret-free description of the place in the file at `path`.
    fn describe(&self, path: &Path) -> String;

    /// The key `text` holds, if any. `path` is for error messages.
    fn read_key(&self, path: &Path, text: &str) -> Result<Option<AccessKey>, SinkError>;

    /// Whether a missing file may be created by writing (false where the file's
    /// structure must come from its owner, as for structured config files).
    fn can_create(&self) -> bool {
        true
    }

    /// `text` with the key set to `key`, everything else byte-identical; or why not.
    fn set_key(
        &self,
        path: &Path,
        text: &str,
        key: &AccessKey,
    ) -> Result<Zeroizing<String>, SinkError>;
}

/// A sink that is a place inside one text file.
#[derive(Debug, Clone)]
pub struct FileSink<F> {
    path: PathBuf,
    format: F,
}

impl<F: TextFormat> FileSink<F> {
    /// The sink for `format`'s place in the file at `path` (expanded, absolute).
    pub fn with_format(path: impl Into<PathBuf>, format: F) -> Self {
        Self {
            path: path.into(),
            format,
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format and its settings.
    pub fn format(&self) -> &F {
        &self.format
    }

    fn read_text(&self) -> Result<Option<Zeroizing<String>>, SinkError> {
        read_text(&self.path)
    }

    fn check_blocking(&self) -> Result<(), SinkError> {
        let target = atomic::resolve_symlink(&self.path)
            .map_err(|e| SinkError::io("resolve", &self.path, e))?;
        if target.is_dir() {
            return Err(SinkError::Unsupported {
                path: self.path.clone(),
                message: "is a directory, not a file".into(),
            });
        }
        match self.read_text()? {
            Some(text) => {
                // A dry run of the real edit finds everything `write` would refuse.
                let probe = AccessKey::new("AKIACHECK", SecretString::from("check"))
                    .expect("valid probe key");
                self.format.set_key(&self.path, &text, &probe)?;
            }
            None if !self.format.can_create() => {
                return Err(SinkError::Unsupported {
                    path: self.path.clone(),
                    message: "does not exist".into(),
                })
            }
            None => {}
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
        let new_text = self.format.set_key(&self.path, &text, key)?;
        atomic::write_file(&self.path, new_text.as_bytes())
            .map_err(|e| SinkError::io("replace", &self.path, e))
    }
}

/// One of the two values a place holds: its name there and its value, if set.
pub(crate) struct Value<'a> {
    pub name: &'a str,
    pub value: Option<&'a str>,
}

/// The key made of the two values read from a place: both set, the key; neither, `None`;
/// one without the other, an error naming both (never their values). `place` prefixes
/// the message (e.g. `[dev]`), `describe` names the place for an invalid key.
pub(crate) fn key_from_values(
    path: &Path,
    place: &str,
    describe: impl FnOnce() -> String,
    id: Value<'_>,
    secret: Value<'_>,
) -> Result<Option<AccessKey>, SinkError> {
    let half = |has: &str, lacks: &str| SinkError::Unsupported {
        path: path.to_owned(),
        message: format!("{place}has {has} but no {lacks}"),
    };
    match (id.value, secret.value) {
        (None, None) => Ok(None),
        (Some(key_id), Some(secret_value)) => {
            AccessKey::new(key_id, SecretString::from(secret_value))
                .map(Some)
                .map_err(|source| SinkError::InvalidKey {
                    place: describe(),
                    source,
                })
        }
        (Some(_), None) => Err(half(id.name, secret.name)),
        (None, Some(_)) => Err(half(secret.name, id.name)),
    }
}

/// Reads `path` as UTF-8 into a zeroized buffer; `None` if it does not exist.
pub(crate) fn read_text(path: &Path) -> Result<Option<Zeroizing<String>>, SinkError> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(|s| Some(Zeroizing::new(s)))
            .map_err(|e| {
                let at = e.utf8_error().valid_up_to();
                drop(Zeroizing::new(e.into_bytes()));
                SinkError::Unsupported {
                    path: path.to_owned(),
                    message: format!("is not UTF-8 text (invalid byte at offset {at})"),
                }
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SinkError::io("read", path, e)),
    }
}

#[async_trait]
impl<F: TextFormat> Sink for FileSink<F> {
    fn describe(&self) -> String {
        self.format.describe(&self.path)
    }

    fn id(&self) -> String {
        // A file format's description is made from its configuration only (type, path,
        // section or variable names), so it is an identity too.
        self.format.describe(&self.path)
    }

    fn lock_key(&self) -> Option<String> {
        // The file that is really replaced: through a symlink, with `..` resolved.
        let target = atomic::resolve_symlink(&self.path).unwrap_or_else(|_| self.path.clone());
        let resolved = match (
            target.parent().and_then(|p| p.canonicalize().ok()),
            target.file_name(),
        ) {
            (Some(dir), Some(name)) => dir.join(name),
            _ => target,
        };
        Some(format!("file {}", resolved.display()))
    }

    async fn read(&self) -> Result<Option<AccessKey>, SinkError> {
        let this = self.clone();
        blocking(move || match this.read_text()? {
            Some(text) => this.format.read_key(&this.path, &text),
            None => Ok(None),
        })
        .await
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

    async fn write(&self, key: &AccessKey) -> Result<Option<Snapshot>, SinkError> {
        let (this, key) = (self.clone(), key.clone());
        blocking(move || this.write_blocking(&key)).await?;
        Ok(None)
    }

    async fn clean_up(&self) -> Result<(), SinkError> {
        let path = self.path.clone();
        blocking(move || {
            let target =
                atomic::resolve_symlink(&path).map_err(|e| SinkError::io("resolve", &path, e))?;
            let dir = target
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            atomic::remove_stale_temp_files(&dir)
                .map(|_| ())
                .map_err(|e| SinkError::io("clean up", &dir, e))
        })
        .await
    }

    async fn restore(&self, snapshot: &Snapshot) -> Result<(), SinkError> {
        let path = self.path.clone();
        let bytes = match snapshot {
            Snapshot::Absent => None,
            Snapshot::Bytes(bytes) => Some(Zeroizing::new(bytes.expose_secret().to_vec())),
        };
        blocking(move || match bytes {
            None => atomic::remove_file(&path).map_err(|e| SinkError::io("remove", &path, e)),
            // A write that failed left the file as it was: nothing to restore (and no
            // need for space on a full disk).
            Some(bytes)
                if std::fs::read(&path).is_ok_and(|now| Zeroizing::new(now)[..] == bytes[..]) =>
            {
                Ok(())
            }
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
