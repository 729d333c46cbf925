//! What `rekey audit` prints: a table for people (most severe first), one JSON document,
//! or CSV (a row per key).

use std::fmt::Write;

use serde::Serialize;

use crate::engine::audit::credentials::CredentialKind;
use crate::engine::audit::findings::Finding;
use crate::engine::audit::{AccountAudit, AuditedKey};
use crate::time;

/// What `rekey audit --output json` prints.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct AuditReport {
    /// Always 1.
    pub(crate) schema: u32,
    /// `--benchmark`: whose thresholds these are and whose controls each account's
    /// `compliance` judges.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) benchmark: Option<crate::engine::audit::benchmark::Benchmark>,
    /// The thresholds the findings used, in days.
    pub(crate) max_age_days: u64,
    /// Days without use that count as unused.
    pub(crate) unused_days: u64,
    /// One per account, in id order; an account that could not be audited has `error`.
    pub(crate) accounts: Vec<AccountAudit>,
    /// With `--push security-hub`: what the hub took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) security_hub: Option<crate::aws::securityhub::Pushed>,
}

impl AuditReport {
    /// Every key, most severe first (then oldest first).
    pub(crate) fn keys_by_severity(&self) -> Vec<&AuditedKey> {
        let mut keys: Vec<&AuditedKey> = self.accounts.iter().flat_map(|a| &a.keys).collect();
        let worst = |k: &AuditedKey| k.findings.first().copied();
        keys.sort_by(|a, b| match (worst(a), worst(b)) {
            (Some(x), Some(y)) if x != y => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            _ => b.age_days.cmp(&a.age_days),
        });
        keys
    }

    /// Whether any key has a finding (a root user's active key included).
    pub(crate) fn has_findings(&self) -> bool {
        self.accounts.iter().any(|a| a.root_active_keys > 0)
            || (self.accounts.iter().flat_map(|a| &a.credentials)).any(|c| !c.findings.is_empty())
            || self
                .accounts
                .iter()
                .flat_map(|a| &a.keys)
                .any(|k| !k.findings.is_empty())
    }

    /// The accounts that could not be audited.
    pub(crate) fn unreachable(&self) -> Vec<&AccountAudit> {
        self.accounts.iter().filter(|a| a.error.is_some()).collect()
    }
}

/// The table for people.
pub(crate) fn table(report: &AuditReport) -> String {
    let header = [
        "ACCOUNT",
        "USER",
        "KEY",
        "STATUS",
        "AGE",
        "LAST USED",
        "REKEY",
        "FINDINGS",
    ]
    .map(str::to_owned);
    let rows: Vec<[String; 8]> = report
        .keys_by_severity()
        .into_iter()
        .map(|k| {
            [
                k.account.clone(),
                k.user.clone(),
                k.key_id.clone(),
                if k.active { "Active" } else { "Inactive" }.to_owned(),
                age_cell(k.created),
                k.last_used.as_ref().map_or_else(
                    || "never".to_owned(),
                    |u| {
                        let place: Vec<&str> = [u.service.as_deref(), u.region.as_deref()]
                            .into_iter()
                            .flatten()
                            .collect();
                        match place.is_empty() {
                            true => time::date(u.date),
                            false => format!("{} ({})", time::date(u.date), place.join(", ")),
                        }
                    },
                ),
                if k.managed { "yes" } else { "no" }.to_owned(),
                match k.controls.is_empty() {
                    true => findings(&k.findings),
                    false => format!("{} [{}]", findings(&k.findings), k.controls.join(" ")),
                },
            ]
        })
        .collect();
    let mut widths = [0; 8];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    root_lines(&mut out, report);
    credential_lines(&mut out, report);
    compliance_lines(&mut out, report);
    if let Some(pushed) = &report.security_hub {
        let _ = writeln!(out, "{}", pushed_line(pushed));
    }
    for account in report.unreachable() {
        let _ = writeln!(
            out,
            "account {} NOT AUDITED: {}",
            account.account,
            account.error.as_deref().unwrap_or_default()
        );
    }
    let flagged = report
        .accounts
        .iter()
        .flat_map(|a| &a.keys)
        .filter(|k| !k.findings.is_empty())
        .count();
    let accounts = |n: usize| crate::report::count(n, "account");
    let mut tail = String::new();
    match report
        .accounts
        .iter()
        .filter(|a| a.root_active_keys > 0)
        .count()
    {
        0 => {}
        n => tail.push_str(&format!("; root access keys in {}", accounts(n))),
    }
    match report.unreachable().len() {
        0 => {}
        n => tail.push_str(&format!("; {} not audited", accounts(n))),
    }
    let _ = writeln!(
        out,
        "\n{}, {}, {flagged} with findings (max age {} d, unused {} d){tail}",
        accounts(report.accounts.len()),
        crate::report::count(rows.len(), "key"),
        report.max_age_days,
        report.unused_days,
    );
    out
}

