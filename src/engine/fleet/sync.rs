//! `rekey sync`: copy a profile's current key to every sink holding another one, for a
//! machine whose copies fell behind a rotation made elsewhere. No key is created,
//! deactivated or deleted.
//!
//! The current key is decided by AWS, never guessed from the files: of the keys the
//! sinks hold, the ones STS accepts for the same user and IAM lists Active, the newest
//! wins. The IAM read is signed by one of the working keys (or the `via` profile, or an
//! MFA session, as for a rotation); during an overlap period the old key still works,
//! which is what lets a machine that holds only the old key in its own files read the
//! new one from a shared sink (a secret store, a synced file).
//!
//! Writes are the sinks' own: atomic and byte-preserving, under the same place locks as
//! a rotation, and the user's lock (a rotation of the same user in this machine's state
//! dir waits, or makes sync wait). It only ever writes a key AWS has just shown to be the
//! user's current one, from a finished rotation, and keeps what it replaced
//! ([`crate::state::Synced`]) so that `sync --undo` can put it back if that key is
//! deleted later.

use std::sync::Arc;
use std::time::SystemTime;

use rekey_sinks::{AccessKey, Sink, SinkError};
use serde::Serialize;

use crate::aws::{Aws, AwsErrorKind, Caller, KeyMeta};
use crate::config::profile::ProfileSpec;
use crate::engine::error::{Cause, ErrorKind};
use crate::engine::fleet::lease;
use crate::engine::fleet::shared_pending;
use crate::engine::signing;
use crate::state::lock::{self, LockName};
use crate::state::{Owner, StateDir};

/// What sync found for one profile, and will do.
pub(crate) struct Inspected {
    /// The profile's current key (its secret is needed to write it).
    pub(crate) current: AccessKey,
    /// What [`Inspected::report`] shows.
    pub(crate) report: SyncReport,
    /// Whom the key belongs to (for the user's lock and the pending records).
    owner: Owner,
}

/// One profile's sync, as `sync` shows it (no secrets).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct SyncReport {
    /// The profile.
    pub(crate) profile: String,
    /// The user's current key id (absent if it could not be decided).
    pub(crate) current_key_id: Option<String>,
    /// When IAM says the current key was created (null when every place already held
    /// it: IAM is then not asked).
    #[serde(with = "crate::time::serde_rfc3339_option")]
    #[schemars(with = "Option<crate::time::Rfc3339>")]
    pub(crate) created: Option<SystemTime>,
    /// Each sink and what sync does with it.
    pub(crate) sinks: Vec<SinkSync>,
    /// Why the profile cannot be synced, if it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    /// The kind of that failure, for programs (present with `error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error_kind: Option<ErrorKind>,
    /// What else sync did or could not do (the overlap records it updated).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) notes: Vec<String>,
}

impl SyncReport {
    /// The report of `profile` before anything is known.
    fn empty(profile: &str) -> Self {
        Self {
            profile: profile.to_owned(),
            current_key_id: None,
            created: None,
            sinks: Vec::new(),
            error: None,
            error_kind: None,
            notes: Vec::new(),
        }
    }

    /// The profile cannot be synced, for `cause`.
    fn fail(&mut self, cause: Cause) {
        self.error_kind = Some(cause.kind);
        self.error = Some(cause.message);
    }

    /// Whether any sink is to be written.
    pub(crate) fn has_writes(&self) -> bool {
        self.sinks.iter().any(|s| s.action == SinkAction::Write)
    }
}

/// A sink in a sync.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct SinkSync {
    /// The sink, described.
    pub(crate) sink: String,
    /// The key id it holds now (absent: none, or unreadable).
    pub(crate) holds: Option<String>,
    /// What sync does with it.
    pub(crate) action: SinkAction,
    /// Why it could not be read or written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
}

/// What sync does with one sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SinkAction {
    /// It already holds the current key.
    InSync,
    /// It holds another key, or none: the current key is written there.
    Write,
    /// Written.
    Written,
    /// It could not be read, or written (see `reason`).
    Failed,
    /// Left as it is: the profile's current key could not be decided (or, undoing, the
    /// place no longer holds what sync wrote).
    Unchanged,
    /// `--undo`: what it held before the last sync was put back.
    Restored,
}

