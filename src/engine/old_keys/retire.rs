//! What IAM's own facts must say before rekey deactivates or deletes an old key.
//!
//! A record of an old key, this machine's or a `rekey:pending:` tag another machine
//! wrote, is a **claim**, never an authority: anyone with `iam:TagUser` can write a tag,
//! a stale record can outlive the rotation it describes, and a machine whose clock is
//! ahead writes times that hide every later use (issue 17, defects 2 and 3). So every
//! deactivation and deletion, by prune or to make room for a new key, first asks
//! [`refute`]: does IAM, as listed just now, agree that this key was replaced?
//!
//! - the record's times are not later than AWS's "now" (see [`crate::aws::ServerClock`]);
//! - the key that replaced it (the record names it; older records: the newest other
//!   Active key) exists, is Active, and was created after the old key;
//! - so the old key is not the user's newest Active key;
//! - the rotation the record describes ended after its new key was created.
//!
//! [`why_not_delete`] adds prune's rules for a deletion: the record's grace is over, the
//! key is Inactive, and IAM saw no use of it after rekey deactivated it. A sink that
//! still holds the key is the caller's check (reading sinks is I/O).

use std::time::{Duration, SystemTime};

use crate::aws::KeyMeta;
use crate::state::PendingDeletion;
use crate::time;

/// How far a record's time may be after AWS's "now" and still count as written at that
/// instant (the clock correction is good to about a second).
const TOLERANCE: Duration = Duration::from_secs(5);

/// Why IAM's facts (`keys`, as listed just now; `now`, AWS's time) do not back `record`'s
/// claim that its key was replaced by a rotation; `None` if they do.
pub(crate) fn refute(
    record: &PendingDeletion,
    keys: &[KeyMeta],
    now: SystemTime,
) -> Option<String> {
    let rotated = record.rotated_at();
    if rotated > now + TOLERANCE {
        return Some(format!(
            "its record says the rotation ended at {}, later than AWS's clock ({}): written by a machine whose clock is ahead? The record is ignored; check that machine's clock",
            time::rfc3339(rotated),
            time::rfc3339(now)
        ));
    }
    let Some(old) = keys.iter().find(|k| k.id == record.key_id) else {
        return Some(format!("{} is not one of the user's keys", record.key_id));
    };
    let replacement = match &record.replaced_by {
        Some(id) => match keys.iter().find(|k| &k.id == id) {
            None => {
                return Some(format!(
                    "the key its record says replaced it, {id}, does not exist"
                ))
            }
            Some(k) if !k.active => {
                return Some(format!(
                    "the key its record says replaced it, {id}, is Inactive"
                ))
            }
            Some(k) if k.created <= old.created => {
                return Some(format!(
                    "the key its record says replaced it, {id}, is older than it"
                ))
            }
            Some(k) => k,
        },
        None => match keys
            .iter()
            .filter(|k| k.active && k.id != old.id && k.created > old.created)
            .max_by_key(|k| k.created)
        {
            Some(k) => k,
            None => {
                return Some(
                    "no newer Active key replaced it: it is the user's newest key".to_owned(),
                )
            }
        },
    };
    if replacement.created > rotated + TOLERANCE {
        return Some(format!(
            "its record says the rotation ended at {}, before the key that replaced it ({}) was created on {}",
            time::rfc3339(rotated),
            replacement.id,
            time::rfc3339(replacement.created)
        ));
    }
    None
}

/// Why prune's rules keep an old key rather than delete it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Keep {
    /// IAM's facts do not back the record (see [`refute`]).
    Refuted(String),
    /// The key is Active.
    Active,
    /// Its overlap period (active by design) ends then.
    InOverlap(SystemTime),
    /// Its grace period (the time to roll back) ends then.
    GraceRuns(SystemTime),
    /// IAM saw it used then, after rekey deactivated it at the second time.
    UsedSince(SystemTime, SystemTime),
}

impl std::fmt::Display for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Keep::Refuted(why) => f.write_str(why),
            Keep::Active => f.write_str("it is Active; rekey never deletes an active key"),
            Keep::InOverlap(until) => {
                write!(f, "its overlap period ends at {}", time::rfc3339(*until))
            }
            Keep::GraceRuns(until) => write!(
                f,
                "its grace period (the time to roll back) ends at {}",
                time::rfc3339(*until)
            ),
            Keep::UsedSince(used, deactivated) => write!(
                f,
                "IAM saw it used on {}, after rekey deactivated it on {}",
                time::rfc3339(*used),
                time::rfc3339(*deactivated)
            ),
        }
    }
}

