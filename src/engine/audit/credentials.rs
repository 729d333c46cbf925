//! An IAM user's long-lived credentials other than access keys, which leak and age too:
//! console passwords (the credential report has them: no call), X.509 signing
//! certificates (`ListSigningCertificates`, only for users the report shows to have an
//! active one), and with `--all-credentials` SSH public keys and service-specific
//! credentials (CodeCommit, Bedrock), which the report does not show: two calls for
//! every user, so asked for. Judged as keys are: unused, never used, past the maximum
//! age, and a console password without MFA.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::findings::{Finding, Thresholds, NEW_KEY};
use super::report::{Report, ReportPassword};
use crate::aws::account::UserCredential;
use crate::aws::{AwsError, AwsErrorKind, Caller};

/// What kind of credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CredentialKind {
    /// A console password (sign-in to the AWS Management Console).
    ConsolePassword,
    /// An X.509 signing certificate (SOAP and some older APIs).
    SigningCertificate,
    /// An SSH public key (CodeCommit over SSH).
    SshPublicKey,
    /// A service-specific credential (a CodeCommit HTTPS password, an Amazon Bedrock
    /// API key, …).
    ServiceSpecificCredential,
}

/// One credential of a user, judged.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct AuditedCredential {
    /// The account.
    pub(crate) account: String,
    /// The IAM user.
    pub(crate) user: String,
    /// Its kind.
    pub(crate) kind: CredentialKind,
    /// Its id (a password has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    /// For a service-specific credential: its service (`codecommit.amazonaws.com`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) service: Option<String>,
    /// Whether it is active (a password in the report always is).
    pub(crate) active: bool,
    /// When it was set or uploaded, if known.
    #[serde(
        with = "crate::time::serde_rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<crate::time::Rfc3339>")]
    pub(crate) created: Option<SystemTime>,
    /// Whole days since then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) age_days: Option<u64>,
    /// Its last use (a password's last sign-in; certificates have none recorded).
    #[serde(
        with = "crate::time::serde_rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<crate::time::Rfc3339>")]
    pub(crate) last_used: Option<SystemTime>,
    /// For a password: whether the user has an MFA device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mfa: Option<bool>,
    /// What needs acting on, most severe first.
    pub(crate) findings: Vec<Finding>,
    /// The benchmark controls it fails (CIS v3.0 1.10 and 1.12, v7.0 2.11, FSBP IAM.5,
    /// IAM.8, IAM.22), by their own thresholds.
    pub(crate) controls: Vec<&'static str>,
    /// Findings a suppression (`--ignore`, by account and user) covers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) suppressed: Vec<super::suppress::Suppressed>,
}

/// A console password, judged.
pub(crate) fn password(
    account: &str,
    password: ReportPassword,
    limits: Thresholds,
    now: SystemTime,
) -> AuditedCredential {
    let since = |t: SystemTime| now.duration_since(t).unwrap_or_default();
    let mut findings = Vec::new();
    match (password.last_used, password.changed) {
        (Some(used), _) if since(used) > limits.unused => findings.push(Finding::Unused),
        (None, Some(set)) if since(set) > NEW_KEY => findings.push(Finding::NeverUsed),
        _ => {}
    }
    if !password.mfa {
        findings.push(Finding::PasswordWithoutMfa);
    }
    findings.sort();
    let mut controls = idle_controls(password.last_used.or(password.changed), now);
    if !password.mfa {
        controls.extend(["CIS-3.0-1.10", "FSBP-IAM.5"]);
    }
    AuditedCredential {
        account: account.to_owned(),
        user: password.user,
        kind: CredentialKind::ConsolePassword,
        id: None,
        service: None,
        active: true,
        created: password.changed,
        age_days: password.changed.map(|t| days(since(t))),
        last_used: password.last_used,
        mfa: Some(password.mfa),
        findings,
        controls,
        suppressed: Vec::new(),
    }
}

