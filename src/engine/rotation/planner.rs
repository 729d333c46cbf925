//! Inspecting a profile (sinks, STS, IAM; read-only) and deciding what to do with it.

use std::time::{Duration, SystemTime};

use rekey_sinks::{AccessKey, Checked, SinkError};

use crate::aws::{Aws, AwsError, AwsErrorKind, Caller, Identity, KeyMeta, LastUsed};
use crate::config::profile::ProfileSpec;
use crate::engine::error::{Cause, ErrorKind};
use crate::engine::fleet::shared_pending;
use crate::engine::leak::quarantine;
use crate::engine::old_keys::retire;
use crate::engine::rotation::plan::{
    CurrentKey, Decision, LastUse, OtherKey, ProfilePlan, SinkReport, SinkState, Step,
};
use crate::engine::rotation::shared_key::Conflict;
use crate::engine::signing;
use crate::state::{Owner, PendingDeletion, StateDir};
use crate::time;

/// Choices that change the plan.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PlanOptions {
    /// Delete an inactive key rekey does not know about to make room (`--make-room`).
    pub(crate) make_room: bool,
    /// Do not ask IAM when the current key was last used: nobody will read it (`apply
    /// --yes` with text output shows the plan only when nothing changes). It decides
    /// nothing, and it is one call per profile.
    pub(crate) skip_current_last_use: bool,
    /// Leak response (`--compromised`): every key is due, whatever `max_age` says.
    pub(crate) compromised: bool,
    /// `--now`: every key is due, whatever `max_age` says (the old key keeps its grace).
    pub(crate) now: bool,
    /// `--ignore-manifest`: rotate a key even if another manifest, which writes places
    /// this run does not, made it.
    pub(crate) ignore_manifest: bool,
    /// Open MFA sessions for profiles with `mfa_serial` (apply; `plan --mfa`). A code is
    /// single-use within its window, so drawing a plan must not use one up unasked:
    /// without this, IAM is read as the profile's principal alone, and a policy that
    /// denies IAM without MFA stops the profile's plan with how to ask.
    pub(crate) mfa_sessions: bool,
    /// `--allow-uncovered`: a copy under `scan:` no sink writes is a warning, not a stop
    /// (see [`crate::engine::find::uncovered`]).
    pub(crate) allow_uncovered: bool,
    /// Read whether AWS quarantined the user (`status`; always for a leak response): a
    /// quarantine means AWS found one of the user's keys exposed.
    pub(crate) read_quarantine: bool,
}

/// A profile's plan and what comes next for it.
pub(crate) struct Planned {
    /// What plan shows.
    pub(crate) plan: ProfilePlan,
    /// Whether and with what it rotates (the plan's decision, with what a rotation needs).
    pub(crate) next: Next,
    /// The user's pending deletions shared through IAM tags (`state: iam`), whatever
    /// the decision: prune and status count them with this machine's records.
    pub(crate) shared_pending: Vec<PendingDeletion>,
    /// The profile's key and its user, once planning resolved them, so that `apply`'s
    /// prune does not ask STS again.
    pub(crate) user: Option<signing::Resolved>,
}

/// What apply does with a planned profile (the plan's [`Decision`], which shows it): a
/// rotation carries everything it needs, so no "rotate" can lack its input or profile.
pub(crate) enum Next {
    /// Rotate the profile's key.
    Rotate(Box<Rotation>),
    /// Nothing to do, and why (its key is young, it holds temporary credentials).
    Skip(String),
    /// The profile cannot be rotated; nothing is changed for it.
    Error(Cause),
}

/// A rotation as planning prepared it.
pub(crate) struct Rotation {
    /// The profile (or the profiles sharing its key, combined).
    pub(crate) spec: ProfileSpec,
    /// What planning gathered for it.
    pub(crate) input: RotationInput,
}

/// Everything needed to carry out a rotation that planning gathered.
pub(crate) struct RotationInput {
    /// The key being replaced (read from the first sink).
    pub(crate) old_key: AccessKey,
    /// Whom the key belongs to.
    pub(crate) identity: Identity,
    /// The IAM user name.
    pub(crate) user_name: String,
    /// The user's keys (ids and status) at planning time.
    pub(crate) existing_keys: Vec<KeyMeta>,
    /// The service the old key was last used with, if IAM recorded one: what a lifted
    /// quarantine proves the new key can do.
    pub(crate) last_service: Option<String>,
    /// When the old key was created: where a leak response starts reading CloudTrail.
    pub(crate) old_key_created: SystemTime,
}

/// Inspects `spec` and decides. Errors become [`Decision::Error`] so one broken profile
/// does not hide the others.
pub(crate) async fn plan_profile(
    aws: &Aws,
    state: &StateDir,
    spec: &ProfileSpec,
    options: PlanOptions,
) -> Planned {
    let Inspection { facts, verdict } = inspect(aws, state, spec, options).await;
    let Facts {
        mut plan,
        shared_pending,
        user,
    } = facts;
    let next = match verdict {
        Ok(input) => {
            plan.steps = steps(&plan, spec, &input);
            Next::Rotate(Box::new(Rotation {
                spec: spec.clone(),
                input,
            }))
        }
        Err(Stop::Skip(reason)) => {
            plan.decision = Decision::Skip {
                reason: reason.clone(),
            };
            Next::Skip(reason)
        }
        Err(Stop::Error(cause)) => {
            plan.decision = Decision::Error {
                message: cause.message.clone(),
                error_kind: cause.kind,
            };
            Next::Error(cause)
        }
    };
    Planned {
        plan,
        next,
        shared_pending,
        user,
    }
}

