//! `rekey audit`: every IAM user access key of one account, or of many (an
//! organization's, or a list, through a role assumed in each), and the users' other
//! long-lived credentials (see [`credentials`]), with what needs acting on (see
//! [`findings`]). Per account, one credential report finds the users with keys (see
//! [`report`]); only those are asked for their keys, tags and attached policies (three
//! calls each), paced per account. An account that cannot be reached is reported,
//! never fatal.

pub(crate) mod asff;
pub(crate) mod benchmark;
pub(crate) mod credentials;
pub(crate) mod findings;
pub(crate) mod ocsf;
pub(crate) mod report;
pub(crate) mod suppress;

use std::time::SystemTime;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::aws::account::OrgAccount;
use crate::aws::{Aws, AwsError, AwsErrorKind, Caller, KeyMeta};
use crate::engine::error::{Cause, ErrorKind};
use crate::engine::fleet::shared_pending;
use crate::engine::rotation::plan::LastUse;
use crate::state::{Owner, PendingDeletion};
use findings::{Facts, Finding, Thresholds};
use report::{ReportKey, UserRow};

/// Users of one account asked at once (the account's pacing spreads the calls).
const USERS_AT_ONCE: usize = 4;

/// Which accounts.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    /// The signer's own account.
    Own,
    /// These accounts, through `role` in each (the signer's own account directly).
    Accounts {
        /// The account ids.
        ids: Vec<String>,
        /// The role's name.
        role: String,
    },
    /// Every ACTIVE account of the organization the signer's account manages, through
    /// `role` in each.
    Organization {
        /// The role's name.
        role: String,
    },
}

/// One account's keys, or why it could not be audited.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct AccountAudit {
    /// The 12-digit id.
    pub(crate) account: String,
    /// Its name in the organization, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    /// Every user access key found.
    pub(crate) keys: Vec<AuditedKey>,
    /// Active access keys of the root user (a finding: AWS's advice is to have none;
    /// the credential report counts them, nothing can list them but root).
    pub(crate) root_active_keys: usize,
    /// Those keys: their age and last use, from the report's root row.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) root_keys: Vec<RootKey>,
    /// Why the account could not be audited (a role that cannot be assumed, a denied
    /// report), if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    /// The error's kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error_kind: Option<ErrorKind>,
    /// The users' other long-lived credentials: console passwords, signing
    /// certificates, and with `--all-credentials` SSH public keys and service-specific
    /// credentials (see [`credentials`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) credentials: Vec<credentials::AuditedCredential>,
    /// With `--benchmark`: the verdict of each of its controls here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) compliance: Vec<benchmark::Verdict>,
}

/// An active access key of the root user.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct RootKey {
    /// When it was made (the report's last rotation).
    #[serde(with = "crate::time::serde_rfc3339")]
    #[schemars(with = "crate::time::Rfc3339")]
    pub(crate) created: SystemTime,
    /// Age in whole days.
    pub(crate) age_days: u64,
    /// Its last use, if any.
    pub(crate) last_used: Option<LastUse>,
    /// The benchmark controls it fails (CIS v3.0 1.4, v7.0 2.4, FSBP IAM.4).
    pub(crate) controls: Vec<&'static str>,
}

/// One access key.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct AuditedKey {
    /// The account.
    pub(crate) account: String,
    /// The IAM user.
    pub(crate) user: String,
    /// The key id.
    pub(crate) key_id: String,
    /// Whether IAM lists it Active.
    pub(crate) active: bool,
    /// When it was created.
    #[serde(with = "crate::time::serde_rfc3339")]
    #[schemars(with = "crate::time::Rfc3339")]
    pub(crate) created: SystemTime,
    /// Whole days since then.
    pub(crate) age_days: u64,
    /// Its last use (`None`: never used).
    pub(crate) last_used: Option<LastUse>,
    /// Whether rekey manages it: a record of rekey's names it (an old key awaiting
    /// deletion, or the key that replaced one: a tag on the user, or this machine's
    /// state dir), or this machine's rekey created it.
    pub(crate) managed: bool,
    /// When rekey deletes it (an old key it retired): until then an inactive key is
    /// scheduled, not a finding.
    #[serde(
        with = "crate::time::serde_rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<crate::time::Rfc3339>")]
    pub(crate) deletion_scheduled: Option<SystemTime>,
    /// What needs acting on, most severe first.
    pub(crate) findings: Vec<Finding>,
    /// The benchmark controls it fails, by their own thresholds (see
    /// [`findings::failed_controls`]): `CIS-3.0-1.14`, `FSBP-IAM.3`, ….
    pub(crate) controls: Vec<&'static str>,
    /// Findings a suppression (`--ignore`) covers: shown, not counted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) suppressed: Vec<suppress::Suppressed>,
}

