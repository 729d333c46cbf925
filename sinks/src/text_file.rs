//! What every sink that edits a text file shares.
//!
//! A format (credentials-file section, `.env` variables, …) only says how to find the
//! key in a text and how to change it ([`TextFormat`]); [`FileSink`] does the rest the
//! same way for all of them: UTF-8 reading into zeroized buffers, a dry-run edit as the
//! check, snapshots, atomic replacement that keeps mode and owner, and running the file
//! I/O off the async runtime's worker threads.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::{atomic, AccessKey, Checked, Sink, SinkError, Snapshot};

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
    /// Whether a missing file may be created (`create: true`). Off by default: a
    /// mistyped path would otherwise get the new secret while the real file keeps the
    /// deactivated key (issue 18).
    create: bool,
}

impl<F: TextFormat> FileSink<F> {
    /// The sink for `format`'s place in the file at `path` (expanded, absolute).
    pub fn with_format(path: impl Into<PathBuf>, format: F) -> Self {
        Self {
            path: path.into(),
            format,
            create: false,
        }
    }

    /// The same sink, allowed (or not) to create its file when it does not exist.
    #[must_use]
    pub fn creating(mut self, create: bool) -> Self {
        self.create = create;
        self
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

    fn check_blocking(&self) -> Result<Checked, SinkError> {
        let target = atomic::resolve_symlink(&self.path)
            .map_err(|e| SinkError::io("resolve", &self.path, e))?;
        if target.is_dir() {
            return Err(self.unsupported("is a directory, not a file"));
        }
        let checked = match self.read_text()? {
            Some(text) => {
                // A dry run of the real edit finds everything `write` would refuse.
                let probe = AccessKey::new("AKIACHECK", SecretString::from("check"))
                    .expect("valid probe key");
                self.format.set_key(&self.path, &text, &probe)?;
                if let Some(flag) = unreplaceable(&target) {
                    return Err(self.unsupported(&format!(
                        "is {flag}: it cannot be replaced until the flag is removed"
                    )));
                }
                let mode = std::fs::metadata(&target)
                    .map_err(|e| SinkError::io("read the mode of", &target, e))?
                    .permissions()
                    .mode();
                if mode & 0o222 == 0 {
                    Checked::ReplacesReadOnly
                } else {
                    Checked::Ready
                }
            }
            None if !self.format.can_create() => {
                return Err(self.unsupported("does not exist"));
            }
            None if !self.create => return Err(self.missing()),
            None => Checked::Creates,
        };
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
        .map_err(|e| SinkError::io("write into", &dir, e.into()))?;
        Ok(checked)
    }

    fn unsupported(&self, message: &str) -> SinkError {
        SinkError::Unsupported {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// A missing file the sink may not create.
    fn missing(&self) -> SinkError {
        self.unsupported(
            "does not exist: check the path, or add `create: true` to the sink to let rekey create it",
        )
    }

    fn write_blocking(&self, key: &AccessKey) -> Result<(), SinkError> {
        let text = match self.read_text()? {
            Some(text) => text,
            // Gone since the check: never create what the sink may not.
            None if !self.create => return Err(self.missing()),
            None => Zeroizing::default(),
        };
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

/// Why the file at `target` cannot be replaced even with its folder writable: it is
/// immutable or append-only (`chattr +i`/`+a` on Linux, `chflags` on macOS), which also
/// stops a rename over it. `None` if neither, or if the file system keeps no such flags.
fn unreplaceable(target: &Path) -> Option<&'static str> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::IFlags;
        let file = std::fs::File::open(target).ok()?;
        let flags = rustix::fs::ioctl_getflags(&file).ok()?;
        if flags.contains(IFlags::IMMUTABLE) {
            return Some("immutable (chattr +i)");
        }
        if flags.contains(IFlags::APPEND) {
            return Some("append-only (chattr +a)");
        }
        None
    }
    #[cfg(target_os = "macos")]
    {
        use std::os::macos::fs::MetadataExt;
        // UF_IMMUTABLE | SF_IMMUTABLE, UF_APPEND | SF_APPEND (sys/stat.h).
        let flags = std::fs::metadata(target).ok()?.st_flags();
        if flags & (0x2 | 0x0002_0000) != 0 {
            return Some("immutable (chflags uchg/schg)");
        }
        if flags & (0x4 | 0x0004_0000) != 0 {
            return Some("append-only (chflags uappnd/sappnd)");
        }
        None
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    {
        let _ = target;
        None
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

    fn machine_local(&self) -> bool {
        true
    }

    fn lock_key(&self) -> Option<String> {
        Some(format!("file {}", self.file()?.display()))
    }

    fn file(&self) -> Option<PathBuf> {
        // The file that is really replaced: through a symlink, with `..` resolved.
        let target = atomic::resolve_symlink(&self.path).unwrap_or_else(|_| self.path.clone());
        Some(
            match (
                target.parent().and_then(|p| p.canonicalize().ok()),
                target.file_name(),
            ) {
                (Some(dir), Some(name)) => dir.join(name),
                _ => target,
            },
        )
    }

    async fn read(&self) -> Result<Option<AccessKey>, SinkError> {
        let this = self.clone();
        blocking(move || match this.read_text()? {
            Some(text) => this.format.read_key(&this.path, &text),
            None => Ok(None),
        })
        .await
    }

    async fn check(&self) -> Result<Checked, SinkError> {
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

    async fn restore(&self, snapshot: &Snapshot, written: &AccessKey) -> Result<(), SinkError> {
        let before = match snapshot {
            Snapshot::Absent => None,
            Snapshot::Bytes(bytes) => Some(Zeroizing::new(bytes.expose_secret().to_vec())),
        };
        let (this, written) = (self.clone(), written.clone());
        blocking(move || this.restore_blocking(before, &written))
            .await
            .map(|_| ())
    }
}

/// What undoing rekey's write to a file comes to.
#[derive(Debug, PartialEq, Eq)]
enum Undo {
    /// The file already holds what it held before (the write never happened, or was
    /// undone already).
    Nothing,
    /// Nobody else changed the file since: put its old bytes back (or remove it, if it
    /// did not exist).
    Whole,
    /// Others changed other parts of the file since: put the old key back into this
    /// place only, keeping their changes.
    OnlyThePlace,
}

impl<F: TextFormat> FileSink<F> {
    fn restore_blocking(
        &self,
        before: Option<Zeroizing<Vec<u8>>>,
        written: &AccessKey,
    ) -> Result<Undo, SinkError> {
        let path = &self.path;
        let now = match std::fs::read(path) {
            Ok(bytes) => Some(Zeroizing::new(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(SinkError::io("read", path, e)),
        };
        let undo = self.undo(
            before.as_deref().map(|b| &b[..]),
            now.as_deref().map(|b| &b[..]),
            written,
        )?;
        match (&undo, &before) {
            (Undo::Nothing, _) => {}
            (Undo::Whole, None) => {
                atomic::remove_file(path).map_err(|e| SinkError::io("remove", path, e))?
            }
            (Undo::Whole, Some(bytes)) => {
                atomic::write_file(path, bytes).map_err(|e| SinkError::io("restore", path, e))?
            }
            (Undo::OnlyThePlace, Some(bytes)) => {
                let before = utf8(path, bytes)?;
                let old = self
                    .format
                    .read_key(path, &before)?
                    .expect("only a place that held a key is restored alone");
                let now = utf8(path, now.as_deref().expect("the file exists"))?;
                // `set_key` verifies its edit like any write: only the two values change.
                let text = self.format.set_key(path, &now, &old)?;
                atomic::write_file(path, text.as_bytes())
                    .map_err(|e| SinkError::io("restore", path, e))?
            }
            (Undo::OnlyThePlace, None) => unreachable!("decided only when the file held a key"),
        }
        Ok(undo)
    }

    /// Decides how to undo rekey's write of `written`, the file having held `before`
    /// (`None`: it did not exist) and holding `now`; refuses what would undo someone
    /// else's change.
    fn undo(
        &self,
        before: Option<&[u8]>,
        now: Option<&[u8]>,
        written: &AccessKey,
    ) -> Result<Undo, SinkError> {
        let path = &self.path;
        let refuse = |why: String| SinkError::Unsupported {
            path: path.clone(),
            message: format!(
                "{why}; it is not restored, so as not to undo that: put the old key back by hand"
            ),
        };
        if before == now {
            return Ok(Undo::Nothing);
        }
        let Some(now) = now else {
            // Gone since: there is nobody else's content to keep.
            return Ok(Undo::Whole);
        };
        let now_text = utf8(path, now)?;
        let held = self.format.read_key(path, &now_text)?;
        let before_text = match before {
            Some(bytes) => Some(utf8(path, bytes)?),
            None => None,
        };
        let held_before = match &before_text {
            Some(text) => self.format.read_key(path, text)?,
            None => None,
        };
        let id = |key: &Option<AccessKey>| key.as_ref().map(|k| k.id().to_owned());
        if id(&held) == id(&held_before) {
            // The place is back as it was (undone already; others' changes stay).
            return Ok(Undo::Nothing);
        }
        if id(&held).as_deref() != Some(written.id()) {
            return Err(refuse(format!(
                "{} no longer holds the key rekey wrote ({})",
                self.describe(),
                written.id()
            )));
        }
        // Exactly what rekey's write made of the old file: nobody else touched it.
        let ours = self.format.set_key(
            path,
            before_text.as_deref().map_or("", |t| t.as_str()),
            written,
        )?;
        if ours.as_bytes() == now {
            return Ok(Undo::Whole);
        }
        match held_before {
            Some(_) => Ok(Undo::OnlyThePlace),
            None => Err(refuse(format!(
                "{} held no key before rekey wrote one, and the file changed in other ways since",
                self.describe()
            ))),
        }
    }
}

fn utf8(path: &Path, bytes: &[u8]) -> Result<Zeroizing<String>, SinkError> {
    std::str::from_utf8(bytes)
        .map(|text| Zeroizing::new(text.to_owned()))
        .map_err(|e| SinkError::Unsupported {
            path: path.to_owned(),
            message: format!(
                "is not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            ),
        })
}

/// Runs file I/O off the async runtime's worker threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SinkError> + Send + 'static,
) -> Result<T, SinkError> {
    crate::blocking::off_runtime(work).await
}
