//! IAM's credential report (CSV): which users have access keys, each key's state,
//! creation and last use, for a whole account in one call. `rekey audit` asks IAM about
//! those users only.

use std::time::SystemTime;

use crate::engine::rotation::plan::LastUse;

/// One user's row: the user and the (up to two) keys the report describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserRow {
    /// The IAM user name.
    pub(crate) user: String,
    /// Key 1 and key 2, as far as they exist.
    pub(crate) keys: Vec<ReportKey>,
}

/// A key as the report describes it: no id (the report has none), matched to
/// `ListAccessKeys` by its creation time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReportKey {
    /// When it was created (the report's `last_rotated`).
    pub(crate) created: SystemTime,
    /// Its last use (`None`: never used).
    pub(crate) last_used: Option<LastUseOf>,
}

/// A last use as the report gives it (service and region may be unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LastUseOf {
    /// When.
    pub(crate) date: SystemTime,
    /// Which service.
    pub(crate) service: Option<String>,
    /// Which region.
    pub(crate) region: Option<String>,
}

impl From<LastUseOf> for LastUse {
    fn from(used: LastUseOf) -> Self {
        LastUse {
            date: used.date,
            service: used.service,
            region: used.region,
        }
    }
}

/// Why a report could not be read.
#[derive(Debug, thiserror::Error)]
#[error("IAM's credential report is not the CSV rekey knows: {0}")]
pub(crate) struct ReportError(String);

/// A console password as the report describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReportPassword {
    /// The user.
    pub(crate) user: String,
    /// When it was last set (`password_last_changed`; else the user's creation).
    pub(crate) changed: Option<SystemTime>,
    /// When it was last used to sign in (`None`: never, or no information).
    pub(crate) last_used: Option<SystemTime>,
    /// Whether the user has an MFA device.
    pub(crate) mfa: bool,
}

/// What the report says of an account's keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Report {
    /// The users with a console password.
    pub(crate) passwords: Vec<ReportPassword>,
    /// The users with an active signing certificate (the report gives no id).
    pub(crate) with_certificates: Vec<String>,
    /// Every user (the root user aside).
    pub(crate) all_users: Vec<String>,
    /// The users with at least one access key.
    pub(crate) users: Vec<UserRow>,
    /// How many access keys of the root user are active (its keys cannot be listed as a
    /// user's; AWS's advice is to have none).
    pub(crate) root_active_keys: usize,
    /// The root user's active keys, as the report's row has them.
    pub(crate) root_keys: Vec<ReportKey>,
}

