//! Suppressions (`rekey audit --ignore FILE`): a finding a team has reviewed and
//! accepted (a break-glass user's second key) stops counting, with a reason and an
//! expiry, as every scanner's ignore file works. A suppressed finding is never dropped:
//! it moves from `findings` to `suppressed`, where JSON and CSV still show it; it no
//! longer counts for `--detailed-exitcode`. A suppression past its expiry suppresses
//! nothing and is a finding of its own (`expired_suppression`) on the keys it names.
//!
//! The file is YAML, a list of entries:
//!
//! ```yaml
//! - user: break-glass            # any of account, user, key_id; all given must match
//!   finding: two_active_keys     # omitted: every finding of those keys
//!   reason: reviewed quarterly by the security team
//!   expires: 2027-03-31          # required: nothing is suppressed for ever
//! ```

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::findings::Finding;
use super::AccountAudit;

/// One entry of the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Suppression {
    /// The account it is limited to.
    #[serde(default)]
    pub(crate) account: Option<String>,
    /// The IAM user it is limited to.
    #[serde(default)]
    pub(crate) user: Option<String>,
    /// The key it is limited to.
    #[serde(default)]
    pub(crate) key_id: Option<String>,
    /// The finding it suppresses (`None`: every finding).
    #[serde(default)]
    pub(crate) finding: Option<Finding>,
    /// Why (required: a suppression nobody can explain is a finding hidden).
    pub(crate) reason: String,
    /// The last day it holds (`YYYY-MM-DD`, UTC).
    pub(crate) expires: String,
}

/// A finding a suppression covers, as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub(crate) struct Suppressed {
    /// The finding.
    pub(crate) finding: Finding,
    /// The suppression's reason.
    pub(crate) reason: String,
    /// Its expiry.
    pub(crate) expires: String,
}

/// Why a suppressions file cannot be used (nothing is audited then).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SuppressionError {
    /// Not the YAML above.
    #[error("{0}")]
    Malformed(String),
    /// An entry names nothing to match.
    #[error(
        "suppression {0} names no account, user or key_id: it would hide the finding everywhere"
    )]
    Unbounded(usize),
    /// An expiry that is not a date.
    #[error("suppression {0}: expires `{1}` is not a date (YYYY-MM-DD)")]
    BadDate(usize, String),
}

/// Reads the suppressions in `text` (YAML).
pub(crate) fn parse(text: &str) -> Result<Vec<Suppression>, SuppressionError> {
    let entries: Vec<Suppression> =
        serde_saphyr::from_str(text).map_err(|e| SuppressionError::Malformed(e.to_string()))?;
    for (n, entry) in entries.iter().enumerate() {
        if entry.account.is_none() && entry.user.is_none() && entry.key_id.is_none() {
            return Err(SuppressionError::Unbounded(n + 1));
        }
        if end_of(&entry.expires).is_none() {
            return Err(SuppressionError::BadDate(n + 1, entry.expires.clone()));
        }
    }
    Ok(entries)
}

/// The end of `date`'s day (UTC), when a suppression stops holding.
fn end_of(date: &str) -> Option<SystemTime> {
    let start = crate::time::parse_rfc3339(&format!("{date}T00:00:00Z"))?;
    Some(start + std::time::Duration::from_secs(86_400))
}

/// Applies `rules` at `now` to every key of `accounts` (see the module docs).
pub(crate) fn apply(accounts: &mut [AccountAudit], rules: &[Suppression], now: SystemTime) {
    let bounds = |r: &&Suppression, account: &str, user: &str| {
        r.account.as_ref().is_none_or(|a| a == account) && r.user.as_ref().is_none_or(|u| u == user)
    };
    for key in accounts.iter_mut().flat_map(|a| a.keys.iter_mut()) {
        let concerned = rules.iter().filter(|r| {
            bounds(r, &key.account, &key.user) && r.key_id.as_ref().is_none_or(|k| *k == key.key_id)
        });
        suppress(&mut key.findings, &mut key.suppressed, concerned, now);
    }
    // A user's other credentials: by account and user (a key id names a key only).
    for credential in accounts.iter_mut().flat_map(|a| a.credentials.iter_mut()) {
        let concerned = rules
            .iter()
            .filter(|r| bounds(r, &credential.account, &credential.user) && r.key_id.is_none());
        suppress(
            &mut credential.findings,
            &mut credential.suppressed,
            concerned,
            now,
        );
    }
}

/// Moves the `findings` the `concerned` rules cover to `suppressed`; an expired rule
/// among them is the finding `expired_suppression`.
fn suppress<'a>(
    findings: &mut Vec<Finding>,
    suppressed: &mut Vec<Suppressed>,
    concerned: impl Iterator<Item = &'a Suppression>,
    now: SystemTime,
) {
    let mut expired = false;
    for rule in concerned {
        if end_of(&rule.expires).is_none_or(|end| end <= now) {
            expired = true;
            continue;
        }
        let (hidden, kept): (Vec<Finding>, Vec<Finding>) = std::mem::take(findings)
            .into_iter()
            .partition(|f| rule.finding.is_none_or(|only| only == *f));
        *findings = kept;
        suppressed.extend(hidden.into_iter().map(|finding| Suppressed {
            finding,
            reason: rule.reason.clone(),
            expires: rule.expires.clone(),
        }));
    }
    if expired && !findings.contains(&Finding::ExpiredSuppression) {
        findings.push(Finding::ExpiredSuppression);
        findings.sort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_bounds_or_dates_is_refused() {
        assert!(matches!(
            parse("- reason: r\n  expires: 2027-01-01\n"),
            Err(SuppressionError::Unbounded(1))
        ));
        assert!(matches!(
            parse("- user: u\n  reason: r\n  expires: soon\n"),
            Err(SuppressionError::BadDate(1, _))
        ));
        assert!(
            parse("- user: u\n  reason: r\n").is_err(),
            "an expiry is required"
        );
        let ok =
            parse("- user: u\n  finding: two_active_keys\n  reason: r\n  expires: 2027-01-01\n");
        assert_eq!(ok.unwrap()[0].finding, Some(Finding::TwoActiveKeys));
    }
}
