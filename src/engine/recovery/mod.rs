//! Finishing what an interrupted rotation started.
//!
//! Every rotation records its phase in a journal before each action (see
//! [`crate::engine::rotation`]), so after a crash the journal says what may have happened. The
//! decision table (also in ARCHITECTURE.md):
//!
//! | recorded phase | what may exist | resolution |
//! |---|---|---|
//! | `planned` | nothing | forget the journal |
//! | `deleting_stale_key` | the stale key may be gone | forget its pending record if gone |
//! | `creating_key` | a new key whose secret never reached the journal | delete a key that appeared only if no sink holds it, it was created during the call, and it was never used (see [`crate::engine::rotation::orphan`]) |
//! | `key_created` … `sinks_written` | the new key (secret in the journal), some sinks written | **forward** if every sink holds the new key, it works, and no `verify` command is set; else **back** |
//! | `verifying` | every sink holds the new key; the check did not finish | **back** |
//! | `deactivating_old_key` | the old key may be inactive; every sink holds the new key | **forward** |
//! | `rolling_back` | a half-done rollback | **back** |
//!
//! Forward and back are [`crate::engine::rotation::settle`]'s, the same code a failed rotation and `rekey
//! rollback` run. Forward: deactivate the old key (signed with the new one) and schedule
//! its deletion. Back: make sure the old key is active, restore every sink that has a
//! backup, delete the new key once every sink holds the old key. If any step fails the
//! journal stays, so the next run can try again; nothing is ever lost.

use serde::Serialize;

use std::time::{Duration, SystemTime};

use crate::aws::{Aws, AwsErrorKind, Caller, KeyMeta};
use crate::config::profile::{Policy, ProfileSpec, SharedState};
use crate::engine::action::Action;
use crate::engine::error::{Cause, ErrorKind};
use crate::engine::fleet::lease;
use crate::engine::fleet::shared_journal;
use crate::engine::old_keys::retire;
use crate::engine::rotation::orphan;
use crate::engine::rotation::shared_key;
use crate::engine::rotation::{
    self,
    settle::{self, finish_completed},
};
use crate::engine::signing;
use crate::state::lock::{self, LockName};
use crate::state::{
    Copied, Journal, JournalRecord, Owner, Phase, ResponseRecord, StateDir, StateError,
};

/// How an interrupted rotation was resolved.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct Recovered {
    /// The profile.
    pub(crate) profile: String,
    /// The user whose rotation it was.
    pub(crate) user_arn: String,
    /// The decision.
    pub(crate) outcome: Resolution,
    /// What was done, in order.
    pub(crate) actions: Vec<Action>,
}

/// The decision taken for an interrupted rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Resolution {
    /// Nothing had changed; the journal was dropped.
    NothingToUndo,
    /// The interrupted create had made a key whose secret never arrived: it was
    /// deleted, and nothing else had changed.
    OrphanDeleted,
    /// The rotation was completed: the new key is in use, the old one deactivated.
    RolledForward,
    /// The rotation was undone: the old key is in use and active again.
    RolledBack,
    /// A leak response that was interrupted after its rotation was finished: the
    /// leaked key deleted, proven refused, the keys it may have made looked for, the
    /// user's older sessions revoked (whichever were not done yet).
    ResponseFinished,
}

/// An interrupted rotation that could not be resolved (its journal is kept).
#[derive(Debug, Clone, Serialize, thiserror::Error, schemars::JsonSchema)]
#[error("{profile}: {message}")]
pub(crate) struct RecoveryFailure {
    /// The profile.
    pub(crate) profile: String,
    /// What kind of failure kept it unresolved (an AWS refusal, a sink, the state
    /// dir); `interrupted` when the rotation itself is in the way (its sinks changed).
    pub(crate) error_kind: ErrorKind,
    /// What went wrong and what to do.
    pub(crate) message: String,
    /// What was done before it went wrong.
    pub(crate) actions: Vec<Action>,
}

/// One interrupted rotation as the JSON output reports it:
/// `{"status": "resolved", "result": {…}}` or `{"status": "failed", "result": {…}}`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(tag = "status", content = "result", rename_all = "snake_case")]
pub(crate) enum Report {
    /// Resolved (rolled forward, back, or nothing to undo).
    Resolved(Recovered),
    /// Not resolved; its journal is kept.
    Failed(RecoveryFailure),
}