/// The plan for profiles that share a key but cannot be rotated as one.
pub(crate) fn conflict(conflict: &Conflict) -> Planned {
    let (profile, also) = conflict
        .profiles
        .split_first()
        .expect("a conflict names its profiles");
    Planned {
        plan: ProfilePlan {
            profile: profile.clone(),
            also: also.to_vec(),
            via: None,
            identity: None,
            current_key: None,
            other_key: None,
            quarantine: None,
            sinks: Vec::new(),
            decision: Decision::Error {
                message: conflict.message.clone(),
                error_kind: ErrorKind::SettingsConflict,
            },
            steps: Vec::new(),
            warnings: Vec::new(),
        },
        next: Next::Error(Cause::new(
            ErrorKind::SettingsConflict,
            conflict.message.clone(),
        )),
        shared_pending: Vec::new(),
        user: None,
    }
}

/// Stops `planned` for `cause` found outside planning (another run holds its user's
/// lease): nothing is done for it, and its plan says why, first.
pub(crate) fn stop(planned: &mut Planned, cause: Cause) {
    planned.plan.decision = Decision::Error {
        message: cause.message.clone(),
        error_kind: cause.kind,
    };
    planned.plan.steps.clear();
    planned.next = Next::Error(cause);
}

/// Why a profile is not rotated: a decision (its key is young, it holds temporary
/// credentials, it is not an IAM user's) or an error that stops it.
enum Stop {
    Skip(String),
    Error(Cause),
}

impl Stop {
    fn error(kind: ErrorKind, message: String) -> Self {
        Stop::Error(Cause::new(kind, message))
    }
}

impl From<Cause> for Stop {
    fn from(cause: Cause) -> Self {
        Stop::Error(cause)
    }
}

/// What inspecting a profile found: what was learned on the way ([`Facts`], which
/// `plan` and `status` show even for a profile that stops) and the verdict: what a
/// rotation needs, or why there is none.
struct Inspection {
    facts: Facts,
    verdict: Result<RotationInput, Stop>,
}

/// What was learned about a profile: its plan so far (identity, keys, sinks, warnings),
/// the user's pending deletions tagged in IAM, and the profile's user as resolved.
struct Facts {
    plan: ProfilePlan,
    shared_pending: Vec<PendingDeletion>,
    user: Option<signing::Resolved>,
}

/// Inspects the profile in order (its key, its sinks, whose key it is, the user's
/// keys, room for a new one, whether it is due).
async fn inspect(
    aws: &Aws,
    state: &StateDir,
    spec: &ProfileSpec,
    options: PlanOptions,
) -> Inspection {
    let mut facts = Facts::new(spec);
    let verdict = facts.learn(aws, state, spec, options).await;
    Inspection { facts, verdict }
}

/// The user's keys as IAM lists them, with the one the profile holds.
struct UsersKeys<'a> {
    user_name: &'a str,
    all: &'a [KeyMeta],
    current: &'a KeyMeta,
}

impl Facts {
    fn new(spec: &ProfileSpec) -> Self {
        let plan = ProfilePlan {
            profile: spec.name.clone(),
            also: spec.also.clone(),
            via: spec.policy.via.clone(),
            identity: None,
            current_key: None,
            other_key: None,
            quarantine: None,
            sinks: spec
                .sinks
                .iter()
                .map(|s| SinkReport {
                    sink: s.describe(),
                    state: None,
                    read_only: false,
                })
                .collect(),
            decision: Decision::Rotate,
            steps: Vec::new(),
            warnings: Vec::new(),
        };
        Self {
            plan,
            shared_pending: Vec::new(),
            user: None,
        }
    }

