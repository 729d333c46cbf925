//! The state directory: what rekey must remember between (and across crashes of) runs.
//!
//! ```text
//! $STATE/                       0700
//!   journal/<account>-<user>.json   the rotation in progress for that user (holds the
//!                                   new secret, and the old one, until it is final)
//!   backups/<account>-<user>/<n>    sink n's content before it was written
//!   pending/<key-id>.json           an old key deactivated by rekey, and when to delete it
//!   history/<key-id>/<n>            sink n's content before the rotation that retired
//!                                   that key (for `rekey rollback`)
//!   synced/<profile>/<n>            sink n's content before the last `rekey sync` wrote it
//!   rotated/<key-id>.json           the manifest and places that rotation wrote the key to
//!   deleted/<key-id>.json           an old key rekey deleted, and when (never a secret)
//!   responses/<account>-<user>.json a leak response in progress: its steps done (holds
//!                                   the leaked key until AWS is shown to refuse it)
//!   trusted/<path hash>.json        a manifest the user trusts: its path and content hash
//!   key-owners.json                 whose each key is, as STS answered `rekey find`
//!   fleet.key                       with `state: s3://…`, the key that authenticates journal
//!                                   copies (unless REKEY_FLEET_KEY is set)
//!   locks/                          lock files (see [`crate::state::lock`]), holding a pid
//! ```
//!
//! Every folder is 0700 and every file is written atomically with mode 0600 (see
//! [`rekey_sinks::atomic`]); lock files are created 0600 too. With `state: s3://…` the
//! journal and its backups are also copied to the bucket ([`Replica`]).

mod children;
mod deleted;
mod fleet_key;
mod journal;
mod key_owners;
pub(crate) mod lock;
mod owner;
mod pending;
mod replica;
mod response;
mod rotated_by;
mod synced;
mod trusted;

use std::io;
use std::path::{Path, PathBuf};

pub(crate) use children::{is_alive as process_is_alive, ChildRecorder};
pub(crate) use deleted::DeletedKey;
pub(crate) use fleet_key::{FleetKey, ENV as FLEET_KEY_ENV};
pub(crate) use journal::{BeginError, Journal, JournalRecord, Phase, StoredKey};
pub(crate) use key_owners::KeyOwners;
pub(crate) use owner::Owner;
pub(crate) use pending::PendingDeletion;
pub(crate) use replica::{Copied, Replica, ReplicaError};
pub(crate) use response::{ResponseRecord, ResponseStep};
pub(crate) use rotated_by::RotatedBy;
pub(crate) use trusted::TrustedManifest;

/// The state directory could not be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "state directory: cannot {action} {}: {source}",
    rekey_sinks::shown::path(path)
)]
pub(crate) struct StateError {
    /// What rekey was doing.
    pub(crate) action: &'static str,
    /// The file or folder.
    pub(crate) path: PathBuf,
    /// The cause.
    #[source]
    pub(crate) source: io::Error,
}

impl StateError {
    /// The action of a journal copy that could not be removed from the shared state:
    /// it holds the rotation's secrets, so leaving it is a failure of its own.
    pub(crate) const SHARED_COPY_LEFT: &'static str = "remove from the shared state";

    /// Whether this is a journal copy left in the shared state.
    pub(crate) fn left_in_shared_state(&self) -> bool {
        self.action == Self::SHARED_COPY_LEFT
    }
}

/// State-dir writes (each with its fsyncs) run on the blocking pool; reads stay inline:
/// they are small and served from the page cache.
use rekey_sinks::blocking::off_runtime;

/// Handle on the state directory.
#[derive(Debug, Clone)]
pub(crate) struct StateDir {
    root: PathBuf,
    lock_timeout: std::time::Duration,
}

impl StateDir {
    /// How long to wait for a lock held by another rekey process, unless told otherwise.
    pub(crate) const DEFAULT_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

    /// Uses `root` as the state directory; nothing is created until something is stored.
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            lock_timeout: Self::DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// The same directory, waiting up to `timeout` for locks ([`crate::state::lock`]).
    pub(crate) fn with_lock_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// How long to wait for a lock held by another process.
    pub(crate) fn lock_timeout(&self) -> std::time::Duration {
        self.lock_timeout
    }

