//! Who signs a profile's IAM calls: the profile's own key (self-service), another
//! profile (`via:`, admin rotation), or an MFA session opened by either with a code
//! (`mfa_serial`), for principals whose policy denies IAM without MFA (the policy AWS
//! recommends for users who manage their own credentials).
//!
//! The code comes from `--mfa-code`, else `mfa_command` (a program printing a current
//! code: `oathtool --totp`, a password manager's CLI), else the prompt the command line
//! installed (a terminal). A session is opened once per device per run, so no run asks
//! for a second code. With none of these, the profile stops before any key is created.

use std::time::Duration;

use rekey_sinks::child::Child;
use rekey_sinks::AccessKey;

use crate::aws::{Aws, Caller, MfaError};
use crate::config::argv::Argv;
use crate::config::profile::{Policy, ProfileSpec};
use crate::engine::error::{Cause, ErrorKind};
use crate::state::Owner;

/// Clients signing the IAM calls of a profile with `policy`, whose key at hand is `key`:
/// the key, or the `via` profile; through an MFA session opened by either when the
/// policy names a device (with `via`, the admin's device).
pub(crate) async fn signer(aws: &Aws, policy: &Policy, key: &AccessKey) -> Result<Caller, Cause> {
    let principal = principal(aws, policy, key).await?;
    let Some(serial) = policy.mfa_serial.as_deref() else {
        return Ok(principal);
    };
    let command = policy.mfa_command.as_ref();
    let session = aws
        .mfa_session(&principal, serial, || {
            code(aws, serial, command, policy.mfa_timeout)
        })
        .await?;
    Ok(session)
}

/// Clients signing as the principal itself, without an MFA session: the key, or the
/// `via` profile.
pub(crate) async fn principal(
    aws: &Aws,
    policy: &Policy,
    key: &AccessKey,
) -> Result<Caller, Cause> {
    Ok(match policy.via.as_deref() {
        Some(via) => aws.via(via).await?,
        None => aws.caller(key),
    })
}

/// The key the profile's first sink holds now: what signs for the profile once a
/// rotation (or an undo) has put it there.
pub(crate) async fn current_key(spec: &ProfileSpec) -> Result<AccessKey, Cause> {
    let sink = spec.sinks.first();
    match sink.read().await {
        Ok(Some(key)) => Ok(key),
        Ok(None) => Err(Cause::new(
            ErrorKind::InvalidKey,
            format!("{} holds no key", sink.describe()),
        )),
        Err(e) => Err(Cause::new(
            ErrorKind::of_sink(&e, ErrorKind::SinkUnwritable),
            e.to_string(),
        )),
    }
}

/// Whether `policy` has something other than the key itself sign the IAM calls.
pub(crate) fn delegated(policy: &Policy) -> bool {
    policy.via.is_some() || policy.mfa_serial.is_some()
}

/// A current code for `serial`: printed by `command` (run under the child runner's
/// rules: its own process group, killed at `timeout`, output capped), else asked of the
/// prompt the command line installed (see [`Aws::ask_code`]).
async fn code(
    aws: &Aws,
    serial: &str,
    command: Option<&Argv>,
    timeout: Duration,
) -> Result<String, MfaError> {
    let Some((program, args)) = command.map(Argv::split_first) else {
        return aws.ask_code(serial).await;
    };
    let failed = |problem: String| MfaError::Command {
        program: program.clone(),
        problem,
    };
    let mut command = tokio::process::Command::new(program);
    command.args(args);
    let deadline = tokio::time::Instant::now() + timeout;
    let (finished, stdout) = Child::run(&mut command, deadline)
        .await
        .map_err(|e| failed(format!("could not run: {e}")))?;
    match finished.status {
        None => {
            return Err(failed(format!(
                "gave no code within {} (mfa_timeout); nothing was changed",
                crate::time::age(timeout)
            )))
        }
        Some(status) if !status.success() => return Err(failed(format!("failed ({status})"))),
        Some(_) => {}
    }
    // The first line only: a code is six digits, whatever else the program says.
    let code = String::from_utf8_lossy(stdout.raw())
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    if code.is_empty() {
        return Err(failed("printed no code".to_owned()));
    }
    Ok(code)
}

/// A profile's current key and the IAM user STS said it belongs to: resolved once by
/// planning and handed to `apply`'s prune, which then opens only the signer (no STS
/// call). No clients are kept: a thousand planned profiles need not hold a thousand
/// sets of SDK clients while they wait.
#[derive(Clone)]
pub(crate) struct Resolved {
    /// The key the profile's first sink held when planned.
    pub(crate) key: AccessKey,
    /// The user it belongs to (as the profile's rotation).
    pub(crate) owner: Owner,
}

/// A profile's current key (its first sink's), the IAM user it belongs to, and who signs
/// its IAM calls: what prune and rollback establish before they touch the user's keys.
pub(crate) struct ProfileUser {
    /// The key the profile's first sink holds.
    pub(crate) key: AccessKey,
    /// The user it belongs to (as `spec`'s rotation).
    pub(crate) owner: Owner,
    /// Signs the profile's IAM calls (see [`signer`]).
    pub(crate) caller: Caller,
}

/// Reads the profile's current key, learns whose it is (STS, once per run: see
/// [`Aws::owner_of`]), and opens its signer.
pub(crate) async fn profile_user(aws: &Aws, spec: &ProfileSpec) -> Result<ProfileUser, Cause> {
    let invalid = |message: String| Cause::new(ErrorKind::InvalidKey, message);
    let source = spec.sinks.first();
    let key = source
        .read()
        .await
        .map_err(|e| {
            let kind = ErrorKind::of_sink(&e, ErrorKind::SinkUnwritable);
            Cause::new(kind, format!("cannot read the profile's current key: {e}"))
        })?
        .ok_or_else(|| invalid(format!("{} holds no key to sign with", source.describe())))?;
    let identity = aws.owner_of(&key).await?;
    let user_name = identity
        .user_name
        .clone()
        .ok_or_else(|| invalid(format!("{} is not an IAM user", identity.arn)))?;
    let caller = signer(aws, &spec.policy, &key).await?;
    let owner = Owner::of(spec, &identity, &user_name);
    Ok(ProfileUser { key, owner, caller })
}

/// [`profile_user`] from what planning `resolved`: only the signer is opened.
pub(crate) async fn resolved_user(
    aws: &Aws,
    spec: &ProfileSpec,
    resolved: &Resolved,
) -> Result<ProfileUser, Cause> {
    let caller = signer(aws, &spec.policy, &resolved.key).await?;
    Ok(ProfileUser {
        key: resolved.key.clone(),
        owner: resolved.owner.clone(),
        caller,
    })
}

impl Owner {
    /// The owner of `spec`'s rotation of `user_name`'s key, as STS named the user
    /// (`identity`). Here rather than in `state`, which knows neither profiles nor AWS.
    pub(crate) fn of(spec: &ProfileSpec, identity: &crate::aws::Identity, user_name: &str) -> Self {
        Self {
            profile: spec.name.clone(),
            also: spec.also.clone(),
            account: identity.account.clone(),
            user_arn: identity.arn.clone(),
            user_name: user_name.to_owned(),
        }
    }
}
