//! An audit's findings in the AWS Security Finding Format, for Security Hub (`--output
//! asff`, `--push security-hub`): one per finding of a key and per root access key, its
//! id the same every run (account, key, finding) so a re-run updates it, with a
//! severity, the benchmark requirements it fails, and the command that fixes it.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::credentials::{AuditedCredential, CredentialKind};
use super::findings::{Finding, ROOT_KEY_CONTROLS};
use super::{AccountAudit, AuditedKey, RootKey};
use crate::aws::securityhub::{
    AsffAccessKey, AsffCompliance, AsffDetails, AsffFinding, AsffRecommendation, AsffRemediation,
    AsffResource, AsffSeverity, AsffWorkflow, ASFF_VERSION,
};
use crate::time;

/// Every finding's `GeneratorId` starts with this: how a push finds its earlier ones.
pub(crate) const GENERATOR_PREFIX: &str = "rekey/audit/";

/// Where the findings go: the hub's product ARN and partition, the run's region.
#[derive(Debug, Clone)]
pub(crate) struct Hub {
    /// `arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default`.
    pub(crate) product_arn: String,
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub(crate) partition: String,
    /// The run's region.
    pub(crate) region: String,
}

/// The findings of the audited accounts (an account not audited has none), suppressed
/// ones included with the workflow status SUPPRESSED.
pub(crate) fn findings(
    accounts: &[AccountAudit],
    hub: &Hub,
    (max_age_days, unused_days): (u64, u64),
    now: SystemTime,
) -> Vec<AsffFinding> {
    let mut out = Vec::new();
    for account in accounts.iter().filter(|a| a.error.is_none()) {
        for key in &account.keys {
            let suppressed = key.suppressed.iter().map(|s| (s.finding, true));
            for (finding, suppressed) in key.findings.iter().map(|f| (*f, false)).chain(suppressed)
            {
                let told = Told::of(finding, key, (max_age_days, unused_days));
                out.push(key_finding(key, (finding, told, suppressed), hub, now));
            }
        }
        for credential in &account.credentials {
            let suppressed = credential.suppressed.iter().map(|s| (s.finding, true));
            let found = credential.findings.iter().map(|f| (*f, false));
            for (finding, suppressed) in found.chain(suppressed) {
                let told = Told::of_credential(finding, credential, (max_age_days, unused_days));
                out.push(credential_finding(
                    credential,
                    (finding, told, suppressed),
                    hub,
                    now,
                ));
            }
        }
        for (n, root) in account.root_keys.iter().enumerate() {
            out.push(root_finding(&account.account, n, root, hub, now));
        }
    }
    out
}

/// What a finding says: severity, description, the fix, the controls it relates to.
struct Told {
    severity: &'static str,
    description: String,
    fix: String,
    controls: &'static [&'static str],
}

impl Told {
    fn of(finding: Finding, key: &AuditedKey, (max_age, unused): (u64, u64)) -> Self {
        let (user, id) = (&key.user, &key.key_id);
        let rotate = format!("Rotate it everywhere it is stored: rekey apply --profile PROFILE (a profile holding {id}); by hand, aws iam create-access-key --user-name {user}, replace the key, then aws iam update-access-key --user-name {user} --access-key-id {id} --status Inactive");
        let retire = format!("If nothing needs it: aws iam update-access-key --user-name {user} --access-key-id {id} --status Inactive, then aws iam delete-access-key --user-name {user} --access-key-id {id} once nothing fails");
        let delete = format!("aws iam delete-access-key --user-name {user} --access-key-id {id}");
        let created = time::date(key.created);
        let (severity, description, fix, controls): (_, _, _, &[&str]) = match finding {
            Finding::QuarantinedUser => ("CRITICAL", format!("AWS attached its AWSCompromisedKeyQuarantine policy to IAM user {user}: it found one of the user's access keys exposed. Treat the key as leaked."), "rekey apply --compromised --profile PROFILE --via ADMIN (the quarantine denies the user's own key), or rekey respond --event ALERT --via ADMIN; then detach the quarantine policy".to_owned(), &[]),
            Finding::TwoActiveKeys => ("MEDIUM", format!("IAM user {user} has two active access keys outside a rotation's overlap period; {id} (created {created}) is one of them."), retire, &["CIS-3.0-1.13"]),
            Finding::PastMaxAge => ("MEDIUM", format!("Access key {id} of IAM user {user} is {} days old (created {created}), past {max_age} days.", key.age_days), rotate, &["CIS-3.0-1.14", "CIS-7.0-2.12", "FSBP-IAM.3"]),
            // A key's user never has this finding (a password's does).
            Finding::PasswordWithoutMfa => return Self::without_mfa(user),
            Finding::OverdueDeletion => ("MEDIUM", format!("rekey retired access key {id} of IAM user {user} and the date of its next step (deactivation or deletion) has passed: no rekey prune ran."), format!("rekey prune on a machine with rekey's state, or {delete}"), &[]),
            Finding::Unused => ("MEDIUM", format!("Active access key {id} of IAM user {user} was last used {}, more than {unused} days ago.", key.last_used.as_ref().map_or_else(|| "never".to_owned(), |u| time::date(u.date))), retire, &["CIS-3.0-1.12", "CIS-7.0-2.11", "FSBP-IAM.22", "FSBP-IAM.8"]),
            Finding::NeverUsed => ("LOW", format!("Active access key {id} of IAM user {user} (created {created}) was never used."), retire, &["CIS-3.0-1.12", "CIS-7.0-2.11", "FSBP-IAM.22", "FSBP-IAM.8"]),
            Finding::InactiveNotDeleted => ("LOW", format!("Inactive access key {id} of IAM user {user} (created {created}) is not scheduled for deletion."), delete, &[]),
            Finding::ExpiredSuppression => ("INFORMATIONAL", format!("A suppression of the findings of access key {id} of IAM user {user} has expired."), "Review the suppression in the --ignore file: renew it or remove it".to_owned(), &[]),
        };
        Self {
            severity,
            description,
            fix,
            controls,
        }
    }
}

