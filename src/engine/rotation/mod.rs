//! Carrying out one profile's rotation as a journaled state machine.
//!
//! ```text
//! planned → [deleting stale key] → creating key → key created → propagated
//!         → writing sink 0..n → sinks written → deactivating old key → done
//!                      any failure after "key created" → rolling back → rolled back
//! ```
//!
//! Each phase is written to the [`Journal`] before its action, the new secret is in the
//! journal before any sink sees it, and every sink's old content is backed up before it
//! is written. Both endings, completing (old key deactivated and retired) and undoing
//! (old key active, sinks restored, new key deleted), are [`crate::engine::rotation::settle`]'s, shared
//! with recovery and `rekey rollback`. If undoing fails, the journal is kept, so
//! nothing is ever lost.

pub(crate) mod orphan;
pub(crate) mod plan;
pub(crate) mod planner;
pub(crate) mod propagation;
pub(crate) mod settle;
pub(crate) mod shared_key;
pub(crate) mod verify;

pub(crate) use crate::engine::leak::response::finish as finish_response;

use std::path::PathBuf;

use rekey_sinks::AccessKey;

use crate::aws::{Aws, AwsError, AwsErrorKind, Caller, KeyMeta};
use crate::config::profile::ProfileSpec;
use crate::engine::action::Action;
use crate::engine::crash;
use crate::engine::error::{Cause, ErrorKind};
use crate::engine::fleet::lease::{self, Lease};
use crate::engine::fleet::shared_pending;
use crate::engine::interrupt;
use crate::engine::leak::response as leak;
use crate::engine::leak::revocation::{self, LeakResponse};
use crate::engine::rotation::plan::{ProfilePlan, Step};
use crate::engine::rotation::planner::RotationInput;
use crate::engine::signing;
use crate::state::lock::{self, LockName};

use crate::state::{Journal, JournalRecord, Owner, Phase, RotatedBy, StateDir, StoredKey};

/// Where a running rotation is, for live progress.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum Stage {
    /// Taking the user's lock (waits while another rekey process rotates the user).
    WaitingForUser,
    /// Calling `CreateAccessKey` (after deleting a stale key, if planned).
    CreatingKey,
    /// Proving the new key works (STS).
    Propagating,
    /// Taking the sinks' locks (waits while another rotation writes the same places).
    WaitingForSinks,
    /// Writing this sink.
    Writing(String),
    /// Running the verification command.
    Verifying,
    /// Deactivating the old key.
    Deactivating,
    /// Undoing the rotation.
    RollingBack,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stage::WaitingForUser => f.write_str("taking the user lock"),
            Stage::CreatingKey => f.write_str("creating the new key"),
            Stage::Propagating => f.write_str("proving the new key works"),
            Stage::WaitingForSinks => f.write_str("taking the sink locks"),
            Stage::Writing(sink) => write!(f, "writing {sink}"),
            Stage::Verifying => f.write_str("running the verify command"),
            Stage::Deactivating => f.write_str("deactivating the old key"),
            Stage::RollingBack => f.write_str("rolling back"),
        }
    }
}

/// A finished rotation.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Rotated {
    /// The old key (now inactive or deleted).
    pub(crate) old_key_id: String,
    /// The new key (active, in every sink).
    pub(crate) new_key_id: String,
    /// What was done, in order, for the report.
    pub(crate) actions: Vec<Action>,
    /// Problems that did not undo the rotation (e.g. the old key could not be deleted).
    pub(crate) warnings: Vec<String>,
    /// A leak response: how the door was closed behind the old key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) leak_response: Option<LeakResponse>,
}

/// A rotation that did not complete.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub(crate) struct RotationFailure {
    /// What happened.
    pub(crate) kind: FailureKind,
    /// What was done before and while undoing, in order.
    pub(crate) actions: Vec<Action>,
}

impl RotationFailure {
    /// The kind of what stopped the rotation (not of a failure while undoing it).
    pub(crate) fn error_kind(&self) -> ErrorKind {
        match &self.kind {
            FailureKind::NotStarted(cause)
            | FailureKind::OrphanDeleted(cause)
            | FailureKind::RolledBack(cause)
            | FailureKind::RollbackIncomplete { reason: cause, .. }
            | FailureKind::ResponseIncomplete(cause)
            | FailureKind::SharedCopyLeft(cause) => cause.kind,
        }
    }
}