impl From<&Result<Recovered, RecoveryFailure>> for Report {
    fn from(result: &Result<Recovered, RecoveryFailure>) -> Self {
        match result {
            Ok(done) => Report::Resolved(done.clone()),
            Err(failure) => Report::Failed(failure.clone()),
        }
    }
}

/// Resolves every unfinished rotation of the `selected` profiles. A rotation shared
/// with other profiles (they held the same key) is rebuilt from its recorded members,
/// looked up among `selected` and `others`. With `force`, a rotation is undone even if
/// the run that held its lease may only be paused ([`lease::Lease::paused_holder`]).
pub(crate) async fn recover(
    aws: &Aws,
    state: &StateDir,
    selected: &[ProfileSpec],
    others: &[ProfileSpec],
    force: bool,
) -> Result<Vec<Result<Recovered, RecoveryFailure>>, StateError> {
    state.remove_stale_temp_files()?;
    // A plugin the interrupted run started may still be writing: let it finish first,
    // or it would write the new key after the place is put back.
    for note in state.wait_for_orphans().await? {
        tracing::warn!("{note}");
    }
    let mut results = Vec::new();
    for journal in state.unfinished()? {
        let record = journal.record();
        if !selected.iter().any(|p| record.concerns(&p.name)) {
            continue;
        }
        let spec = match shared_key::rebuild(selected.iter().chain(others), &record.members()) {
            Ok(spec) => spec,
            Err(cause) => {
                results.push(Err(RecoveryFailure {
                    error_kind: cause.kind,
                    profile: record.owner.profile.clone(),
                    message: cause.message,
                    actions: Vec::new(),
                }));
                continue;
            }
        };
        if let Some(result) = recover_journal(aws, state, &spec, journal, force).await {
            results.push(result);
        }
    }
    Ok(results)
}

/// Finishes every leak response that a killed run left unfinished and `concerns` picks
/// (see [`rotation::finish_response`]), once its rotation is resolved: one whose journal
/// is still there waits for that. `rekey recover` runs it after [`recover`], and
/// `respond` for the keys an alert names again; `apply` does not: `apply --compromised`
/// starts the response over.
pub(crate) async fn finish_responses(
    aws: &Aws,
    state: &StateDir,
    selected: &[ProfileSpec],
    others: &[ProfileSpec],
    concerns: impl Fn(&ResponseRecord) -> bool,
) -> Result<Vec<Result<Recovered, RecoveryFailure>>, StateError> {
    let mut results = Vec::new();
    for record in state.open_responses()? {
        let owner = &record.owner;
        let (account, user) = (&owner.account, &owner.user_name);
        if !concerns(&record) || !matches!(state.interrupted(account, user), Ok(None)) {
            continue;
        }
        let failed = |cause: Cause, actions: Vec<Action>| {
            Err(RecoveryFailure {
                profile: owner.profile.clone(),
                error_kind: cause.kind,
                message: cause.message,
                actions,
            })
        };
        let spec = match shared_key::rebuild(selected.iter().chain(others), &owner.members()) {
            Ok(spec) => spec,
            Err(cause) => {
                results.push(failed(cause, Vec::new()));
                continue;
            }
        };
        let name = LockName::user(account, user, &owner.user_arn);
        let _held = match lock::acquire(state, vec![name], state.lock_timeout()).await {
            Ok(held) => held,
            Err(e) => {
                results.push(failed(e.into(), Vec::new()));
                continue;
            }
        };
        // Under the lock: another process may have finished it meanwhile.
        let Ok(Some(record)) = state.response(account, user) else {
            continue;
        };
        let mut actions = Vec::new();
        let finished = rotation::finish_response(aws, state, &spec, &record, &mut actions).await;
        results.push(match finished {
            Ok(()) => Ok(Recovered {
                profile: spec.name.clone(),
                user_arn: record.owner.user_arn.clone(),
                outcome: Resolution::ResponseFinished,
                actions,
            }),
            Err(cause) => failed(cause, actions),
        });
    }
    Ok(results)
}

