//! The journal of a rotation in progress, copied to the shared state's bucket
//! (`PREFIX/state/`, issue 17, defect 12): the [`Replica`] a journal writes through, and
//! what a fresh state dir reads back (see [`crate::state::Replica`] for why).
//!
//! The copies hold the new key's secret, so they are written encrypted with KMS (the
//! account's `aws/s3` key) and removed as soon as their rotation ends.

use std::sync::Arc;

use async_trait::async_trait;

use crate::aws::Caller;
use crate::config::profile::SharedState;
use crate::engine::bucket::{Bucket, Condition, WriteError};
use crate::engine::error::Cause;
use crate::state::{Copied, JournalRecord, Replica, ReplicaError};

/// `PREFIX/state` (or `state`).
pub(crate) fn root(state: &SharedState) -> String {
    if state.prefix.is_empty() {
        "state".to_owned()
    } else {
        format!("{}/state", state.prefix)
    }
}

/// Journals copied to S3, signed like the lease they are written under.
pub(crate) struct S3Replica {
    bucket: Arc<Bucket>,
    root: String,
    /// `state_kms_key_id`; `None`: the account's `aws/s3` key.
    kms_key_id: Option<String>,
}

impl S3Replica {
    pub(crate) fn new(bucket: Arc<Bucket>, root: String, kms_key_id: Option<String>) -> Self {
        Self {
            bucket,
            root,
            kms_key_id,
        }
    }
}

#[async_trait]
impl Replica for S3Replica {
    async fn put(&self, name: &str, bytes: &[u8]) -> Result<(), ReplicaError> {
        let key = format!("{}/{name}", self.root);
        let encrypted = Condition::Secret(self.kms_key_id.as_deref());
        match self.bucket.put(&key, bytes, encrypted).await {
            Ok(_) => Ok(()),
            Err(WriteError::Failed(cause)) => Err(ReplicaError(cause.message)),
            Err(WriteError::Taken) => Err(ReplicaError(format!(
                "s3://{}/{key}: refused",
                self.bucket.name()
            ))),
        }
    }

    async fn remove_journal(&self, name: &str) -> Result<(), ReplicaError> {
        let failed = |cause: Cause| ReplicaError(cause.message);
        // The record first: without it, backups left behind are never imported.
        let record = format!("{}/journal/{name}.json", self.root);
        self.bucket.delete(&record, None).await.map_err(failed)?;
        let backups = format!("{}/backups/{name}/", self.root);
        for key in self.bucket.list(&backups).await.map_err(failed)? {
            self.bucket.delete(&key, None).await.map_err(failed)?;
        }
        Ok(())
    }
}

/// Whether the bucket holds the journal `name` (`<account>-<user>`).
pub(crate) async fn holds(bucket: &Bucket, root: &str, name: &str) -> Result<bool, Cause> {
    let record = format!("{root}/journal/{name}.json");
    Ok(bucket.get(&record).await?.is_some())
}

/// The journal `name` as the bucket holds it, if it does.
pub(crate) async fn copied(
    bucket: &Bucket,
    root: &str,
    name: &str,
) -> Result<Option<Copied>, Cause> {
    let Some((record, _)) = bucket.get(&format!("{root}/journal/{name}.json")).await? else {
        return Ok(None);
    };
    let folder = format!("{root}/backups/{name}/");
    let mut backups = Vec::new();
    for key in bucket.list(&folder).await? {
        if let Some((bytes, _)) = bucket.get(&key).await? {
            backups.push((key[folder.len()..].to_owned(), bytes));
        }
    }
    Ok(Some(Copied {
        name: name.to_owned(),
        record,
        backups,
    }))
}

/// Every journal copied to the shared state, read as `caller`: its name
/// (`<account>-<user>`) and record, for a run that may have to finish one.
pub(crate) async fn all(
    state: &SharedState,
    caller: &Caller,
) -> Result<Vec<(String, JournalRecord)>, Cause> {
    let bucket = Bucket::new(&state.bucket, caller.s3().clone());
    let folder = format!("{}/journal/", root(state));
    let mut found = Vec::new();
    for key in bucket.list(&folder).await? {
        let Some(name) = key
            .strip_prefix(&folder)
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        if let Some((bytes, _)) = bucket.get(&key).await? {
            if let Ok(record) = serde_json::from_slice(&bytes) {
                found.push((name.to_owned(), record));
            }
        }
    }
    Ok(found)
}