fn findings(found: &[Finding]) -> String {
    let told: Vec<&str> = found.iter().map(|f| f.describe()).collect();
    match told.is_empty() {
        true => "-".to_owned(),
        false => told.join(", "),
    }
}

/// A cell a spreadsheet will not run: IAM lets a user name start with `=`, `+`, `-` or
/// `@`, which Excel and LibreOffice read as a formula (CSV injection), so such a cell
/// (and one starting with a tab or CR) gets a leading `'`, as OWASP advises. The JSON
/// output keeps the name exact.
fn inert_cell(text: &str) -> String {
    match text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        true => format!("'{text}"),
        false => text.to_owned(),
    }
}

/// CSV: a header, then a row per key (most severe first); findings joined by `;`.
pub(crate) fn csv(report: &AuditReport) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "account",
        "user",
        "key_id",
        "status",
        "created",
        "age_days",
        "last_used",
        "last_used_service",
        "last_used_region",
        "managed",
        "findings",
        "error",
        "suppressed",
        "controls",
        "credential",
    ])?;
    for k in report.keys_by_severity() {
        let used = k.last_used.as_ref();
        let findings: Vec<String> = k.findings.iter().map(|f| name(*f)).collect();
        writer.write_record([
            k.account.clone(),
            inert_cell(&k.user),
            k.key_id.clone(),
            if k.active { "Active" } else { "Inactive" }.to_owned(),
            time::rfc3339(k.created),
            k.age_days.to_string(),
            used.map(|u| time::rfc3339(u.date)).unwrap_or_default(),
            inert_cell(&used.and_then(|u| u.service.clone()).unwrap_or_default()),
            inert_cell(&used.and_then(|u| u.region.clone()).unwrap_or_default()),
            k.managed.to_string(),
            findings.join(";"),
            String::new(),
            (k.suppressed.iter())
                .map(|s| name(s.finding))
                .collect::<Vec<_>>()
                .join(";"),
            k.controls.join(";"),
            "access_key".to_owned(),
        ])?;
    }
    for c in report.accounts.iter().flat_map(|a| &a.credentials) {
        let findings: Vec<String> = c.findings.iter().map(|f| name(*f)).collect();
        writer.write_record([
            c.account.clone(),
            inert_cell(&c.user),
            c.id.clone().unwrap_or_default(),
            if c.active { "Active" } else { "Inactive" }.to_owned(),
            c.created.map(time::rfc3339).unwrap_or_default(),
            c.age_days.map(|d| d.to_string()).unwrap_or_default(),
            c.last_used.map(time::rfc3339).unwrap_or_default(),
            String::new(),
            String::new(),
            "false".to_owned(),
            findings.join(";"),
            String::new(),
            (c.suppressed.iter())
                .map(|s| name(s.finding))
                .collect::<Vec<_>>()
                .join(";"),
            c.controls.join(";"),
            kind_name(c.kind),
        ])?;
    }
    // The root user's keys and the accounts not audited are rows too: a spreadsheet of
    // the findings must not lose the most severe ones.
    for account in &report.accounts {
        for key in &account.root_keys {
            let used = key.last_used.as_ref();
            writer.write_record([
                account.account.clone(),
                "<root_account>".to_owned(),
                String::new(),
                "Active".to_owned(),
                time::rfc3339(key.created),
                key.age_days.to_string(),
                used.map(|u| time::rfc3339(u.date)).unwrap_or_default(),
                inert_cell(&used.and_then(|u| u.service.clone()).unwrap_or_default()),
                inert_cell(&used.and_then(|u| u.region.clone()).unwrap_or_default()),
                "false".to_owned(),
                "root_active_key".to_owned(),
                String::new(),
                String::new(),
                key.controls.join(";"),
                "access_key".to_owned(),
            ])?;
        }
    }
    for account in report.unreachable() {
        let mut row = vec![String::new(); 15];
        row[0] = account.account.clone();
        row[10] = "not_audited".to_owned();
        row[11] = inert_cell(account.error.as_deref().unwrap_or_default());
        writer.write_record(&row)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A line per other credential (console password, signing certificate) with findings.
fn credential_lines(out: &mut String, report: &AuditReport) {
    for c in report.accounts.iter().flat_map(|a| &a.credentials) {
        if c.findings.is_empty() {
            continue;
        }
        let what = match (c.kind, &c.id) {
            (CredentialKind::ConsolePassword, _) => "console password".to_owned(),
            (CredentialKind::SigningCertificate, id) => {
                format!("signing certificate {}", id.as_deref().unwrap_or("?"))
            }
            (CredentialKind::SshPublicKey, id) => {
                format!("SSH public key {}", id.as_deref().unwrap_or("?"))
            }
            (CredentialKind::ServiceSpecificCredential, id) => format!(
                "{} credential {}",
                c.service.as_deref().unwrap_or("service-specific"),
                id.as_deref().unwrap_or("?")
            ),
        };
        let controls = match c.controls.is_empty() {
            true => String::new(),
            false => format!(" [{}]", c.controls.join(" ")),
        };
        let _ = writeln!(
            out,
            "account {} user {}: {what}: {}{controls}",
            c.account,
            c.user,
            findings(&c.findings)
        );
    }
}

/// A credential kind's name in the CSV (`console_password`).
fn kind_name(kind: CredentialKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// What a push to Security Hub did, for people.
pub(crate) fn pushed_line(pushed: &crate::aws::securityhub::Pushed) -> String {
    let mut line = format!(
        "Security Hub ({}): {} imported, {} of earlier runs resolved",
        pushed.product_arn,
        crate::report::count(pushed.imported, "finding"),
        pushed.resolved
    );
    if !pushed.failed.is_empty() {
        line.push_str(&format!(", {} refused", pushed.failed.len()));
    }
    line
}

/// With `--benchmark`: per account, how many controls pass, and a line per failing
/// control with the keys that fail it.
fn compliance_lines(out: &mut String, report: &AuditReport) {
    use crate::engine::audit::benchmark::Status;
    let Some(benchmark) = report.benchmark else {
        return;
    };
    let name = match benchmark {
        crate::engine::audit::benchmark::Benchmark::Cis => "CIS AWS Foundations",
        crate::engine::audit::benchmark::Benchmark::Fsbp => "AWS FSBP",
    };
    for account in report.accounts.iter().filter(|a| !a.compliance.is_empty()) {
        let verdicts = &account.compliance;
        let passed = verdicts.iter().filter(|v| v.status == Status::Pass).count();
        let _ = writeln!(
            out,
            "account {} {name}: {passed} of {} controls pass",
            account.account,
            verdicts.len()
        );
        for verdict in verdicts.iter().filter(|v| v.status == Status::Fail) {
            let _ = writeln!(
                out,
                "  FAIL {} {} ({}: {})",
                verdict.control,
                verdict.title,
                crate::report::count(verdict.failing.len(), "key"),
                verdict.failing.join(", ")
            );
        }
    }
}

/// A line per account whose root user has an active access key.
fn root_lines(out: &mut String, report: &AuditReport) {
    for account in report.accounts.iter().filter(|a| a.root_active_keys > 0) {
        let keys: Vec<String> = (account.root_keys.iter())
            .map(|k| {
                let used = k.last_used.as_ref().map_or_else(
                    || "never used".to_owned(),
                    |u| format!("last used {}", time::date(u.date)),
                );
                format!(
                    "made {}, {}d old, {used}",
                    time::date(k.created),
                    k.age_days
                )
            })
            .collect();
        let detail = match keys.is_empty() {
            true => String::new(),
            false => format!(" ({})", keys.join("; ")),
        };
        let _ = writeln!(
            out,
            "account {} ROOT USER HAS {}{detail}: delete them (root needs no access key; AWS's advice)",
            account.account,
            crate::report::count(account.root_active_keys, "active access key")
        );
    }
}

/// A finding's name in the JSON and CSV (`two_active_keys`).
fn name(finding: crate::engine::audit::findings::Finding) -> String {
    serde_json::to_value(finding)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A key's age as the findings judge it: whole days, and the hours past them (a key
/// 90 days and 12 hours old is past a 90-day limit, and shows it).
fn age_cell(created: std::time::SystemTime) -> String {
    let hours = time::since(created, time::now()).as_secs() / 3600;
    match (hours / 24, hours % 24) {
        (days, 0) => format!("{days}d"),
        (0, h) => format!("{h}h"),
        (days, h) => format!("{days}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cell_a_spreadsheet_would_run_is_made_inert() {
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(super::inert_cell(formula), format!("'{formula}"));
        }
        assert_eq!(super::inert_cell("deploy-bot"), "deploy-bot");
        assert_eq!(super::inert_cell(""), "");
    }
}