/// With `state: s3://…`, a rotation that a killed machine left unfinished (a CI runner
/// and its state dir thrown away) is in the shared state only. Each one of a selected
/// profile that this state dir lacks is imported, under the user's lease: a machine
/// still running that rotation holds the lease, and removes the copy as it finishes.
/// What could not be done is a warning: the local journals still resolve. `apply` and
/// `recover` call it before they look for interrupted rotations.
///
/// What stops profiles is returned, for `apply` to stop them with the real cause: a
/// user whose lease another run holds past `--lock-timeout` (with that run's holder,
/// host, pid and expiry, rather than the second key it may have made), and every
/// profile of a shared state that cannot be read (as Terraform will not run without
/// its state: a journal there may be what decides the next step).
pub(crate) async fn import_shared(
    aws: &Aws,
    state: &StateDir,
    selected: &[ProfileSpec],
) -> Vec<Stopped> {
    let mut stopped = Vec::new();
    for note in imported(aws, state, selected, &mut stopped).await {
        tracing::warn!("{note}");
    }
    stopped
}

/// Profiles the shared state stops, and why.
pub(crate) struct Stopped {
    /// Whose.
    pub(crate) who: Stops,
    /// Why, and what to do.
    pub(crate) cause: Cause,
}

/// Which profiles a [`Stopped`] concerns.
pub(crate) enum Stops {
    /// Those of this IAM user (its lease is held).
    User {
        /// The user's account.
        account: String,
        /// The user.
        user_name: String,
    },
    /// These, by name (their shared state cannot be read).
    Profiles(Vec<String>),
}

async fn imported(
    aws: &Aws,
    state: &StateDir,
    selected: &[ProfileSpec],
    stopped: &mut Vec<Stopped>,
) -> Vec<String> {
    let mut notes = Vec::new();
    let mut looked: Vec<&SharedState> = Vec::new();
    for spec in selected {
        let Some(shared) = &spec.policy.shared_state else {
            continue;
        };
        if looked.contains(&shared) {
            continue;
        }
        looked.push(shared);
        let reader = match Reader::of(aws, state, spec, shared).await {
            Ok(reader) => reader,
            Err(note) => {
                notes.push(note);
                continue;
            }
        };
        // What stops when the shared state cannot be read: every profile sharing it.
        let of = selected
            .iter()
            .filter(|p| p.policy.shared_state.as_ref() == Some(shared));
        let profiles = Stops::Profiles(of.map(|p| p.name.clone()).collect());
        if let Err(cause) = reader
            .import(aws, state, selected, spec, &mut notes, stopped)
            .await
        {
            stopped.push(Stopped {
                who: profiles,
                cause: unreadable(shared, cause),
            });
        }
    }
    notes
}

/// Who reads a shared state: as the profile signs (its current key, or its `via`
/// profile), with the fleet key that authenticates the copies.
struct Reader<'a> {
    shared: &'a SharedState,
    key: rekey_sinks::AccessKey,
    signer: Caller,
    fleet_key: crate::state::FleetKey,
}

impl<'a> Reader<'a> {
    /// The reader for `spec`'s shared state; a note for the user when there is none.
    async fn of(
        aws: &Aws,
        state: &StateDir,
        spec: &ProfileSpec,
        shared: &'a SharedState,
    ) -> Result<Self, String> {
        let key = spec.sinks.first().read().await.ok().flatten();
        let Some(key) = key else {
            return Err(format!(
                "{}: no key to read the shared state with; rotations another machine left unfinished there are not looked for",
                spec.name
            ));
        };
        let signer = signing::signer(aws, &spec.policy, &key)
            .await
            .map_err(|cause| format!("{}: {cause}", spec.name))?;
        let fleet_key = state.fleet_key().map_err(|e| e.to_string())?;
        Ok(Self {
            shared,
            key,
            signer,
            fleet_key,
        })
    }

