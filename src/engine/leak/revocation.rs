//! What a leak response does once the old key is deleted, to close the door behind it:
//! 1. proof that AWS refuses it: a deleted key keeps working for a few seconds (3-4 s
//!    measured in 2025), long enough for whoever holds it to create another key for the
//!    user. STS is asked with the old key until it answers `InvalidClientTokenId` three
//!    times in a row, within a bound;
//! 2. the keys it may have made meanwhile: any key of the user this run did not create
//!    and no place holds (deactivated with `--quarantine`, never deleted: evidence);
//! 3. the sessions it may have opened: temporary credentials from `GetSessionToken`
//!    outlive the key that made them (up to 36 hours), so an inline policy on the user
//!    denies everything to a session issued before now (AWS's documented way to revoke
//!    them; a long-term key's requests carry no `aws:TokenIssueTime` and are unaffected).

use std::time::{Duration, SystemTime};

use serde::Serialize;

use rekey_sinks::AccessKey;

use crate::aws::{Aws, AwsErrorKind, Caller, Permit};
use crate::config::profile::ProfileSpec;
use crate::engine::error::{Cause, ErrorKind};
use crate::engine::fleet::lease::{self, Lease};
use crate::engine::signing;

/// The inline policy that revokes a user's older sessions: one fixed name, so a later
/// response replaces it rather than piling up policies (a user may hold 2,048 bytes of
/// inline policy in all).
pub(crate) const SESSIONS_POLICY: &str = "rekey-revoke-older-sessions";

/// What a leak response did after the rotation, per leaked key (the report's subject).
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub(crate) struct LeakResponse {
    /// When the old key was deleted.
    #[serde(
        with = "crate::time::serde_rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<crate::time::Rfc3339>")]
    pub(crate) deleted_at: Option<SystemTime>,
    /// Seconds from its deletion until AWS refused it (three times in a row).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refused_after: Option<f64>,
    /// Every session of the user issued before this time is denied everything
    /// (`--keep-sessions`: none).
    #[serde(
        with = "crate::time::serde_rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<crate::time::Rfc3339>")]
    pub(crate) sessions_revoked_before: Option<SystemTime>,
    /// Keys of the user this run did not create and no place holds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) unknown_keys: Vec<UnknownKey>,
    /// What CloudTrail shows the leaked key did, and what it left behind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) activity: Option<Box<super::activity::Activity>>,
}

/// A key of the user that this run did not create and no place holds: perhaps made
/// with the leaked key while it still worked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub(crate) struct UnknownKey {
    /// Its id.
    pub(crate) key_id: String,
    /// When it was created.
    #[serde(with = "crate::time::serde_rfc3339")]
    #[schemars(with = "crate::time::Rfc3339")]
    pub(crate) created: SystemTime,
    /// When it was last used (`None`: never).
    #[serde(with = "crate::time::serde_rfc3339_option")]
    #[schemars(with = "Option<crate::time::Rfc3339>")]
    pub(crate) last_used: Option<SystemTime>,
    /// Whether it was created after this response began: most likely made with the
    /// leaked key while it still worked.
    pub(crate) made_during_response: bool,
    /// Whether it was active when found.
    pub(crate) active: bool,
    /// Whether rekey deactivated it (`--quarantine`).
    pub(crate) quarantined: bool,
}

/// Refusals in a row that count as proof (one can be a replica that heard early).
const IN_A_ROW: u32 = 3;

/// Between two questions.
const POLL: Duration = Duration::from_millis(500);

/// Asks STS with `key` until it is refused [`IN_A_ROW`] times in a row; how long that
/// took, or a `still_accepted` failure at `bound`.
pub(crate) async fn prove_dead(
    aws: &Aws,
    key: &AccessKey,
    bound: Duration,
) -> Result<Duration, Cause> {
    let started = tokio::time::Instant::now();
    let mut refused = 0;
    loop {
        match aws.whose(key).await {
            Err(e) if e.kind == AwsErrorKind::InvalidCredentials => refused += 1,
            // Accepted (or no answer): the count starts again.
            _ => refused = 0,
        }
        if refused >= IN_A_ROW {
            return Ok(started.elapsed());
        }
        if started.elapsed() >= bound {
            return Err(Cause::new(
                ErrorKind::StillAccepted,
                format!(
                    "AWS still accepted the old key {} {}s after it was deleted (STS answered with it): whoever holds it may still act; look for keys you did not create and for its last use",
                    key.id(),
                    bound.as_secs()
                ),
            ));
        }
        tokio::time::sleep(POLL).await; // poll interval, bounded by `bound`
    }
}