    /// The inspection's steps, each recording what it learned before it may stop.
    async fn learn(
        &mut self,
        aws: &Aws,
        state: &StateDir,
        spec: &ProfileSpec,
        options: PlanOptions,
    ) -> Result<RotationInput, Stop> {
        let old_key = current_key(spec).await?;
        let unwritable = survey_sinks(spec, old_key.id(), &mut self.plan.sinks).await;
        let (own, identity, user_name) = self.whose_key(aws, spec, &old_key).await?;
        let unopened = spec
            .policy
            .mfa_serial
            .as_deref()
            .filter(|_| !options.mfa_sessions);
        let caller = iam_signer(aws, spec, unopened.is_some(), &old_key, own).await?;
        let refused = |error| iam_refused(unopened, error);
        if let Some(interrupted) = state
            .interrupted(&identity.account, &user_name)
            .map_err(Cause::from)?
        {
            return Err(Stop::error(ErrorKind::Interrupted, interrupted.to_string()));
        }
        let owner = Owner::of(spec, &identity, &user_name);
        self.user = Some(signing::Resolved {
            key: old_key.clone(),
            owner: owner.clone(),
        });
        // The fence denies the user everything, its new key included: an administrator
        // must sign the response's IAM calls while it stands.
        let fenced = spec
            .policy
            .leaked
            .as_ref()
            .is_some_and(|l| l.fence.is_some());
        if fenced && spec.policy.via.is_none() {
            return Err(Stop::error(ErrorKind::Config, format!(
                "--fence needs an administrator to sign the response (--via ADMIN_PROFILE, or the manifest's via:): the fence denies {user_name} everything while it stands, its new key included; nothing was changed"
            )));
        }
        if spec.policy.leaked.is_some() || options.read_quarantine {
            self.quarantine(spec, &caller, &user_name).await?;
        }
        let shared = shared_pending::read(&caller, &spec.policy, &owner).await;
        self.plan.warnings.extend(shared.warning);
        self.shared_pending = shared.pending;

        let keys = caller.list_keys(&user_name).await.map_err(refused)?;
        more_than_two(&user_name, &keys)?;
        let Some(current) = keys.iter().find(|k| k.id == old_key.id()) else {
            return Err(Stop::error(
                ErrorKind::InvalidKey,
                format!(
                    "the key in {} ({}) is not one of {user_name}'s keys",
                    spec.sinks.first().describe(),
                    old_key.id()
                ),
            ));
        };
        let age = self
            .read_current_key(&caller, current, options)
            .await
            .map_err(refused)?;
        // A place that cannot be written is an error on every run, due or not (issue 31):
        // a typo in a path must not wait for rotation day to show.
        if let Some(cause) = unwritable {
            return Err(Stop::Error(cause));
        }
        let users_keys = UsersKeys {
            user_name: &user_name,
            all: &keys,
            current,
        };
        self.judge_keys(aws, state, spec, options, &caller, &users_keys)
            .await?;
        if !options.compromised && !options.now {
            is_due(spec, age)?;
        }
        if !options.ignore_manifest {
            left_behind(state, spec, &old_key)?;
        }
        let last_service = (self.plan.current_key.as_ref())
            .and_then(|k| k.last_used.as_ref())
            .and_then(|u| u.service.clone());
        let old_key_created = current.created;
        Ok(RotationInput {
            old_key,
            identity,
            user_name,
            existing_keys: keys,
            last_service,
            old_key_created,
        })
    }

    /// Whether AWS quarantined the user, read as the profile signs (see [`quarantine`]).
    /// A leak response signed with the user's own key stops here, on a quarantine that
    /// denies what it calls, before anything changes. Outside a leak response (`status`)
    /// a quarantine is only shown, and a refusal to read it only logged: a user's policy
    /// need not allow `iam:ListAttachedUserPolicies` for everyday rotations.
    async fn quarantine(
        &mut self,
        spec: &ProfileSpec,
        caller: &Caller,
        user_name: &str,
    ) -> Result<(), Stop> {
        match quarantine::read(caller, user_name).await {
            Ok(None) => Ok(()),
            Ok(Some(found)) => {
                let responding = spec.policy.leaked.is_some();
                let stops = responding && spec.policy.via.is_none() && found.blocks_self_service();
                let message = found.stop_message(user_name);
                self.plan.quarantine = Some(found);
                match stops {
                    true => Err(Stop::error(ErrorKind::Quarantined, message)),
                    false => Ok(()),
                }
            }
            Err(e) if spec.policy.leaked.is_none() => {
                tracing::info!("could not read whether AWS quarantined {user_name}: {e}");
                Ok(())
            }
            Err(e) => {
                self.plan.warnings.push(format!(
                    "could not read whether AWS quarantined {user_name} ({e}); a quarantine would stop a response signed with the user's own key at its first write (`--via ADMIN_PROFILE` signs it as an administrator)"
                ));
                Ok(())
            }
        }
    }

    /// Whose key it is: STS, signed with the key itself (no permission needed). Returns
    /// the key's own caller, the identity, and the IAM user's name.
    async fn whose_key(
        &mut self,
        aws: &Aws,
        spec: &ProfileSpec,
        old_key: &AccessKey,
    ) -> Result<(Caller, Identity, String), Stop> {
        let own = aws.caller(old_key);
        // Once per run: the shared state's import may have asked already.
        let identity = aws
            .owner_of(old_key)
            .await
            .map_err(|e| refused_key(spec, old_key, e))?;
        self.plan.identity = Some(identity.clone());
        let Some(user_name) = identity.user_name.clone() else {
            return Err(Stop::Skip(format!(
                "{} is not an IAM user; rekey rotates IAM user keys only",
                identity.arn
            )));
        };
        if let Some(expected) = spec.policy.user.as_deref().filter(|u| *u != user_name) {
            return Err(Stop::error(
                ErrorKind::InvalidKey,
                format!(
                    "the key in {} belongs to {}, not to user `{expected}`",
                    spec.sinks.first().describe(),
                    identity.arn
                ),
            ));
        }
        Ok((own, identity, user_name))
    }

    /// Records the current key's age and last use (unless the options skip the latter);
    /// returns its age.
    async fn read_current_key(
        &mut self,
        caller: &Caller,
        current: &KeyMeta,
        options: PlanOptions,
    ) -> Result<Duration, AwsError> {
        let last_used = if options.skip_current_last_use {
            None
        } else {
            Some(last_use(caller.last_used(&current.id).await?))
        };
        let age = time::since(current.created, crate::time::now());
        self.plan.current_key = Some(CurrentKey {
            id: current.id.clone(),
            created: current.created,
            age_days: age.as_secs() / 86_400,
            last_use_read: last_used.is_some(),
            last_used: last_used.flatten(),
        });
        Ok(age)
    }