    /// Imports the journals and leak responses of the selected profiles that another
    /// machine left in the shared state. Err: it could not be read at all.
    async fn import(
        &self,
        aws: &Aws,
        state: &StateDir,
        selected: &[ProfileSpec],
        spec: &ProfileSpec,
        notes: &mut Vec<String>,
        stopped: &mut Vec<Stopped>,
    ) -> Result<(), Cause> {
        // The bucket is expected to be the rotated users' account's, as the lease's is
        // (not the signer's: a `via` profile may sign from another account).
        let users_account = aws.owner_of(&self.key).await?.account;
        let (shared, signer, fleet_key) = (self.shared, &self.signer, &self.fleet_key);
        let mut refused = Vec::new();
        let journals =
            shared_journal::all(shared, signer, &users_account, fleet_key, &mut refused).await;
        notes.extend(refused);
        let journals = journals?;
        for (name, record) in journals {
            if !selected.iter().any(|p| record.concerns(&p.name)) {
                continue;
            }
            let (account, user) = (&record.owner.account, &record.owner.user_name);
            if !matches!(state.interrupted(account, user), Ok(None)) {
                continue; // This state dir has it (or cannot tell): resolved from here.
            }
            let owner = &record.owner;
            match import_one(aws, state, &spec.policy, signer, &name, owner).await {
                Some(cause) if cause.kind == ErrorKind::Busy => stopped.push(Stopped {
                    who: Stops::User {
                        account: owner.account.clone(),
                        user_name: owner.user_name.clone(),
                    },
                    cause,
                }),
                Some(cause) => notes.push(cause.message),
                None => {}
            }
        }
        // A leak response a killed machine left: finished by `recover` (see
        // `finish_responses`), here or anywhere.
        let mut refused = Vec::new();
        let responses =
            shared_journal::responses(shared, signer, &users_account, fleet_key, &mut refused)
                .await;
        notes.extend(refused);
        let responses = responses?;
        for bytes in responses {
            let Ok(record) = serde_json::from_slice::<ResponseRecord>(&bytes) else {
                continue;
            };
            if selected.iter().any(|p| record.owner.concerns(&p.name)) {
                if let Err(e) = state.import_response(&record).await {
                    notes.push(e.to_string());
                }
            }
        }
        Ok(())
    }
}

/// The shared state could not be read (`cause`): what stops its profiles, with the
/// permissions a refusal calls for.
fn unreadable(shared: &SharedState, cause: Cause) -> Cause {
    let bucket = &shared.bucket;
    let prefix = match shared.prefix.is_empty() {
        true => String::new(),
        false => format!("{}/", shared.prefix),
    };
    let advice = match cause.kind {
        ErrorKind::AccessDenied => format!(
            "; the signer needs s3:ListBucket on arn:aws:s3:::{bucket} and s3:GetObject, s3:PutObject, s3:DeleteObject on arn:aws:s3:::{bucket}/{prefix}* (docs/guide.md)"
        ),
        _ => String::new(),
    };
    Cause::new(
        cause.kind,
        format!(
            "cannot read the shared state s3://{bucket}/{prefix}: {}{advice}; a rotation another machine left there could decide this profile's next step, so nothing is done for it",
            cause.message
        ),
    )
}

/// Imports the shared state's journal `name` of `owner` under the user's lease, once
/// every part of it is authenticated and IAM agrees with what it claims; what stopped
/// it, if anything (a lease another run holds: [`ErrorKind::Busy`]).
async fn import_one(
    aws: &Aws,
    state: &StateDir,
    policy: &Policy,
    signer: &Caller,
    name: &str,
    owner: &Owner,
) -> Option<Cause> {
    let lease = match lease::hold(aws, state, policy, signer, owner, "recover").await {
        Ok(Some(lease)) => lease,
        Ok(None) => return None,
        Err(cause) => return Some(cause),
    };
    let note = |message: String| Cause::new(ErrorKind::State, message);
    // Under the lease: still unfinished (its machine did not finish it meanwhile)?
    let note = match lease.copied_journal(name).await {
        Ok(Some(copied)) => match agrees_with_iam(signer, &copied).await {
            Ok(()) => (state.import_journal(copied).await.err()).map(|e| note(e.to_string())),
            Err(why) => Some(note(why)),
        },
        Ok(None) => None,
        Err(cause) => Some(cause),
    };
    lease.release().await;
    note
}

/// Whether IAM, asked right now, backs the journal `copied` claims (see
/// [`retire::refute_journal`]).
async fn agrees_with_iam(signer: &Caller, copied: &Copied) -> Result<(), String> {
    let record: JournalRecord = serde_json::from_slice(&copied.record)
        .map_err(|_| format!("the shared state's journal {} is not readable", copied.name))?;
    let keys = signer
        .list_keys(&record.owner.user_name)
        .await
        .map_err(|e| e.to_string())?;
    let new_key_id = record.new_key.as_ref().map(|k| k.id.as_str());
    let refuted = retire::refute_journal(&record.old_key_id, new_key_id, record.started_at, &keys);
    match refuted {
        None => Ok(()),
        Some(why) => Err(format!(
            "the shared state's journal of {} is not acted on: {why}",
            record.owner.user_arn
        )),
    }
}

