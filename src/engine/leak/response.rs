//! A leak response's steps after its rotation (see [`crate::engine::leak::revocation`] for
//! each): proof that AWS refuses the deleted key, the keys it may have made meanwhile
//! (quarantined with `--quarantine`), and the user's older sessions revoked.
//!
//! Each is recorded as it ends ([`crate::state::ResponseRecord`]), so a response killed
//! midway (a CI job cancelled after the old key's deletion) is finished by [`finish`],
//! which `rekey recover` and the next response run, rather than left half done and
//! reported done (issue 30, point 3). Whether the leaked key was replaced and deleted is
//! read from IAM when finishing, never taken from the record.

use std::sync::Arc;
use std::time::SystemTime;

use rekey_sinks::AccessKey;

use super::revocation::{self, LeakResponse};
use super::{activity, containment, fence, quarantine};
use crate::aws::{Aws, AwsErrorKind, Caller};
use crate::config::profile::{Leak, ProfileSpec};
use crate::engine::action::{Action, Signer};
use crate::engine::crash;
use crate::engine::error::{Cause, ErrorKind};
use crate::engine::fleet::lease::{self, Lease};
use crate::engine::rotation::{settle, FailureKind, Rotated, RotationFailure};
use crate::engine::signing;
use crate::state::{Owner, Replica, ResponseRecord, ResponseStep, StateDir, StateError, StoredKey};

/// The old key of a leak response, its choices, and when the response began (AWS's
/// time).
pub(crate) struct Leaked {
    pub(crate) key: AccessKey,
    pub(crate) leak: Leak,
    pub(crate) began: SystemTime,
    /// The service the leaked key was last used with (what a lifted quarantine proves).
    pub(crate) last_service: Option<String>,
    /// When it was created: CloudTrail is read from then.
    pub(crate) created: SystemTime,
}

/// Where a response's record is kept: the state dir, and with `state: s3://…` its copy
/// in the shared state (written through the user's lease's replica).
pub(crate) struct Recorded<'a> {
    pub(crate) state: &'a StateDir,
    pub(crate) owner: &'a Owner,
    pub(crate) replica: Option<Arc<dyn Replica>>,
}

impl Recorded<'_> {
    /// Records that the response of `leaked` begins.
    pub(crate) async fn begin(&self, leaked: &Leaked) -> Result<(), StateError> {
        let record = ResponseRecord {
            owner: self.owner.clone(),
            leaked_key: StoredKey::from_key(&leaked.key),
            began: leaked.began,
            revocation_timeout_secs: leaked.leak.revocation_timeout.as_secs(),
            quarantine: leaked.leak.quarantine,
            keep_sessions: leaked.leak.keep_sessions,
            lift_quarantine: leaked.leak.lift_quarantine,
            contain: leaked.leak.contain,
            last_service: leaked.last_service.clone(),
            leaked_created: Some(leaked.created),
            done: Vec::new(),
        };
        self.state
            .begin_response(&record, self.replica.as_deref())
            .await
    }

    /// A rotation of the response failed and left nothing to recover (it was undone,
    /// or never began): the failure is reported now, and the record goes. One whose
    /// journal stays keeps it, for recovery to finish the response after the rotation.
    pub(crate) async fn abandoned(&self, warnings: &mut Vec<Action>) {
        let (account, user) = (&self.owner.account, &self.owner.user_name);
        if matches!(self.state.interrupted(account, user), Ok(None)) {
            self.forget(warnings).await;
        }
    }

    /// Marks `step` done; a failure to record it only means the step may run again
    /// (each is safe to repeat), so it is a warning.
    async fn mark(&self, step: ResponseStep, warnings: &mut Vec<String>) {
        let replica = self.replica.as_deref();
        if let Err(e) = self.state.mark_response(self.owner, step, replica).await {
            warnings.push(format!("cannot record the leak response's progress: {e}"));
        }
    }

    /// Removes the record: every step is done. A copy left in the shared state holds
    /// the leaked key: said.
    async fn forget(&self, warnings: &mut Vec<Action>) {
        let replica = self.replica.as_deref();
        if let Err(e) = self.state.forget_response(self.owner, replica).await {
            warnings.push(Action::Warning(format!(
                "cannot remove the leak response's record: {e}"
            )));
        }
    }

    /// Whether every step is done.
    fn complete(&self) -> bool {
        let (account, user) = (&self.owner.account, &self.owner.user_name);
        let record = self.state.response(account, user);
        record.ok().flatten().is_some_and(|r| r.complete())
    }
}