/// Reads every sink of `spec` and asks AWS which of their keys is current (rekey's
/// records of finished rotations, here and in IAM, tell a rotation in progress).
pub(crate) async fn inspect(
    aws: &Aws,
    state: &StateDir,
    spec: &ProfileSpec,
) -> Result<Inspected, (SyncReport, Cause)> {
    let mut report = SyncReport::empty(&spec.name);
    let mut held: Vec<AccessKey> = Vec::new();
    for sink in &spec.sinks {
        let (holds, reason) = match sink.read().await {
            Ok(Some(key)) => {
                let id = key.id().to_owned();
                if !held.iter().any(|k| k.id() == id) {
                    held.push(key);
                }
                (Some(id), None)
            }
            Ok(None) => (None, None),
            // A place that gives only the key id (a plugin) can still be compared and
            // written; it just cannot offer a key to sign with.
            Err(_) => match sink.read_id().await {
                Ok(id) => (id, None),
                Err(e) => (None, Some(e.to_string())),
            },
        };
        report.sinks.push(SinkSync {
            sink: sink.describe(),
            holds,
            action: if reason.is_some() {
                SinkAction::Failed
            } else {
                SinkAction::Write
            },
            reason,
        });
    }
    // Every place holds the same key: nothing to copy, whichever key is current. Such a
    // sync asks STS whether the key works and nothing of IAM (issue 19: ten thousand
    // hosts syncing hourly must not spend the account's IAM budget).
    let in_step = held.len() == 1
        && report
            .sinks
            .iter()
            .all(|s| s.reason.is_none() && s.holds.as_deref() == Some(held[0].id()));
    match decide(aws, state, spec, &held, in_step).await {
        Ok(Decided {
            current,
            created,
            owner,
        }) => {
            for sink in &mut report.sinks {
                if sink.holds.as_deref() == Some(current.id()) {
                    sink.action = SinkAction::InSync;
                }
            }
            report.current_key_id = Some(current.id().to_owned());
            report.created = created;
            Ok(Inspected {
                current,
                report,
                owner,
            })
        }
        Err(cause) => {
            report.fail(cause.clone());
            for sink in &mut report.sinks {
                if sink.action == SinkAction::Write {
                    sink.action = SinkAction::Unchanged;
                }
            }
            Err((report, cause))
        }
    }
}

/// What [`decide`] found.
struct Decided {
    current: AccessKey,
    /// When IAM says it was created (`None`: IAM was not asked, every place agreed).
    created: Option<SystemTime>,
    owner: Owner,
}

