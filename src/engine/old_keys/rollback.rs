//! `rekey rollback PROFILE`: undo the last rotation of a profile during its grace period.
//!
//! While the old key awaits deletion it still exists (inactive), and the sinks' previous
//! content is kept with it (`$STATE/history/<old key>`). Rolling back is then exactly the
//! "back" branch of recovery: the old key made active again, every sink restored, the
//! new key deleted. So the command writes a journal in the `rolling_back` phase and lets
//! [`crate::engine::recovery`] carry it out: a crash midway is finished by the next run.

use crate::aws::{Aws, KeyMeta, LastUsed};
use crate::config::profile::{PendingStore, ProfileSpec};
use crate::engine::action::Action;
use crate::engine::error::{Cause, ErrorKind};
use crate::engine::fleet::lease;
use crate::engine::fleet::shared_pending;
use crate::engine::recovery::{self, Recovered};
use crate::engine::rotation::shared_key;
use crate::engine::signing;
use crate::state::lock::{self, LockName};
use crate::state::{Journal, JournalRecord, Owner, PendingDeletion, Phase, StateDir, StoredKey};

/// Why a rollback was refused or failed. Nothing was changed unless the message says so.
#[derive(Debug, thiserror::Error)]
#[error("cannot roll back {profile}: {message}")]
pub(crate) struct RollbackError {
    /// The profile.
    pub(crate) profile: String,
    /// What kind of failure (`no_rollback` when there is nothing rollback may undo).
    pub(crate) kind: ErrorKind,
    /// Why, and what to do.
    pub(crate) message: String,
}

/// What a rollback will undo, found and checked without changing anything.
pub(crate) struct Undo {
    /// The rotated profile (with the profiles that shared its key, if any).
    pub(crate) spec: ProfileSpec,
    /// The rotation's old key, to become active again.
    pub(crate) pending: PendingDeletion,
    /// The key to delete (the profile's current key).
    pub(crate) current_key_id: String,
}

/// Finds the last rotation of `profile` and checks it can be undone. A rotation shared
/// with other profiles (they held the same key) is undone for all of them, so their
/// specs are looked up in `configured`.
///
/// During an overlap period other machines may already use the new key (`rekey sync`
/// copied it to them): if IAM saw it used after the rotation, rollback refuses to delete
/// it without `force` (issue 17, defect 11). IAM keeps only a key's last use, so rekey's
/// own calls with it (plan, status, prune) count too; on real AWS, where that date lags
/// by minutes, the read mostly shows earlier uses.
pub(crate) async fn prepare(
    aws: &Aws,
    state: &StateDir,
    profile: &str,
    configured: &[&ProfileSpec],
    force: bool,
) -> Result<Undo, RollbackError> {
    let refuse = |cause: Cause| RollbackError {
        profile: profile.to_owned(),
        kind: cause.kind,
        message: cause.message,
    };
    let nothing = |message: String| refuse(Cause::new(ErrorKind::NoRollback, message));
    let pending = state
        .all_pending()
        .map_err(|e| refuse(e.into()))?
        .into_iter()
        .filter(|p| p.concerns(profile))
        .max_by_key(|p| p.deactivated_at)
        .ok_or_else(|| {
            nothing("rekey has no old key of it awaiting deletion; a rotation can be rolled back only during its grace period".into())
        })?;
    let spec =
        shared_key::rebuild(configured.iter().copied(), &pending.members()).map_err(refuse)?;
    let old = &pending.key_id;
    if (0..spec.sinks.len()).any(|index| !state.has_history(old, index)) {
        return Err(nothing(format!(
            "the previous content of its sinks is not kept for old key {old} (its sinks changed since, or it was rotated by an older rekey)"
        )));
    }
    if state.has_history(old, spec.sinks.len()) {
        return Err(nothing("its sinks changed since the rotation".into()));
    }
    let signing::ProfileUser {
        key: current,
        owner,
        caller,
    } = signing::profile_user(aws, &spec).await.map_err(refuse)?;
    if owner.user_arn != pending.owner.user_arn {
        return Err(refuse(Cause::new(
            ErrorKind::InvalidKey,
            format!(
                "its key now belongs to {}, not {}",
                owner.user_arn, pending.owner.user_arn
            ),
        )));
    }
    let keys = caller
        .list_keys(&pending.owner.user_name)
        .await
        .map_err(|e| refuse(e.into()))?;
    old_key_usable(&pending, &keys).map_err(nothing)?;
    if pending.in_overlap() && !force {
        let used = caller
            .last_used(current.id())
            .await
            .map_err(|e| refuse(e.into()))?;
        new_key_unused(&pending, current.id(), &used).map_err(nothing)?;
    }
    Ok(Undo {
        current_key_id: current.id().to_owned(),
        pending,
        spec,
    })
}