/// A leak response closes the door once the old key is deleted: AWS must refuse it;
/// then the keys it may have made meanwhile are looked for (under the user's lease:
/// `--quarantine` deactivates them), what it did is read from CloudTrail and what it
/// left contained, and AWS's quarantine of the user is kept or lifted; a fence
/// (`--fence`) stands meanwhile. A rotation whose old key was not deleted (grace 0
/// failed) has nothing to close yet: its record stays for [`finish`].
pub(crate) async fn after_rotation(
    aws: &Aws,
    spec: &ProfileSpec,
    recorded: &Recorded<'_>,
    lease: Option<&Lease>,
    leaked: Leaked,
    mut rotated: Rotated,
) -> Result<Rotated, RotationFailure> {
    let deleted =
        |a: &Action| matches!(a, Action::DeletedOldKey { key_id } if *key_id == rotated.old_key_id);
    if !rotated.actions.iter().any(deleted) {
        return Ok(rotated);
    }
    crash::point("leak-deleted");
    let closing = Closing {
        aws,
        spec,
        recorded,
        lease,
    };
    let mut fence = match &leaked.leak.fence {
        Some(choice) => fence_up(aws, recorded.owner, &choice.org_via, &mut rotated.actions).await,
        None => None,
    };
    let mut response = LeakResponse {
        deleted_at: Some(crate::time::now()),
        ..LeakResponse::default()
    };
    // Still accepted at the bound: the response goes on (what the key made, its
    // sessions), and fails loudly at the end.
    if let Some(cause) = closing.door(&leaked, &mut rotated, &mut response).await {
        return Err(incomplete(
            rotated,
            cause,
            fence.as_ref(),
            "AWS still accepts the old key",
        ));
    }
    let after = closing.after_the_proof(&leaked, &mut rotated, &mut response, fence.as_mut());
    if let Err(cause) = after.await {
        return Err(incomplete(
            rotated,
            cause,
            fence.as_ref(),
            "the response did not finish",
        ));
    }
    if let (Some(fence), Some(choice)) = (&fence, &leaked.leak.fence) {
        rotated
            .actions
            .push(fence_down(aws, fence, choice.keep).await);
    }
    rotated.leak_response = Some(response);
    Ok(rotated)
}

/// What a response's steps after its rotation work with.
struct Closing<'a> {
    aws: &'a Aws,
    spec: &'a ProfileSpec,
    recorded: &'a Recorded<'a>,
    lease: Option<&'a Lease>,
}

impl Closing<'_> {
    /// The proof that AWS refuses the old key, and the search for the keys it may have
    /// made meanwhile. `Some(cause)`: AWS still accepted it at the bound.
    async fn door(
        &self,
        leaked: &Leaked,
        rotated: &mut Rotated,
        response: &mut LeakResponse,
    ) -> Option<Cause> {
        let (aws, recorded) = (self.aws, self.recorded);
        // Found before the rotation (`Step::QuarantineKey`), then after it.
        response.unknown_keys = (rotated.actions.iter())
            .filter_map(|a| match a {
                Action::UnknownKey(key) => Some(key.clone()),
                _ => None,
            })
            .collect();
        let mut unfinished = None;
        match revocation::prove_dead(aws, &leaked.key, leaked.leak.revocation_timeout).await {
            Ok(took) => {
                rotated.actions.push(Action::OldKeyRefused {
                    key_id: rotated.old_key_id.clone(),
                    took,
                });
                response.refused_after = Some(took.as_secs_f64());
                recorded
                    .mark(ResponseStep::Refused, &mut rotated.warnings)
                    .await;
                crash::point("leak-refused");
            }
            Err(cause) => unfinished = Some(cause),
        }
        // Now that the old key can do nothing more: what it may have made meanwhile.
        let (new_key_id, user) = (&rotated.new_key_id, &recorded.owner.user_name);
        let (quarantine, began) = (leaked.leak.quarantine, leaked.began);
        let search = revocation::unknown_keys(
            aws, self.spec, user, new_key_id, quarantine, began, self.lease,
        );
        match search.await {
            Ok(unknown) => {
                rotated
                    .actions
                    .extend(unknown.iter().cloned().map(Action::UnknownKey));
                response.unknown_keys.extend(unknown);
                recorded
                    .mark(ResponseStep::Searched, &mut rotated.warnings)
                    .await;
                crash::point("leak-searched");
            }
            Err(cause) => rotated.warnings.push(format!(
                "could not look for keys the leaked key may have made: {cause}; `rekey recover` looks again"
            )),
        }
        unfinished
    }

    /// Once AWS refuses the old key: what it did and left (contained unless asked not
    /// to; the fence widened to what it made), then AWS's quarantine kept or lifted.
    async fn after_the_proof(
        &self,
        leaked: &Leaked,
        rotated: &mut Rotated,
        response: &mut LeakResponse,
        fence: Option<&mut fence::Fence>,
    ) -> Result<(), Cause> {
        let (aws, spec, recorded) = (self.aws, self.spec, self.recorded);
        let (old, leak, user) = (&leaked.key, &leaked.leak, &recorded.owner.user_name);
        let key = (old.id(), user.as_str());
        let traced = trace_step(aws, spec, key, leaked.created, leak.contain, self.lease).await;
        let (activity, told) = told_trace(traced, old.id());
        rotated.actions.extend(told);
        response.activity = activity.map(Box::new);
        recorded
            .mark(ResponseStep::Traced, &mut rotated.warnings)
            .await;
        if let (Some(fence), Some(activity)) = (fence, &response.activity) {
            let made = fenced_principals(&recorded.owner.account, activity);
            if let Err(cause) = fence.widen(aws, made).await {
                rotated.actions.push(Action::Warning(format!(
                    "the fence was not widened to what the leaked key made: {cause}"
                )));
            }
        }
        // The old key is refused: AWS's quarantine of the user stays, or is lifted.
        let service = leaked.last_service.as_deref();
        let kept_or_lifted = quarantine_step(aws, spec, user, service, leak.lift_quarantine);
        rotated.actions.extend(kept_or_lifted.await?);
        recorded
            .mark(ResponseStep::QuarantineChecked, &mut rotated.warnings)
            .await;
        Ok(())
    }
}

