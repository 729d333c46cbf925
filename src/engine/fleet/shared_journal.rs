//! The journal of a rotation in progress, copied to the shared state's bucket
//! (`PREFIX/state/`, issue 17, defect 12): the [`Replica`] a journal writes through, and
//! what a fresh state dir reads back (see [`crate::state::Replica`] for why).
//!
//! The copies hold the new key's secret, so they are written encrypted with KMS (the
//! account's `aws/s3` key) and removed as soon as their rotation ends. Each carries the
//! fleet's tag ([`FleetKey`]), and a copy whose tag does not verify is reported and
//! never imported: whoever may write the bucket is not thereby a machine of the fleet
//! (issue 29).

use std::sync::Arc;

use async_trait::async_trait;

use crate::aws::bucket::{Bucket, Condition, WriteError};
use crate::aws::Caller;
use crate::config::profile::SharedState;
use crate::engine::error::{Cause, ErrorKind};
use crate::state::{Copied, FleetKey, JournalRecord, Replica, ReplicaError};

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
    /// What tags each copy.
    fleet_key: Arc<FleetKey>,
}

impl S3Replica {
    pub(crate) fn new(
        bucket: Arc<Bucket>,
        root: String,
        kms_key_id: Option<String>,
        fleet_key: Arc<FleetKey>,
    ) -> Self {
        Self {
            bucket,
            root,
            kms_key_id,
            fleet_key,
        }
    }
}

#[async_trait]
impl Replica for S3Replica {
    async fn put(&self, name: &str, bytes: &[u8]) -> Result<(), ReplicaError> {
        let key = format!("{}/{name}", self.root);
        let tag = self.fleet_key.tag(name, bytes);
        let encrypted = Condition::Secret {
            kms_key_id: self.kms_key_id.as_deref(),
            tag: &tag,
        };
        match self.bucket.put(&key, bytes, encrypted).await {
            Ok(_) => Ok(()),
            Err(WriteError::Failed(cause)) => Err(ReplicaError(cause.message)),
            Err(WriteError::Taken) => Err(ReplicaError(format!(
                "s3://{}/{key}: refused",
                self.bucket.name()
            ))),
        }
    }

    async fn remove_journal(&self, name: &str, places: usize) -> Result<(), ReplicaError> {
        let bucket = self.bucket.name();
        let failed = |key: &str, cause: Cause| {
            ReplicaError(format!(
                "s3://{bucket}/{key}, which holds this rotation's secrets, is still there ({}); remove it: aws s3 rm s3://{bucket}/{key}",
                cause.message
            ))
        };
        // The record first: without it, backups left behind are never imported. Each
        // backup by name (deleting what is not there succeeds): listing would need
        // s3:ListBucket, and a clean-up that cannot list must not pass for done.
        let record = format!("{}/journal/{name}.json", self.root);
        let backups = (0..places).flat_map(|n| {
            ["", ".absent", ".elsewhere"]
                .map(|suffix| format!("{}/backups/{name}/{n}{suffix}", self.root))
        });
        for key in std::iter::once(record).chain(backups) {
            self.bucket
                .delete(&key, None)
                .await
                .map_err(|e| failed(&key, e.into()))?;
        }
        Ok(())
    }

    async fn remove(&self, name: &str) -> Result<(), ReplicaError> {
        let key = format!("{}/{name}", self.root);
        self.bucket.delete(&key, None).await.map_err(|cause| {
            ReplicaError(format!(
                "s3://{}/{key}, which holds a leaked key, is still there ({}); remove it: aws s3 rm s3://{}/{key}",
                self.bucket.name(),
                cause.message,
                self.bucket.name()
            ))
        })
    }
}