/// Every user's other credentials in `report`'s account: the passwords it shows, the
/// certificates of the users it shows with one, and with `all` every user's SSH public
/// keys and service-specific credentials (`USERS_AT_ONCE` users asked at a time). A
/// user deleted since the report has none.
pub(crate) async fn of_users(
    caller: &Caller,
    account: &str,
    report: &Report,
    (limits, all): (Thresholds, bool),
    now: SystemTime,
) -> Result<Vec<AuditedCredential>, AwsError> {
    use futures_util::stream::{self, StreamExt};
    let mut judged: Vec<AuditedCredential> = (report.passwords.iter().cloned())
        .map(|p| password(account, p, limits, now))
        .collect();
    let mut asked: Vec<(CredentialKind, &str)> = (report.with_certificates.iter())
        .map(|u| (CredentialKind::SigningCertificate, u.as_str()))
        .collect();
    if all {
        for user in &report.all_users {
            asked.push((CredentialKind::SshPublicKey, user));
            asked.push((CredentialKind::ServiceSpecificCredential, user));
        }
    }
    let answers: Vec<_> = stream::iter(asked)
        .map(|(kind, user)| async move {
            let listed = match kind {
                CredentialKind::SshPublicKey => caller.ssh_public_keys(user).await,
                CredentialKind::ServiceSpecificCredential => caller.service_credentials(user).await,
                _ => caller.signing_certificates(user).await,
            };
            (kind, user, listed)
        })
        .buffer_unordered(super::USERS_AT_ONCE)
        .collect()
        .await;
    for (kind, user, listed) in answers {
        let listed = match listed {
            Err(e) if e.kind == AwsErrorKind::NoSuchEntity => continue,
            other => other?,
        };
        judged.extend(
            (listed.into_iter()).map(|c| self::listed(kind, (account, user), c, limits, now)),
        );
    }
    judged.sort_by(|a, b| (&a.user, a.kind, &a.id).cmp(&(&b.user, b.kind, &b.id)));
    Ok(judged)
}

/// A signing certificate, SSH public key or service-specific credential, judged: an
/// active one past `--max-age` is a finding (IAM records no use of them).
pub(crate) fn listed(
    kind: CredentialKind,
    (account, user): (&str, &str),
    credential: UserCredential,
    limits: Thresholds,
    now: SystemTime,
) -> AuditedCredential {
    let age = (credential.created).map(|t| now.duration_since(t).unwrap_or_default());
    let findings = match age {
        Some(age) if credential.active && age > limits.max_age => vec![Finding::PastMaxAge],
        _ => Vec::new(),
    };
    AuditedCredential {
        account: account.to_owned(),
        user: user.to_owned(),
        kind,
        id: Some(credential.id),
        service: credential.service,
        active: credential.active,
        created: credential.created,
        age_days: age.map(days),
        last_used: None,
        mfa: None,
        findings,
        controls: Vec::new(),
        suppressed: Vec::new(),
    }
}

/// The unused-credential controls a credential idle since `since` fails.
fn idle_controls(since: Option<SystemTime>, now: SystemTime) -> Vec<&'static str> {
    let idle = since.map_or(0, |t| days(now.duration_since(t).unwrap_or_default()));
    super::findings::unused_controls(idle)
}

fn days(d: Duration) -> u64 {
    d.as_secs() / 86_400
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn a_password_is_judged_by_its_last_sign_in_and_its_mfa() {
        let now = SystemTime::UNIX_EPOCH + 1000 * DAY;
        let limits = Thresholds {
            max_age: 90 * DAY,
            unused: 30 * DAY,
        };
        let judged = |last_used: Option<u32>, mfa: bool| {
            let p = ReportPassword {
                user: "u".into(),
                changed: Some(now - 200 * DAY),
                last_used: last_used.map(|d| now - d * DAY),
                mfa,
            };
            let audited = password("1", p, limits, now);
            (audited.findings, audited.controls)
        };
        assert_eq!(judged(Some(1), true), (vec![], vec![]));
        let (found, controls) = judged(Some(50), true);
        assert_eq!(found, [Finding::Unused]);
        assert_eq!(controls, ["CIS-3.0-1.12", "CIS-7.0-2.11", "FSBP-IAM.22"]);
        let (found, controls) = judged(None, false);
        assert_eq!(found, [Finding::PasswordWithoutMfa, Finding::NeverUsed]);
        assert!(controls.contains(&"FSBP-IAM.8") && controls.contains(&"CIS-3.0-1.10"));
    }
}