/// How far a failed rotation got, and where that leaves the user.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum FailureKind {
    /// Nothing was changed (no key created, no sink written).
    #[error("{0}; nothing was changed")]
    NotStarted(Cause),
    /// The create call went unanswered and the key it made, whose secret never arrived,
    /// was deleted; nothing else was changed.
    #[error(
        "{0}; the key that call created without its secret was deleted; nothing else was changed"
    )]
    OrphanDeleted(Cause),
    /// The rotation was undone completely.
    #[error("{0}; rolled back: the old key is still active and every sink holds it")]
    RolledBack(Cause),
    /// Undoing failed part-way; the journal keeps everything needed to finish by hand.
    #[error("{reason}; rollback incomplete ({}); the journal {} keeps the new key and the sink backups, so no key is lost: run `rekey recover` once the cause is fixed", failures.join("; "), rekey_sinks::shown::path(journal))]
    RollbackIncomplete {
        /// Why the rotation failed.
        reason: Cause,
        /// What could not be undone.
        failures: Vec<String>,
        /// The journal file.
        journal: PathBuf,
    },
    /// A leak response's rotation completed (the new key in every place, the old one
    /// deleted), but the door is not closed: AWS still accepted the old key at the
    /// bound, or the user's older sessions could not be revoked.
    #[error("{0}; the rotation itself is complete: the new key is in every place and the old key is deleted; `rekey recover` finishes the response")]
    ResponseIncomplete(Cause),
    /// The rotation completed, but its journal's copy in the shared state, which holds
    /// its secrets, could not be removed (issue 29): a success would leave it forever.
    #[error("{0}; the rotation itself is complete: the new key is in every place")]
    SharedCopyLeft(Cause),
}

/// Runs one rotation. `plan` and `input` come from [`crate::engine::rotation::planner::plan_profile`];
/// `progress` is told each stage as it begins.
pub(crate) async fn rotate(
    aws: &Aws,
    state: &StateDir,
    spec: &ProfileSpec,
    plan: &ProfilePlan,
    input: RotationInput,
    progress: &(dyn Fn(Stage) + Sync),
) -> Result<Rotated, RotationFailure> {
    // Made here rather than kept from planning: a thousand planned profiles need not
    // hold a thousand pairs of SDK clients while they wait for their turn.
    let iam = signing::signer(aws, &spec.policy, &input.old_key)
        .await
        .map_err(|cause| RotationFailure {
            kind: FailureKind::NotStarted(cause),
            actions: Vec::new(),
        })?;
    // A leak response proves the old key dead once deleted (see `revocation`), and
    // tells the keys made since it began (AWS's time).
    let leaked = spec.policy.leaked.clone().map(|leak| leak::Leaked {
        key: input.old_key.clone(),
        leak,
        began: aws.clock().now(),
        last_service: input.last_service.clone(),
        created: input.old_key_created,
    });
    let mut run = Run {
        aws,
        spec,
        progress,
        user: input.user_name.clone(),
        old_key_id: input.old_key.id().to_owned(),
        iam,
        lease: None,
        actions: Vec::new(),
    };
    let record = JournalRecord {
        owner: Owner::of(spec, &input.identity, &input.user_name),
        old_key_id: run.old_key_id.clone(),
        sinks: plan.sinks.iter().map(|s| s.sink.clone()).collect(),
        sink_ids: spec.sinks.iter().map(|s| s.id()).collect(),
        started_at: crate::time::now(),
        phase: Phase::Planned,
        new_key: None,
        old_key: Some(StoredKey::from_key(&input.old_key)),
        local_places: local_places(spec),
        replicated: false,
    };
    // No other rekey may rotate this user meanwhile.
    progress(Stage::WaitingForUser);
    let user_lock = LockName::user(
        &record.owner.account,
        &record.owner.user_name,
        &record.owner.user_arn,
    );
    let _user = lock::acquire(state, vec![user_lock], state.lock_timeout())
        .await
        .map_err(|e| run.fail(FailureKind::NotStarted(e.into())))?;
    // With `state: s3://…`, no rekey on another machine either.
    run.lease = lease::hold(aws, state, &spec.policy, &run.iam, &record.owner, "apply")
        .await
        .map_err(|cause| run.fail(FailureKind::NotStarted(cause)))?;
    let owner = record.owner.clone();
    let recorded = leak::Recorded {
        state,
        owner: &owner,
        replica: run.lease.as_ref().map(|lease| lease.replica()),
    };
    // A leak response is recorded before anything changes, so that it is finished even
    // if this run is killed midway (on another machine, with `state: s3://…`).
    if let Some(leaked) = &leaked {
        if let Err(e) = recorded.begin(leaked).await {
            lease::release(run.lease.take()).await;
            return Err(run.fail(FailureKind::NotStarted(e.into())));
        }
    }
    let rotated = locked(&mut run, state, plan, input, record).await;
    let Some(leaked) = leaked else {
        lease::release(run.lease.take()).await;
        return rotated;
    };
    // A leak response's last steps run under the user's lock and lease still: they may
    // deactivate a key of the user.
    let rotated = match rotated {
        Ok(rotated) => {
            let lease = run.lease.as_ref();
            leak::after_rotation(aws, spec, &recorded, lease, leaked, rotated).await
        }
        Err(mut failure) => {
            recorded.abandoned(&mut failure.actions).await;
            Err(failure)
        }
    };
    lease::release(run.lease.take()).await;
    leak::close_sessions(aws, spec, &recorded, rotated).await
}