/// Every leak response's record copied to the shared state whose tag verifies (see
/// [`crate::state::ResponseRecord`]), read like [`all`]; each that does not verify is
/// named in `refused`.
pub(crate) async fn responses(
    state: &SharedState,
    caller: &Caller,
    users_account: &str,
    fleet_key: &FleetKey,
    refused: &mut Vec<String>,
) -> Result<Vec<zeroize::Zeroizing<Vec<u8>>>, Cause> {
    let owner = state.expected_owner(users_account);
    let bucket = Bucket::new(&state.bucket, owner, caller.clone());
    let folder = format!("{}/responses/", root(state));
    let mut found = Vec::new();
    for key in bucket.list(&folder).await? {
        let Some(relative) = key.strip_prefix(&format!("{}/", root(state))) else {
            continue;
        };
        match authenticated(&bucket, &root(state), relative, fleet_key).await {
            Ok(Some(bytes)) => found.push(bytes),
            Ok(None) => {}
            Err(cause) if cause.kind == ErrorKind::State => refused.push(cause.message),
            Err(cause) => return Err(cause),
        }
    }
    Ok(found)
}

/// Whether the bucket holds the journal `name` (`<account>-<user>`).
pub(crate) async fn holds(bucket: &Bucket, root: &str, name: &str) -> Result<bool, Cause> {
    let record = format!("{root}/journal/{name}.json");
    Ok(bucket.get(&record).await?.is_some())
}

/// The object `root/relative`, if it is there, once its tag verifies; a copy that does
/// not is an error naming it (nothing of it is used).
async fn authenticated(
    bucket: &Bucket,
    root: &str,
    relative: &str,
    fleet_key: &FleetKey,
) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, Cause> {
    let key = format!("{root}/{relative}");
    let Some(object) = bucket.object(&key).await? else {
        return Ok(None);
    };
    let tag = object.tag.as_deref().unwrap_or_default();
    match fleet_key.verifies(relative, &object.bytes, tag) {
        true => Ok(Some(object.bytes)),
        false => Err(Cause::new(
            ErrorKind::State,
            format!(
                "s3://{}/{key} is not authenticated by this fleet's key ({} or the state dir's fleet.key): not acted on; if a machine of the fleet wrote it, give this one the same key, else someone planted it",
                bucket.name(),
                crate::state::FLEET_KEY_ENV
            ),
        )),
    }
}

/// The journal `name` as the bucket holds it, if it does, every part authenticated.
pub(crate) async fn copied(
    bucket: &Bucket,
    root: &str,
    name: &str,
    fleet_key: &FleetKey,
) -> Result<Option<Copied>, Cause> {
    let record_name = format!("journal/{name}.json");
    let Some(record) = authenticated(bucket, root, &record_name, fleet_key).await? else {
        return Ok(None);
    };
    let folder = format!("{root}/backups/{name}/");
    let mut backups = Vec::new();
    for key in bucket.list(&folder).await? {
        let file = &key[folder.len()..];
        let relative = format!("backups/{name}/{file}");
        if let Some(bytes) = authenticated(bucket, root, &relative, fleet_key).await? {
            backups.push((file.to_owned(), bytes));
        }
    }
    Ok(Some(Copied {
        name: name.to_owned(),
        record,
        backups,
    }))
}

/// Every journal copied to the shared state whose tag verifies, read as `caller`, in
/// the bucket of `users_account` (unless the manifest names its owner): its name
/// (`<account>-<user>`) and record, for a run that may have to finish one. Each copy
/// that does not verify is named in `refused`.
pub(crate) async fn all(
    state: &SharedState,
    caller: &Caller,
    users_account: &str,
    fleet_key: &FleetKey,
    refused: &mut Vec<String>,
) -> Result<Vec<(String, JournalRecord)>, Cause> {
    let owner = state.expected_owner(users_account);
    let bucket = Bucket::new(&state.bucket, owner, caller.clone());
    let folder = format!("{}/journal/", root(state));
    let mut found = Vec::new();
    for key in bucket.list(&folder).await? {
        let Some(name) = key
            .strip_prefix(&folder)
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let relative = format!("journal/{name}.json");
        match authenticated(&bucket, &root(state), &relative, fleet_key).await {
            Ok(Some(bytes)) => {
                if let Ok(record) = serde_json::from_slice(&bytes) {
                    found.push((name.to_owned(), record));
                }
            }
            Ok(None) => {}
            Err(cause) if cause.kind == ErrorKind::State => refused.push(cause.message),
            Err(cause) => return Err(cause),
        }
    }
    Ok(found)
}