/// Of `held`, the key STS accepts for the profile's user and IAM lists Active, newest
/// first, provided the rotation that made it is finished (see [`finished`]). `in_step`:
/// every place holds the one key in `held`, so once STS accepts it IAM is not asked.
async fn decide(
    aws: &Aws,
    state: &StateDir,
    spec: &ProfileSpec,
    held: &[AccessKey],
    in_step: bool,
) -> Result<Decided, Cause> {
    let invalid = |message: String| Cause::new(ErrorKind::InvalidKey, message);
    let mut working = Vec::new();
    let mut refused = Vec::new();
    for key in held {
        match aws.caller(key).identity().await {
            Ok(identity) => working.push((key, identity)),
            Err(e) if e.kind == AwsErrorKind::InvalidCredentials => refused.push(key.id()),
            Err(e) => return Err(e.into()),
        }
    }
    let Some((signing_key, identity)) = working.first() else {
        return Err(invalid(if held.is_empty() {
            "no sink holds a key".to_owned()
        } else {
            format!(
                "AWS refuses every key the sinks hold ({}): sync needs one working copy to learn the current key; put it in one sink",
                refused.join(", ")
            )
        }));
    };
    if let Some((_, other)) = working.iter().find(|(_, i)| i.arn != identity.arn) {
        return Err(Cause::new(
            ErrorKind::SettingsConflict,
            format!(
                "the sinks hold keys of different users ({} and {}); sync copies one user's key only",
                identity.arn, other.arn
            ),
        ));
    }
    let user_name = identity
        .user_name
        .clone()
        .ok_or_else(|| invalid(format!("{} is not an IAM user", identity.arn)))?;
    if let Some(expected) = spec.policy.user.as_deref().filter(|u| *u != user_name) {
        return Err(invalid(format!(
            "the sinks hold keys of {}, not of user `{expected}`",
            identity.arn
        )));
    }
    let owner = Owner::of(spec, identity, &user_name);
    if in_step {
        return Ok(Decided {
            current: (*signing_key).clone(),
            created: None,
            owner,
        });
    }
    let caller = signing::signer(aws, &spec.policy, signing_key).await?;
    let keys = caller.list_keys(&user_name).await?;
    let held: Vec<&AccessKey> = working.iter().map(|(key, _)| *key).collect();
    let Some((current, created)) = newest_active(&held, &keys) else {
        return Err(invalid(format!(
            "no key the sinks hold is Active in IAM for {user_name}"
        )));
    };
    finished(state, spec, &caller, &owner, &keys, current.id()).await?;
    Ok(Decided {
        current: current.clone(),
        created: Some(created),
        owner,
    })
}

/// A key is adopted only once the rotation that made it is finished (issue 17, defect
/// 10): while another machine's rotation runs, its new key is already in a shared sink
/// and works, but a failed verification deletes it again, and a machine that had synced
/// to it would be left with a dead key. So when the user has another Active key, rekey
/// must have a record (here, or in IAM with `state: iam`) naming `current` as the key
/// that replaced it: rotations write it as they finish; or a sink must mark `current`
/// verified (a Secrets Manager hub promotes a rotation's key only once it is verified).
/// Otherwise sync changes nothing.
async fn finished(
    state: &StateDir,
    spec: &ProfileSpec,
    caller: &Caller,
    owner: &Owner,
    keys: &[KeyMeta],
    current: &str,
) -> Result<(), Cause> {
    let Some(other) = replaced_by(keys, current) else {
        return Ok(());
    };
    let shared = shared_pending::read(caller, &spec.policy, owner).await;
    let local = state.pending(&other.id).ok().flatten();
    let recorded = shared
        .pending
        .into_iter()
        .chain(local)
        .any(|p| p.key_id == other.id && p.replaced_by.as_deref().is_none_or(|r| r == current));
    if recorded {
        return Ok(());
    }
    // A hub that stages its writes marks the key a rotation verified and finished: no
    // record needed (issue 30, the machines an overlap is for catch up during it).
    for sink in &spec.sinks {
        if sink.verified(current).await.unwrap_or(false) {
            return Ok(());
        }
    }
    Err(Cause::new(
        ErrorKind::Busy,
        format!(
            "{} has two Active keys and rekey has no record that the rotation which made {current} is finished (it may still be verifying on another machine, and would delete it if that fails): sync changes nothing; run it again once that rotation is done (with `state: iam` or `s3://…` every machine sees it finish)",
            owner.user_name
        ),
    ))
}

/// Of the keys the sinks hold (and AWS accepts), the newest IAM lists Active: the one
/// sync makes current everywhere, with its creation time.
fn newest_active<'a>(
    held: &[&'a AccessKey],
    keys: &[KeyMeta],
) -> Option<(&'a AccessKey, SystemTime)> {
    held.iter()
        .filter_map(|key| {
            let meta = keys.iter().find(|m| m.id == key.id() && m.active)?;
            Some((*key, meta.created))
        })
        .max_by_key(|(_, created)| *created)
}

/// The user's other Active key that `current` may have replaced: only a key newer than
/// it can be a rotation's new key. `None`: `current` is the only Active key, or the
/// older one, and needs no record of a finished rotation.
fn replaced_by<'a>(keys: &'a [KeyMeta], current: &str) -> Option<&'a KeyMeta> {
    let created = keys.iter().find(|k| k.id == current).map(|k| k.created);
    keys.iter()
        .find(|k| k.active && k.id != current && Some(k.created) < created)
}

