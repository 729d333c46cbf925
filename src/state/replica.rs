//! A copy of the journal of a rotation in progress where every machine can read it
//! (`state: s3://…`, issue 17, defect 12): a CI runner killed mid-rotation takes its
//! state dir with it, and with it the new key's secret and the sinks' backups. With a
//! replica, the next runner imports the journal (under the user's lease) and finishes
//! or undoes the rotation as if it had run here.
//!
//! The state dir stays the working copy: every journal write goes to it first, then to
//! the replica, and a rotation whose replica write fails stops as for a local failure.
//! Names are the files' paths relative to the state dir (`journal/<name>.json`,
//! `backups/<name>/<n>`), so an import writes them back where they were. A leak
//! response's record is copied the same way (`responses/<name>.json`), so that another
//! machine finishes a response a killed one left.

use async_trait::async_trait;

/// Where journals are copied to. The state layer knows no AWS: the engine implements
/// this over S3.
#[async_trait]
pub(crate) trait Replica: Send + Sync {
    /// Stores `bytes` (which may hold a secret) as `name`, replacing it.
    async fn put(&self, name: &str, bytes: &[u8]) -> Result<(), ReplicaError>;
    /// Removes the journal `name` (`journal/<name>.json`) and the backups of its
    /// `places` places (by index: no listing, which needs another permission).
    async fn remove_journal(&self, name: &str, places: usize) -> Result<(), ReplicaError>;
    /// Removes the file `name` (a leak response's record, `responses/<name>.json`).
    async fn remove(&self, name: &str) -> Result<(), ReplicaError>;
}

/// A replica's failure, as its store tells it (never a secret). The journal reports it
/// as a [`super::StateError`]: the rotation stops as for a local write that failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ReplicaError(pub(crate) String);

/// A journal as a replica holds it: the record and each backup file, by name.
pub(crate) struct Copied {
    /// `<account>-<user>`.
    pub(crate) name: String,
    /// The record (`journal/<name>.json`), with the secrets it holds.
    pub(crate) record: zeroize::Zeroizing<Vec<u8>>,
    /// The backups, as (file name in `backups/<name>/`, bytes).
    pub(crate) backups: Vec<(String, zeroize::Zeroizing<Vec<u8>>)>,
}
