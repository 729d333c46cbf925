//! Deleting old keys whose grace period has ended.
//!
//! A pending key is deleted only when its time has come, it is still Inactive, and IAM
//! has not seen it used after rekey deactivated it. Anything else means something may
//! still depend on it, so it is kept and the user is told why: that includes any sink
//! of the profile still holding it. The deletion is signed with the profile's current
//! key, which must still belong to the same user, and is decided and done under the
//! user's lock, so it cannot race a `rekey rollback` making the key active again.

use std::time::SystemTime;

use serde::Serialize;

use crate::aws::Aws;
use crate::config::profile::ProfileSpec;
use crate::engine::plan::PruneItem;
use crate::engine::signing;
use crate::state::lock::{self, LockName};
use crate::state::{PendingDeletion, StateDir, StateError};
use crate::time;

/// What happened to one due key.
#[derive(Debug, Clone, Serialize)]
pub struct Pruned {
    /// The key.
    pub key_id: String,
    /// The profile whose key was used.
    pub profile: String,
    /// The outcome.
    #[serde(flatten)]
    pub outcome: PruneOutcome,
}

/// The outcome for one due key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PruneOutcome {
    /// Deleted.
    Deleted,
    /// It no longer exists in IAM; the record was dropped.
    AlreadyGone,
    /// Kept, for the reason given (a warning for the user).
    Kept {
        /// Why.
        reason: String,
    },
}

/// The pending deletions of the selected profiles whose grace period has ended by `now`.
pub fn due(
    state: &StateDir,
    profiles: &[ProfileSpec],
    now: SystemTime,
) -> Result<Vec<PruneItem>, StateError> {
    Ok(due_records(state, profiles, now)?
        .into_iter()
        .map(|p| PruneItem {
            profile: p.owner.profile,
            user_arn: p.owner.user_arn,
            key_id: p.key_id,
            due: p.delete_after,
        })
        .collect())
}

fn due_records(
    state: &StateDir,
    profiles: &[ProfileSpec],
    now: SystemTime,
) -> Result<Vec<PendingDeletion>, StateError> {
    Ok(state
        .all_pending()?
        .into_iter()
        .filter(|p| {
            p.delete_after <= now && profiles.iter().any(|s| s.members().any(|m| p.concerns(m)))
        })
        .collect())
}

/// Deletes every due key of the selected profiles that is safe to delete.
pub async fn prune(
    aws: &Aws,
    state: &StateDir,
    profiles: &[ProfileSpec],
    now: SystemTime,
) -> Result<Vec<Pruned>, StateError> {
    let mut results = Vec::new();
    for pending in due_records(state, profiles, now)? {
        let spec = profiles
            .iter()
            .find(|s| s.members().any(|m| pending.concerns(m)))
            .expect("filtered by profile");
        let outcome = match prune_one(aws, state, spec, &pending).await {
            Ok(outcome) => outcome,
            Err(reason) => PruneOutcome::Kept { reason },
        };
        results.push(Pruned {
            key_id: pending.key_id,
            profile: pending.owner.profile,
            outcome,
        });
    }
    Ok(results)
}

async fn prune_one(
    aws: &Aws,
    state: &StateDir,
    spec: &ProfileSpec,
    pending: &PendingDeletion,
) -> Result<PruneOutcome, String> {
    let source = spec.sinks.first().ok_or("the profile has no sinks")?;
    let key = source
        .read()
        .await
        .map_err(|e| format!("cannot read the profile's current key: {e}"))?
        .ok_or_else(|| {
            format!(
                "{} holds no key to sign the deletion with",
                source.describe()
            )
        })?;
    // Any copy of the key, not only the first: a place put back to the old key by hand
    // (drift) would be left holding a deleted key.
    for sink in &spec.sinks {
        match sink.read_id().await {
            Ok(Some(id)) if id == pending.key_id => {
                return Ok(PruneOutcome::Kept {
                    reason: format!("{} still holds this key", sink.describe()),
                })
            }
            Ok(_) => {}
            Err(e) => {
                return Ok(PruneOutcome::Kept {
                    reason: format!(
                        "cannot tell whether {} still holds it: {e}",
                        sink.describe()
                    ),
                })
            }
        }
    }
    let identity = aws
        .caller(&key)
        .identity()
        .await
        .map_err(|e| e.to_string())?;
    // The deletion is signed with the profile's current key, or as its `via` profile.
    let caller = signing::signer(aws, &spec.policy, &key)
        .await
        .map_err(|cause| format!("{cause}; the old key is kept for now"))?;
    if identity.arn != pending.owner.user_arn {
        return Ok(PruneOutcome::Kept {
            reason: format!(
                "profile {} now belongs to {}, not {}",
                spec.name, identity.arn, pending.owner.user_arn
            ),
        });
    }
    // One change to the user's keys at a time: a `rekey rollback` (or a rotation) in
    // another process may be making this key active again right now.
    let user = LockName::user(
        &pending.owner.account,
        &pending.owner.user_name,
        &pending.owner.user_arn,
    );
    let _held = lock::acquire(state, vec![user], state.lock_timeout())
        .await
        .map_err(|e| e.to_string())?;
    // What was decided before the lock is read again under it.
    if state
        .pending(&pending.key_id)
        .map_err(|e| e.to_string())?
        .is_none()
    {
        return Ok(PruneOutcome::Kept {
            reason: "another rekey process resolved it meanwhile (a rollback, say)".to_owned(),
        });
    }
    let keys = caller
        .list_keys(&pending.owner.user_name)
        .await
        .map_err(|e| e.to_string())?;
    let Some(meta) = keys.iter().find(|k| k.id == pending.key_id) else {
        state
            .forget_retired_key(&pending.key_id)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(PruneOutcome::AlreadyGone);
    };
    if meta.active {
        return Ok(PruneOutcome::Kept {
            reason: "it is Active again; rekey never deletes an active key".to_owned(),
        });
    }
    let used = caller
        .last_used(&pending.key_id)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(date) = used.date.filter(|d| *d > pending.deactivated_at) {
        return Ok(PruneOutcome::Kept {
            reason: format!(
                "IAM saw it used on {} ({}), after rekey deactivated it on {}; find what still uses it",
                time::rfc3339(date),
                [used.service, used.region].into_iter().flatten().collect::<Vec<_>>().join(", "),
                time::rfc3339(pending.deactivated_at)
            ),
        });
    }
    caller
        .delete_key(&pending.owner.user_name, &pending.key_id)
        .await
        .map_err(|e| e.to_string())?;
    state
        .forget_retired_key(&pending.key_id)
        .await
        .map_err(|e| e.to_string())?;
    Ok(PruneOutcome::Deleted)
}