/// How long before a journal's recorded start its new key may have been created by
/// IAM's clock and still belong to it (the journal's time is the writing machine's).
const JOURNAL_SKEW: Duration = Duration::from_secs(300);

/// Why IAM's facts (`keys`, as listed just now) do not back a journal another machine
/// left in the shared state; `None` if they do. A journal tells recovery which key is
/// "old" (to deactivate) and which is "new" (to keep): a copy that verifies may still be
/// a replayed or mistaken one, so before it is imported the new key it names, if IAM
/// has it, must have been made after the journal began and after the old key.
pub(crate) fn refute_journal(
    old_key_id: &str,
    new_key_id: Option<&str>,
    started_at: SystemTime,
    keys: &[KeyMeta],
) -> Option<String> {
    let new = keys.iter().find(|k| Some(k.id.as_str()) == new_key_id)?;
    if new.created + JOURNAL_SKEW < started_at {
        return Some(format!(
            "it names {} as the rotation's new key, but IAM created that key on {}, before the rotation began ({}): a journal of another rotation, or planted",
            new.id,
            time::rfc3339(new.created),
            time::rfc3339(started_at)
        ));
    }
    match keys.iter().find(|k| k.id == old_key_id) {
        Some(old) if old.created > new.created => Some(format!(
            "it names {old_key_id} as the key being replaced, but IAM created it after the \"new\" key {}: a journal that would deactivate the newer key",
            new.id
        )),
        _ => None,
    }
}