/// Writes the current key to every sink of `spec` that holds another key, under the
/// user's lock and the places' locks, reading each place again under them. Returns the
/// report with each write's outcome.
pub(crate) async fn carry_out(
    aws: &Aws,
    state: &StateDir,
    spec: &ProfileSpec,
    found: Inspected,
) -> SyncReport {
    let Inspected {
        current,
        mut report,
        owner,
    } = found;
    let user = Synced {
        spec,
        current: &current,
        owner: &owner,
    };
    if let Err(cause) = write_behind(aws, state, &user, &mut report).await {
        report.fail(cause);
    }
    report
}

/// The profile being synced: its spec, the current key and whose it is.
struct Synced<'a> {
    spec: &'a ProfileSpec,
    current: &'a AccessKey,
    owner: &'a Owner,
}

/// Writes the current key to the sinks that fell behind, holding the user's lock and the
/// places', and with `state: s3://…` the user's lease: no rekey on another machine
/// changes this user meanwhile, and what sync found current must still be once it
/// holds the lease.
async fn write_behind(
    aws: &Aws,
    state: &StateDir,
    user: &Synced<'_>,
    report: &mut SyncReport,
) -> Result<(), Cause> {
    let to_write: Vec<(usize, &Arc<dyn Sink>)> = (user.spec.sinks.iter().enumerate())
        .filter(|(i, _)| report.sinks[*i].action == SinkAction::Write)
        .collect();
    if to_write.is_empty() {
        return Ok(());
    }
    let owner = user.owner;
    let mut locks = vec![LockName::user(
        &owner.account,
        &owner.user_name,
        &owner.user_arn,
    )];
    locks.extend(
        to_write
            .iter()
            .filter_map(|(_, s)| s.lock_key())
            .map(|k| LockName::place(&k)),
    );
    let held = lock::acquire(state, locks, state.lock_timeout()).await?;
    let signer = signing::signer(aws, &user.spec.policy, user.current).await?;
    let lease = lease::hold(aws, state, &user.spec.policy, &signer, owner, "sync").await?;
    let written = under_lease(aws, state, user, &signer, lease.is_some(), to_write, report).await;
    drop(held);
    lease::release(lease).await;
    written
}

/// The writes, once the locks (and lease, if `leased`) are held: the user's keys read
/// again, an interrupted rotation resolved first, what each place held kept for
/// `--undo`, then each place written and the overlap notes added.
async fn under_lease(
    aws: &Aws,
    state: &StateDir,
    user: &Synced<'_>,
    signer: &Caller,
    leased: bool,
    to_write: Vec<(usize, &Arc<dyn Sink>)>,
    report: &mut SyncReport,
) -> Result<(), Cause> {
    let (owner, current, spec) = (user.owner, user.current, user.spec);
    // Under the lease, another machine's rotation or rollback may have ended since
    // inspection: the current key must still be Active.
    if leased {
        let keys = signer.list_keys(&owner.user_name).await?;
        if !keys.iter().any(|k| k.id == current.id() && k.active) {
            return Err(Cause::new(ErrorKind::Busy, format!(
                "the user's keys changed meanwhile ({} is no longer Active); sync changed nothing: run it again",
                current.id()
            )));
        }
    }
    // A rotation of this user interrupted in this state dir is resolved first.
    if let Some(interrupted) = state.interrupted(&owner.account, &owner.user_name)? {
        let message = format!("{interrupted}; sync changed nothing");
        return Err(Cause::new(ErrorKind::Interrupted, message));
    }
    // What each place held before is kept, for `rekey sync --undo` (only the last
    // sync's): a key synced to here may be deleted later (a rollback elsewhere).
    state
        .forget_synced(&spec.name)
        .await
        .map_err(|e| Cause::from(e).context("sync changed nothing"))?;
    for (index, sink) in to_write {
        let entry = &mut report.sinks[index];
        let written = match sink.read_id().await {
            // Written meanwhile (by a rotation that finished before the lock).
            Ok(Some(id)) if id == current.id() => Ok(()),
            Ok(_) => keep_and_write(state, &spec.name, index, sink.as_ref(), current).await,
            Err(e) => Err(Cause::new(ErrorKind::SinkUnwritable, e.to_string())),
        };
        match written {
            Ok(()) => entry.action = SinkAction::Written,
            Err(cause) => {
                entry.action = SinkAction::Failed;
                entry.reason = Some(cause.message);
            }
        }
    }
    note_overlaps(aws, state, user, report).await;
    Ok(())
}