/// A response that could not finish (`cause`): its failure, with a standing fence said
/// to stay (`why`) and how to take it down.
fn incomplete(
    mut rotated: Rotated,
    cause: Cause,
    fence: Option<&fence::Fence>,
    why: &str,
) -> RotationFailure {
    if let Some(fence) = fence {
        rotated.actions.push(Action::FenceKept {
            why: why.to_owned(),
            removal: fence.removal(),
        });
    }
    RotationFailure {
        kind: FailureKind::ResponseIncomplete(cause),
        actions: rotated.actions,
    }
}

/// A leak response's last IAM call, once the old key is refused (or still accepted at
/// the bound: sessions it opened are revoked all the same): every session of the user
/// issued before now is revoked (see [`revocation::revoke_sessions`]). It revokes the
/// run's own MFA session too, so it comes after the lease is released (which that
/// session may sign). A response whose every step is done forgets its record.
pub(crate) async fn close_sessions(
    aws: &Aws,
    spec: &ProfileSpec,
    recorded: &Recorded<'_>,
    result: Result<Rotated, RotationFailure>,
) -> Result<Rotated, RotationFailure> {
    let user = &recorded.owner.user_name;
    let result = match result {
        Ok(mut rotated) if rotated.leak_response.is_some() && !keeps_sessions(spec) => {
            match revocation::revoke_sessions(aws, spec, user).await {
                Ok(before) => {
                    rotated.actions.push(Action::SessionsRevoked {
                        user: user.to_owned(),
                        before,
                    });
                    if let Some(response) = &mut rotated.leak_response {
                        response.sessions_revoked_before = Some(before);
                    }
                    let warnings = &mut rotated.warnings;
                    recorded.mark(ResponseStep::SessionsRevoked, warnings).await;
                    Ok(rotated)
                }
                Err(cause) => Err(RotationFailure {
                    kind: FailureKind::ResponseIncomplete(cause),
                    actions: rotated.actions,
                }),
            }
        }
        Err(mut failure)
            if matches!(failure.kind, FailureKind::ResponseIncomplete(_))
                && !keeps_sessions(spec) =>
        {
            // Already a failure: one that revoking adds is in the log, not the result.
            match revocation::revoke_sessions(aws, spec, user).await {
                Ok(before) => {
                    failure.actions.push(Action::SessionsRevoked {
                        user: user.to_owned(),
                        before,
                    });
                    let mut warnings = Vec::new();
                    recorded
                        .mark(ResponseStep::SessionsRevoked, &mut warnings)
                        .await;
                    failure
                        .actions
                        .extend(warnings.into_iter().map(Action::Warning));
                }
                Err(cause) => failure.actions.push(Action::Warning(cause.to_string())),
            }
            Err(failure)
        }
        other => other,
    };
    // Every step done: the record goes (else `rekey recover` finishes it).
    match result {
        Ok(mut rotated) if recorded.complete() => {
            let mut warnings = Vec::new();
            recorded.forget(&mut warnings).await;
            rotated.actions.extend(warnings);
            Ok(rotated)
        }
        other => other,
    }
}