/// The old key must still exist and, outside its overlap period (where it is active by
/// design), be inactive: else there is nothing to roll back to.
fn old_key_usable(pending: &PendingDeletion, keys: &[KeyMeta]) -> Result<(), String> {
    let old = &pending.key_id;
    match keys.iter().find(|k| &k.id == old) {
        None => Err(format!(
            "old key {old} was deleted; there is nothing to roll back to"
        )),
        Some(k) if k.active && !pending.in_overlap() => {
            Err(format!("old key {old} is already active"))
        }
        Some(_) => Ok(()),
    }
}

/// During an overlap, the new key `current` must not have been used after the rotation
/// (other machines may have picked it up: rollback would delete it under them).
fn new_key_unused(pending: &PendingDeletion, current: &str, used: &LastUsed) -> Result<(), String> {
    match used.date.filter(|d| *d > pending.rotated_at()) {
        None => Ok(()),
        Some(date) => Err(format!(
            "IAM saw the new key {current} used on {} ({}), after the rotation on {}: during the overlap other machines may have picked it up (rekey sync), and rollback would delete it under them. IAM keeps only a key's last use, so rekey's own calls count too: if nothing else uses it, run `rekey rollback --force`. Nothing was changed",
            crate::time::rfc3339(date),
            used.service.as_deref().unwrap_or("unknown service"),
            crate::time::rfc3339(pending.rotated_at())
        )),
    }
}

/// Carries the rollback out (through a journal, see the module docs).
pub(crate) async fn run(
    aws: &Aws,
    state: &StateDir,
    undo: Undo,
) -> Result<Recovered, RollbackError> {
    let spec = &undo.spec;
    let fail = |cause: Cause| RollbackError {
        profile: spec.name.clone(),
        kind: cause.kind,
        message: cause.message,
    };
    let pending = &undo.pending;
    let mut locks = vec![LockName::user(
        &pending.owner.account,
        &pending.owner.user_name,
        &pending.owner.user_arn,
    )];
    locks.extend(
        spec.sinks
            .iter()
            .filter_map(|s| s.lock_key())
            .map(|k| LockName::place(&k)),
    );
    let _held = lock::acquire(state, locks, state.lock_timeout())
        .await
        .map_err(|e| fail(e.into()))?;

    let current = spec
        .sinks
        .first()
        .read()
        .await
        .map_err(|e| {
            let kind = ErrorKind::of_sink(&e, ErrorKind::SinkUnwritable);
            fail(Cause::new(kind, e.to_string()))
        })?
        .filter(|k| k.id() == undo.current_key_id)
        .ok_or_else(|| {
            let message = "the profile's key changed meanwhile; run rollback again";
            fail(Cause::new(ErrorKind::Busy, message))
        })?;
    // With `state: s3://…`, no other machine changes this user's keys meanwhile (a prune
    // there deleting the old key this rollback makes active again).
    let signer = signing::signer(aws, &spec.policy, &current)
        .await
        .map_err(fail)?;
    let lease = lease::hold(
        aws,
        state,
        &spec.policy,
        &signer,
        &pending.owner,
        "rollback",
    )
    .await
    .map_err(fail)?;
    let done = undo_locked(aws, state, spec, pending, &current, lease.as_ref()).await;
    lease::release(lease).await;
    done
}

/// [`run`]'s journal and its carrying out, under the user's lock (and lease).
async fn undo_locked(
    aws: &Aws,
    state: &StateDir,
    spec: &ProfileSpec,
    pending: &PendingDeletion,
    current: &rekey_sinks::AccessKey,
    lease: Option<&lease::Lease>,
) -> Result<Recovered, RollbackError> {
    let fail = |cause: Cause| RollbackError {
        profile: spec.name.clone(),
        kind: cause.kind,
        message: cause.message,
    };
    let backups = (0..spec.sinks.len())
        .map(|index| state.history_backup(&pending.key_id, index))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(Cause::from(e).context("nothing was changed")))?;
    let record = JournalRecord {
        owner: Owner {
            profile: spec.name.clone(),
            also: spec.also.clone(),
            ..pending.owner.clone()
        },
        old_key_id: pending.key_id.clone(),
        sinks: spec.sinks.iter().map(|s| s.describe()).collect(),
        sink_ids: spec.sinks.iter().map(|s| s.id()).collect(),
        started_at: crate::time::now(),
        phase: Phase::RollingBack {
            reason: "rekey rollback".into(),
        },
        // The key being undone: the journal holds it like a rotation's new key.
        new_key: Some(StoredKey::from_key(current)),
        // The old key's secret is only in the sinks' history; it is inactive, so undoing
        // signs with the current key anyway.
        old_key: None,
        local_places: crate::engine::rotation::local_places(spec),
        replicated: false,
    };
    let mut journal = Journal::begin_with_backups(state, record, &backups)
        .await
        .map_err(|e| fail(e.into()))?;
    if let Some(lease) = lease {
        if let Err(e) = journal.replicate(lease.replica()).await {
            let _ = journal.finish().await;
            return Err(fail(Cause::from(e).context("nothing was changed")));
        }
    }
    // The key being undone is deleted by it: the journal's copy is removed and the lease
    // released with the old key, restored (see `run_journal`).
    let done = recovery::run_journal(aws, state, spec, journal, lease).await;
    let mut done = done.map_err(|e| fail(Cause::new(e.error_kind, e.to_string())))?;
    // The old key is current again: what made it still holds; the new key is gone.
    let _ = state.forget_rotated_by(current.id()).await;
    let forgotten = state.forget_retired_key(&pending.key_id).await;
    if let Err(e) = forgotten {
        return Err(fail(Cause::from(e).context(
            "rolled back, but the records of the old key could not be removed",
        )));
    }
    done.actions
        .extend(withdraw_shared(aws, spec, pending).await);
    Ok(done)
}