/// Resolves one journal of `spec`; `None` if another process finished it meanwhile.
async fn recover_journal(
    aws: &Aws,
    state: &StateDir,
    spec: &ProfileSpec,
    journal: Journal,
    force: bool,
) -> Option<Result<Recovered, RecoveryFailure>> {
    let failed = |cause: Cause| {
        Some(Err(RecoveryFailure {
            error_kind: cause.kind,
            profile: spec.name.clone(),
            message: cause.message,
            actions: Vec::new(),
        }))
    };
    let record = journal.record();
    if !record.same_sinks(&spec.sinks) {
        return failed(Cause::new(ErrorKind::Interrupted, format!(
            "its sinks changed since the interrupted rotation (journal {}); put the manifest back as it was, run `rekey recover`, then change it",
            rekey_sinks::shown::path(journal.path())
        )));
    }
    // Wait for a process that may still be running this rotation; then it is ours only
    // if its journal is still there.
    let name = LockName::user(
        &record.owner.account,
        &record.owner.user_name,
        &record.owner.user_arn,
    );
    let _held = match lock::acquire(state, vec![name], state.lock_timeout()).await {
        Ok(held) => held,
        Err(e) => return failed(e.into()),
    };
    let journal = match journal.reload() {
        Ok(Some(journal)) => journal,
        Ok(None) => return None,
        Err(e) => return failed(e.into()),
    };
    // With `state: s3://…`, no other machine changes this user's keys meanwhile.
    let lease = match (
        &spec.policy.shared_state,
        signing_key(aws, spec, &journal).await,
    ) {
        (Some(_), Some(key)) => {
            let owner = journal.record().owner.clone();
            let held = match signing::signer(aws, &spec.policy, &key).await {
                Ok(signer) => {
                    lease::hold(aws, state, &spec.policy, &signer, &owner, "recover").await
                }
                Err(cause) => Err(cause),
            };
            match held {
                Ok(lease) => lease,
                Err(cause) => return failed(cause),
            }
        }
        _ => None,
    };
    let mut journal = journal;
    // Copied to the shared state, and the copy gone: another machine resolved it.
    let held = match &lease {
        Some(lease) => Some(lease.holds_journal(&journal.name()).await),
        None => None,
    };
    match held {
        Some(Err(cause)) => {
            lease::release(lease).await;
            return failed(cause);
        }
        Some(Ok(false)) if journal.record().replicated => {
            let forgotten = journal.forget_resolved().await;
            lease::release(lease).await;
            return match forgotten {
                Ok(()) => None,
                Err(e) => failed(e.into()),
            };
        }
        _ => {}
    }
    let replica = lease.as_ref().map(|lease| lease.replica());
    if let Some(replica) = replica {
        if let Err(e) = journal.replicate(replica).await {
            lease::release(lease).await;
            return failed(e.into());
        }
    }
    let paused_holder = match force {
        true => None,
        false => lease.as_ref().and_then(|lease| lease.paused_holder()),
    };
    let recovery = Recovery {
        aws,
        state,
        spec,
        lease: lease.as_ref(),
        paused_holder,
        actions: Vec::new(),
    };
    let done = recovery.run(journal).await;
    lease::release(lease).await;
    Some(done)
}

/// The key that signs for `journal`'s lease and copy: the first IAM accepts of the
/// rotation's new key (the old one may be inactive), its old key, and the key the first
/// place holds now. An undo that finished but could not remove its copy (an older rekey
/// signed that with the key it had just deleted) left a journal whose new key is gone:
/// this cleans it up rather than failing every later run (issue 30).
async fn signing_key(
    aws: &Aws,
    spec: &ProfileSpec,
    journal: &Journal,
) -> Option<rekey_sinks::AccessKey> {
    let held = spec.sinks.first().read().await.ok().flatten();
    let candidates: Vec<_> = [journal.new_key(), journal.old_key(), held]
        .into_iter()
        .flatten()
        .collect();
    if !signing::delegated(&spec.policy) {
        for key in &candidates {
            if aws.caller(key).identity().await.is_ok() {
                return Some(key.clone());
            }
        }
    }
    // Signed by a `via` profile, or none works: the first, to fail with IAM's reason.
    candidates.into_iter().next()
}

