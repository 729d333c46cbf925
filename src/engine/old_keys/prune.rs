//! Deleting old keys whose grace period has ended.
//!
//! A pending key is deleted only when its time has come by AWS's clock, IAM's facts back
//! the record ([`crate::engine::old_keys::retire`]: a record, above all a tag, is a claim), it is
//! still Inactive, and IAM has not seen it used after rekey deactivated it. Anything else means something may
//! still depend on it, so it is kept and the user is told why: that includes any sink
//! of the profile still holding it. The deletion is signed with the profile's current
//! key, which must still belong to the same user, and is decided and done under the
//! user's lock, so it cannot race a `rekey rollback` making the key active again.
//!
//! The records are this machine's and, with `state: iam`, those every machine shares
//! as IAM user tags ([`crate::engine::fleet::shared_pending`]), merged: a key another machine
//! deactivated is pruned here by the same rules, and its tag removed with it.

use std::time::SystemTime;

use serde::Serialize;

use crate::aws::{Aws, Caller, LastUsed, Permit};
use crate::config::profile::{PendingStore, ProfileSpec};
use crate::engine::error::{Cause, ErrorKind};
use crate::engine::fleet::lease::{self, Lease};
use crate::engine::fleet::shared_pending;
use crate::engine::old_keys::retire;
use crate::engine::rotation::plan::{PruneItem, PruneStep};
use crate::engine::rotation::settle;
use crate::engine::signing;
use crate::state::lock::{self, LockName};
use crate::state::{DeletedKey, Owner, PendingDeletion, StateDir, StateError};
use crate::time;

/// What happened to one due key.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct Pruned {
    /// The key.
    pub(crate) key_id: String,
    /// The profile whose key was used.
    pub(crate) profile: String,
    /// The outcome.
    #[serde(flatten)]
    pub(crate) outcome: PruneOutcome,
    /// What did not work but decided nothing (the shared record could not be removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) warning: Option<String>,
}

/// The outcome for one due key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(crate) enum PruneOutcome {
    /// Deleted.
    Deleted,
    /// Its overlap period was over: deactivated, to be deleted after `delete_after`.
    Deactivated {
        /// When it may be deleted.
        #[serde(with = "crate::time::serde_rfc3339")]
        #[schemars(with = "crate::time::Rfc3339")]
        delete_after: SystemTime,
    },
    /// It no longer exists in IAM; the record was dropped.
    AlreadyGone,
    /// Deactivated or deleted, and right after it IAM listed no Active key for its user:
    /// another machine changed the keys meanwhile (issue 30). Loud, and prune exits 1.
    KeyLost {
        /// What was seen, and what an administrator must do.
        reason: String,
    },
    /// Kept, for the reason given (a warning for the user).
    Kept {
        /// Why.
        reason: String,
        /// Present when a failure kept it (AWS refused, the state dir failed), rather
        /// than a rule (still held, used since, not due).
        #[serde(skip_serializing_if = "Option::is_none")]
        error_kind: Option<ErrorKind>,
    },
}

/// Every pending deletion: this machine's records merged with `shared`, the ones read
/// from IAM tags (IAM's dates win).
pub(crate) fn records(
    state: &StateDir,
    shared: Vec<PendingDeletion>,
) -> Result<Vec<PendingDeletion>, StateError> {
    Ok(shared_pending::merge(state.all_pending()?, shared))
}

/// The pending deletions shared in IAM for the selected profiles whose manifest says
/// `state: iam` (for `prune`, which plans nothing), with a warning for each profile whose
/// tags could not be read.
pub(crate) async fn shared(
    aws: &Aws,
    profiles: &[ProfileSpec],
) -> (Vec<PendingDeletion>, Vec<String>) {
    let (mut pending, mut warnings) = (Vec::new(), Vec::new());
    for spec in profiles {
        if spec.policy.pending_store != PendingStore::Iam {
            continue;
        }
        match signing::profile_user(aws, spec).await {
            Ok(user) => {
                let read = shared_pending::read(&user.caller, &spec.policy, &user.owner).await;
                pending.extend(read.pending);
                warnings.extend(read.warning.map(|w| format!("{}: {w}", spec.name)));
            }
            Err(e) => warnings.push(format!(
                "{}: cannot read the pending deletions shared in IAM: {e}",
                spec.name
            )),
        }
    }
    (pending, warnings)
}