/// What the leaked key (`key_id` of `user`) did since it was `created`, read from
/// CloudTrail as the response signs now (an admin with `via`, else the user's new key;
/// never the leaked one), with its leftovers contained when `contain` (see
/// [`activity`]). Returns the activity and the actions that tell it.
async fn trace_step(
    aws: &Aws,
    spec: &ProfileSpec,
    (key_id, user): (&str, &str),
    created: SystemTime,
    contain: bool,
    lease: Option<&Lease>,
) -> Result<(activity::Activity, Vec<Action>), Cause> {
    let new_key = signing::current_key(spec).await?;
    let reader = signing::signer(aws, &spec.policy, &new_key).await?;
    let asked = spec.policy.leaked.as_ref().map(|l| l.regions.clone());
    let regions = match asked.filter(|r| !r.is_empty()) {
        Some(regions) => regions,
        None => {
            let own = aws.sdk_config().region().map(|r| r.as_ref().to_owned());
            activity::default_regions(own.as_deref())
        }
    };
    let mut found = activity::trace(aws, &reader, (key_id, user), created, &regions).await;
    if found.unread.len() == regions.len() {
        let why = found.unread.join("; ");
        return Err(Cause::new(ErrorKind::Aws, why));
    }
    if contain {
        let permit = lease::permit(lease).await?;
        containment::contain(&reader, &mut found, &permit).await;
    } else {
        for left in &mut found.left_behind {
            left.not_contained = Some("reported only (--no-contain)".to_owned());
        }
    }
    let mut actions = vec![Action::Traced {
        key_id: key_id.to_owned(),
        calls: found.calls.values().sum(),
        writes: found.writes.len(),
        regions: found.regions.clone(),
        unread: found.unread.clone(),
    }];
    actions.extend(found.left_behind.iter().cloned().map(Action::LeftBehind));
    Ok((found, actions))
}

/// Raises the fence around `owner`'s user (see [`fence`]); a fence that cannot stand is a
/// warning, not a failure: it hardens the response, which goes on without it.
async fn fence_up(
    aws: &Aws,
    owner: &Owner,
    org_via: &str,
    actions: &mut Vec<Action>,
) -> Option<fence::Fence> {
    match fence::raise(aws, org_via, &owner.account, &owner.user_arn).await {
        Ok(fence) => {
            tracing::warn!(
                "fence {} raised; if this run is interrupted, take it down: {}",
                fence.policy_id,
                fence.removal()
            );
            actions.push(Action::Fenced {
                policy_id: fence.policy_id.clone(),
                account: fence.account.clone(),
                principals: fence.principals.clone(),
            });
            Some(fence)
        }
        Err(cause) => {
            actions.push(Action::Warning(format!("not fenced: {cause}")));
            None
        }
    }
}

/// The ARNs of the users and roles the leaked key made (of `account`), for the fence.
fn fenced_principals(account: &str, activity: &activity::Activity) -> Vec<String> {
    activity
        .left_behind
        .iter()
        .filter_map(|left| match &left.entity {
            activity::Entity::User { user } => Some(format!("arn:aws:iam::{account}:user/{user}")),
            activity::Entity::Role { role } => Some(format!("arn:aws:iam::{account}:role/{role}")),
            _ => None,
        })
        .collect()
}

/// Takes the fence down once the response is done, unless `keep`.
async fn fence_down(aws: &Aws, fence: &fence::Fence, keep: bool) -> Action {
    if keep {
        return Action::FenceKept {
            why: "--keep-fence".to_owned(),
            removal: fence.removal(),
        };
    }
    match fence.lower(aws).await {
        Ok(()) => Action::FenceLowered {
            policy_id: fence.policy_id.clone(),
        },
        Err(cause) => Action::FenceKept {
            why: format!("it could not be taken down: {cause}"),
            removal: fence.removal(),
        },
    }
}