/// The keys this machine stopped using: if one is in its overlap period, this sync
/// used it (it reads with the key it holds), and IAM keeps only a key's last use, so
/// rekey cannot tell those uses from another machine's. The "used since the rotation"
/// mark is never moved past a use rekey did not make (issue 17, defect 1): prune keeps
/// the key active, and says why, until `prune --force`.
async fn note_overlaps(aws: &Aws, state: &StateDir, user: &Synced<'_>, report: &mut SyncReport) {
    let replaced: Vec<String> = report
        .sinks
        .iter()
        .filter(|s| s.action == SinkAction::Written)
        .filter_map(|s| s.holds.clone())
        .filter(|id| id != user.current.id())
        .collect();
    if replaced.is_empty() {
        return;
    }
    // Signed with the current key: a call signed with the old key is one more use.
    match signing::signer(aws, &user.spec.policy, user.current).await {
        Ok(caller) => {
            for key_id in replaced {
                let note = overlap_note(state, user.spec, &caller, user.owner, &key_id).await;
                report.notes.extend(note);
            }
        }
        Err(cause) => report.notes.push(format!(
            "warning: cannot sign with the current key to read the overlap records ({cause})"
        )),
    }
}

/// After this machine moved off `key_id`: if it is an old key in its overlap period
/// (recorded here or shared in IAM), what its uses by this sync mean for prune.
async fn overlap_note(
    state: &StateDir,
    spec: &ProfileSpec,
    caller: &Caller,
    owner: &Owner,
    key_id: &str,
) -> Option<String> {
    let local = state.pending(key_id).ok().flatten();
    let shared = shared_pending::read(caller, &spec.policy, owner).await;
    let record = shared
        .pending
        .into_iter()
        .find(|p| p.key_id == key_id)
        .or(local)
        .filter(|p| p.in_overlap())?;
    Some(format!(
        "old key {key_id} is in its overlap until {}, and this machine used it until now (sync reads with the key it holds). IAM keeps only a key's last use and cannot tell this machine's uses from another's, so after the overlap prune keeps it active; once every machine has synced, `rekey prune --force` deactivates it",
        crate::time::rfc3339(record.deactivated_at)
    ))
}

/// Keeps what `sink` holds, then writes `key` there (the sink's own undo data, a
/// plugin's, replaces the snapshot when it gives one).
async fn keep_and_write(
    state: &StateDir,
    profile: &str,
    index: usize,
    sink: &dyn Sink,
    key: &AccessKey,
) -> Result<(), Cause> {
    let sink_failed =
        |e: SinkError| Cause::new(ErrorKind::of_sink(&e, ErrorKind::SinkFailed), e.to_string());
    let before = sink.snapshot().await.map_err(sink_failed)?;
    state
        .keep_synced(profile, index, &before, key.id())
        .await
        .map_err(|e| Cause::from(e).context("not written"))?;
    if let Some(undo) = sink.write(key).await.map_err(sink_failed)? {
        state
            .keep_synced(profile, index, &undo, key.id())
            .await
            .map_err(|e| {
                Cause::from(e).context("written, but what it held cannot be kept for --undo")
            })?;
    }
    Ok(())
}