/// What making room deletes: an inactive key, the last rotation's old key still active
/// in its overlap (deactivated first), or a key rekey does not know, quarantined first
/// (deactivated, its facts reported).
enum Room {
    Inactive,
    Overlap,
    Quarantine(KeyMeta),
}

/// [`rotate`] from the moment it holds the user's lock (and lease).
async fn locked(
    run: &mut Run<'_>,
    state: &StateDir,
    plan: &ProfilePlan,
    input: RotationInput,
    record: JournalRecord,
) -> Result<Rotated, RotationFailure> {
    let progress = run.progress;
    if let Err(cause) = interrupt::check("starting") {
        return Err(run.fail(FailureKind::NotStarted(cause)));
    }
    run.still_as_planned(&input).await?;
    let mut journal = Journal::begin(state, record)
        .await
        .map_err(|e| run.fail(FailureKind::NotStarted(e.into())))?;
    // With `state: s3://…` every journal write is copied to the bucket too, so another
    // machine can finish or undo this rotation if this one is killed.
    if let Some(lease) = &run.lease {
        if let Err(e) = journal.replicate(lease.replica()).await {
            return Err(run.abandon(journal, e.into()).await);
        }
    }
    crash::point("planned");

    for step in &plan.steps {
        match step {
            Step::DeleteInactiveKey { key_id, .. } => {
                journal = run
                    .make_room(journal, state, key_id, Room::Inactive)
                    .await?;
            }
            Step::EndOverlap { key_id } => {
                journal = run.make_room(journal, state, key_id, Room::Overlap).await?;
            }
            Step::QuarantineKey { key_id } => {
                // Planned from these keys; one gone since needs no quarantine.
                let room = match input.existing_keys.iter().find(|k| k.id == *key_id) {
                    Some(key) => Room::Quarantine(key.clone()),
                    None => Room::Inactive,
                };
                journal = run.make_room(journal, state, key_id, room).await?;
            }
            _ => {}
        }
    }

    progress(Stage::CreatingKey);
    let (new_key, mut journal) = run.create_key(journal, &input).await?;
    // From here every failure is undone the same way, while the sinks' locks (if taken)
    // are still held: the guard lives here, not in `complete`.
    let mut places = None;
    let completed = run
        .complete(state, &mut journal, &new_key, &input, &mut places)
        .await;
    let warnings = match completed {
        Ok(warnings) => warnings,
        Err(cause) => {
            // Failed after the places' locks were released: undo under them again (held
            // until the undo is done).
            let _relocked =
                if places.is_none() && matches!(journal.phase(), Phase::DeactivatingOldKey) {
                    let names = place_locks(run.spec);
                    match lock::acquire(state, names, state.lock_timeout()).await {
                        Ok(held) => Some(held),
                        Err(e) => {
                            let failure = format!("cannot take the places' locks to undo: {e}");
                            return Err(run.incomplete(&journal, cause, failure));
                        }
                    }
                } else {
                    None
                };
            return Err(run.roll_back(journal, cause).await);
        }
    };
    drop(places);
    match settle::finish_completed(journal, state, &run.old_key_id).await {
        Ok(()) => {}
        Err(e) if e.left_in_shared_state() => {
            let cause = Cause::new(ErrorKind::State, e.to_string());
            return Err(run.fail(FailureKind::SharedCopyLeft(cause)));
        }
        Err(e) => run.actions.push(Action::Warning(format!(
            "could not remove the finished journal: {e}"
        ))),
    }
    Ok(Rotated {
        old_key_id: run.old_key_id.clone(),
        new_key_id: new_key.id().to_owned(),
        actions: std::mem::take(&mut run.actions),
        warnings,
        leak_response: None,
    })
}