/// Which of `pending` (see [`records`]) belong to the selected profiles and are due by
/// `now`.
pub(crate) fn due(
    pending: &[PendingDeletion],
    profiles: &[ProfileSpec],
    now: SystemTime,
) -> Vec<PruneItem> {
    due_records(pending, profiles, now)
        .map(|p| PruneItem {
            step: if p.in_overlap() {
                PruneStep::Deactivate
            } else {
                PruneStep::Delete
            },
            profile: p.owner.profile.clone(),
            user_arn: p.owner.user_arn.clone(),
            key_id: p.key_id.clone(),
            due: p.next_step_at(),
        })
        .collect()
}

/// The pending keys of the selected profiles not due yet at `now`, the next first.
pub(crate) fn waiting<'a>(
    pending: &'a [PendingDeletion],
    profiles: &'a [ProfileSpec],
    now: SystemTime,
) -> Vec<&'a PendingDeletion> {
    let mut waiting: Vec<_> = (pending.iter())
        .filter(|p| {
            p.next_step_at() > now && profiles.iter().any(|s| s.members().any(|m| p.concerns(m)))
        })
        .collect();
    waiting.sort_by_key(|p| p.next_step_at());
    waiting
}

fn due_records<'a>(
    pending: &'a [PendingDeletion],
    profiles: &'a [ProfileSpec],
    now: SystemTime,
) -> impl Iterator<Item = &'a PendingDeletion> {
    pending.iter().filter(move |p| {
        p.next_step_at() <= now && profiles.iter().any(|s| s.members().any(|m| p.concerns(m)))
    })
}

/// Takes the due step of every pending key of `pending` (see [`records`]) of the
/// selected profiles, when safe: deletes a key whose grace period is over, deactivates
/// one whose overlap is over (unless it was used since the rotation and `force` is not
/// given). `resolved`: the profiles' users as planning resolved them moments before
/// (apply), used instead of resolving them again; a profile not among them is resolved
/// here.
pub(crate) async fn prune(
    aws: &Aws,
    state: &StateDir,
    profiles: &[ProfileSpec],
    pending: &[PendingDeletion],
    resolved: &[signing::Resolved],
    now: SystemTime,
    force: bool,
) -> Vec<Pruned> {
    let mut results = Vec::new();
    for pending in due_records(pending, profiles, now) {
        let spec = profiles
            .iter()
            .find(|s| s.members().any(|m| pending.concerns(m)))
            .expect("filtered by profile");
        let known = resolved.iter().find(|u| u.owner.profile == spec.name);
        let (outcome, warning) = match prune_one(aws, state, spec, pending, known, force).await {
            Ok(done) => done,
            Err(cause) => (
                PruneOutcome::Kept {
                    reason: cause.message,
                    error_kind: Some(cause.kind),
                },
                None,
            ),
        };
        results.push(Pruned {
            key_id: pending.key_id.clone(),
            profile: pending.owner.profile.clone(),
            outcome,
            warning,
        });
    }
    results
}

async fn prune_one(
    aws: &Aws,
    state: &StateDir,
    spec: &ProfileSpec,
    pending: &PendingDeletion,
    resolved: Option<&signing::Resolved>,
    force: bool,
) -> Result<(PruneOutcome, Option<String>), Cause> {
    let kept = |reason: String| {
        let error_kind = None;
        Ok((PruneOutcome::Kept { reason, error_kind }, None))
    };
    // Any copy of the key, not only the first: a place put back to the old key by hand
    // (drift) would be left holding a deleted key.
    for sink in &spec.sinks {
        match sink.read_id().await {
            Ok(Some(id)) if id == pending.key_id => {
                return kept(format!("{} still holds this key", sink.describe()))
            }
            Ok(_) => {}
            Err(e) => {
                return kept(format!(
                    "cannot tell whether {} still holds it: {e}",
                    sink.describe()
                ))
            }
        }
    }
    // The deletion is signed with the profile's current key, or as its `via` profile.
    let user = match resolved {
        Some(resolved) => signing::resolved_user(aws, spec, resolved).await,
        None => signing::profile_user(aws, spec).await,
    };
    let signing::ProfileUser { caller, owner, .. } = user
        .map_err(|cause| Cause::new(cause.kind, cause.message + "; the old key is kept for now"))?;
    if owner.user_arn != pending.owner.user_arn {
        return kept(format!(
            "profile {} now belongs to {}, not {}",
            spec.name, owner.user_arn, pending.owner.user_arn
        ));
    }
    // One change to the user's keys at a time: a `rekey rollback` (or a rotation) in
    // another process, or with `state: s3://…` on another machine, may be making this
    // key active again right now.
    let user = LockName::user(&owner.account, &owner.user_name, &owner.user_arn);
    let _held = lock::acquire(state, vec![user], state.lock_timeout()).await?;
    let lease = lease::hold(aws, state, &spec.policy, &caller, &owner, "prune").await?;
    let locked = Locked {
        caller: &caller,
        owner: &owner,
        lease: lease.as_ref(),
    };
    let done = prune_locked(aws, state, spec, pending, force, locked).await;
    lease::release(lease).await;
    done
}