    /// The profile's key must be active, and the user's other key, if any, must leave
    /// room for a new one.
    async fn judge_keys(
        &mut self,
        aws: &Aws,
        state: &StateDir,
        spec: &ProfileSpec,
        options: PlanOptions,
        caller: &Caller,
        keys: &UsersKeys<'_>,
    ) -> Result<(), Stop> {
        let current = keys.current;
        if !current.active {
            if let Some(message) = rotated_elsewhere(spec, current, keys.all, &self.shared_pending)
            {
                return Err(Stop::error(ErrorKind::InvalidKey, message));
            }
            return Err(Stop::error(
                ErrorKind::InvalidKey,
                format!(
                    "{} is Inactive in IAM; reactivate it or put an active key in the sinks",
                    current.id
                ),
            ));
        }
        let Some(other) = keys.all.iter().find(|k| k.id != current.id) else {
            return Ok(());
        };
        if let Some(message) = stale_copy(
            spec,
            &self.plan,
            current,
            other,
            state,
            &self.shared_pending,
        )? {
            return Err(Stop::error(ErrorKind::InvalidKey, message));
        }
        // rekey's record of the other key (IAM's, else this machine's): a claim, which
        // IAM's facts must back before anything is done to the key (`retire`).
        let record = recorded(state, &self.shared_pending, &other.id)?;
        let overlap = in_overlap(other, record.as_ref());
        // A leak response ends the overlap first (issue 17, defect 7): both keys may be
        // leaked. Only if IAM backs the record: a tag cannot make rekey delete a key.
        let ends_overlap = options.compromised
            && match (&overlap, &record) {
                (Some(_), Some(record)) => {
                    retire::refute(record, keys.all, aws.clock().now()).is_none()
                }
                _ => false,
            };
        if let Some(until) = overlap.filter(|_| !ends_overlap) {
            return Err(Stop::Skip(format!(
                "the last rotation's old key {} stays active until {} (overlap); the next rotation waits for prune to deactivate it",
                other.id,
                time::rfc3339(until)
            )));
        }
        let described = describe_other_key(caller, other, record.is_some()).await?;
        self.plan.other_key = Some(described.clone());
        // make-room deletes only what prune would (issue 17, defect 4): a record of the
        // key is a claim IAM must back, its grace over, no use since, no sink holding it.
        let now = crate::time::now();
        let kept = match &record {
            Some(record) if !other.active => {
                let used = described.last_used.as_ref().map(|u| u.date);
                retire::why_not_delete(record, keys.all, used, aws.clock().now())
                    .map(Kept::Rule)
                    .or_else(|| held_by(&self.plan, &other.id).map(Kept::Held))
            }
            _ => None,
        };
        let unknown = options.compromised && other.active && !ends_overlap;
        if unknown && held_by(&self.plan, &other.id).is_none() {
            let quarantine = spec.policy.leaked.as_ref().is_some_and(|l| l.quarantine);
            unknown_active_key(
                keys.user_name,
                &described,
                quarantine,
                options.make_room,
                now,
            )?;
        } else if !ends_overlap {
            room_for_a_new_key(keys.user_name, &described, kept, options, now)?;
        }
        Ok(())
    }
}

/// Who signs the profile's IAM calls: the key itself, or the `via` profile (admin
/// rotation), through an MFA session if the policy names a device and the run may open
/// one (`unopened`: it may not, so the calls go without one).
async fn iam_signer(
    aws: &Aws,
    spec: &ProfileSpec,
    unopened: bool,
    old_key: &AccessKey,
    own: Caller,
) -> Result<Caller, Stop> {
    Ok(if unopened {
        signing::principal(aws, &spec.policy, old_key).await?
    } else if signing::delegated(&spec.policy) {
        signing::signer(aws, &spec.policy, old_key).await?
    } else {
        own
    })
}

/// An IAM call's refusal as the plan says it: without the MFA session plan did not open
/// (`unopened`: the device), an AccessDenied says how to open one.
fn iam_refused(unopened: Option<&str>, error: AwsError) -> Cause {
    match unopened {
        Some(serial) if error.kind == AwsErrorKind::AccessDenied => Cause::new(
            ErrorKind::Mfa,
            format!(
                "{} was refused without an MFA session ({serial}), and plan opens none unless asked, so as not to use up a one-time code: `rekey plan --mfa` asks for a code (or runs mfa_command), `--mfa-code CODE` takes one",
                error.operation
            ),
        ),
        _ => Cause::from(error),
    }
}

/// The key the profile's first sink holds: the one to replace.
async fn current_key(spec: &ProfileSpec) -> Result<AccessKey, Stop> {
    let source = spec.sinks.first();
    match source.read().await {
        Ok(Some(key)) => Ok(key),
        Ok(None) => {
            // Why, as precisely as it can be told: the file is missing, or default mode
            // knows the name as an SSO or role profile, or a similar name holds a key.
            let why = match source.check().await {
                Err(e) => format!(": {e}"),
                Ok(_) => String::new(),
            };
            let hint = spec
                .keyless_hint
                .as_deref()
                .map_or_else(String::new, |h| format!("; {h}"));
            Err(Stop::error(
                ErrorKind::InvalidKey,
                format!(
                    "{} holds no access key to rotate{why}{hint}",
                    source.describe()
                ),
            ))
        }
        Err(e @ SinkError::TemporaryCredentials { .. }) => Err(Stop::Skip(e.to_string())),
        Err(e @ SinkError::InvalidKey { .. }) => {
            Err(Stop::error(ErrorKind::InvalidKey, e.to_string()))
        }
        Err(e) => Err(Stop::error(
            ErrorKind::of_sink(&e, ErrorKind::SinkUnwritable),
            e.to_string(),
        )),
    }
}

