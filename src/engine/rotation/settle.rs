//! The two ways a rotation ends, written once: **forward** (the new key is in use: the
//! old key is deactivated and retired) and **back** (the old key is in use again: it is
//! made active, every written sink restored, the new key deleted).
//!
//! Three callers share them: a rotation that completes or fails in this process
//! ([`crate::engine::rotation`]), `rekey recover` for a rotation a crash interrupted
//! ([`crate::engine::recovery`]), and `rekey rollback` ([`crate::engine::old_keys::rollback`]). Each caller records
//! the journal's phase first (`deactivating_old_key` or `rolling_back`), so a crash in
//! the middle of either is finished by the next run, the same way.
//!
//! Both are written for real AWS, where a new key is not accepted everywhere at once
//! (see [`crate::engine::rotation::propagation`]): every call signed with the new key retries "not yet";
//! undoing reads the user's keys with the old key first, never tries to reactivate a
//! key that is active, and deletes the new key only when every sink it wrote holds the
//! old key again.

use std::time::{Duration, SystemTime};

use rekey_sinks::AccessKey;

use crate::aws::{Aws, AwsError, AwsErrorKind, Caller, KeyMeta, Permit};
use crate::config::profile::{PendingStore, Policy, ProfileSpec};
use crate::engine::action::{Action, Shared, Signer};
use crate::engine::crash;
use crate::engine::error::{Cause, ErrorKind};
use crate::engine::fleet::lease::{self, Lease};
use crate::engine::fleet::shared_pending;
use crate::engine::rotation::propagation::patiently;
use crate::engine::signing;
use crate::state::{Journal, Owner, PendingDeletion, StateDir, StateError};