/// Once the old key is refused: the user's keys that this run did not create
/// (`new_key_id`) and that no place of `spec` holds. Each is reported (and whether it
/// was created after the response began at AWS's time `began`); with `quarantine`,
/// deactivated (never deleted: it is evidence), under the user's `lease` if any.
pub(crate) async fn unknown_keys(
    aws: &Aws,
    spec: &ProfileSpec,
    user: &str,
    new_key_id: &str,
    quarantine: bool,
    began: SystemTime,
    lease: Option<&Lease>,
) -> Result<Vec<UnknownKey>, Cause> {
    let caller = signer_now(aws, spec).await?;
    let mut held = Vec::new();
    for sink in spec.sinks.iter() {
        if let Ok(Some(id)) = sink.read_id().await {
            held.push(id);
        }
    }
    let mut found = Vec::new();
    for key in caller.list_keys(user).await? {
        if key.id == new_key_id || held.contains(&key.id) {
            continue;
        }
        let permit = lease::permit(lease).await?;
        found.push(examine(&caller, user, key, quarantine, Some(began), &permit).await?);
    }
    Ok(found)
}

/// An unknown key, told with its creation and last use (and, given when the response
/// `began`, whether it was made since); with `quarantine` and active, deactivated.
pub(crate) async fn examine(
    caller: &Caller,
    user: &str,
    key: crate::aws::KeyMeta,
    quarantine: bool,
    began: Option<SystemTime>,
    permit: &Permit,
) -> Result<UnknownKey, Cause> {
    let last_used = caller.last_used(&key.id).await.ok().and_then(|u| u.date);
    let quarantined = quarantine && key.active && {
        caller.set_active(user, &key.id, false, permit).await?;
        true
    };
    // IAM's creation dates are whole seconds.
    let made_during_response = began.is_some_and(|began| key.created >= whole_second(began));
    Ok(UnknownKey {
        key_id: key.id,
        created: key.created,
        last_used,
        made_during_response,
        active: key.active,
        quarantined,
    })
}

/// Revokes every session of `user` issued before now, with the inline policy
/// [`SESSIONS_POLICY`], put as the profile signs after the rotation; returns the time
/// in the policy. It is the response's last IAM call: the run's own MFA session of the
/// user was opened before (with the old key), so it is forgotten, and a later call
/// opens another.
///
/// The time is AWS's, as a whole second (policy dates have no fraction), rounded down:
/// it still covers every session the old key could open, since the first of the
/// refusals in a row came at least a second before the proof (see [`prove_dead`]) and
/// the key was not accepted after it; and no session rekey opens later.
pub(crate) async fn revoke_sessions(
    aws: &Aws,
    spec: &ProfileSpec,
    user: &str,
) -> Result<SystemTime, Cause> {
    let caller = signer_now(aws, spec).await?;
    let before = revoke_sessions_as(aws, &caller, user).await?;
    if spec.policy.via.is_none() {
        if let Some(serial) = spec.policy.mfa_serial.as_deref() {
            aws.forget_session(serial).await;
        }
    }
    Ok(before)
}

/// [`revoke_sessions`] signed by `caller` (the profile's signer, or an admin containing
/// a key no profile holds): the policy's time.
pub(crate) async fn revoke_sessions_as(
    aws: &Aws,
    caller: &Caller,
    user: &str,
) -> Result<SystemTime, Cause> {
    let before = whole_second(aws.clock().now());
    let document = deny_sessions_before(before);
    caller
        .put_user_policy(user, SESSIONS_POLICY, &document)
        .await
        .map_err(|e| {
            Cause::aws(
                &e,
                format!(
                    "could not revoke {user}'s older sessions ({e}): sessions opened with the leaked key stay valid until they expire (up to 36 hours). An admin can revoke them now: aws iam put-user-policy --user-name {user} --policy-name {SESSIONS_POLICY} --policy-document '{document}' (a user must not hold iam:PutUserPolicy on itself: it could grant itself anything; rotate with `via: ADMIN` for the response to do it)"
                ),
            )
        })?;
    Ok(before)
}

/// `t` without its fraction of a second.
fn whole_second(t: SystemTime) -> SystemTime {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    SystemTime::UNIX_EPOCH + Duration::from_secs(since.as_secs())
}

/// The policy document denying everything to a session issued before `before`.
/// (`DateLessThan` on a key the request does not carry is false: a long-term key's
/// requests are not affected.)
pub(crate) fn deny_sessions_before(before: SystemTime) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "RekeyRevokeOlderSessions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "DateLessThan": { "aws:TokenIssueTime": crate::time::rfc3339(before) }
            }
        }]
    })
    .to_string()
}

/// Who signs the profile's IAM calls after the rotation: its new key (the first
/// sink's), or its `via` profile.
async fn signer_now(aws: &Aws, spec: &ProfileSpec) -> Result<Caller, Cause> {
    let current = signing::current_key(spec).await?;
    signing::signer(aws, &spec.policy, &current).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_denies_sessions_issued_before_the_whole_second_of_the_proof() {
        let proven = SystemTime::UNIX_EPOCH + Duration::from_millis(1_780_000_000_750);
        let document: serde_json::Value =
            serde_json::from_str(&deny_sessions_before(whole_second(proven))).unwrap();
        let statement = &document["Statement"][0];
        assert_eq!(statement["Effect"], "Deny");
        assert_eq!(statement["Action"], "*");
        assert_eq!(statement["Resource"], "*");
        assert_eq!(
            statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            "2026-05-28T20:26:40Z"
        );
        let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(5);
        assert_eq!(whole_second(whole), whole);
    }
}