/// The user's second key, as the plan shows it; `recorded`: whether rekey deactivated
/// it, here or on another machine that shares its records in IAM.
async fn describe_other_key(
    caller: &Caller,
    other: &KeyMeta,
    recorded: bool,
) -> Result<OtherKey, Cause> {
    let last_used = caller.last_used(&other.id).await?;
    Ok(OtherKey {
        id: other.id.clone(),
        active: other.active,
        deactivated_by_rekey: recorded,
        created: other.created,
        last_used: last_use(last_used),
    })
}

/// The first sink holding a key that still works while the user's newer key is active
/// and known here: a sink of the profile holds it, or the first sink's key is recorded
/// as replaced (its overlap, seen here or in IAM). The rotation happened elsewhere, and
/// `rekey sync` brings this machine's copies up to date.
fn stale_copy(
    spec: &ProfileSpec,
    plan: &ProfilePlan,
    current: &KeyMeta,
    other: &KeyMeta,
    state: &StateDir,
    shared_pending: &[PendingDeletion],
) -> Result<Option<String>, Cause> {
    if !other.active || other.created < current.created {
        return Ok(None);
    }
    let replaced = recorded(state, shared_pending, &current.id)?;
    let held_here = plan
        .sinks
        .iter()
        .any(|s| matches!(&s.state, Some(SinkState::Drift { key_id }) if *key_id == other.id));
    if replaced.is_none() && !held_here {
        return Ok(None);
    }
    let when = replaced
        .and_then(|p| p.overlap_since)
        .unwrap_or(other.created);
    Ok(Some(format!(
        "rotated elsewhere on {}: this copy is stale. {} holds {}, the user's key is now {}: `rekey sync` copies it to every sink of the profile",
        time::date(when),
        spec.sinks.first().describe(),
        current.id,
        other.id
    )))
}

/// When the overlap period of `key` ends, if `record` (rekey's record of it, here or
/// shared in IAM) says it is the old key of a rotation in its overlap.
fn in_overlap(key: &KeyMeta, record: Option<&PendingDeletion>) -> Option<SystemTime> {
    record
        .filter(|p| key.active && p.in_overlap())
        .map(|p| p.deactivated_at)
}

/// rekey's record of `key_id` as an old key: the one shared in IAM (what every machine
/// sees), else this machine's.
fn recorded(
    state: &StateDir,
    shared_pending: &[PendingDeletion],
    key_id: &str,
) -> Result<Option<PendingDeletion>, Cause> {
    match shared_pending.iter().find(|p| p.key_id == key_id) {
        Some(shared) => Ok(Some(shared.clone())),
        None => Ok(state.pending(key_id)?),
    }
}

/// A first sink holding a key that is inactive while the user has a newer active key:
/// another machine (or person) rotated it, and this copy is stale. The date is when rekey
/// deactivated it, if a shared record says, else when the newer key was created.
fn rotated_elsewhere(
    spec: &ProfileSpec,
    current: &KeyMeta,
    keys: &[KeyMeta],
    shared_pending: &[PendingDeletion],
) -> Option<String> {
    let newer = keys
        .iter()
        .find(|k| k.active && k.id != current.id && k.created >= current.created)?;
    let when = shared_pending
        .iter()
        .find(|p| p.key_id == current.id)
        .map_or(newer.created, |p| p.deactivated_at);
    Some(format!(
        "rotated elsewhere on {}: this copy is stale. {} holds {}, which is Inactive; the user's key is now {}: `rekey sync` copies it from a sink that holds it, else put it in this profile's sinks by hand",
        time::date(when),
        spec.sinks.first().describe(),
        current.id,
        newer.id
    ))
}

/// STS refusing the key: said with what it usually means for a key rekey is asked to
/// rotate, which worked when it was written there.
fn refused_key(spec: &ProfileSpec, key: &AccessKey, error: AwsError) -> Cause {
    if error.kind != AwsErrorKind::InvalidCredentials {
        return error.into();
    }
    Cause::new(
        ErrorKind::InvalidKey,
        format!(
            "AWS refuses the key in {} ({}): {error}. If another machine rotated this user's key, this copy is stale: `rekey sync` copies the new key from a sink that holds it, else put it here by hand",
            spec.sinks.first().describe(),
            key.id()
        ),
    )
}

/// Why make-room may not delete the user's inactive key rekey deactivated.
enum Kept {
    /// One of prune's rules.
    Rule(retire::Keep),
    /// A sink of the profile holds it (said).
    Held(String),
}

/// Which sink of the plan holds `key_id`, said as a reason to keep it.
fn held_by(plan: &ProfilePlan, key_id: &str) -> Option<String> {
    plan.sinks
        .iter()
        .find(|s| matches!(&s.state, Some(SinkState::Drift { key_id: held }) if held == key_id))
        .map(|s| format!("{} still holds it", s.sink))
}