/// Right before the old key's deactivation, IAM's keys, read now, must still show the
/// rotation's new key Active (issue 30): another machine may have undone this rotation
/// meanwhile (its lease taken over while this run was paused), and deactivating the old
/// key then would leave the user without an Active key. A list that does not show the
/// new key yet (IAM's lists lag behind a create) is read again, within the propagation
/// timeout; one that shows it Inactive stops at once.
async fn new_key_still_active(
    new: &Caller,
    user: &str,
    new_key_id: &str,
    old_key_id: &str,
    patience: Duration,
) -> Result<(), Cause> {
    let until = tokio::time::Instant::now() + patience;
    loop {
        let keys = patiently(patience, || new.list_keys(user))
            .await
            .map_err(|e| {
                let message =
                    format!("cannot read the user's keys before deactivating {old_key_id}: {e}");
                Cause::new((&e).into(), message)
            })?;
        let undone = |how: &str| {
            Cause::new(
                ErrorKind::Busy,
                format!(
                    "the new key {new_key_id} is {how} in IAM now (another machine undid this rotation?), so the old key {old_key_id} is not deactivated"
                ),
            )
        };
        match keys.iter().find(|k| k.id == new_key_id) {
            Some(key) if key.active => return Ok(()),
            Some(_) => return Err(undone("Inactive")),
            None if tokio::time::Instant::now() >= until => return Err(undone("not listed")),
            // IAM's list may not show a key this recent yet: read it again, bounded.
            None => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Hands the new key, now in every place and verified, to the readers of the places
/// that staged it (a Secrets Manager hub's `AWSCURRENT`, an SSM parameter): before this,
/// another machine reading them still got the old key, so a failed rotation never gave
/// them a key it then deleted. Runs before the old key's deactivation, in a rotation and
/// in a recovery that completes one (again, if it had: promoting twice changes nothing).
pub(crate) async fn promote(
    spec: &ProfileSpec,
    new_key: &AccessKey,
    actions: &mut Vec<Action>,
) -> Result<(), Cause> {
    for sink in &spec.sinks {
        match sink.promote(new_key).await {
            Ok(true) => actions.push(Action::Promoted {
                sink: sink.describe(),
            }),
            Ok(false) => {}
            Err(e) => {
                let kind = ErrorKind::of_sink(&e, ErrorKind::SinkFailed);
                return Err(Cause::new(kind, e.to_string()));
            }
        }
    }
    Ok(())
}

/// Right after a call that deactivated or deleted a key, the user must still have an
/// Active key (issue 30: rekey never leaves a user with no Active key that one of its
/// places holds). Another machine that changed the keys meanwhile can make that call the
/// one that took the last; it is then said loudly, with what an administrator must do.
/// A list that lags may still show the key Active: this catches what it can, it proves
/// nothing. `Ok(Some(warning))`: the keys could not be read to check.
pub(crate) async fn an_active_key_is_left(
    caller: &Caller,
    user: &str,
    what: &str,
) -> Result<Option<String>, Cause> {
    let lost = |detail: String| {
        Cause::new(
            ErrorKind::State,
            format!(
                "KEY LOST: after {what}, {detail}; another machine changed {user}'s keys meanwhile? An administrator must make one Active again (aws iam update-access-key --user-name {user} --access-key-id ID --status Active) and put it where the user's places read it"
            ),
        )
    };
    match caller.list_keys(user).await {
        Ok(keys) if keys.iter().any(|k| k.active) => Ok(None),
        Ok(_) => Err(lost(format!("IAM lists no Active key for {user}"))),
        Err(e) if e.kind == AwsErrorKind::InvalidCredentials => Err(lost(format!(
            "IAM no longer accepts the key rekey signs with ({e})"
        ))),
        Err(e) => Ok(Some(format!(
            "after {what}, could not read {user}'s keys to check one is still Active: {e}"
        ))),
    }
}

/// Completes the rotation `journal` records (its phase already `deactivating_old_key`):
/// deactivates the old key, signed with the new key, and deletes it now (grace 0) or
/// records when to. With an overlap period the old key stays active instead, and its
/// deactivation is recorded (prune does it when the overlap ends). `Err` if the old key
/// could not be deactivated (nothing changed then); `Ok(Some(warning))` if it was, but
/// its deletion could not be scheduled.
pub(crate) async fn forward(
    aws: &Aws,
    state: &StateDir,
    spec: &ProfileSpec,
    journal: &Journal,
    lease: Option<&Lease>,
    actions: &mut Vec<Action>,
) -> Result<Option<String>, Cause> {
    let record = journal.record();
    let new_key = journal
        .new_key()
        .ok_or_else(|| Cause::new(ErrorKind::State, "the journal lacks the new key"))?;
    // Signed with the new key (proving it can use IAM), or as the `via` profile.
    let new = signing::signer(aws, &spec.policy, &new_key).await?;
    if !spec.policy.overlap.is_zero() {
        let owner = &record.owner;
        let retired = Retired {
            owner,
            old_key_id: &record.old_key_id,
            new_key_id: new_key.id(),
            now: aws.clock().now(),
        };
        return Ok(
            match begin_overlap(state, &new, &spec.policy, retired).await {
                Retirement::Scheduled(action) => {
                    actions.push(action);
                    None
                }
                Retirement::Unscheduled(warning) => Some(warning),
            },
        );
    }
    let patience = spec.policy.propagation.timeout;
    let user = &record.owner.user_name;
    new_key_still_active(&new, user, new_key.id(), &record.old_key_id, patience).await?;
    let permit = lease::permit(lease).await?;
    crash::point("deactivating");
    patiently(patience, || {
        new.set_active(&record.owner.user_name, &record.old_key_id, false, &permit)
    })
    .await
    .map_err(|e| {
        let message = format!("cannot deactivate the old key {}: {e}", record.old_key_id);
        Cause::new((&e).into(), message)
    })?;
    actions.push(Action::Deactivated {
        key_id: record.old_key_id.clone(),
        signer: Signer::of(&spec.policy),
    });
    crash::point("deactivated");
    let deactivated = format!("deactivating {}", record.old_key_id);
    let unchecked = an_active_key_is_left(&new, &record.owner.user_name, &deactivated).await?;
    let retired = Retired {
        owner: &record.owner,
        old_key_id: &record.old_key_id,
        new_key_id: new_key.id(),
        now: aws.clock().now(),
    };
    let retired = retire_old_key(state, &new, &spec.policy, retired, &permit).await;
    crash::point("retired");
    let (unscheduled, deleted) = match retired {
        Retirement::Scheduled(action) => {
            let deleted = matches!(action, Action::DeletedOldKey { .. });
            actions.push(action);
            (None, deleted)
        }
        Retirement::Unscheduled(warning) => (Some(warning), false),
    };
    // And after the deletion (grace 0): another machine may have made the old key
    // Active again between the two calls.
    let unchecked = match deleted {
        true => {
            let deleted = format!("deleting {}", record.old_key_id);
            an_active_key_is_left(&new, &record.owner.user_name, &deleted).await?
        }
        false => unchecked,
    };
    Ok(match (unchecked, unscheduled) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    })
}

/// What became of the old key once the new one is in use. Either way the rotation
/// succeeded: a deletion that could not be scheduled is a warning for the user.
enum Retirement {
    /// Deleted, or its deletion (or deactivation) recorded.
    Scheduled(Action),
    /// Nothing recorded: what the user must do by hand.
    Unscheduled(String),
}

/// Undoes the rotation `journal` records (its phase already `rolling_back`, or a phase
/// recovery decided to undo): the old key made active if it is not, every sink with a
/// backup restored (last first), and the new key deleted once every sink is known to
/// hold the old key again. `Err` names what could not be undone and what stays; the
/// caller then keeps the journal.
pub(crate) async fn back(
    aws: &Aws,
    spec: &ProfileSpec,
    journal: &Journal,
    actions: &mut Vec<Action>,
) -> Result<(), Cause> {
    let record = journal.record();
    let user = record.owner.user_name.as_str();
    let old_id = record.old_key_id.as_str();
    let patience = spec.policy.propagation.timeout;
    let undoing = lease::undoing();
    let new_key = journal
        .new_key()
        .ok_or_else(|| Cause::new(ErrorKind::State, "the journal lacks the new key"))?;
    // Self-service: the old key reads and deletes, the new key reactivates (the old
    // one cannot sign while inactive). Admin rotation: the `via` profile does it all.
    // With `via` or MFA, one signer does it all: the via profile, or a session opened
    // with the old key if it still works, else with the new one.
    let old_key = match journal.old_key() {
        Some(old) => Some(old),
        // A rollback's journal holds no old secret; once undone (an earlier attempt
        // that could not remove its copy), the first place holds the old key again, and
        // the new key it would sign with is gone.
        None => (spec.sinks.first().read().await.ok().flatten()).filter(|k| k.id() == old_id),
    };
    let (new, old) = if signing::delegated(&spec.policy) {
        let opened = match old_key {
            Some(old) => match signing::signer(aws, &spec.policy, &old).await {
                Ok(caller) => Ok(caller),
                Err(_) => signing::signer(aws, &spec.policy, &new_key).await,
            },
            None => signing::signer(aws, &spec.policy, &new_key).await,
        };
        let signer = opened?;
        (signer.clone(), Some(signer))
    } else {
        (aws.caller(&new_key), old_key.map(|key| aws.caller(&key)))
    };

    // The old key must work again before anything else is undone: if it cannot be made
    // active, the new key and the sinks holding it stay the working ones.
    let keys = user_keys(old.as_ref(), &new, user, patience).await?;
    match keys.iter().find(|k| k.id == old_id) {
        None => {
            return Err(Cause::new(ErrorKind::InvalidKey, format!(
                "the old key {old_id} no longer exists, so the rotation cannot be undone; the new key {} stays in use",
                new_key.id()
            )))
        }
        Some(key) if !key.active && !keys.iter().any(|k| k.id == new_key.id()) => {
            return Err(Cause::new(ErrorKind::InvalidKey, format!(
                "the old key {old_id} is inactive and the new key {} no longer exists, so no key of the user can reactivate it: reactivate it in the IAM console",
                new_key.id()
            )))
        }
        Some(key) if !key.active => {
            // Only the new key can sign this: the old one is refused while inactive.
            patiently(patience, || new.set_active(user, old_id, true, &undoing))
                .await
                .map_err(|e| {
                    Cause::aws(&e, format!("cannot reactivate the old key {old_id}: {e}; the new key {} and the sinks holding it stay in use", new_key.id()))
                })?;
            actions.push(Action::Reactivated {
                key_id: old_id.to_owned(),
            });
        }
        Some(_) => {}
    }

    restore_sinks(spec, journal, &new_key, actions).await?;

    if !keys.iter().any(|k| k.id == new_key.id()) {
        // An earlier attempt deleted it already.
        return Ok(());
    }
    let deleted = match &old {
        // The old key is active now; a key just reactivated may itself still be
        // propagating, hence the patience.
        Some(old) => patiently(patience, || old.delete_key(user, new_key.id(), &undoing)).await,
        None => patiently(patience, || new.delete_key(user, new_key.id(), &undoing)).await,
    };
    match deleted {
        Ok(())
        | Err(AwsError {
            kind: AwsErrorKind::NoSuchEntity,
            ..
        }) => {
            actions.push(Action::DeletedNewKey {
                key_id: new_key.id().to_owned(),
            });
            Ok(())
        }
        Err(e) => Err(Cause::aws(
            &e,
            format!("cannot delete the new key {}: {e}", new_key.id()),
        )),
    }
}

/// The user's keys, read with the old key if the journal has it (a key IAM surely
/// accepts while it is active), else, or if IAM refuses it (it is inactive), with the
/// new key, retrying while the new key propagates.
async fn user_keys(
    old: Option<&Caller>,
    new: &Caller,
    user: &str,
    patience: Duration,
) -> Result<Vec<KeyMeta>, Cause> {
    let failed = |e: AwsError| Cause::aws(&e, format!("cannot read the user's keys: {e}"));
    if let Some(old) = old {
        match old.list_keys(user).await {
            Ok(keys) => return Ok(keys),
            Err(e) if e.kind == AwsErrorKind::InvalidCredentials => {}
            Err(e) => return Err(failed(e)),
        }
    }
    patiently(patience, || new.list_keys(user))
        .await
        .map_err(failed)
}

/// Restores every sink that has a backup, last first, and reads each back: one that
/// still holds the new key (a plugin killed before it answered its write left no undo
/// data, so its restore had nothing to undo) gets the old key written back, when the
/// journal has it. Then checks the first sink no longer holds the new key. `Err` names
/// every sink that may still hold the new key.
async fn restore_sinks(
    spec: &ProfileSpec,
    journal: &Journal,
    new_key: &AccessKey,
    actions: &mut Vec<Action>,
) -> Result<(), Cause> {
    let mut failures = Vec::new();
    let old_key = journal.old_key();
    for (index, sink) in spec.sinks.iter().enumerate().rev() {
        // A sink without a backup was never written by this rotation.
        if !journal.has_backup(index) {
            continue;
        }
        let still_new = || async { sink.holds(new_key.id()).await.unwrap_or(false) };
        // A place of the machine that began the rotation (the journal came from the
        // shared state, without its bytes): here it holds the new key only if this is
        // that machine, and then only the old key's two values go back.
        if journal.backup_elsewhere(index) && !still_new().await {
            continue;
        }
        let restored = match journal.backup_elsewhere(index) {
            true => Ok(()),
            false => match journal.backup(index) {
                Ok(snapshot) => sink
                    .restore(&snapshot, new_key)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
        };
        match (restored, &old_key) {
            (Ok(()), Some(old)) if still_new().await => match sink.write(old).await {
                Ok(_) => actions.push(Action::WroteOldKeyBack {
                    sink: sink.describe(),
                }),
                Err(e) => failures.push(format!("cannot restore {}: {e}", sink.describe())),
            },
            (Ok(()), _) => actions.push(Action::Restored {
                sink: sink.describe(),
            }),
            (Err(e), _) => failures.push(format!("cannot restore {}: {e}", sink.describe())),
        }
    }
    // The key rekey signs with next time comes from the first sink: read it back.
    if failures.is_empty() {
        let first = spec.sinks.first();
        if first.read_id().await.ok().flatten().as_deref() == Some(new_key.id()) {
            failures.push(format!("{} still holds the new key", first.describe()));
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    Err(Cause::new(ErrorKind::SinkFailed, format!(
        "{}; so the new key {} is not deleted (the journal keeps it and the backups): fix the cause, then run `rekey recover`",
        failures.join("; "),
        new_key.id()
    )))
}

/// An old key a rotation replaced, as its record will say.
struct Retired<'a> {
    owner: &'a Owner,
    old_key_id: &'a str,
    new_key_id: &'a str,
    /// AWS's time (never the local clock alone: issue 17, defect 2).
    now: SystemTime,
}

impl Retired<'_> {
    fn record(&self, deactivated_at: SystemTime, grace: Duration) -> PendingDeletion {
        PendingDeletion {
            owner: self.owner.clone(),
            key_id: self.old_key_id.to_owned(),
            deactivated_at,
            delete_after: deactivated_at + grace,
            overlap_since: None,
            replaced_by: Some(self.new_key_id.to_owned()),
        }
    }
}

/// After the old key is deactivated: deletes it now (grace 0) or records when to delete
/// it. Returns the action taken, or a warning when neither worked.
async fn retire_old_key(
    state: &StateDir,
    new: &Caller,
    policy: &Policy,
    retired: Retired<'_>,
    permit: &Permit,
) -> Retirement {
    let (grace, patience) = (policy.grace, policy.propagation.timeout);
    let (owner, old_key_id) = (retired.owner, retired.old_key_id);
    let mut not_yet = None;
    if grace.is_zero() {
        match patiently(patience, || {
            new.delete_key(&owner.user_name, old_key_id, permit)
        })
        .await
        {
            Ok(()) => {
                // Best effort: a record of a deleted key is never matched again.
                let _ = state.forget_rotated_by(old_key_id).await;
                crate::engine::old_keys::prune::remember_deleted(state, owner, old_key_id).await;
                return Retirement::Scheduled(Action::DeletedOldKey {
                    key_id: old_key_id.to_owned(),
                });
            }
            Err(e) => not_yet = Some(e.to_string()),
        }
    }
    let pending = retired.record(retired.now, grace);
    match record(state, new, policy, &pending).await {
        Ok(shared) => Retirement::Scheduled(Action::DeletionScheduled {
            key_id: old_key_id.to_owned(),
            after: pending.delete_after,
            not_yet,
            shared,
        }),
        Err(e) => Retirement::Unscheduled(format!(
            "old key {old_key_id} is inactive but its deletion could not be scheduled ({e}); delete it by hand after checking it is unused"
        )),
    }
}

/// With an overlap period: the old key stays active so that every machine can pick up
/// the new key; its deactivation (when the overlap ends) and deletion (`grace` after
/// that) are recorded for prune. Returns the action taken, or a warning.
async fn begin_overlap(
    state: &StateDir,
    new: &Caller,
    policy: &Policy,
    retired: Retired<'_>,
) -> Retirement {
    let old_key_id = retired.old_key_id;
    let deactivate_at = retired.now + policy.overlap;
    let pending = PendingDeletion {
        overlap_since: Some(retired.now),
        ..retired.record(deactivate_at, policy.grace)
    };
    match record(state, new, policy, &pending).await {
        Ok(shared) => Retirement::Scheduled(Action::OverlapBegun {
            key_id: old_key_id.to_owned(),
            until: deactivate_at,
            delete_after: pending.delete_after,
            shared,
        }),
        Err(e) => Retirement::Unscheduled(format!(
            "old key {old_key_id} stays active, but its deactivation could not be scheduled ({e}); deactivate it by hand once every machine uses the new key"
        )),
    }
}

/// Records `pending` here, then in IAM when the policy shares it (after: a machine that
/// sees the tag may act on the key, and this one must already know of it). Returns how
/// it was shared.
async fn record(
    state: &StateDir,
    signer: &Caller,
    policy: &Policy,
    pending: &PendingDeletion,
) -> Result<Shared, StateError> {
    state.record_pending(pending).await?;
    Ok(
        match shared_pending::publish(signer, policy, pending).await {
            Some(warning) => Shared::Failed(warning),
            None if policy.pending_store == PendingStore::Iam => Shared::InIam,
            None => Shared::No,
        },
    )
}

/// Removes the journal of a completed rotation. While the old key awaits deletion, the
/// sinks' previous content is kept with it, for `rekey rollback`; once it is deleted
/// there is nothing to roll back to.
pub(crate) async fn finish_completed(
    journal: Journal,
    state: &StateDir,
    old_key_id: &str,
) -> Result<(), StateError> {
    match state.pending(old_key_id) {
        Ok(Some(_)) => journal.finish_keeping_history(old_key_id).await,
        _ => journal.finish().await,
    }
}