/// Audits every account of `scope`, signed by `signer` of account `own` (`jobs` accounts
/// at once; `all`: every user's SSH public keys and service-specific credentials too);
/// the accounts in id order. Fails only if the accounts cannot be listed.
pub(crate) async fn audit(
    aws: &Aws,
    (signer, own): (&Caller, &str),
    scope: &Scope,
    limits: Thresholds,
    (jobs, all): (usize, bool),
    known: &Known,
) -> Result<Vec<AccountAudit>, Cause> {
    let own = own.to_owned();
    let targets: Vec<OrgAccount> = match scope {
        Scope::Own => vec![OrgAccount {
            id: own.clone(),
            name: String::new(),
            active: true,
        }],
        Scope::Accounts { ids, .. } => ids
            .iter()
            .map(|id| OrgAccount {
                id: id.clone(),
                name: String::new(),
                active: true,
            })
            .collect(),
        // Suspended and closing accounts have nothing to audit (and no role to assume).
        Scope::Organization { .. } => {
            let no_organization = || {
                Cause::new(
                    ErrorKind::SettingsConflict,
                    format!("--org: account {own}, which signs, is in no AWS Organizations organization (an organization lists at least its management account); audit it alone without --org, or name accounts with --accounts"),
                )
            };
            let listed = match aws.org_accounts(signer).await {
                Ok(listed) => listed,
                Err(e) if e.message.contains("AWSOrganizationsNotInUseException") => {
                    return Err(no_organization())
                }
                Err(e) => {
                    return Err(Cause::from(e).context("cannot list the organization's accounts"))
                }
            };
            if listed.is_empty() {
                return Err(no_organization());
            }
            listed.into_iter().filter(|a| a.active).collect()
        }
    };
    let role = match scope {
        Scope::Own => None,
        Scope::Accounts { role, .. } | Scope::Organization { role } => Some(role.as_str()),
    };
    let own = own.as_str();
    let mut audits: Vec<AccountAudit> = stream::iter(targets)
        .map(|target| async move {
            let name = (!target.name.is_empty()).then(|| target.name.clone());
            let result = match role {
                Some(role) if target.id != own => {
                    let arn = format!("arn:aws:iam::{}:role/{role}", target.id);
                    match aws.assume_role(signer, &arn, &target.id).await {
                        Ok(caller) => account(&caller, &target.id, (limits, all), known).await,
                        Err(e) => Err(Cause::from(e).context(format!("cannot assume {arn}"))),
                    }
                }
                _ => account(signer, &target.id, (limits, all), known).await,
            };
            match result {
                Ok(Audited {
                    keys,
                    root_keys,
                    credentials,
                }) => AccountAudit {
                    account: target.id,
                    name,
                    keys,
                    root_active_keys: root_keys.len(),
                    root_keys,
                    credentials,
                    compliance: Vec::new(),
                    error: None,
                    error_kind: None,
                },
                Err(cause) => AccountAudit {
                    account: target.id,
                    name,
                    keys: Vec::new(),
                    root_active_keys: 0,
                    root_keys: Vec::new(),
                    credentials: Vec::new(),
                    compliance: Vec::new(),
                    error: Some(cause.message),
                    error_kind: Some(cause.kind),
                },
            }
        })
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    audits.sort_by(|a, b| a.account.cmp(&b.account));
    Ok(audits)
}

/// What one account holds: its users' keys, its root user's active keys, the users'
/// other credentials.
struct Audited {
    keys: Vec<AuditedKey>,
    root_keys: Vec<RootKey>,
    credentials: Vec<credentials::AuditedCredential>,
}