impl Told {
    fn without_mfa(user: &str) -> Self {
        Self {
            severity: "HIGH",
            description: format!("IAM user {user} signs in to the console with a password and no MFA device."),
            fix: format!("Assign an MFA device to {user} (IAM console, Users, {user}, Security credentials), or if the console is not needed: aws iam delete-login-profile --user-name {user}"),
            controls: &["CIS-3.0-1.10", "FSBP-IAM.5"],
        }
    }

    fn of_credential(
        finding: Finding,
        credential: &AuditedCredential,
        (max_age, unused): (u64, u64),
    ) -> Self {
        let user = &credential.user;
        let id = credential.id.as_deref().unwrap_or_default();
        let unused_controls: &[&str] =
            &["CIS-3.0-1.12", "CIS-7.0-2.11", "FSBP-IAM.22", "FSBP-IAM.8"];
        let remove_password = format!("If {user} no longer signs in to the console: aws iam delete-login-profile --user-name {user}");
        let set = credential
            .created
            .map_or_else(|| "unknown".to_owned(), time::date);
        let (severity, description, fix, controls): (_, _, _, &[&str]) = match (credential.kind, finding) {
            (CredentialKind::ConsolePassword, Finding::Unused) => ("MEDIUM", format!("The console password of IAM user {user} was last used {}, more than {unused} days ago.", credential.last_used.map_or_else(|| "never".to_owned(), time::date)), remove_password, unused_controls),
            (CredentialKind::ConsolePassword, Finding::NeverUsed) => ("LOW", format!("The console password of IAM user {user} (set {set}) was never used to sign in."), remove_password, unused_controls),
            (CredentialKind::SshPublicKey, Finding::PastMaxAge) => ("MEDIUM", format!("SSH public key {id} of IAM user {user} is {} days old (uploaded {set}), past {max_age} days.", credential.age_days.unwrap_or_default()), format!("Upload a new key if one is needed, then aws iam update-ssh-public-key --user-name {user} --ssh-public-key-id {id} --status Inactive and aws iam delete-ssh-public-key --user-name {user} --ssh-public-key-id {id}"), &[]),
            (CredentialKind::ServiceSpecificCredential, Finding::PastMaxAge) => ("MEDIUM", format!("Service-specific credential {id} ({}) of IAM user {user} is {} days old (created {set}), past {max_age} days.", credential.service.as_deref().unwrap_or("?"), credential.age_days.unwrap_or_default()), format!("aws iam reset-service-specific-credential --user-name {user} --service-specific-credential-id {id} gives it a new password; or if unused, aws iam delete-service-specific-credential --user-name {user} --service-specific-credential-id {id}"), &[]),
            (CredentialKind::SigningCertificate, Finding::PastMaxAge) => ("MEDIUM", format!("Signing certificate {id} of IAM user {user} is {} days old (uploaded {set}), past {max_age} days.", credential.age_days.unwrap_or_default()), format!("Upload a new certificate if one is needed, then aws iam update-signing-certificate --user-name {user} --certificate-id {id} --status Inactive and aws iam delete-signing-certificate --user-name {user} --certificate-id {id}"), &[]),
            (_, Finding::PasswordWithoutMfa) => return Self::without_mfa(user),
            (_, other) => ("INFORMATIONAL", format!("{} of IAM user {user}: {}.", credential_name(credential), other.describe()), "Review the credential and the --ignore file".to_owned(), &[]),
        };
        Self {
            severity,
            description,
            fix,
            controls,
        }
    }
}

