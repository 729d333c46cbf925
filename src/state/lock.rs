//! Locks, so that two rekey processes never rotate the same user or write the same file
//! at once.
//!
//! A lock is an OS file lock (`flock`) on a file in `$STATE/locks/`, so it is released
//! when its holder exits, even by `kill -9`. The holder writes its pid into the file,
//! so a process that waits in vain can say who holds it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::state::StateDir;

/// Locks held until dropped.
#[derive(Debug)]
pub(crate) struct Held {
    _files: Vec<File>,
}

/// A lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum LockError {
    /// Another process held it for longer than the timeout.
    #[error(
        "{what} is in use by another rekey process{holder}; waited {waited:?} (see --lock-timeout)"
    )]
    Busy {
        /// What the lock protects.
        what: String,
        /// `" (pid N)"` when the holder wrote its pid.
        holder: String,
        /// How long this process waited.
        waited: Duration,
    },
    /// The lock file could not be used.
    #[error("cannot use lock file {}: {source}", rekey_sinks::shown::path(path))]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// What a lock protects, and the name of its file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct LockName {
    /// For messages, e.g. `user arn:aws:iam::1:user/alice`.
    pub(crate) what: String,
    /// The lock file's name (stable, filesystem-safe).
    pub(crate) file: String,
}

impl LockName {
    /// The lock on rotating `user_name` of `account`.
    pub(crate) fn user(account: &str, user_name: &str, user_arn: &str) -> Self {
        Self {
            what: format!("user {user_arn}"),
            file: format!("user-{}.lock", fnv1a(&format!("{account}/{user_name}"))),
        }
    }

    /// The lock on writing the place `key` (a sink's [`rekey_sinks::Sink::lock_key`]).
    pub(crate) fn place(key: &str) -> Self {
        Self {
            what: key.to_owned(),
            file: format!("place-{}.lock", fnv1a(key)),
        }
    }
}

/// Takes every lock in `names` (in a fixed order, so two processes cannot deadlock),
/// waiting up to `timeout` for each; the waiting happens off the async runtime's
/// worker threads.
pub(crate) async fn acquire(
    state: &StateDir,
    names: Vec<LockName>,
    timeout: Duration,
) -> Result<Held, LockError> {
    let state = state.clone();
    rekey_sinks::blocking::off_runtime(move || acquire_blocking(&state, names, timeout)).await
}

fn acquire_blocking(
    state: &StateDir,
    mut names: Vec<LockName>,
    timeout: Duration,
) -> Result<Held, LockError> {
    names.sort();
    names.dedup();
    let dir = state.root().join("locks");
    rekey_sinks::atomic::create_private_dir_all(&dir).map_err(|source| LockError::Io {
        path: dir.clone(),
        source,
    })?;
    let mut files = Vec::new();
    for name in names {
        files.push(acquire_one(&dir.join(&name.file), &name.what, timeout)?);
    }
    Ok(Held { _files: files })
}

/// How long a wait for a lock goes unsaid.
const SAY_AFTER: Duration = Duration::from_secs(2);

fn acquire_one(path: &PathBuf, what: &str, timeout: Duration) -> Result<File, LockError> {
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        // A lock file planted as a symlink must not make rekey truncate its target.
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(io)?;
    // Like every file of the state dir, 0600: also one an older rekey created 0644.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io)?;
    let start = Instant::now();
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if start.elapsed() < timeout => {
                // A wait is never silent for long (issue 31): said once, after a moment
                // (at once with -v).
                if !said && start.elapsed() >= SAY_AFTER {
                    let mut pid = String::new();
                    let _ = file.read_to_string(&mut pid);
                    tracing::warn!(
                        "waiting for {what}, which another rekey process (pid {}) holds (up to {:?}, --lock-timeout)",
                        pid.trim(),
                        timeout
                    );
                    said = true;
                }
                // Polling (bounded by the timeout) keeps the wait interruptible and simple.
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(LockError::Busy {
                    what: what.to_owned(),
                    holder: if pid.is_empty() {
                        String::new()
                    } else {
                        format!(" (pid {pid})")
                    },
                    waited: start.elapsed(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    write!(file, "{}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(file)
}

/// A stable 64-bit FNV-1a hash, for lock file names that survive rekey upgrades
/// (std's hasher makes no such promise).
fn fnv1a(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_then_names_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        let name = LockName::user("1", "alice", "arn:aws:iam::1:user/alice");
        let held = acquire_blocking(&state, vec![name.clone()], Duration::ZERO).unwrap();
        // flock is per open file description: a second open in this process conflicts
        // just as another process would.
        let err =
            acquire_blocking(&state, vec![name.clone()], Duration::from_millis(120)).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("user arn:aws:iam::1:user/alice"),
            "{message}"
        );
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        drop(held);
        acquire_blocking(&state, vec![name], Duration::ZERO).unwrap();
    }

    #[test]
    fn names_are_stable_and_distinct() {
        assert_eq!(fnv1a(""), "cbf29ce484222325");
        assert_ne!(
            LockName::place("file:/a").file,
            LockName::place("file:/b").file
        );
    }
}