/// `rekey sync --undo`: puts back what the last sync of `spec` replaced, in every place
/// that still holds the key it wrote there (a place changed since is left alone), under
/// the same locks as a sync. Nothing is asked of AWS: the point is a machine whose synced
/// key was deleted, which can sign nothing.
pub(crate) async fn undo(state: &StateDir, spec: &ProfileSpec) -> SyncReport {
    let mut report = SyncReport::empty(&spec.name);
    let synced = match state.synced(&spec.name) {
        Ok(synced) if synced.is_empty() => {
            let nothing = "no sync of this profile to undo (the state dir keeps the last one)";
            report.fail(Cause::new(ErrorKind::State, nothing));
            return report;
        }
        Ok(synced) => synced,
        Err(e) => {
            report.fail(e.into());
            return report;
        }
    };
    let places: Vec<LockName> = spec
        .sinks
        .iter()
        .filter_map(|s| s.lock_key())
        .map(|k| LockName::place(&k))
        .collect();
    let _held = match lock::acquire(state, places, state.lock_timeout()).await {
        Ok(held) => held,
        Err(e) => {
            report.fail(e.into());
            return report;
        }
    };
    for kept in synced {
        let Some(sink) = spec.sinks.get(kept.index) else {
            continue;
        };
        let held = sink.read().await;
        let mut entry = SinkSync {
            sink: sink.describe(),
            holds: held
                .as_ref()
                .ok()
                .and_then(|k| k.as_ref())
                .map(|k| k.id().to_owned()),
            action: SinkAction::Unchanged,
            reason: None,
        };
        match held {
            Ok(Some(written)) if written.id() == kept.written_key_id => {
                match sink.restore(&kept.before, &written).await {
                    Ok(()) => entry.action = SinkAction::Restored,
                    Err(e) => {
                        entry.action = SinkAction::Failed;
                        entry.reason = Some(e.to_string());
                    }
                }
            }
            Ok(_) => {
                entry.reason = Some(format!(
                    "it no longer holds {}, which sync wrote: left as it is",
                    kept.written_key_id
                ))
            }
            Err(e) => {
                entry.action = SinkAction::Failed;
                entry.reason = Some(e.to_string());
            }
        }
        report.sinks.push(entry);
    }
    if report.sinks.iter().all(|s| s.action != SinkAction::Failed) {
        if let Err(e) = state.forget_synced(&spec.name).await {
            report.notes.push(format!("warning: {e}"));
        }
    }
    report
}

/// Which key sync makes current, and when it must first know the rotation that made it
/// finished: pure rules, one test each.
#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn key(n: u8) -> AccessKey {
        AccessKey::new(
            format!("AKIASYNC000000000{n:03}"),
            "s3cret/KeyForSync+1".into(),
        )
        .unwrap()
    }

    fn meta(n: u8, active: bool, day: u64) -> KeyMeta {
        KeyMeta {
            id: key(n).id().to_owned(),
            active,
            created: SystemTime::UNIX_EPOCH + Duration::from_secs(day * 86_400),
        }
    }

    #[test]
    fn the_newest_active_key_a_sink_holds_is_current() {
        let (one, two, three) = (key(1), key(2), key(3));
        let keys = [meta(1, true, 1), meta(2, true, 2), meta(3, false, 3)];
        let (current, _) = newest_active(&[&one, &two, &three], &keys).unwrap();
        assert_eq!(current.id(), two.id(), "newest Active, not newest");
        assert!(
            newest_active(&[&three], &keys).is_none(),
            "an Inactive key is never current"
        );
        assert!(
            newest_active(&[&key(4)], &keys).is_none(),
            "nor one IAM does not list"
        );
    }

    #[test]
    fn only_a_key_newer_than_another_active_one_needs_a_finished_rotation() {
        let keys = [meta(1, true, 1), meta(2, true, 2)];
        assert_eq!(
            replaced_by(&keys, key(2).id()).map(|k| k.id.as_str()),
            Some(key(1).id())
        );
        assert!(
            replaced_by(&keys, key(1).id()).is_none(),
            "the older key replaced nothing"
        );
        let one_active = [meta(1, false, 1), meta(2, true, 2)];
        assert!(replaced_by(&one_active, key(2).id()).is_none());
    }
}