/// `console password`, `signing certificate ID`.
fn credential_name(credential: &AuditedCredential) -> String {
    match credential.kind {
        CredentialKind::ConsolePassword => "Console password".to_owned(),
        CredentialKind::SigningCertificate => format!(
            "Signing certificate {}",
            credential.id.as_deref().unwrap_or_default()
        ),
        CredentialKind::SshPublicKey => format!(
            "SSH public key {}",
            credential.id.as_deref().unwrap_or_default()
        ),
        CredentialKind::ServiceSpecificCredential => format!(
            "Service-specific credential {}",
            credential.id.as_deref().unwrap_or_default()
        ),
    }
}

/// What a finding is about, as its ASFF needs it.
struct Subject<'a> {
    account: &'a str,
    /// Its part of the finding's id: a key id, `USER/console_password`, ….
    id: String,
    /// Its words in the title: `access key AKIA… of IAM user alice`.
    named: String,
    /// When it came to be.
    created: SystemTime,
    /// The controls it fails.
    controls: &'a [&'static str],
    resource: AsffResource,
    product_fields: BTreeMap<String, String>,
}

/// The finding `finding` of `subject`.
fn build(
    subject: Subject<'_>,
    (finding, told, suppressed): (Finding, Told, bool),
    hub: &Hub,
    now: SystemTime,
) -> AsffFinding {
    let name = finding_name(finding);
    let failed: Vec<&str> = (subject.controls.iter().copied())
        .filter(|c| told.controls.contains(c))
        .collect();
    let mut types = vec![format!(
        "Software and Configuration Checks/AWS Security Best Practices/{}",
        finding.describe()
    )];
    types.extend(standards(&failed));
    let mut product_fields = product_fields(&name);
    product_fields.extend(subject.product_fields);
    AsffFinding {
        schema_version: ASFF_VERSION,
        id: format!("rekey/audit/{}/{}/{name}", subject.account, subject.id),
        product_arn: hub.product_arn.clone(),
        generator_id: format!("{GENERATOR_PREFIX}{name}"),
        aws_account_id: subject.account.to_owned(),
        types,
        created_at: time::rfc3339(subject.created),
        updated_at: time::rfc3339(now),
        severity: AsffSeverity {
            label: told.severity,
        },
        title: clip(&format!("{}: {}", finding.describe(), subject.named), 256),
        description: clip(&told.description, 1024),
        remediation: AsffRemediation {
            recommendation: AsffRecommendation {
                text: clip(&told.fix, 512),
            },
        },
        product_fields,
        resources: vec![subject.resource],
        compliance: compliance(&failed),
        workflow: suppressed.then_some(AsffWorkflow {
            status: "SUPPRESSED",
        }),
        record_state: "ACTIVE",
    }
}