    /// The directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, parts: &[&str]) -> PathBuf {
        parts.iter().fold(self.root.clone(), |p, part| p.join(part))
    }

    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), StateError> {
        // Create the root with 0700 even if the parents exist (create_private_dir_all
        // only sets the mode of folders it creates).
        rekey_sinks::atomic::create_private_dir_all(&self.root).map_err(|source| StateError {
            action: "create",
            path: self.root.clone(),
            source,
        })?;
        // Never through a symlink: one planted in the state dir must not make rekey
        // overwrite the file it points to.
        rekey_sinks::atomic::write_private_file(path, bytes).map_err(|source| StateError {
            action: "write",
            path: path.to_owned(),
            source,
        })
    }

    /// Removes temporary files a killed write left in the state directory (they may hold
    /// a secret).
    pub(crate) fn remove_stale_temp_files(&self) -> Result<(), StateError> {
        let mut dirs = vec![
            self.root.clone(),
            self.path(&["journal"]),
            self.path(&["pending"]),
            self.path(&["responses"]),
        ];
        if let Ok(entries) = std::fs::read_dir(self.path(&["backups"])) {
            dirs.extend(
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.is_dir()),
            );
        }
        for dir in dirs {
            rekey_sinks::atomic::remove_stale_temp_files(&dir).map_err(|source| StateError {
                action: "clean up",
                path: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }

    fn remove(&self, path: &Path) -> Result<(), StateError> {
        rekey_sinks::atomic::remove_private_file(path).map_err(|source| StateError {
            action: "remove",
            path: path.to_owned(),
            source,
        })
    }

    /// A state file's bytes (a journal holds secrets: zeroized on drop), `None` if it
    /// does not exist.
    fn read(&self, path: &Path) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, StateError> {
        match read_no_follow(path) {
            Ok(bytes) => Ok(Some(zeroize::Zeroizing::new(bytes))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError {
                action: "read",
                path: path.to_owned(),
                source,
            }),
        }
    }

    fn list(&self, dir: &Path) -> Result<Vec<PathBuf>, StateError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StateError {
                    action: "list",
                    path: dir.to_owned(),
                    source,
                })
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        Ok(paths)
    }
}

/// Reads a state file, refusing a symlink (`ELOOP`): rekey's state is never a link.
fn read_no_follow(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)?;
    // Sized up front, so no reallocation leaves a copy of a secret behind.
    let size = file.metadata().map_or(0, |m| m.len() as usize);
    let mut bytes = Vec::with_capacity(size + 1);
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

impl StateDir {
    /// Refuses a state directory another user owns or that others may write, or one
    /// under a folder everyone may write without the sticky bit (where anyone could
    /// replace it): its journal holds secrets, and a planted file or link there could
    /// make rekey act on it. A missing directory is fine (it is created 0700 when first
    /// needed), in a place that passes the same folder check.
    pub(crate) fn check(&self) -> Result<(), StateError> {
        use std::os::unix::fs::MetadataExt;
        let absolute = std::path::absolute(&self.root).unwrap_or_else(|_| self.root.clone());
        rekey_sinks::ownership::check_folders_above(&absolute).map_err(|e| StateError {
            action: "use",
            path: self.root.clone(),
            source: io::Error::new(io::ErrorKind::PermissionDenied, e.why),
        })?;
        let meta = match std::fs::metadata(&self.root) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(StateError {
                    action: "check",
                    path: self.root.clone(),
                    source,
                })
            }
        };
        let me = rustix::process::geteuid().as_raw();
        let unsafe_dir = |why: String| StateError {
            action: "use",
            path: self.root.clone(),
            source: io::Error::new(io::ErrorKind::PermissionDenied, why),
        };
        if meta.uid() != me {
            return Err(unsafe_dir(format!(
                "it is owned by uid {}, not by this user (uid {me}); use a state directory of your own (--state-dir, REKEY_STATE_DIR) or `chown {me} {}`",
                meta.uid(),
                rekey_sinks::shown::path(&self.root)
            )));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(unsafe_dir(format!(
                "group or others may write it (mode {:o}); run `chmod 700 {}`",
                meta.mode() & 0o777,
                rekey_sinks::shown::path(&self.root)
            )));
        }
        Ok(())
    }
}

fn corrupt(path: &Path, error: serde_json::Error) -> StateError {
    StateError {
        action: "parse",
        path: path.to_owned(),
        // Only the position: serde_json's message may quote a value, and values here
        // can be secrets.
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not valid rekey state (line {}, column {})",
                error.line(),
                error.column()
            ),
        ),
    }
}