/// Reads CloudTrail again for a leaked key (`key_id` of `user`) a response already
/// replaced and deleted (`respond` with the same alert): the history arrives minutes
/// late, so what it shows now may be more than the response saw. Contained when
/// `contain`, as in the response (containing twice changes nothing).
pub(crate) async fn retrace(
    aws: &Aws,
    spec: &ProfileSpec,
    (key_id, user): (&str, &str),
    since: SystemTime,
    contain: bool,
) -> (Option<activity::Activity>, Vec<Action>) {
    let traced = trace_step(aws, spec, (key_id, user), since, contain, None).await;
    told_trace(traced, key_id)
}

/// A trace's activity and the actions that tell it; one that failed is a warning with
/// how to read the history by hand (the step is done either way: CloudTrail that cannot
/// be read, a denied permission or a region without it, does not become readable by
/// retrying, and the response's other steps must not wait on a report).
fn told_trace(
    traced: Result<(activity::Activity, Vec<Action>), Cause>,
    key_id: &str,
) -> (Option<activity::Activity>, Vec<Action>) {
    match traced {
        Ok((activity, actions)) => (Some(activity), actions),
        Err(cause) => (None, vec![Action::Warning(format!(
            "could not read what the leaked key did in CloudTrail ({cause}); read it by hand: aws cloudtrail lookup-events --lookup-attributes AttributeKey=AccessKeyId,AttributeValue={key_id} (a quarantined user is denied it: sign as an administrator), and contain what it made"
        ))]),
    }
}

/// AWS's quarantine of `user`, once the leaked key is refused, read again as the
/// response signs: with `lift` detached and the new key (the first place's now) proven
/// to make a harmless read of `service`; without, kept and named with what detaches
/// it. `Ok(None)`: the user is not quarantined.
async fn quarantine_step(
    aws: &Aws,
    spec: &ProfileSpec,
    user: &str,
    service: Option<&str>,
    lift: bool,
) -> Result<Option<Action>, Cause> {
    let new_key = signing::current_key(spec).await?;
    let signer = signing::signer(aws, &spec.policy, &new_key).await?;
    let new = aws.caller(&new_key);
    let Some(found) = quarantine::read(&signer, user).await? else {
        return Ok(None);
    };
    if !lift {
        return Ok(Some(Action::QuarantineKept {
            user: user.to_owned(),
            policies: found.policies.iter().map(|p| p.name.clone()).collect(),
            commands: found.lift_commands(user),
        }));
    }
    let patience = spec.policy.propagation.timeout;
    let at = aws.clock().now();
    let lifted = quarantine::lift(&signer, &new, user, &found, service, patience).await?;
    Ok(Some(Action::QuarantineLifted {
        user: user.to_owned(),
        policies: lifted.policies,
        at,
        proof: lifted.proof,
        took: lifted.took,
    }))
}

fn keeps_sessions(spec: &ProfileSpec) -> bool {
    spec.policy.leaked.as_ref().is_some_and(|l| l.keep_sessions)
}

/// Finishes the leak response `record` left unfinished, for `spec` (its rotation, if
/// any was interrupted, already resolved): the leaked key deleted if IAM shows it
/// replaced, then each step not done; the actions taken, or why it cannot finish (the
/// record then stays). Never done over an undone step: a leaked key still in use (its
/// rotation was undone) fails, naming the command that replaces it.
pub(crate) async fn finish(
    aws: &Aws,
    state: &StateDir,
    spec: &ProfileSpec,
    record: &ResponseRecord,
    actions: &mut Vec<Action>,
) -> Result<(), Cause> {
    let leaked = record
        .leaked_key
        .to_key()
        .ok_or_else(|| Cause::new(ErrorKind::State, "the leak response's record is damaged"))?;
    let current = signing::current_key(spec).await?;
    let undone = || {
        Cause::new(
            ErrorKind::Interrupted,
            format!(
                "the leak response for {} did not finish: the leaked key is still in use (its rotation was undone); replace it with `rekey apply --compromised --profile {}` (or `rekey respond` with the alert)",
                leaked.id(),
                spec.name
            ),
        )
    };
    if current.id() == leaked.id() {
        return Err(undone());
    }
    // With `state: s3://…`, no other machine changes the user's keys meanwhile.
    let signer = signing::signer(aws, &spec.policy, &current).await?;
    let lease = lease::hold(aws, state, &spec.policy, &signer, &record.owner, "recover").await?;
    let recorded = Recorded {
        state,
        owner: &record.owner,
        replica: lease.as_ref().map(|lease| lease.replica()),
    };
    let finished = finish_held(
        aws,
        spec,
        &recorded,
        record,
        &leaked,
        &current,
        &signer,
        lease.as_ref(),
        actions,
    )
    .await;
    lease::release(lease).await;
    finished
}

