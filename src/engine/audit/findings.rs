//! What `rekey audit` raises about a key: pure rules over IAM's facts and rekey's
//! records (a record alone never makes a key look fine: its dates are checked against
//! the key as IAM lists it).

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::state::PendingDeletion;

/// A key never used is raised once it is older than this (a key made a minute ago has
/// had no chance to be used).
pub(crate) const NEW_KEY: Duration = Duration::from_secs(24 * 3600);

/// Something to act on, most severe first (the order sorts the table).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Finding {
    /// AWS quarantined the key's user (`AWSCompromisedKeyQuarantine*` attached): it found
    /// one of the user's keys exposed. First: nothing is more urgent.
    QuarantinedUser,
    /// The user has two active keys (outside a rotation's overlap period).
    TwoActiveKeys,
    /// A console password whose user has no MFA device.
    PasswordWithoutMfa,
    /// An active key older than `--max-age`.
    PastMaxAge,
    /// An old key rekey scheduled for deletion (or deactivation) is still there after
    /// its date: no prune ran.
    OverdueDeletion,
    /// An active key not used for `--unused`.
    Unused,
    /// An active key never used (older than a day).
    NeverUsed,
    /// An inactive key nobody deletes (rekey has no record of it).
    InactiveNotDeleted,
    /// A suppression (`--ignore`) of the key's findings is past its expiry: review it.
    ExpiredSuppression,
}

impl Finding {
    /// For people.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Finding::QuarantinedUser => "user quarantined by AWS (a key was exposed)",
            Finding::TwoActiveKeys => "two active keys",
            Finding::PastMaxAge => "past max age",
            Finding::OverdueDeletion => "overdue deletion",
            Finding::Unused => "unused",
            Finding::NeverUsed => "never used",
            Finding::InactiveNotDeleted => "inactive, not deleted",
            Finding::PasswordWithoutMfa => "console password without MFA",
            Finding::ExpiredSuppression => "suppression expired",
        }
    }
}

/// The thresholds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thresholds {
    /// `--max-age`.
    pub(crate) max_age: Duration,
    /// `--unused`.
    pub(crate) unused: Duration,
}

/// One key's facts.
#[derive(Debug, Clone)]
pub(crate) struct Facts<'a> {
    /// Whether IAM lists it Active.
    pub(crate) active: bool,
    /// When it was created.
    pub(crate) created: SystemTime,
    /// When it was last used.
    pub(crate) last_used: Option<SystemTime>,
    /// Whether the user's other key is active.
    pub(crate) other_active: bool,
    /// Its id.
    pub(crate) key_id: &'a str,
    /// The user's other key's id and creation, if it has one.
    pub(crate) other: Option<(&'a str, SystemTime)>,
    /// rekey's record of it as an old key (a tag on the user), if any.
    pub(crate) record: Option<&'a PendingDeletion>,
    /// rekey's record of the user's other key, if any.
    pub(crate) other_record: Option<&'a PendingDeletion>,
    /// Whether AWS quarantined the user.
    pub(crate) quarantined: bool,
}

/// The benchmark controls a key fails, by the benchmarks' own thresholds (not
/// `--max-age` or `--unused`), so `audit` answers "are we compliant" beside "what to
/// act on". The ids are the CIS AWS Foundations Benchmark's (v3.0 and v7.0, which
/// renumbered the access-key controls and dropped "one active key") and AWS
/// Foundational Security Best Practices' (FSBP), as Prowler maps them:
/// - key older than 90 days: CIS v3.0 1.14, v7.0 2.12, FSBP IAM.3;
/// - active and unused (or never used) for 45 days: CIS v3.0 1.12, v7.0 2.11, FSBP
///   IAM.22; for 90 days: FSBP IAM.8 too;
/// - two active keys: CIS v3.0 1.13.
///
/// (A root access key fails CIS v3.0 1.4, v7.0 2.4 and FSBP IAM.4: [`ROOT_KEY_CONTROLS`].)
pub(crate) fn failed_controls(key: &Facts<'_>, now: SystemTime) -> Vec<&'static str> {
    const DAY: u64 = 86_400;
    let age = |t: SystemTime| now.duration_since(t).unwrap_or_default().as_secs() / DAY;
    let mut failed = Vec::new();
    if !key.active {
        return failed;
    }
    if age(key.created) > 90 {
        failed.extend(["CIS-3.0-1.14", "CIS-7.0-2.12", "FSBP-IAM.3"]);
    }
    // Unused since its last use, or since its creation if never used.
    failed.extend(unused_controls(age(key.last_used.unwrap_or(key.created))));
    if key.other_active {
        failed.push("CIS-3.0-1.13");
    }
    failed
}

/// The unused-credential controls a credential idle for `days` whole days fails: 45
/// days, CIS v3.0 1.12, v7.0 2.11, FSBP IAM.22; 90 days, FSBP IAM.8 too.
pub(crate) fn unused_controls(days: u64) -> Vec<&'static str> {
    let mut failed = Vec::new();
    if days >= 45 {
        failed.extend(["CIS-3.0-1.12", "CIS-7.0-2.11", "FSBP-IAM.22"]);
    }
    if days >= 90 {
        failed.push("FSBP-IAM.8");
    }
    failed
}