/// One account's keys, and its root user's active keys, read as `caller` (of that
/// account).
async fn account(
    caller: &Caller,
    account: &str,
    (limits, all_credentials): (Thresholds, bool),
    known: &Known,
) -> Result<Audited, Cause> {
    let csv = caller
        .credential_report()
        .await
        .map_err(|e| Cause::from(e).context("cannot get IAM's credential report"))?;
    let mut report = report::read(&csv).map_err(|e| Cause::new(ErrorKind::Aws, e.to_string()))?;
    let now = crate::time::now();
    let with_keys = std::mem::take(&mut report.users);
    let per_user: Vec<Result<Vec<AuditedKey>, AwsError>> = stream::iter(with_keys)
        .map(|row| user_keys(caller, account, row, limits, now, known))
        .buffer_unordered(USERS_AT_ONCE)
        .collect()
        .await;
    let mut keys = Vec::new();
    for user in per_user {
        keys.extend(user?);
    }
    keys.sort_by(|a, b| (&a.user, a.created).cmp(&(&b.user, b.created)));
    let credentials =
        credentials::of_users(caller, account, &report, (limits, all_credentials), now)
            .await
            .map_err(Cause::from)?;
    let root = (report.root_keys.into_iter())
        .map(|k| RootKey {
            created: k.created,
            age_days: crate::time::since(k.created, now).as_secs() / 86_400,
            last_used: k.last_used.map(LastUse::from),
            controls: findings::ROOT_KEY_CONTROLS.to_vec(),
        })
        .collect();
    Ok(Audited {
        keys,
        root_keys: root,
        credentials,
    })
}

/// One user's keys (`ListAccessKeys`) and rekey's records of them (`ListUserTags`),
/// with the report's last uses.
async fn user_keys(
    caller: &Caller,
    account: &str,
    row: UserRow,
    limits: Thresholds,
    now: SystemTime,
    known: &Known,
) -> Result<Vec<AuditedKey>, AwsError> {
    // A user deleted since the report has nothing left to audit.
    let gone = |e: &AwsError| e.kind == AwsErrorKind::NoSuchEntity;
    let keys = match caller.list_keys(&row.user).await {
        Err(e) if gone(&e) => return Ok(Vec::new()),
        other => other?,
    };
    let tags = match caller.user_tags(&row.user).await {
        Err(e) if gone(&e) => return Ok(Vec::new()),
        other => other?,
    };
    // Only for a user with keys: AWS quarantines a user whose key it found exposed.
    let quarantined = match keys.is_empty() {
        true => false,
        false => match caller.attached_policies(&row.user).await {
            Err(e) if gone(&e) => return Ok(Vec::new()),
            other => other?.iter().any(|p| p.is_quarantine()),
        },
    };
    let owner = Owner {
        profile: String::new(),
        also: Vec::new(),
        account: account.to_owned(),
        user_arn: format!("arn:aws:iam::{account}:user/{}", row.user),
        user_name: row.user.clone(),
    };
    // IAM's tags (`state: iam`), and this machine's own records.
    let mut records = shared_pending::from_tags(&tags, &owner);
    let here: Vec<PendingDeletion> = (known.pending.iter())
        .filter(|p| {
            p.owner.account == owner.account
                && p.owner.user_name == owner.user_name
                && !records.iter().any(|r| r.key_id == p.key_id)
        })
        .cloned()
        .collect();
    records.extend(here);
    let record_of = |id: &str| records.iter().find(|r| r.key_id == id);
    let mut audited = Vec::new();
    for key in &keys {
        let other = keys.iter().find(|k| k.id != key.id);
        let last_used = match matching(&row.keys, &keys, key) {
            Some(reported) => reported.last_used.clone().map(LastUse::from),
            // Made after the report: asked directly.
            None => {
                let used = caller.last_used(&key.id).await?;
                used.date.map(|date| LastUse {
                    date,
                    service: used.service,
                    region: used.region,
                })
            }
        };
        let facts = Facts {
            active: key.active,
            created: key.created,
            last_used: last_used.as_ref().map(|u| u.date),
            other_active: other.is_some_and(|o| o.active),
            key_id: &key.id,
            other: other.map(|o| (o.id.as_str(), o.created)),
            record: record_of(&key.id),
            other_record: other.and_then(|o| record_of(&o.id)),
            quarantined,
        };
        audited.push(AuditedKey {
            account: account.to_owned(),
            user: row.user.clone(),
            key_id: key.id.clone(),
            active: key.active,
            created: key.created,
            age_days: now
                .duration_since(key.created)
                .unwrap_or_default()
                .as_secs()
                / 86_400,
            findings: findings::findings(&facts, limits, now),
            controls: findings::failed_controls(&facts, now),
            last_used,
            managed: managed(&records, &keys, &key.id) || known.created(&key.id),
            suppressed: Vec::new(),
            deletion_scheduled: record_of(&key.id)
                .filter(|r| r.overlap_since.is_none())
                .map(|r| r.delete_after),
        });
    }
    Ok(audited)
}