/// What [`prune_one`] holds while it decides: who signs, whose key it is, the lease.
struct Locked<'a> {
    caller: &'a Caller,
    owner: &'a Owner,
    lease: Option<&'a Lease>,
}

/// [`prune_one`]'s decision and action, under the user's lock (and lease).
async fn prune_locked(
    aws: &Aws,
    state: &StateDir,
    spec: &ProfileSpec,
    pending: &PendingDeletion,
    force: bool,
    locked: Locked<'_>,
) -> Result<(PruneOutcome, Option<String>), Cause> {
    let kept = |reason: String| {
        let error_kind = None;
        Ok((PruneOutcome::Kept { reason, error_kind }, None))
    };
    let Locked {
        caller,
        owner,
        lease,
    } = locked;
    // What was decided before the lock is read again under it: this machine's record,
    // or the shared one.
    let local = state.pending(&pending.key_id)?;
    let shared = shared_pending::read(caller, &spec.policy, owner).await;
    if local.is_none() && !shared.pending.iter().any(|p| p.key_id == pending.key_id) {
        return kept("another rekey process resolved it meanwhile (a rollback, say)".to_owned());
    }
    let mut keys = caller.list_keys(&owner.user_name).await?;
    let Some(meta) = keys.iter().find(|k| k.id == pending.key_id) else {
        return Ok((
            PruneOutcome::AlreadyGone,
            forget(state, caller, spec, pending).await?,
        ));
    };
    let active = meta.active;
    // AWS's time, corrected by the answers just read: never this machine's clock alone.
    let now = aws.clock().now();
    // The record is a claim (perhaps a tag anyone could write); IAM must agree first.
    if let Some(why) = retire::refute(pending, &keys, now) {
        return kept(format!("not acted on: {why}"));
    }
    if pending.next_step_at() > now {
        return kept(format!(
            "not due yet by AWS's clock ({}); this machine's clock is ahead",
            time::rfc3339(now)
        ));
    }
    let permit = lease::permit(lease).await?;
    let mut pending = pending.clone();
    if pending.in_overlap() {
        let ending = Ending { active, force, now };
        let ended = end_overlap(caller, state, spec, &pending, ending, &permit);
        match ended.await? {
            Overlap::StaysActive(reason) => return kept(reason),
            Overlap::Lost(reason) => return Ok((PruneOutcome::KeyLost { reason }, None)),
            Overlap::Deactivated(updated, warning) if updated.delete_after > now => {
                let delete_after = updated.delete_after;
                return Ok((PruneOutcome::Deactivated { delete_after }, warning));
            }
            // Grace 0: deleted at once, below, if prune's rules allow.
            Overlap::Deactivated(updated, _) => {
                pending = *updated;
                keys.iter_mut()
                    .filter(|k| k.id == pending.key_id)
                    .for_each(|k| k.active = false);
            }
        }
    } else if active {
        return kept("it is Active again; rekey never deletes an active key".to_owned());
    }
    let pending = &pending;
    let used = caller.last_used(&pending.key_id).await?;
    match retire::why_not_delete(pending, &keys, used.date, now) {
        Some(why @ retire::Keep::UsedSince(..)) => {
            return kept(format!("{why} ({}); find what still uses it", place(&used)))
        }
        Some(why) => return kept(why.to_string()),
        None => {}
    }
    // Checked again: the use just read may have taken a while.
    let permit = lease::permit(lease).await?;
    caller
        .delete_key(&owner.user_name, &pending.key_id, &permit)
        .await?;
    let deleted = format!("deleting {}", pending.key_id);
    let left = settle::an_active_key_is_left(caller, &owner.user_name, &deleted).await;
    let warning = forget(state, caller, spec, pending).await?;
    Ok(match left {
        Err(lost) => (
            PruneOutcome::KeyLost {
                reason: lost.message,
            },
            warning,
        ),
        Ok(unchecked) => (PruneOutcome::Deleted, warning.or(unchecked)),
    })
}