/// What two rotations writing `spec`'s places must not hold at once.
fn place_locks(spec: &ProfileSpec) -> Vec<LockName> {
    spec.sinks
        .iter()
        .filter_map(|s| s.lock_key())
        .map(|k| LockName::place(&k))
        .collect()
}

/// Writes the new key to sink `index`, its previous content saved in the journal first
/// (replaced by the sink's own undo data, if it returns any).
async fn write_sink(
    journal: &mut Journal,
    index: usize,
    sink: &dyn rekey_sinks::Sink,
    new_key: &AccessKey,
) -> Result<(), Cause> {
    let failed = |e: rekey_sinks::SinkError| {
        Cause::new(ErrorKind::of_sink(&e, ErrorKind::SinkFailed), e.to_string())
    };
    tracing::info!("writing {}", sink.describe());
    let snapshot = sink.snapshot().await.map_err(failed)?;
    journal.save_backup(index, &snapshot).await?;
    journal.advance(Phase::WritingSink { index }).await?;
    // From here the sink may have changed; it has a backup, so undoing restores it.
    crash::point(&format!("before-write-{index}"));
    // Staged: a hub keeps it from its readers until it is verified (`settle::promote`).
    let undo = sink.stage(new_key).await.map_err(failed)?;
    // Written, but a plugin's undo data not kept yet: undoing must still work.
    crash::point(&format!("wrote-{index}"));
    if let Some(undo) = undo {
        journal.save_backup(index, &undo).await?;
    }
    crash::point(&format!("after-write-{index}"));
    Ok(())
}

/// The state a rotation carries between its steps.
struct Run<'a> {
    aws: &'a Aws,
    spec: &'a ProfileSpec,
    progress: &'a (dyn Fn(Stage) + Sync),
    user: String,
    old_key_id: String,
    /// Clients signing the IAM calls before the new key exists: the old key
    /// (self-service), or the `via` profile (admin rotation).
    iam: Caller,
    /// The user's lease, with `state: s3://…`.
    lease: Option<Lease>,
    actions: Vec<Action>,
}