/// IAM allows two keys: the other one must be inactive, and either deactivated by rekey
/// and deletable by prune's rules (`kept` says why not), or given up with `--make-room`
/// (or `--compromised`). rekey never deletes an active key.
fn room_for_a_new_key(
    user_name: &str,
    other: &OtherKey,
    kept: Option<Kept>,
    options: PlanOptions,
    now: SystemTime,
) -> Result<(), Stop> {
    if other.active {
        return Err(Stop::error(
            ErrorKind::NoRoom,
            format!(
                "{user_name} already has another active key {} ({}); IAM allows two keys and rekey never deletes an active key. Deactivate or delete it if it is unused",
                other.id,
                describe_key(other, now)
            ),
        ));
    }
    let overridden = options.make_room || options.compromised;
    let kept = kept.filter(|_| other.deactivated_by_rekey && !overridden);
    // Nothing is wrong while the last rotation's grace period runs: no new rotation
    // until it ends (a second apply must not end the chance to roll back).
    if let Some(Kept::Rule(retire::Keep::GraceRuns(until))) = kept {
        return Err(Stop::Skip(format!(
            "rotated recently: the last rotation's old key {} can be rolled back to until {}, so there is no room for a new key before then (`rekey prune` deletes it after; `apply --make-room` rotates now and ends that grace period)",
            other.id,
            time::rfc3339(until)
        )));
    }
    if let Some(why) = kept {
        let why = match why {
            Kept::Rule(rule) => rule.to_string(),
            Kept::Held(held) => held,
        };
        return Err(Stop::error(
            ErrorKind::NoRoom,
            format!(
                "{user_name} already has an inactive key {} that rekey deactivated, but prune would keep it: {why}. IAM allows two keys: wait for `rekey prune`, or run apply with --make-room to delete it anyway",
                other.id
            ),
        ));
    }
    if !other.deactivated_by_rekey && !options.make_room {
        return Err(Stop::error(
            ErrorKind::NoRoom,
            format!(
                "{user_name} already has an inactive key {} that rekey did not deactivate ({}); IAM allows two keys. Run apply with --make-room to delete it",
                other.id,
                describe_key(other, now)
            ),
        ));
    }
    Ok(())
}

/// A leak response finding an active second key that no place of the profile holds:
/// perhaps the attacker's, made with the leaked key. It is reported with its facts.
/// Deactivating it is not enough to go on (IAM counts an inactive key toward its two):
/// only `--quarantine --make-room` lets the rotation deactivate it, report it and delete
/// it to make room; otherwise the profile stops, saying how to keep it as evidence.
fn unknown_active_key(
    user_name: &str,
    other: &OtherKey,
    quarantine: bool,
    make_room: bool,
    now: SystemTime,
) -> Result<(), Stop> {
    let facts = format!(
        "UNKNOWN KEY {} of {user_name} ({}): active, and no place of this profile holds it; perhaps made with the leaked key",
        other.id,
        describe_key(other, now)
    );
    let by_hand = format!(
        "aws iam update-access-key --user-name {user_name} --access-key-id {} --status Inactive",
        other.id
    );
    match (quarantine, make_room) {
        (true, true) => Ok(()),
        (true, false) => Err(Stop::error(
            ErrorKind::NoRoom,
            format!(
                "{facts}. IAM counts an inactive key toward its two, so quarantining it leaves no room for the new key: add --make-room to deactivate it, report it and delete it (its use stays in CloudTrail), then rotate; or keep it as evidence: `{by_hand}`, and delete it once examined"
            ),
        )),
        (false, _) => Err(Stop::error(
            ErrorKind::NoRoom,
            format!(
                "{facts}. rekey never deletes an active key: --quarantine --make-room deactivates it, reports it and deletes it to make room (its use stays in CloudTrail); or check it, and `{by_hand}`"
            ),
        )),
    }
}

/// Stops a rotation that would leave places on the old key: the key was made through
/// another manifest (or default mode), which writes places this run does not (issue 18:
/// run from another folder, rekey would find no manifest or another one). Moving the
/// manifest, or a run that writes every place the last one did, goes on.
fn left_behind(state: &StateDir, spec: &ProfileSpec, old_key: &AccessKey) -> Result<(), Stop> {
    let Some(by) = state.rotated_by(old_key.id()).map_err(Cause::from)? else {
        return Ok(());
    };
    let written: Vec<String> = spec.sinks.iter().map(|s| s.id()).collect();
    let more: Vec<&String> = by.places.iter().filter(|p| !written.contains(p)).collect();
    if by.manifest == spec.manifest || more.is_empty() {
        return Ok(());
    }
    let made_by = match &by.manifest {
        Some(path) => format!("with {}", rekey_sinks::shown::path(path)),
        None => "in default mode (no manifest)".to_owned(),
    };
    let hint = match &by.manifest {
        Some(_) => "run there, pass --manifest, or --ignore-manifest",
        None => {
            "add them to this manifest, run where no manifest is found, or pass --ignore-manifest"
        }
    };
    let places: Vec<&str> = more.iter().map(|p| p.as_str()).collect();
    Err(Stop::error(
        ErrorKind::OtherManifest,
        format!(
            "{} was last rotated {made_by}, which writes {} more place{} this run does not ({}): {hint}",
            old_key.id(),
            more.len(),
            if more.len() == 1 { "" } else { "s" },
            places.join("; ")
        ),
    ))
}