/// The controls an active root access key fails (see [`failed_controls`]).
pub(crate) const ROOT_KEY_CONTROLS: &[&str] = &["CIS-3.0-1.4", "CIS-7.0-2.4", "FSBP-IAM.4"];

/// The longest overlap period an overlap claim may state and still count: a longer
/// one is not rekey's doing (a hand-written tag), and two active keys are then a finding.
pub(crate) const OVERLAP_CAP: Duration = Duration::from_secs(30 * 86_400);

/// Whether `record`'s overlap claim about the old key `old` (id, creation), replaced by
/// `new`, agrees with IAM's facts: it names `new` as the replacement, `new` is the
/// newer key, and the overlap it states is no longer than [`OVERLAP_CAP`] (as prune
/// requires before it acts on one).
pub(crate) fn overlap_claim_holds(
    record: &PendingDeletion,
    (old_id, old_created): (&str, SystemTime),
    (new_id, new_created): (&str, SystemTime),
) -> bool {
    let Some(since) = record.overlap_since else {
        return false;
    };
    let span = record
        .deactivated_at
        .duration_since(since)
        .unwrap_or(Duration::MAX);
    record.key_id == old_id
        && record.replaced_by.as_deref() == Some(new_id)
        && new_created > old_created
        && span <= OVERLAP_CAP
}