impl Run<'_> {
    fn fail(&mut self, kind: FailureKind) -> RotationFailure {
        RotationFailure {
            kind,
            actions: std::mem::take(&mut self.actions),
        }
    }

    /// Everything between the new key's creation and the end: prove it, write every
    /// sink, verify, deactivate and retire the old key. Returns the warnings of a
    /// completed rotation, or the cause to undo it for. The sinks' locks go into
    /// `places`, so the caller holds them while it undoes.
    async fn complete(
        &mut self,
        state: &StateDir,
        journal: &mut Journal,
        new_key: &AccessKey,
        input: &RotationInput,
        places: &mut Option<lock::Held>,
    ) -> Result<Vec<String>, Cause> {
        let (spec, progress) = (self.spec, self.progress);
        progress(Stage::Propagating);
        let new = self.aws.caller(new_key);
        let rule = spec.policy.propagation;
        let proof = propagation::prove(&new, &input.identity.arn, &self.user, rule).await?;
        if let Some(lease) = &self.lease {
            // The old key is deactivated before the lease is released.
            lease.sign_also_with(&new);
        }
        self.actions.push(Action::Proven {
            key_id: new_key.id().to_owned(),
            calls: proof.attempts,
            took: proof.elapsed,
        });
        journal.advance(Phase::Propagated).await?;
        crash::point("propagated");

        // No other rotation may write these places from our first write until we are
        // done (undoing must not meet someone else's write half-way). The slow part,
        // creating and proving the key, is behind us, so rotations that share a file
        // overlap everywhere but here.
        interrupt::check("writing the new key to its places")?;
        progress(Stage::WaitingForSinks);
        *places = Some(lock::acquire(state, place_locks(spec), state.lock_timeout()).await?);
        for (index, sink) in spec.sinks.iter().enumerate() {
            progress(Stage::Writing(sink.describe()));
            write_sink(journal, index, sink.as_ref(), new_key).await?;
            self.actions.push(Action::Wrote {
                sink: sink.describe(),
            });
        }
        journal.advance(Phase::SinksWritten).await?;
        crash::point("sinks-written");
        interrupt::check("verifying the new key and deactivating the old one")?;
        if let Some(verify) = &spec.policy.verify {
            journal.advance(Phase::Verifying).await?;
            crash::point("verifying");
            progress(Stage::Verifying);
            let took = verify::run(verify, &spec.name, new_key)
                .await
                .map_err(|e| Cause::new(ErrorKind::VerifyFailed, e.to_string()))?;
            self.actions.push(Action::Verified {
                command: verify.command.shown(),
                took,
            });
        }
        interrupt::check("deactivating the old key")?;
        settle::promote(spec, new_key, &mut self.actions).await?;
        // Checked again right before the deactivation (`settle::forward`), which needs
        // its permit; this stops a paused run before it records the phase.
        if let Some(lease) = &self.lease {
            lease.check().await?;
        }
        journal.advance(Phase::DeactivatingOldKey).await?;
        // The places are written and verified: other rotations sharing a file may write
        // it while this one deactivates and retires its old key (issue 19: twenty
        // profiles of one credentials file otherwise wait for each other's IAM calls).
        // An undo from here takes the locks again (see `locked`), and restores only its
        // own edit of a file others changed since.
        *places = None;
        progress(Stage::Deactivating);
        let lease = self.lease.as_ref();
        let warning =
            settle::forward(self.aws, state, spec, journal, lease, &mut self.actions).await?;
        // The key remembers where this run wrote it, so that a run elsewhere that would
        // leave some of those places behind stops (see `planner::left_behind`). Only a
        // convenience: losing it to a crash here loses that stop, nothing else.
        let made_by = RotatedBy {
            manifest: spec.manifest.clone(),
            places: spec.sinks.iter().map(|s| s.id()).collect(),
        };
        let mut warnings: Vec<String> = warning.into_iter().collect();
        if let Err(e) = state.remember_rotated_by(new_key.id(), &made_by).await {
            warnings.push(format!(
                "cannot record which manifest made {}: {e}",
                new_key.id()
            ));
        }
        Ok(warnings)
    }

    /// After waiting for the locks: refuses to go on if another process changed the
    /// user's keys (a key appeared, or one changed status) or the first sink since
    /// planning.
    async fn still_as_planned(&mut self, input: &RotationInput) -> Result<(), RotationFailure> {
        let changed = |what: &str| {
            Cause::new(
                ErrorKind::Busy,
                format!("{what} changed since planning (another rekey run?); run apply again"),
            )
        };
        let held = self.spec.sinks.first().read_id().await.ok().flatten();
        if held.as_deref() != Some(self.old_key_id.as_str()) {
            return Err(self.fail(FailureKind::NotStarted(changed("the first sink"))));
        }
        let now = match self.iam.list_keys(&self.user).await {
            Ok(keys) => keys,
            Err(e) => return Err(self.fail(FailureKind::NotStarted(e.into()))),
        };
        // A key that vanished (pruned meanwhile) is fine; one that appeared is not, nor
        // one made Active again: `--make-room` would delete it as inactive.
        let as_planned = |key: &KeyMeta| {
            input
                .existing_keys
                .iter()
                .any(|k| k.id == key.id && k.active == key.active)
        };
        if !now.iter().all(as_planned) {
            return Err(self.fail(FailureKind::NotStarted(changed("the user's keys"))));
        }
        Ok(())
    }

    /// Deletes an inactive key (known to rekey, or allowed by `--make-room`), or, for a
    /// leak response during an overlap (`end_overlap`), deactivates the last rotation's
    /// old key first, then deletes it.
    async fn make_room(
        &mut self,
        mut journal: Journal,
        state: &StateDir,
        key_id: &str,
        room: Room,
    ) -> Result<Journal, RotationFailure> {
        let phase = Phase::DeletingStaleKey {
            key_id: key_id.to_owned(),
        };
        if let Err(e) = journal.advance(phase).await {
            return Err(self.abandon(journal, e.into()).await);
        }
        // A deletion another machine's run could interleave with (issue 30).
        let permit = match lease::permit(self.lease.as_ref()).await {
            Ok(permit) => permit,
            Err(cause) => return Err(self.abandon(journal, cause).await),
        };
        match room {
            Room::Inactive => {}
            Room::Overlap => {
                if let Err(e) = self
                    .iam
                    .set_active(&self.user, key_id, false, &permit)
                    .await
                {
                    return Err(self.abandon(journal, e.into()).await);
                }
                self.actions.push(Action::EndedOverlap {
                    key_id: key_id.to_owned(),
                });
            }
            Room::Quarantine(key) => {
                match revocation::examine(&self.iam, &self.user, key, true, None, &permit).await {
                    Ok(examined) => self.actions.push(Action::UnknownKey(examined)),
                    Err(cause) => return Err(self.abandon(journal, cause).await),
                }
            }
        }
        match self.iam.delete_key(&self.user, key_id, &permit).await {
            // Prune (which apply runs first) may have deleted it already.
            Ok(())
            | Err(AwsError {
                kind: AwsErrorKind::NoSuchEntity,
                ..
            }) => {}
            Err(e) => return Err(self.abandon(journal, e.into()).await),
        }
        self.actions.push(Action::DeletedInactiveKey {
            key_id: key_id.to_owned(),
        });
        let deleted = format!("deleting {key_id} to make room");
        match settle::an_active_key_is_left(&self.iam, &self.user, &deleted).await {
            Ok(unchecked) => self.actions.extend(unchecked.map(Action::Warning)),
            Err(lost) => return Err(self.abandon(journal, lost).await),
        }
        if let Err(e) = state.forget_deleted_key(key_id).await {
            self.actions.push(Action::Warning(format!(
                "could not forget the pending deletion of {key_id}: {e}"
            )));
        }
        let owner = journal.record().owner.clone();
        crate::engine::old_keys::prune::remember_deleted(state, &owner, key_id).await;
        let policy = &self.spec.policy;
        if let Some(warning) = shared_pending::withdraw(&self.iam, policy, &self.user, key_id).await
        {
            self.actions.push(Action::Warning(warning));
        }
        Ok(journal)
    }

    /// `CreateAccessKey`, then the secret into the journal before anything else.
    async fn create_key(
        &mut self,
        mut journal: Journal,
        input: &RotationInput,
    ) -> Result<(AccessKey, Journal), RotationFailure> {
        if let Err(cause) = interrupt::check("creating the new key") {
            return Err(self.abandon(journal, cause).await);
        }
        let permit = match lease::permit(self.lease.as_ref()).await {
            Ok(permit) => permit,
            Err(cause) => return Err(self.abandon(journal, cause).await),
        };
        let existing: Vec<String> = input.existing_keys.iter().map(|k| k.id.clone()).collect();
        let attempted_at = crate::time::now();
        let phase = Phase::CreatingKey {
            existing: existing.clone(),
            attempted_at,
        };
        if let Err(e) = journal.advance(phase).await {
            return Err(self.abandon(journal, e.into()).await);
        }
        crash::point("creating-key");
        let key = match self.iam.create_key(&self.user, &permit).await {
            Ok(key) => key,
            // A definitive refusal (`LimitExceeded`, `AccessDenied`: any 4xx) created
            // nothing, and a key that appeared meanwhile is another machine's: it is
            // never looked for, let alone deleted.
            Err(e) if !e.outcome_unknown() => {
                return Err(self.abandon(journal, Cause::from(e)).await);
            }
            Err(e) => {
                // No answer, or a server error: a key may exist whose secret never
                // arrived (a lost answer, a reset connection): find it and delete it.
                let reason = Cause::from(e);
                let window = orphan::Window {
                    from: attempted_at,
                    to: crate::time::now(),
                };
                return Err(match self.delete_unknown_keys(&existing, window).await {
                    Ok(0) => self.abandon(journal, reason).await,
                    Ok(_) => {
                        self.close(journal).await;
                        self.fail(FailureKind::OrphanDeleted(reason))
                    }
                    Err(failure) => self.incomplete(&journal, reason, failure.message),
                });
            }
        };
        // The most dangerous instant: the key exists, its secret only in memory.
        crash::point("key-created");
        self.actions.push(Action::CreatedKey {
            key_id: key.id().to_owned(),
        });
        if let Err(e) = journal.record_new_key(&key).await {
            // Never go on with a key whose only copy is in memory.
            let reason = Cause::new(ErrorKind::State, format!("cannot record the new key: {e}"));
            let undoing = lease::undoing();
            return Err(
                match self.iam.delete_key(&self.user, key.id(), &undoing).await {
                    Ok(()) => {
                        self.actions.push(Action::DeletedNewKey {
                            key_id: key.id().to_owned(),
                        });
                        self.abandon(journal, reason).await
                    }
                    Err(delete) => {
                        let failure =
                            format!("the new key {} could not be deleted: {delete}", key.id());
                        self.incomplete(&journal, reason, failure)
                    }
                },
            );
        }
        crash::point("key-recorded");
        Ok((key, journal))
    }

    /// After an unanswered `CreateAccessKey`: deletes the key it may have made (see
    /// [`orphan`]); how many were deleted.
    async fn delete_unknown_keys(
        &mut self,
        existing: &[String],
        window: orphan::Window,
    ) -> Result<usize, Cause> {
        let keys = orphan::settled_keys(&self.iam, &self.user, window.from)
            .await
            .map_err(|e| {
                Cause::aws(
                    &e,
                    format!("cannot check for a key created without an answer: {e}"),
                )
            })?;
        let (caller, spec, user) = (&self.iam, self.spec, self.user.as_str());
        orphan::delete_strangers(
            caller,
            spec,
            user,
            &keys,
            existing,
            window,
            &mut self.actions,
        )
        .await
    }

    /// Ends a rotation that changed nothing.
    async fn abandon(&mut self, journal: Journal, reason: Cause) -> RotationFailure {
        self.close(journal).await;
        self.fail(FailureKind::NotStarted(reason))
    }

    /// Removes the journal of a rotation that left nothing to undo.
    async fn close(&mut self, journal: Journal) {
        if let Err(e) = journal.finish().await {
            self.actions.push(Action::Warning(format!(
                "could not remove the journal: {e}"
            )));
        }
    }

    /// Undoes a rotation that failed after its key was created: records `rolling_back`
    /// and hands over to [`settle::back`], the undo recovery and `rekey rollback` run.
    async fn roll_back(&mut self, mut journal: Journal, reason: Cause) -> RotationFailure {
        tracing::warn!(profile = %self.spec.name, %reason, "rolling back");
        (self.progress)(Stage::RollingBack);
        let phase = Phase::RollingBack {
            reason: reason.message.clone(),
        };
        if let Err(e) = journal.advance(phase).await {
            // The journal still names an earlier phase, which recovery also undoes.
            self.actions.push(Action::Warning(format!(
                "could not record the rollback: {e}"
            )));
        }
        match settle::back(self.aws, self.spec, &journal, &mut self.actions).await {
            Ok(()) => {
                if let Err(e) = journal.finish().await {
                    self.actions.push(Action::Warning(format!(
                        "could not remove the journal: {e}"
                    )));
                }
                self.fail(FailureKind::RolledBack(reason))
            }
            Err(failure) => self.incomplete(&journal, reason, failure.message),
        }
    }

    /// A failure whose undoing failed: `journal` keeps what is needed to finish it.
    fn incomplete(&mut self, journal: &Journal, reason: Cause, failure: String) -> RotationFailure {
        let journal = journal.path().to_owned();
        self.fail(FailureKind::RollbackIncomplete {
            reason,
            failures: vec![failure],
            journal,
        })
    }
}

/// The places of `spec` that live on this machine alone (see
/// [`JournalRecord::local_places`]).
pub(crate) fn local_places(spec: &ProfileSpec) -> Vec<usize> {
    (spec.sinks.iter().enumerate())
        .filter(|(_, sink)| sink.machine_local())
        .map(|(index, _)| index)
        .collect()
}