/// Carries out `journal` (already locked by the caller) for `spec`.
pub(crate) async fn run_journal(
    aws: &Aws,
    state: &StateDir,
    spec: &ProfileSpec,
    journal: Journal,
    lease: Option<&lease::Lease>,
) -> Result<Recovered, RecoveryFailure> {
    let recovery = Recovery {
        aws,
        state,
        spec,
        lease,
        paused_holder: None,
        actions: Vec::new(),
    };
    recovery.run(journal).await
}

/// The unfinished rotations among the given profiles (for `apply` to resolve first).
pub(crate) fn pending_for(state: &StateDir, profiles: &[ProfileSpec]) -> Result<usize, StateError> {
    Ok(state
        .unfinished()?
        .iter()
        .filter(|j| profiles.iter().any(|p| j.record().concerns(&p.name)))
        .count())
}

struct Recovery<'a> {
    aws: &'a Aws,
    state: &'a StateDir,
    spec: &'a ProfileSpec,
    /// The user's lease, whose bucket holds the journal's copy.
    lease: Option<&'a lease::Lease>,
    /// Set when the run the lease was taken over from may only be paused: an undo
    /// waits for it (see [`lease::Lease::paused_holder`]).
    paused_holder: Option<String>,
    actions: Vec<Action>,
}