/// [`finish`] once the user's lease (if any) is held, signed by `signer`.
#[allow(clippy::too_many_arguments)]
async fn finish_held(
    aws: &Aws,
    spec: &ProfileSpec,
    recorded: &Recorded<'_>,
    record: &ResponseRecord,
    leaked: &AccessKey,
    current: &AccessKey,
    signer: &Caller,
    lease: Option<&Lease>,
    actions: &mut Vec<Action>,
) -> Result<(), Cause> {
    let user = record.owner.user_name.as_str();
    // IAM's facts, read now, decide: the key the first place holds is Active (the
    // replacement), and only then does the leaked key go.
    let keys = signer.list_keys(user).await?;
    if !keys.iter().any(|k| k.id == current.id() && k.active) {
        return Err(Cause::new(
            ErrorKind::InvalidKey,
            format!(
                "the leak response for {} did not finish: IAM does not list {}, the key {} holds, as Active, so the leaked key is not deleted; see `rekey status`",
                leaked.id(),
                current.id(),
                spec.sinks.first().describe()
            ),
        ));
    }
    if let Some(key) = keys.iter().find(|k| k.id == leaked.id()) {
        let permit = lease::permit(lease).await?;
        if key.active {
            signer.set_active(user, leaked.id(), false, &permit).await?;
            actions.push(Action::Deactivated {
                key_id: leaked.id().to_owned(),
                signer: Signer::of(&spec.policy),
            });
        }
        match signer.delete_key(user, leaked.id(), &permit).await {
            Ok(()) => {}
            Err(e) if e.kind == AwsErrorKind::NoSuchEntity => {}
            Err(e) => return Err(e.into()),
        }
        actions.push(Action::DeletedOldKey {
            key_id: leaked.id().to_owned(),
        });
        // Read again right after, as after every deletion: another machine may have
        // changed the keys between the read above and this call.
        let deleted = format!("deleting the leaked key {}", leaked.id());
        let unchecked = settle::an_active_key_is_left(signer, user, &deleted).await?;
        actions.extend(unchecked.map(Action::Warning));
        let state = recorded.state;
        let _ = state.forget_pending(leaked.id()).await;
        crate::engine::old_keys::prune::remember_deleted(state, &record.owner, leaked.id()).await;
    }
    let mut warnings = Vec::new();
    if !record.has(ResponseStep::Refused) {
        let took = revocation::prove_dead(aws, leaked, record.revocation_timeout()).await?;
        actions.push(Action::OldKeyRefused {
            key_id: leaked.id().to_owned(),
            took,
        });
        recorded.mark(ResponseStep::Refused, &mut warnings).await;
    }
    if !record.has(ResponseStep::Searched) {
        let (quarantine, began) = (record.quarantine, record.began);
        let unknown =
            revocation::unknown_keys(aws, spec, user, current.id(), quarantine, began, lease);
        actions.extend(unknown.await?.into_iter().map(Action::UnknownKey));
        recorded.mark(ResponseStep::Searched, &mut warnings).await;
    }
    if !record.has(ResponseStep::Traced) {
        let since = record.leaked_created.unwrap_or(record.began);
        let leaked_key = (leaked.id(), user);
        let traced = trace_step(aws, spec, leaked_key, since, record.contain, lease).await;
        actions.extend(told_trace(traced, leaked.id()).1);
        recorded.mark(ResponseStep::Traced, &mut warnings).await;
    }
    if !record.has(ResponseStep::QuarantineChecked) {
        let service = record.last_service.as_deref();
        let lift = record.lift_quarantine;
        actions.extend(quarantine_step(aws, spec, user, service, lift).await?);
        recorded
            .mark(ResponseStep::QuarantineChecked, &mut warnings)
            .await;
    }
    if !record.has(ResponseStep::SessionsRevoked) {
        let before = revocation::revoke_sessions(aws, spec, user).await?;
        actions.push(Action::SessionsRevoked {
            user: user.to_owned(),
            before,
        });
    }
    actions.extend(warnings.into_iter().map(Action::Warning));
    let replica = recorded.replica.as_deref();
    recorded
        .state
        .forget_response(recorded.owner, replica)
        .await?;
    Ok(())
}