/// Why prune's rules keep `record`'s key rather than delete it now (grace over, Inactive,
/// unused since its deactivation, and [`refute`] finds nothing); `None` if it may go.
/// `last_used` is IAM's last use of the key.
pub(crate) fn why_not_delete(
    record: &PendingDeletion,
    keys: &[KeyMeta],
    last_used: Option<SystemTime>,
    now: SystemTime,
) -> Option<Keep> {
    if let Some(refuted) = refute(record, keys, now) {
        return Some(Keep::Refuted(refuted));
    }
    let old = keys.iter().find(|k| k.id == record.key_id)?;
    if old.active {
        return Some(Keep::Active);
    }
    if record.in_overlap() {
        return Some(Keep::InOverlap(record.deactivated_at));
    }
    // A use says more than a date: something may still depend on the key.
    if let Some(date) = last_used.filter(|d| *d > record.deactivated_at) {
        return Some(Keep::UsedSince(date, record.deactivated_at));
    }
    if record.delete_after > now {
        return Some(Keep::GraceRuns(record.delete_after));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Owner;

    const HOUR: Duration = Duration::from_secs(3600);

    fn at(hours: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_000_000) + HOUR * hours as u32
    }

    fn key(id: &str, active: bool, created: u64) -> KeyMeta {
        KeyMeta {
            id: id.into(),
            active,
            created: at(created),
        }
    }

    #[test]
    fn a_shared_journal_is_imported_only_when_iam_agrees_with_it() {
        let keys = [key("AKIAOLD", true, 0), key("AKIANEW", true, 10)];
        // The journal began just before IAM made its new key.
        assert_eq!(
            refute_journal("AKIAOLD", Some("AKIANEW"), at(10), &keys),
            None
        );
        // No new key yet, or IAM has none by that id: recovery decides as usual.
        assert_eq!(refute_journal("AKIAOLD", None, at(10), &keys), None);
        assert_eq!(
            refute_journal("AKIAOLD", Some("AKIAGONE"), at(10), &keys),
            None
        );
        // A "new" key older than the journal: a replayed or planted journal.
        let why = refute_journal("AKIAOLD", Some("AKIANEW"), at(20), &keys).unwrap();
        assert!(why.contains("before the rotation began"), "{why}");
        // An "old" key newer than the "new" one: it would deactivate the newer key.
        let why = refute_journal("AKIANEW", Some("AKIAOLD"), at(0), &keys).unwrap();
        assert!(why.contains("would deactivate the newer key"), "{why}");
    }

    /// Old key AKIAOLD (created at 0), replaced by AKIANEW (created at 10), deactivated
    /// at 10 with one hour of grace.
    fn record() -> PendingDeletion {
        PendingDeletion {
            owner: Owner::example("dev", "dev"),
            key_id: "AKIAOLD".into(),
            deactivated_at: at(10),
            delete_after: at(11),
            overlap_since: None,
            replaced_by: Some("AKIANEW".into()),
        }
    }

    fn rotated() -> Vec<KeyMeta> {
        vec![key("AKIAOLD", false, 0), key("AKIANEW", true, 10)]
    }

    #[test]
    fn a_true_record_is_backed_by_iam() {
        assert_eq!(refute(&record(), &rotated(), at(12)), None);
        assert_eq!(why_not_delete(&record(), &rotated(), None, at(12)), None);
        // A record from before rekey kept the replacing key: the newest other Active key.
        let legacy = PendingDeletion {
            replaced_by: None,
            ..record()
        };
        assert_eq!(
            why_not_delete(&legacy, &rotated(), Some(at(9)), at(12)),
            None
        );
    }

    #[test]
    fn a_record_naming_the_newest_key_as_old_is_refuted() {
        // A forged tag on the user's current key, naming the older key as its successor.
        let forged = PendingDeletion {
            key_id: "AKIANEW".into(),
            replaced_by: Some("AKIAOLD".into()),
            ..record()
        };
        let keys = vec![key("AKIAOLD", true, 0), key("AKIANEW", true, 10)];
        assert!(refute(&forged, &keys, at(12))
            .unwrap()
            .contains("older than it"));
        // Without a successor: no newer Active key exists.
        let forged = PendingDeletion {
            replaced_by: None,
            ..forged
        };
        assert!(refute(&forged, &keys, at(12))
            .unwrap()
            .contains("newest key"));
        // The only key.
        let alone = vec![key("AKIANEW", true, 10)];
        assert!(refute(&forged, &alone, at(12)).is_some());
    }

    #[test]
    fn a_successor_that_is_gone_or_inactive_refutes_the_record() {
        let gone = vec![key("AKIAOLD", false, 0)];
        assert!(refute(&record(), &gone, at(12))
            .unwrap()
            .contains("does not exist"));
        let inactive = vec![key("AKIAOLD", false, 0), key("AKIANEW", false, 10)];
        assert!(refute(&record(), &inactive, at(12))
            .unwrap()
            .contains("Inactive"));
    }

    #[test]
    fn times_later_than_aws_now_are_ignored() {
        // Written by a machine two hours ahead: "deactivated at 14" when AWS says 12.
        let skewed = PendingDeletion {
            deactivated_at: at(14),
            delete_after: at(11),
            ..record()
        };
        let why = refute(&skewed, &rotated(), at(12)).unwrap();
        assert!(why.contains("later than AWS's clock"), "{why}");
        // In an overlap, the overlap's start counts.
        let overlap = PendingDeletion {
            overlap_since: Some(at(14)),
            deactivated_at: at(11),
            ..record()
        };
        assert!(refute(&overlap, &rotated(), at(12)).is_some());
    }

    #[test]
    fn a_rotation_that_ended_before_its_new_key_existed_is_implausible() {
        let early = PendingDeletion {
            deactivated_at: at(5),
            delete_after: at(6),
            ..record()
        };
        let why = refute(&early, &rotated(), at(12)).unwrap();
        assert!(why.contains("before the key that replaced it"), "{why}");
    }

    #[test]
    fn prune_rules_keep_a_key_whose_grace_runs_or_that_was_used_since() {
        let keep = |used, now| why_not_delete(&record(), &rotated(), used, now);
        assert_eq!(keep(None, at(10)), Some(Keep::GraceRuns(at(11))));
        let used = at(10) + HOUR / 2;
        assert_eq!(
            keep(Some(used), at(12)),
            Some(Keep::UsedSince(used, at(10)))
        );
        let active = vec![key("AKIAOLD", true, 0), key("AKIANEW", true, 10)];
        let why = why_not_delete(&record(), &active, None, at(12));
        assert_eq!(why, Some(Keep::Active));
    }
}