impl Recovery<'_> {
    async fn run(mut self, journal: Journal) -> Result<Recovered, RecoveryFailure> {
        for sink in &self.spec.sinks {
            if let Err(e) = sink.clean_up().await {
                let kind = ErrorKind::of_sink(&e, ErrorKind::SinkFailed);
                return Err(self.failure(Cause::new(kind, e.to_string())));
            }
        }
        let outcome = match self.resolve(&journal).await {
            Ok(outcome) => outcome,
            Err(cause) => {
                let kept = format!(
                    "; its journal {} is kept",
                    rekey_sinks::shown::path(journal.path())
                );
                return Err(self.failure(Cause::new(cause.kind, cause.message + &kept)));
            }
        };
        let user_arn = journal.record().owner.user_arn.clone();
        let old_key_id = journal.record().old_key_id.clone();
        if outcome != Resolution::RolledForward {
            self.sign_with_the_restored_key().await;
        }
        let finished = match outcome {
            Resolution::RolledForward => finish_completed(journal, self.state, &old_key_id).await,
            _ => journal.finish().await,
        };
        if let Err(e) = finished {
            return Err(self.failure(
                Cause::from(e).context("resolved, but the journal could not be removed"),
            ));
        }
        Ok(Recovered {
            profile: self.spec.name.clone(),
            user_arn,
            outcome,
            actions: self.actions,
        })
    }

    /// An undo deleted the key the shared state was signed with (issue 30): the key the
    /// first place holds again, active again, signs the removal of the journal's copy
    /// (and the lease's release) from now on.
    async fn sign_with_the_restored_key(&self) {
        let Some(lease) = self.lease else {
            return;
        };
        if let Ok(Some(key)) = self.spec.sinks.first().read().await {
            if let Ok(signer) = signing::signer(self.aws, &self.spec.policy, &key).await {
                lease.sign_also_with(&signer);
            }
        }
    }

    fn failure(&mut self, cause: Cause) -> RecoveryFailure {
        RecoveryFailure {
            error_kind: cause.kind,
            profile: self.spec.name.clone(),
            message: cause.message,
            actions: std::mem::take(&mut self.actions),
        }
    }

    async fn resolve(&mut self, journal: &Journal) -> Result<Resolution, Cause> {
        let record = journal.record();
        match &record.phase {
            Phase::Planned => Ok(Resolution::NothingToUndo),
            Phase::DeletingStaleKey { key_id } => {
                let (_, keys) = self.read_keys(journal).await?;
                if !keys.iter().any(|k| &k.id == key_id) {
                    self.state.forget_pending(key_id).await?;
                    self.actions.push(Action::StaleKeyGone {
                        key_id: key_id.clone(),
                    });
                }
                Ok(Resolution::NothingToUndo)
            }
            Phase::CreatingKey {
                existing,
                attempted_at,
            } => {
                let (caller, _) = self.read_keys(journal).await?;
                // A list right after the create may not show its key yet.
                let user = record.owner.user_name.as_str();
                let keys = orphan::settled_keys(&caller, user, *attempted_at).await?;
                // The call ran for at most a few attempt timeouts after it was sent; an
                // older journal knows only when the rotation started.
                let window = if *attempted_at == SystemTime::UNIX_EPOCH {
                    orphan::Window {
                        from: record.started_at,
                        to: record.started_at + Duration::from_secs(600),
                    }
                } else {
                    orphan::Window {
                        from: *attempted_at,
                        to: *attempted_at + Duration::from_secs(60),
                    }
                };
                let actions = &mut self.actions;
                let deleted = orphan::delete_strangers(
                    &caller, self.spec, user, &keys, existing, window, actions,
                )
                .await?;
                Ok(if deleted == 0 {
                    Resolution::NothingToUndo
                } else {
                    Resolution::OrphanDeleted
                })
            }
            Phase::KeyCreated
            | Phase::Propagated
            | Phase::WritingSink { .. }
            | Phase::SinksWritten => {
                let new_key = journal
                    .new_key()
                    .ok_or_else(|| Cause::new(ErrorKind::State, "the journal lacks the new key"))?;
                // With a verification command, only a passed check may complete a rotation.
                let no_verify = self.spec.policy.verify.is_none();
                if no_verify
                    && self
                        .everything_holds(&new_key, &record.owner.user_arn)
                        .await
                {
                    self.forward(journal).await
                } else {
                    self.back(journal).await
                }
            }
            Phase::DeactivatingOldKey => self.forward(journal).await,
            Phase::Verifying | Phase::RollingBack { .. } => self.back(journal).await,
        }
    }

    /// The user's keys, and clients that read them: signed with the journal's old key,
    /// else (an older journal, or IAM refuses it: the user may have deleted it by hand
    /// since) with the key the first sink holds now.
    async fn read_keys(&self, journal: &Journal) -> Result<(Caller, Vec<KeyMeta>), Cause> {
        let user = &journal.record().owner.user_name;
        if signing::delegated(&self.spec.policy) {
            let key = match journal.old_key() {
                Some(old) => old,
                None => self.first_sink_key().await?,
            };
            let signer = signing::signer(self.aws, &self.spec.policy, &key).await?;
            let keys = signer.list_keys(user).await?;
            return Ok((signer, keys));
        }
        if let Some(old) = journal.old_key() {
            let caller = self.aws.caller(&old);
            match caller.list_keys(user).await {
                Ok(keys) => return Ok((caller, keys)),
                Err(e) if e.kind == AwsErrorKind::InvalidCredentials => {}
                Err(e) => return Err(e.into()),
            }
        }
        let caller = self.aws.caller(&self.first_sink_key().await?);
        let keys = caller.list_keys(user).await?;
        Ok((caller, keys))
    }

    /// The key the profile's first sink holds now.
    async fn first_sink_key(&self) -> Result<rekey_sinks::AccessKey, Cause> {
        signing::current_key(self.spec).await
    }

    /// Whether every sink holds the new key and the new key works for the user.
    async fn everything_holds(&self, new_key: &rekey_sinks::AccessKey, user_arn: &str) -> bool {
        for sink in &self.spec.sinks {
            if !sink.holds(new_key.id()).await.unwrap_or(false) {
                return false;
            }
        }
        matches!(self.aws.caller(new_key).identity().await, Ok(identity) if identity.arn == user_arn)
    }

    async fn forward(&mut self, journal: &Journal) -> Result<Resolution, Cause> {
        let new_key = journal
            .new_key()
            .ok_or_else(|| Cause::new(ErrorKind::State, "the journal lacks the new key"))?;
        settle::promote(self.spec, &new_key, &mut self.actions).await?;
        let warning = settle::forward(
            self.aws,
            self.state,
            self.spec,
            journal,
            self.lease,
            &mut self.actions,
        )
        .await?;
        self.actions.extend(warning.map(Action::Warning));
        Ok(Resolution::RolledForward)
    }

    async fn back(&mut self, journal: &Journal) -> Result<Resolution, Cause> {
        if let Some(why) = &self.paused_holder {
            return Err(Cause::new(
                ErrorKind::Busy,
                format!("not undone: {why}; run `rekey recover` again then, or `rekey recover --force` once that machine is known to be stopped"),
            ));
        }
        settle::back(self.aws, self.spec, journal, &mut self.actions).await?;
        Ok(Resolution::RolledBack)
    }
}

#[cfg(test)]
mod tests;