/// IAM allows two keys per user, but enforces it eventually, and a list right after a
/// change can be stale: a user showing more than two is reported with every key, and
/// nothing is done to any of them (rekey never deletes a key it did not make).
fn more_than_two(user_name: &str, keys: &[KeyMeta]) -> Result<(), Stop> {
    if keys.len() <= 2 {
        return Ok(());
    }
    let listed: Vec<String> = keys
        .iter()
        .map(|k| {
            format!(
                "{} ({}, created {})",
                k.id,
                if k.active { "Active" } else { "Inactive" },
                time::rfc3339(k.created)
            )
        })
        .collect();
    Err(Stop::error(
        ErrorKind::NoRoom,
        format!(
            "{user_name} shows {} keys: {}. IAM allows two (it enforces that eventually, and a list can lag a change): rekey changes nothing until IAM lists two or fewer; delete the ones nobody uses by hand",
            keys.len(),
            listed.join(", ")
        ),
    ))
}

/// With `max_age`, only a key at least that old is rotated.
fn is_due(spec: &ProfileSpec, age: std::time::Duration) -> Result<(), Stop> {
    match spec.policy.max_age {
        Some(max_age) if age < max_age => Err(Stop::Skip(format!(
            "key is {} old, younger than max_age {} (--now rotates it anyway)",
            time::age(age),
            time::age(max_age)
        ))),
        _ => Ok(()),
    }
}

/// Reads and checks every sink, recording each one's state in `reports`; returns the
/// first sink that cannot be written, described.
async fn survey_sinks(
    spec: &ProfileSpec,
    current_id: &str,
    reports: &mut [SinkReport],
) -> Option<Cause> {
    let mut unwritable = None;
    for (sink, report) in spec.sinks.iter().zip(reports.iter_mut()) {
        let state = match sink.check().await {
            Err(e) => {
                unwritable.get_or_insert_with(|| {
                    let kind = ErrorKind::of_sink(&e, ErrorKind::SinkUnwritable);
                    Cause::new(kind, format!("cannot write {}: {e}", sink.describe()))
                });
                SinkState::Unwritable {
                    reason: e.to_string(),
                }
            }
            Ok(checked) => {
                report.read_only = checked == Checked::ReplacesReadOnly;
                match sink.read_id().await {
                    Ok(Some(id)) if id == current_id => SinkState::InSync,
                    Ok(Some(id)) => SinkState::Drift { key_id: id },
                    Ok(None) if checked == Checked::Creates => SinkState::Absent,
                    Ok(None) => SinkState::Missing,
                    Err(e) => {
                        unwritable.get_or_insert_with(|| {
                            let kind = ErrorKind::of_sink(&e, ErrorKind::SinkUnwritable);
                            Cause::new(kind, format!("cannot read {}: {e}", sink.describe()))
                        });
                        SinkState::Unwritable {
                            reason: e.to_string(),
                        }
                    }
                }
            }
        };
        tracing::info!("read {}: {:?}", sink.describe(), state);
        report.state = Some(state);
        // A plugin may describe itself better once it has been asked.
        report.sink = sink.describe();
    }
    unwritable
}

fn steps(plan: &ProfilePlan, spec: &ProfileSpec, rotation: &RotationInput) -> Vec<Step> {
    let mut steps = Vec::new();
    if let Some(other) = plan.other_key.as_ref().filter(|o| o.active) {
        // Planned only for a leak response (see `inspect`): during an overlap, or with
        // `--quarantine --make-room` for a key rekey does not know.
        match other.deactivated_by_rekey {
            true => steps.push(Step::EndOverlap {
                key_id: other.id.clone(),
            }),
            false => steps.push(Step::QuarantineKey {
                key_id: other.id.clone(),
            }),
        }
    } else if let Some(other) = &plan.other_key {
        let reason = if other.deactivated_by_rekey {
            "deactivated by rekey in an earlier rotation".to_owned()
        } else {
            "inactive, and --make-room was given".to_owned()
        };
        steps.push(Step::DeleteInactiveKey {
            key_id: other.id.clone(),
            reason,
        });
    }
    let policy = &spec.policy;
    steps.push(Step::CreateKey);
    steps.push(Step::AwaitPropagation {
        consecutive: policy.propagation.consecutive,
        timeout_secs: policy.propagation.timeout.as_secs(),
    });
    steps.extend(plan.sinks.iter().map(|report| Step::WriteSink {
        sink: report.sink.clone(),
    }));
    if let Some(verify) = &policy.verify {
        steps.push(Step::Verify {
            command: verify.command.shown(),
            timeout_secs: verify.timeout.as_secs(),
        });
    }
    let key_id = rotation.old_key.id().to_owned();
    if !policy.overlap.is_zero() {
        steps.push(Step::KeepOldKeyActive {
            key_id,
            overlap_secs: policy.overlap.as_secs(),
            grace_secs: policy.grace.as_secs(),
        });
        return steps;
    }
    steps.push(Step::DeactivateOldKey {
        key_id: key_id.clone(),
        via: policy.via.clone(),
    });
    steps.push(if policy.grace == Duration::ZERO {
        Step::DeleteOldKey { key_id }
    } else {
        Step::ScheduleDeletion {
            key_id,
            grace_secs: policy.grace.as_secs(),
        }
    });
    steps
}

fn last_use(used: LastUsed) -> Option<LastUse> {
    Some(LastUse {
        date: used.date?,
        service: used.service,
        region: used.region,
    })
}