/// The report's key created when `key` was (the report has no ids, only creation
/// seconds). `None` when the second does not tell `key` from the user's other key (both
/// made in one second: each would get the other's last use), or is not in the report:
/// then IAM is asked for `key` by its id.
fn matching<'a>(
    reported: &'a [ReportKey],
    keys: &[KeyMeta],
    key: &KeyMeta,
) -> Option<&'a ReportKey> {
    let second = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
    };
    let same = |t: SystemTime| second(t) == second(key.created);
    let twins = keys.iter().filter(|k| same(k.created)).count() > 1
        || reported.iter().filter(|r| same(r.created)).count() > 1;
    match twins {
        true => None,
        false => reported.iter().find(|r| same(r.created)),
    }
}

/// What this machine's rekey knows of keys (its state dir): the old keys it retired
/// and awaits deleting, and which keys it created. `rekey audit` reads IAM; without
/// these, keys rekey just rotated read as unmanaged, and an old key whose deletion it
/// scheduled as "inactive, not deleted" (issue 31).
#[derive(Default)]
pub(crate) struct Known {
    /// Pending deletions recorded here.
    pub(crate) pending: Vec<PendingDeletion>,
    /// The state dir, where each key rekey created is recorded.
    pub(crate) state: Option<crate::state::StateDir>,
}

impl Known {
    /// Whether this machine's rekey created `key_id`.
    fn created(&self, key_id: &str) -> bool {
        let state = self.state.as_ref();
        state.is_some_and(|s| s.rotated_by(key_id).is_ok_and(|r| r.is_some()))
    }
}

/// Whether a record of rekey's names the key, as an old key or as its replacement.
fn managed(records: &[PendingDeletion], keys: &[KeyMeta], key_id: &str) -> bool {
    let created = |id: &str| {
        keys.iter()
            .find(|k| k.id == id)
            .map(|k| (k.id.as_str(), k.created))
    };
    // An overlap claim counts only where IAM's facts agree (a tag anyone may write).
    let plausible = |r: &PendingDeletion| match (r.overlap_since, r.replaced_by.as_deref()) {
        (None, _) => true,
        (Some(_), Some(new)) => match (created(&r.key_id), created(new)) {
            (Some(old), Some(new)) => findings::overlap_claim_holds(r, old, new),
            _ => false,
        },
        (Some(_), None) => false,
    };
    records
        .iter()
        .filter(|r| plausible(r))
        .any(|r| r.key_id == key_id || r.replaced_by.as_deref() == Some(key_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 35, defect (a): two keys made in one second are not told apart by the
    /// report; neither takes a row (IAM is asked for each by id instead).
    #[test]
    fn keys_made_in_one_second_take_no_report_row() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let meta = |id: &str, created: SystemTime| KeyMeta {
            id: id.into(),
            active: true,
            created,
        };
        let row = |created: SystemTime| ReportKey {
            created,
            last_used: None,
        };
        let (a, b) = (meta("AKIAA", at), meta("AKIAB", at));
        let reported = [row(at), row(at)];
        assert!(matching(&reported, &[a.clone(), b.clone()], &a).is_none());
        // A second apart, each finds its own.
        let later = at + std::time::Duration::from_secs(1);
        let c = meta("AKIAC", later);
        let reported = [row(at), row(later)];
        assert_eq!(
            matching(&reported, &[a.clone(), c.clone()], &c),
            Some(&reported[1])
        );
        assert_eq!(matching(&reported, &[a.clone(), c], &a), Some(&reported[0]));
    }
}