fn credential_finding(
    credential: &AuditedCredential,
    told: (Finding, Told, bool),
    hub: &Hub,
    now: SystemTime,
) -> AsffFinding {
    let kind = serde_json::to_value(credential.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let (account, user) = (&credential.account, &credential.user);
    let id = match &credential.id {
        Some(id) => format!("{user}/{kind}/{id}"),
        None => format!("{user}/{kind}"),
    };
    let subject = Subject {
        account,
        id,
        named: format!(
            "{} of IAM user {user}",
            credential_name(credential).to_lowercase()
        ),
        created: credential.created.unwrap_or(now),
        controls: &credential.controls,
        resource: AsffResource {
            kind: "AwsIamUser",
            id: format!("arn:{}:iam::{account}:user/{user}", hub.partition),
            partition: hub.partition.clone(),
            region: hub.region.clone(),
            details: None,
        },
        product_fields: BTreeMap::from([
            ("rekey/user".to_owned(), user.clone()),
            ("rekey/credential".to_owned(), kind),
        ]),
    };
    build(subject, told, hub, now)
}

fn key_finding(
    key: &AuditedKey,
    told: (Finding, Told, bool),
    hub: &Hub,
    now: SystemTime,
) -> AsffFinding {
    let subject = Subject {
        account: &key.account,
        id: key.key_id.clone(),
        named: format!("access key {} of IAM user {}", key.key_id, key.user),
        created: key.created,
        controls: &key.controls,
        resource: AsffResource {
            kind: "AwsIamAccessKey",
            id: key.key_id.clone(),
            partition: hub.partition.clone(),
            region: hub.region.clone(),
            details: Some(AsffDetails {
                aws_iam_access_key: AsffAccessKey {
                    access_key_id: key.key_id.clone(),
                    status: if key.active { "Active" } else { "Inactive" },
                    created_at: time::rfc3339(key.created),
                    principal_name: key.user.clone(),
                    principal_type: "IAMUser",
                    account_id: key.account.clone(),
                },
            }),
        },
        product_fields: BTreeMap::from([("rekey/user".to_owned(), key.user.clone())]),
    };
    build(subject, told, hub, now)
}

fn root_finding(
    account: &str,
    n: usize,
    root: &RootKey,
    hub: &Hub,
    now: SystemTime,
) -> AsffFinding {
    let name = "root_active_key";
    AsffFinding {
        schema_version: ASFF_VERSION,
        id: format!("rekey/audit/{account}/root/{n}/{name}"),
        product_arn: hub.product_arn.clone(),
        generator_id: format!("{GENERATOR_PREFIX}{name}"),
        aws_account_id: account.to_owned(),
        types: [
            "Software and Configuration Checks/AWS Security Best Practices/root access key"
                .to_owned(),
        ]
        .into_iter()
        .chain(standards(ROOT_KEY_CONTROLS))
        .collect(),
        created_at: time::rfc3339(root.created),
        updated_at: time::rfc3339(now),
        severity: AsffSeverity { label: "CRITICAL" },
        title: format!("The root user of account {account} has an active access key"),
        description: format!(
            "The root user of account {account} has an active access key, created {}, {}. The root user needs no access key (AWS's advice).",
            time::date(root.created),
            root.last_used.as_ref().map_or_else(|| "never used".to_owned(), |u| format!("last used {}", time::date(u.date)))
        ),
        remediation: AsffRemediation {
            recommendation: AsffRecommendation {
                text: "Sign in as the root user, and under Security credentials deactivate, then delete, the access key".to_owned(),
            },
        },
        product_fields: product_fields(name),
        resources: vec![AsffResource {
            kind: "AwsAccount",
            id: format!("AWS::::Account:{account}"),
            partition: hub.partition.clone(),
            region: hub.region.clone(),
            details: None,
        }],
        compliance: compliance(ROOT_KEY_CONTROLS),
        workflow: None,
        record_state: "ACTIVE",
    }
}

/// A finding's name as the JSON has it (`two_active_keys`).
fn finding_name(finding: Finding) -> String {
    serde_json::to_value(finding)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn product_fields(finding: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("ProviderName".to_owned(), "rekey".to_owned()),
        (
            "ProviderVersion".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        ),
        ("rekey/finding".to_owned(), finding.to_owned()),
    ])
}

/// The `Industry and Regulatory Standards` types of the failed controls.
fn standards(failed: &[&str]) -> Vec<String> {
    let mut types = Vec::new();
    let category = "Software and Configuration Checks/Industry and Regulatory Standards";
    if failed.iter().any(|c| c.starts_with("CIS-")) {
        types.push(format!("{category}/CIS AWS Foundations Benchmark"));
    }
    if failed.iter().any(|c| c.starts_with("FSBP-")) {
        types.push(format!(
            "{category}/AWS-Foundational-Security-Best-Practices"
        ));
    }
    types
}

/// `FAILED`, with each failed control as the benchmark names its requirement.
fn compliance(failed: &[&str]) -> AsffCompliance {
    let requirement = |control: &str| match control.split_once('-') {
        Some(("CIS", rest)) => {
            let (version, number) = rest.split_once('-').unwrap_or((rest, ""));
            format!("CIS AWS Foundations Benchmark v{version}.0/{number}")
        }
        Some(("FSBP", id)) => format!("AWS Foundational Security Best Practices v1.0.0/{id}"),
        _ => control.to_owned(),
    };
    AsffCompliance {
        status: "FAILED",
        related_requirements: failed.iter().map(|c| requirement(c)).collect(),
    }
}

/// `text`, at most `max` characters.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn requirements_are_named_as_the_benchmarks_name_them() {
        let told = super::compliance(&["CIS-3.0-1.14", "CIS-7.0-2.12", "FSBP-IAM.3"]);
        assert_eq!(
            told.related_requirements,
            [
                "CIS AWS Foundations Benchmark v3.0.0/1.14",
                "CIS AWS Foundations Benchmark v7.0.0/2.12",
                "AWS Foundational Security Best Practices v1.0.0/IAM.3"
            ]
        );
        assert_eq!(super::clip("héllo", 2), "hé");
    }
}