/// The findings for one key at `now`, most severe first.
pub(crate) fn findings(key: &Facts<'_>, limits: Thresholds, now: SystemTime) -> Vec<Finding> {
    let age = |t: SystemTime| now.duration_since(t).unwrap_or_default();
    let mut found = Vec::new();
    if key.quarantined {
        found.push(Finding::QuarantinedUser);
    }
    // An overlap period keeps two keys active on purpose, until its end: when IAM's
    // facts agree with the record (a tag anyone with iam:TagUser can write).
    let this = (key.key_id, key.created);
    let mine = key.record.filter(|r| {
        key.other
            .is_some_and(|other| overlap_claim_holds(r, this, other))
    });
    let theirs = key.other.and_then(|other| {
        key.other_record
            .filter(|r| overlap_claim_holds(r, other, this))
    });
    let in_overlap =
        |record: Option<&PendingDeletion>| record.is_some_and(|r| r.deactivated_at > now);
    if key.active && key.other_active && !in_overlap(mine) && !in_overlap(theirs) {
        found.push(Finding::TwoActiveKeys);
    }
    if key.active && age(key.created) > limits.max_age {
        found.push(Finding::PastMaxAge);
    }
    match key.record {
        Some(r) if key.active && r.overlap_since.is_some() && r.deactivated_at <= now => {
            found.push(Finding::OverdueDeletion)
        }
        Some(r) if !key.active && r.delete_after <= now => found.push(Finding::OverdueDeletion),
        _ => {}
    }
    match key.last_used {
        Some(used) if key.active && age(used) > limits.unused => found.push(Finding::Unused),
        None if key.active && age(key.created) > NEW_KEY => found.push(Finding::NeverUsed),
        _ => {}
    }
    if !key.active && key.record.is_none() {
        found.push(Finding::InactiveNotDeleted);
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Owner;

    const DAY: Duration = Duration::from_secs(86_400);

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + 1000 * DAY
    }

    fn limits() -> Thresholds {
        Thresholds {
            max_age: 90 * DAY,
            unused: 30 * DAY,
        }
    }

    fn key(created_days_ago: u32, used_days_ago: Option<u32>) -> Facts<'static> {
        Facts {
            active: true,
            created: now() - created_days_ago * DAY,
            last_used: used_days_ago.map(|d| now() - d * DAY),
            other_active: false,
            key_id: "AKIAOLD",
            other: None,
            record: None,
            other_record: None,
            quarantined: false,
        }
    }

    fn record(deactivate_days: i64, delete_days: i64, overlap: bool) -> PendingDeletion {
        let at = |d: i64| match d {
            d if d >= 0 => now() + d as u32 * DAY,
            d => now() - (-d) as u32 * DAY,
        };
        PendingDeletion {
            owner: Owner {
                profile: String::new(),
                also: Vec::new(),
                account: "123456789012".into(),
                user_arn: String::new(),
                user_name: "u".into(),
            },
            key_id: "AKIAOLD".into(),
            deactivated_at: at(deactivate_days),
            delete_after: at(delete_days),
            overlap_since: overlap.then(|| at(-1)),
            replaced_by: overlap.then(|| "AKIANEW".to_owned()),
        }
    }

    #[test]
    fn a_young_key_in_use_raises_nothing() {
        assert!(findings(&key(10, Some(1)), limits(), now()).is_empty());
        assert!(findings(&key(0, None), limits(), now()).is_empty(), "new");
    }

    #[test]
    fn age_and_use_are_raised_past_their_thresholds() {
        let f = |k| findings(&k, limits(), now());
        assert_eq!(f(key(91, Some(1))), [Finding::PastMaxAge]);
        assert_eq!(f(key(10, Some(31))), [Finding::Unused]);
        assert_eq!(f(key(10, None)), [Finding::NeverUsed]);
        assert_eq!(f(key(100, None)), [Finding::PastMaxAge, Finding::NeverUsed]);
    }

    #[test]
    fn two_active_keys_are_raised_unless_a_rotation_overlaps_them() {
        let mut k = key(10, Some(1));
        k.key_id = "AKIANEW";
        k.other = Some(("AKIAOLD", now() - 40 * DAY));
        k.other_active = true;
        assert_eq!(findings(&k, limits(), now()), [Finding::TwoActiveKeys]);
        let overlap = record(2, 9, true);
        k.other_record = Some(&overlap);
        assert!(findings(&k, limits(), now()).is_empty());
        // The overlap is over and the old key still active: prune is overdue.
        let over = record(-1, 6, true);
        let mut old = key(40, Some(1));
        old.other = Some(("AKIANEW", now() - 10 * DAY));
        old.other_active = true;
        old.record = Some(&over);
        assert_eq!(
            findings(&old, limits(), now()),
            [Finding::TwoActiveKeys, Finding::OverdueDeletion]
        );
    }

    #[test]
    fn an_inactive_key_is_raised_unless_rekey_deletes_it_later() {
        let mut k = key(10, Some(5));
        k.active = false;
        assert_eq!(findings(&k, limits(), now()), [Finding::InactiveNotDeleted]);
        let pending = record(-1, 6, false);
        k.record = Some(&pending);
        assert!(
            findings(&k, limits(), now()).is_empty(),
            "deleted in 6 days"
        );
        let overdue = record(-8, -1, false);
        k.record = Some(&overdue);
        assert_eq!(findings(&k, limits(), now()), [Finding::OverdueDeletion]);
    }

    #[test]
    fn a_quarantined_users_key_is_found_first() {
        let quarantined = Facts {
            quarantined: true,
            ..key(200, Some(1))
        };
        let found = findings(&quarantined, limits(), now());
        assert_eq!(found, [Finding::QuarantinedUser, Finding::PastMaxAge]);
        assert!(findings(&key(200, Some(1)), limits(), now())
            .iter()
            .all(|f| *f != Finding::QuarantinedUser));
    }

    /// Issue 35, defect (c): an overlap claim counts only when IAM's facts agree.
    #[test]
    fn an_overlap_claim_iam_contradicts_hides_nothing() {
        let mut k = key(10, Some(1));
        k.key_id = "AKIANEW";
        k.other = Some(("AKIAOLD", now() - 40 * DAY));
        k.other_active = true;
        // Ten years of overlap, hand-written.
        let endless = record(3650, 3657, true);
        k.other_record = Some(&endless);
        assert_eq!(findings(&k, limits(), now()), [Finding::TwoActiveKeys]);
        // A replacement that is not this key.
        let mut elsewhere = record(2, 9, true);
        elsewhere.replaced_by = Some("AKIAOTHER".into());
        k.other_record = Some(&elsewhere);
        assert_eq!(findings(&k, limits(), now()), [Finding::TwoActiveKeys]);
        // The "replacement" older than the key it replaced.
        k.other = Some(("AKIAOLD", now() - DAY));
        let overlap = record(2, 9, true);
        k.other_record = Some(&overlap);
        assert_eq!(findings(&k, limits(), now()), [Finding::TwoActiveKeys]);
    }

    #[test]
    fn controls_fail_by_the_benchmarks_own_thresholds() {
        // 91 days old, used 46 days ago: rotation and 45-day unused controls, not 90.
        let k = key(91, Some(46));
        assert_eq!(
            failed_controls(&k, now()),
            [
                "CIS-3.0-1.14",
                "CIS-7.0-2.12",
                "FSBP-IAM.3",
                "CIS-3.0-1.12",
                "CIS-7.0-2.11",
                "FSBP-IAM.22"
            ]
        );
        // 31 days unused: rekey's --unused 30d finding, no benchmark control yet.
        assert!(failed_controls(&key(40, Some(31)), now()).is_empty());
        // Never used for 100 days: both unused controls.
        let never = failed_controls(&key(100, None), now());
        assert!(never.contains(&"FSBP-IAM.8") && never.contains(&"FSBP-IAM.22"));
        let mut two = key(10, Some(1));
        two.other_active = true;
        assert_eq!(failed_controls(&two, now()), ["CIS-3.0-1.13"]);
        let mut inactive = key(400, None);
        inactive.active = false;
        assert!(failed_controls(&inactive, now()).is_empty());
    }
}