/// The old key is in use again, so no machine may prune it: its shared record (IAM tag,
/// `state: iam`) is removed, signed like any IAM call of the profile, with the key its
/// first sink holds again. Returns the action taken, or a warning.
async fn withdraw_shared(
    aws: &Aws,
    spec: &ProfileSpec,
    pending: &PendingDeletion,
) -> Option<Action> {
    if spec.policy.pending_store != PendingStore::Iam {
        return None;
    }
    let key = match spec.sinks.first().read().await {
        Ok(Some(key)) => key,
        Ok(None) => {
            return Some(Action::Warning(format!(
                "{} holds no key to remove the IAM tag of {} with",
                spec.sinks.first().describe(),
                pending.key_id
            )))
        }
        Err(e) => {
            return Some(Action::Warning(format!(
                "cannot remove the IAM tag of {}: {e}",
                pending.key_id
            )))
        }
    };
    let caller = match signing::signer(aws, &spec.policy, &key).await {
        Ok(caller) => caller,
        Err(cause) => {
            return Some(Action::Warning(format!(
                "cannot remove the IAM tag of {}: {cause}",
                pending.key_id
            )))
        }
    };
    let user = &pending.owner.user_name;
    Some(
        match shared_pending::withdraw(&caller, &spec.policy, user, &pending.key_id).await {
            None => Action::WithdrewShared {
                key_id: pending.key_id.clone(),
            },
            Some(warning) => Action::Warning(warning),
        },
    )
}

/// What rollback refuses, from IAM's facts: one test per rule.
#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn pending(overlap: bool) -> PendingDeletion {
        let rotated = SystemTime::UNIX_EPOCH + 100 * DAY;
        PendingDeletion {
            owner: Owner::example("p", "u"),
            key_id: "AKIAOLD".into(),
            deactivated_at: rotated + if overlap { DAY } else { Duration::ZERO },
            delete_after: rotated + 7 * DAY,
            overlap_since: overlap.then_some(rotated),
            replaced_by: Some("AKIANEW".into()),
        }
    }

    fn old_key(active: bool) -> Vec<KeyMeta> {
        vec![KeyMeta {
            id: "AKIAOLD".into(),
            active,
            created: SystemTime::UNIX_EPOCH,
        }]
    }

    #[test]
    fn a_deleted_old_key_leaves_nothing_to_roll_back_to() {
        let why = old_key_usable(&pending(false), &[]).unwrap_err();
        assert!(why.contains("was deleted"), "{why}");
    }

    #[test]
    fn an_active_old_key_is_refused_except_in_its_overlap() {
        let why = old_key_usable(&pending(false), &old_key(true)).unwrap_err();
        assert!(why.contains("already active"), "{why}");
        assert!(old_key_usable(&pending(true), &old_key(true)).is_ok());
        assert!(old_key_usable(&pending(false), &old_key(false)).is_ok());
    }

    #[test]
    fn a_new_key_used_after_the_rotation_is_not_deleted_without_force() {
        let record = pending(true);
        let used = |date: Option<SystemTime>| LastUsed {
            date,
            service: Some("s3".into()),
            ..LastUsed::default()
        };
        assert!(new_key_unused(&record, "AKIANEW", &used(None)).is_ok());
        let before = record.rotated_at() - DAY;
        assert!(new_key_unused(&record, "AKIANEW", &used(Some(before))).is_ok());
        let after = record.rotated_at() + Duration::from_secs(60);
        let why = new_key_unused(&record, "AKIANEW", &used(Some(after))).unwrap_err();
        assert!(why.contains("--force") && why.contains("s3"), "{why}");
    }
}