/// `created 2026-01-02, last used 2026-11-20 (s3, eu-west-1)` or `…, never used`.
pub(crate) fn describe_key(key: &OtherKey, now: SystemTime) -> String {
    let created = format!(
        "created {}, {} old",
        time::date(key.created),
        time::age(time::since(key.created, now))
    );
    format!("{created}, {}", describe_last_use(key.last_used.as_ref()))
}

/// `last used 2026-11-20 (s3, eu-west-1)` or `never used`.
pub(crate) fn describe_last_use(last: Option<&LastUse>) -> String {
    match last {
        None => "never used".to_owned(),
        Some(u) => {
            let place: Vec<&str> = [u.service.as_deref(), u.region.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            if place.is_empty() {
                format!("last used {}", time::date(u.date))
            } else {
                format!("last used {} ({})", time::date(u.date), place.join(", "))
            }
        }
    }
}

/// The planner's rules about the user's keys, one test each: whether there is room for
/// a new key, what a leak response does with an unknown active key, and a list of more
/// than two keys.
#[cfg(test)]
mod tests {
    use super::*;

    fn at(days: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_760_000_000 + days * 86_400)
    }

    fn other(active: bool, deactivated_by_rekey: bool) -> OtherKey {
        OtherKey {
            id: "AKIAOTHER00000000001".into(),
            active,
            deactivated_by_rekey,
            created: at(0),
            last_used: None,
        }
    }

    fn options(make_room: bool, compromised: bool) -> PlanOptions {
        PlanOptions {
            make_room,
            compromised,
            ..PlanOptions::default()
        }
    }

    /// The message of a stop that is an error of `kind`; panics on anything else.
    fn error_of(stop: Result<(), Stop>, kind: ErrorKind) -> String {
        match stop {
            Err(Stop::Error(cause)) if cause.kind == kind => cause.message,
            Err(Stop::Error(cause)) => panic!("{:?}: {}", cause.kind, cause.message),
            Err(Stop::Skip(reason)) => panic!("skipped: {reason}"),
            Ok(()) => panic!("went ahead"),
        }
    }

    #[test]
    fn an_active_second_key_is_never_room_whatever_the_options() {
        for (make_room, compromised) in [(false, false), (true, false), (true, true)] {
            let stop = room_for_a_new_key(
                "u",
                &other(true, false),
                None,
                options(make_room, compromised),
                at(9),
            );
            let message = error_of(stop, ErrorKind::NoRoom);
            assert!(message.contains("never deletes an active key"), "{message}");
        }
    }

    #[test]
    fn an_inactive_key_rekey_did_not_deactivate_needs_make_room() {
        let stop = room_for_a_new_key(
            "u",
            &other(false, false),
            None,
            options(false, false),
            at(9),
        );
        assert!(error_of(stop, ErrorKind::NoRoom).contains("--make-room"));
        assert!(
            room_for_a_new_key("u", &other(false, false), None, options(true, false), at(9))
                .is_ok()
        );
    }

    #[test]
    fn a_running_grace_period_skips_and_another_rule_stops_unless_overridden() {
        let grace = || Some(Kept::Rule(retire::Keep::GraceRuns(at(10))));
        match room_for_a_new_key(
            "u",
            &other(false, true),
            grace(),
            options(false, false),
            at(9),
        ) {
            Err(Stop::Skip(reason)) => assert!(reason.contains("rotated recently"), "{reason}"),
            _ => panic!("a running grace period is a skip, not an error"),
        }
        let held = || Some(Kept::Held("the .env file still holds it".into()));
        let stop = room_for_a_new_key(
            "u",
            &other(false, true),
            held(),
            options(false, false),
            at(9),
        );
        assert!(error_of(stop, ErrorKind::NoRoom).contains("still holds it"));
        // --make-room and a leak response override prune's rules for rekey's own key.
        for overridden in [options(true, false), options(false, true)] {
            assert!(
                room_for_a_new_key("u", &other(false, true), held(), overridden, at(9)).is_ok()
            );
        }
        assert!(
            room_for_a_new_key("u", &other(false, true), None, options(false, false), at(9))
                .is_ok()
        );
    }

    #[test]
    fn an_unknown_active_key_in_a_leak_response_needs_quarantine_and_make_room() {
        let unknown = other(true, false);
        assert!(unknown_active_key("u", &unknown, true, true, at(9)).is_ok());
        let half = error_of(
            unknown_active_key("u", &unknown, true, false, at(9)),
            ErrorKind::NoRoom,
        );
        assert!(
            half.contains("add --make-room") && half.contains("UNKNOWN KEY"),
            "{half}"
        );
        let none = error_of(
            unknown_active_key("u", &unknown, false, true, at(9)),
            ErrorKind::NoRoom,
        );
        assert!(none.contains("--quarantine --make-room"), "{none}");
    }

    #[test]
    fn more_than_two_keys_change_nothing_and_name_every_key() {
        let key = |n: u32| KeyMeta {
            id: format!("AKIAKEY0000000000{n:03}"),
            active: n.is_multiple_of(2),
            created: at(u64::from(n)),
        };
        assert!(more_than_two("u", &[key(1), key(2)]).is_ok());
        let message = error_of(
            more_than_two("u", &[key(1), key(2), key(3)]),
            ErrorKind::NoRoom,
        );
        for n in 1..=3 {
            assert!(message.contains(&key(n).id), "{message}");
        }
    }
}