/// Reads the report: the users with at least one access key, and the root user's
/// active keys.
pub(crate) fn read(csv_text: &[u8]) -> Result<Report, ReportError> {
    let mut reader = csv::Reader::from_reader(csv_text);
    let headers = reader
        .headers()
        .map_err(|e| ReportError(e.to_string()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| ReportError(format!("no column `{name}`")))
    };
    let user_at = column("user")?;
    let active_at = [
        column("access_key_1_active")?,
        column("access_key_2_active")?,
    ];
    let mut key_columns = Vec::new();
    for n in [1, 2] {
        key_columns.push([
            column(&format!("access_key_{n}_last_rotated"))?,
            column(&format!("access_key_{n}_last_used_date"))?,
            column(&format!("access_key_{n}_last_used_service"))?,
            column(&format!("access_key_{n}_last_used_region"))?,
        ]);
    }
    // The other credentials' columns: read where they are.
    let optional = |name: &str| headers.iter().position(|h| h == name);
    let password_at = optional("password_enabled");
    let password_columns = [
        optional("password_last_changed"),
        optional("password_last_used"),
        optional("user_creation_time"),
        optional("mfa_active"),
    ];
    let certificate_at = [optional("cert_1_active"), optional("cert_2_active")];
    let mut report = Report::default();
    for record in reader.records() {
        let record = record.map_err(|e| ReportError(e.to_string()))?;
        let field = |at: usize| record.get(at).unwrap_or_default();
        let column = |at: Option<usize>| at.map(field).unwrap_or_default();
        let user = field(user_at);
        if user != "<root_account>" {
            report.all_users.push(user.to_owned());
        }
        if user != "<root_account>" && column(password_at) == "true" {
            let [changed, used, created, mfa] = password_columns;
            report.passwords.push(ReportPassword {
                user: user.to_owned(),
                changed: time(column(changed)).or_else(|| time(column(created))),
                last_used: time(column(used)),
                mfa: column(mfa) == "true",
            });
        }
        if user != "<root_account>" && certificate_at.iter().any(|at| column(*at) == "true") {
            report.with_certificates.push(user.to_owned());
        }
        if user == "<root_account>" {
            report.root_active_keys = active_at.iter().filter(|at| field(**at) == "true").count();
            report.root_keys = (active_at.iter().zip(&key_columns))
                .filter(|(active, _)| field(**active) == "true")
                .filter_map(|(_, [rotated, used, service, region])| {
                    Some(ReportKey {
                        created: time(field(*rotated))?,
                        last_used: time(field(*used)).map(|date| LastUseOf {
                            date,
                            service: known(field(*service)),
                            region: known(field(*region)),
                        }),
                    })
                })
                .collect();
            continue;
        }
        let keys: Vec<ReportKey> = key_columns
            .iter()
            .filter_map(|[rotated, used, service, region]| {
                let created = time(field(*rotated))?;
                let last_used = time(field(*used)).map(|date| LastUseOf {
                    date,
                    service: known(field(*service)),
                    region: known(field(*region)),
                });
                Some(ReportKey { created, last_used })
            })
            .collect();
        if !keys.is_empty() {
            report.users.push(UserRow {
                user: user.to_owned(),
                keys,
            });
        }
    }
    Ok(report)
}

/// A report time (`2026-12-05T09:57:22+00:00`); `N/A`, `no_information` and the like
/// are none.
fn time(text: &str) -> Option<SystemTime> {
    crate::time::parse_rfc3339(text)
}

/// A service or region the report knows (`N/A`, `not_supported`: not).
fn known(text: &str) -> Option<String> {
    match text {
        "" | "N/A" | "not_supported" | "no_information" => None,
        known => Some(known.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

    #[test]
    fn reads_the_users_with_keys_and_each_keys_dates() {
        let text = format!(
            "{HEADER}\n\
             <root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,2026-01-01T00:00:00+00:00,not_supported,not_supported,true,true,2021-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n\
             alice,arn:aws:iam::123456789012:user/alice,2024-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2026-01-02T03:04:05+00:00,2026-11-30T10:00:00+00:00,eu-west-1,s3,false,2025-06-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A\n\
             bob,arn:aws:iam::123456789012:user/bob,2024-01-01T00:00:00+00:00,true,2026-11-30T10:00:00+00:00,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n\
             carol,arn:aws:iam::123456789012:user/carol,2024-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2026-12-01T00:00:00+00:00,2026-12-02T00:00:00+00:00,not_supported,not_supported,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
        );
        let report = read(text.as_bytes()).unwrap();
        assert_eq!(report.root_active_keys, 1, "the root user's active key");
        assert_eq!(report.root_keys.len(), 1, "with its creation");
        assert!(report.root_keys[0].last_used.is_none(), "never used (N/A)");
        let users = &report.users;
        let names: Vec<&str> = users.iter().map(|u| u.user.as_str()).collect();
        assert_eq!(names, ["alice", "carol"], "root and bob (no key) left out");
        let alice = &users[0];
        assert_eq!(alice.keys.len(), 2);
        let used = alice.keys[0].last_used.clone().unwrap();
        assert_eq!(used.service.as_deref(), Some("s3"));
        assert_eq!(used.region.as_deref(), Some("eu-west-1"));
        assert_eq!(crate::time::rfc3339(used.date), "2026-11-30T10:00:00Z");
        assert_eq!(
            crate::time::rfc3339(alice.keys[0].created),
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(alice.keys[1].last_used, None, "never used");
        let carol = users[1].keys[0].last_used.clone().unwrap();
        assert_eq!((carol.service, carol.region), (None, None));
    }

    #[test]
    fn a_report_without_its_columns_is_an_error() {
        assert!(read(b"user,arn\nalice,x\n").is_err());
    }
}
