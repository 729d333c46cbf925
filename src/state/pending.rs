//! Pending deletions: old keys rekey deactivated, to be deleted when their grace ends.

use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::Owner;
use super::{corrupt, off_runtime, StateDir, StateError};
use crate::time::serde_rfc3339;

/// An old key rekey replaced: deactivated, to be deleted after `delete_after`; or, with
/// an overlap period, still active until `deactivated_at`, then deactivated, then
/// deleted `grace` later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingDeletion {
    /// Whose key it was (the profile's current key is used to delete it).
    #[serde(flatten)]
    pub(crate) owner: Owner,
    /// The deactivated key.
    pub(crate) key_id: String,
    /// When rekey deactivated it (in its overlap: when rekey will).
    #[serde(with = "serde_rfc3339")]
    pub(crate) deactivated_at: SystemTime,
    /// When it may be deleted.
    #[serde(with = "serde_rfc3339")]
    pub(crate) delete_after: SystemTime,
    /// With an overlap period, while the key is still active: when the rotation that
    /// replaced it ended, by AWS's clock (a use of the key after it means a consumer may
    /// not have picked up the new key; rekey never moves it past a use it did not make).
    /// `None` once the key is deactivated.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::time::serde_rfc3339_option"
    )]
    pub(crate) overlap_since: Option<SystemTime>,
    /// The key that replaced this one (the rotation's new key). A record is a claim:
    /// before acting on it, rekey checks that IAM lists this key Active and newer (see
    /// `engine::retire`). `None` in records written before rekey kept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) replaced_by: Option<String>,
}

impl PendingDeletion {
    /// Whether the rotation that retired this key was `profile`'s (alone or shared).
    pub(crate) fn concerns(&self, profile: &str) -> bool {
        self.owner.concerns(profile)
    }

    /// The profiles of the rotation that retired this key, in order.
    pub(crate) fn members(&self) -> Vec<String> {
        self.owner.members()
    }

    /// Whether the key is still in its overlap period (active, by design).
    pub(crate) fn in_overlap(&self) -> bool {
        self.overlap_since.is_some()
    }

    /// When the rotation that replaced the key ended: the start of its overlap, or its
    /// deactivation. Nothing of the record may be later than AWS's "now".
    pub(crate) fn rotated_at(&self) -> SystemTime {
        self.overlap_since.unwrap_or(self.deactivated_at)
    }

    /// The record with its wait ended at `now` (`prune --now`): an overlap ends now, and
    /// the deletion is due now (right after the deactivation, for an overlap). Only the
    /// dates move: every other rule of prune still decides.
    pub(crate) fn due_by(&self, now: SystemTime) -> Self {
        let mut early = self.clone();
        if self.in_overlap() {
            early.deactivated_at = self.deactivated_at.min(now);
            early.delete_after = early.deactivated_at;
        } else {
            early.delete_after = self.delete_after.min(now);
        }
        early
    }

    /// When the next step is due: the deactivation in an overlap, else the deletion.
    pub(crate) fn next_step_at(&self) -> SystemTime {
        if self.in_overlap() {
            self.deactivated_at
        } else {
            self.delete_after
        }
    }
}

impl StateDir {
    fn pending_path(&self, key_id: &str) -> PathBuf {
        self.path(&["pending", &format!("{key_id}.json")])
    }

    /// Records (or replaces) a pending deletion.
    pub(crate) async fn record_pending(&self, pending: &PendingDeletion) -> Result<(), StateError> {
        let json = serde_json::to_vec_pretty(pending).expect("plain data serializes");
        let (state, path) = (self.clone(), self.pending_path(&pending.key_id));
        off_runtime(move || state.write(&path, &json)).await
    }

    /// The pending deletion of `key_id`, if rekey recorded one.
    pub(crate) fn pending(&self, key_id: &str) -> Result<Option<PendingDeletion>, StateError> {
        let path = self.pending_path(key_id);
        self.read(&path)?
            .map(|bytes| serde_json::from_slice(&bytes).map_err(|e| corrupt(&path, e)))
            .transpose()
    }

    /// Every pending deletion, ordered by key id.
    pub(crate) fn all_pending(&self) -> Result<Vec<PendingDeletion>, StateError> {
        let mut all = Vec::new();
        for path in self.list(&self.path(&["pending"]))? {
            if let Some(bytes) = self.read(&path)? {
                all.push(serde_json::from_slice(&bytes).map_err(|e| corrupt(&path, e))?);
            }
        }
        Ok(all)
    }

    /// Forgets everything kept for an old key that is gone: its pending deletion and the
    /// sinks' previous content (nothing is left to roll back to).
    pub(crate) async fn forget_retired_key(&self, key_id: &str) -> Result<(), StateError> {
        self.forget_pending(key_id).await?;
        self.forget_history(key_id).await
    }

    /// Forgets everything kept for a key that was deleted: what
    /// [`StateDir::forget_retired_key`] forgets, and which manifest made it.
    pub(crate) async fn forget_deleted_key(&self, key_id: &str) -> Result<(), StateError> {
        self.forget_retired_key(key_id).await?;
        self.forget_rotated_by(key_id).await
    }

    /// Forgets the pending deletion of `key_id` (after it was deleted, or found gone).
    pub(crate) async fn forget_pending(&self, key_id: &str) -> Result<(), StateError> {
        let (state, path) = (self.clone(), self.pending_path(key_id));
        off_runtime(move || state.remove(&path)).await
    }
}