/// How an overlap period ended.
enum Overlap {
    /// The key stays active, for the reason given.
    StaysActive(String),
    /// The key is inactive; its record now says when to delete it (and a warning if the
    /// shared record could not be updated).
    Deactivated(Box<PendingDeletion>, Option<String>),
    /// The key is inactive, and then IAM listed no Active key for the user (see
    /// [`PruneOutcome::KeyLost`]).
    Lost(String),
}

/// What ending an overlap goes by: whether the old key is Active now, `--force`, and
/// AWS's time.
struct Ending {
    active: bool,
    force: bool,
    now: SystemTime,
}

/// Ends the overlap period of `pending`: the old key is deactivated, unless IAM saw it
/// used after the rotation (a consumer has not picked up the new key) and `force` is not
/// given. Its deletion is then due `grace` later (as recorded at the rotation).
async fn end_overlap(
    caller: &Caller,
    state: &StateDir,
    spec: &ProfileSpec,
    pending: &PendingDeletion,
    ending: Ending,
    permit: &Permit,
) -> Result<Overlap, Cause> {
    let Ending { active, force, now } = ending;
    let user = &pending.owner.user_name;
    let rotated = pending.overlap_since.unwrap_or(pending.deactivated_at);
    if active {
        let used = caller.last_used(&pending.key_id).await?;
        if let Some(date) = used.date.filter(|d| *d > rotated && !force) {
            return Ok(Overlap::StaysActive(format!(
                "its overlap is over, but IAM saw it used on {} ({}), after the rotation on {}: something has not picked up the new key yet, so it stays active. IAM keeps only a key's last use, so a `rekey sync` that read with it counts too: run `rekey sync` wherever it is used, then `rekey prune --force` to deactivate it",
                time::rfc3339(date),
                place(&used),
                time::rfc3339(rotated)
            )));
        }
        caller
            .set_active(user, &pending.key_id, false, permit)
            .await
            .map_err(|e| Cause::aws(&e, format!("cannot deactivate it: {e}")))?;
        let deactivated = format!("deactivating {}", pending.key_id);
        match settle::an_active_key_is_left(caller, user, &deactivated).await {
            Err(lost) => return Ok(Overlap::Lost(lost.message)),
            Ok(Some(warning)) => tracing::warn!("{warning}"),
            Ok(None) => {}
        }
    }
    let grace = pending
        .delete_after
        .duration_since(pending.deactivated_at)
        .unwrap_or_default();
    let updated = PendingDeletion {
        deactivated_at: now,
        delete_after: now + grace,
        overlap_since: None,
        ..pending.clone()
    };
    state.record_pending(&updated).await.map_err(|e| {
        Cause::new(ErrorKind::State, format!("deactivated it, but could not record when to delete it ({e}); delete it by hand after checking it is unused"))
    })?;
    let warning = shared_pending::publish(caller, &spec.policy, &updated).await;
    Ok(Overlap::Deactivated(Box::new(updated), warning))
}

/// `s3, eu-west-1`: where IAM saw a key used.
fn place(used: &LastUsed) -> String {
    [used.service.as_deref(), used.region.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
}

/// Remembers that `key_id` of `owner` is gone, for `find` and `status` (best effort:
/// a lost record loses only a date in their reports).
pub(crate) async fn remember_deleted(state: &StateDir, owner: &Owner, key_id: &str) {
    let deleted = DeletedKey {
        owner: owner.clone(),
        key_id: key_id.to_owned(),
        deleted_at: crate::time::now(),
    };
    if let Err(e) = state.remember_deleted(&deleted).await {
        tracing::warn!("cannot record the deletion of {key_id}: {e}");
    }
}

/// Drops every record of a key that is gone: this machine's, then the shared tag (whose
/// failure is only a warning: the next prune that finds the key gone removes it).
async fn forget(
    state: &StateDir,
    caller: &Caller,
    spec: &ProfileSpec,
    pending: &PendingDeletion,
) -> Result<Option<String>, Cause> {
    state.forget_deleted_key(&pending.key_id).await?;
    remember_deleted(state, &pending.owner, &pending.key_id).await;
    let user = &pending.owner.user_name;
    Ok(shared_pending::withdraw(caller, &spec.policy, user, &pending.key_id).await)
}
