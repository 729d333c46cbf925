//! What `rekey status` raises about a profile: the rules, kept apart from how status is
//! printed. A monitor (`status --detailed-exitcode`) exits 2 on any [`Alert`].

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::engine::find::KeyCopies;
use crate::engine::rotation::plan::{Decision, ProfilePlan, SinkState};
use crate::state::PendingDeletion;
use crate::time;

/// Something about a profile that a monitor should raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Alert {
    /// The key is at least `max_age` old.
    PastMaxAge,
    /// A sink holds another key than the first sink's.
    Drift,
    /// An old key's deactivation or deletion is due and has not happened.
    Overdue,
    /// A file under the manifest's `scan:` roots still holds an old key.
    StaleCopy,
    /// A place cannot be written (or read): the next rotation would fail there.
    Unwritable,
    /// AWS has quarantined the user (`AWSCompromisedKeyQuarantine*`): it found one of
    /// the user's keys exposed.
    Quarantined,
}

/// A file under the manifest's `scan:` roots that still holds one of a profile's old
/// keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StaleCopy {
    /// The file.
    pub(crate) path: std::path::PathBuf,
    /// The line (1-based).
    pub(crate) line: usize,
    /// The old key.
    pub(crate) key_id: String,
    /// Where that key stands: "inactive, deleted after …", "deleted on …".
    pub(crate) state: String,
}

/// The copies of `profile`'s old keys among `keys` (old and deleted keys with their
/// copies, see `find::uncovered::stale_copies`).
pub(crate) fn stale_copies(profile: &str, keys: &[KeyCopies]) -> Vec<StaleCopy> {
    keys.iter()
        .filter(|k| k.profiles.iter().any(|p| p == profile))
        .flat_map(|k| {
            let state = k.state.detail().unwrap_or_else(|| "old".to_owned());
            k.copies.iter().map(move |c| StaleCopy {
                path: c.path.clone(),
                line: c.line,
                key_id: k.key_id.clone(),
                state: state.clone(),
            })
        })
        .collect()
}

/// A profile's alerts and what to tell the user about them.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Attention {
    /// What a monitor raises.
    pub(crate) alerts: Vec<Alert>,
    /// What to do about it, and the plan's own warnings.
    pub(crate) warnings: Vec<String>,
}

/// What needs attention in `plan` (a profile's read-only plan) with `max_age` (its
/// policy's; none for a conflict) and `pending`, its old keys awaiting a step, at `now`.
pub(crate) fn attention(
    plan: &ProfilePlan,
    max_age: Option<Duration>,
    pending: &[&PendingDeletion],
    stale: &[StaleCopy],
    now: SystemTime,
) -> Attention {
    let mut seen = Attention {
        alerts: Vec::new(),
        warnings: plan.warnings.clone(),
    };
    // A profile that stops after its key was read shows the key, and why here.
    if let (Some(_), Decision::Error { message, .. }) = (&plan.current_key, &plan.decision) {
        seen.warnings.push(message.clone());
    }
    if let (Some(max_age), Some(key)) = (max_age, &plan.current_key) {
        let age = time::since(key.created, now);
        if age >= max_age {
            seen.alerts.push(Alert::PastMaxAge);
            seen.warnings.push(format!(
                "key {} is {} old, past max_age {}: `rekey apply` rotates it",
                key.id,
                time::age(age),
                time::age(max_age)
            ));
        }
    }
    if let Some(quarantine) = &plan.quarantine {
        seen.alerts.push(Alert::Quarantined);
        seen.warnings.push(format!(
            "AWS has quarantined this user ({}): it found one of the user's keys exposed. Respond: `rekey apply --compromised --via ADMIN_PROFILE --profile {}` (docs/guide.md, \"When a key leaks\")",
            quarantine.names(),
            plan.profile
        ));
    }
    let drifts = plan
        .sinks
        .iter()
        .any(|s| matches!(s.state, Some(SinkState::Drift { .. })));
    if drifts {
        seen.alerts.push(Alert::Drift);
    }
    let unwritable = plan
        .sinks
        .iter()
        .any(|s| matches!(s.state, Some(SinkState::Unwritable { .. })));
    if unwritable {
        seen.alerts.push(Alert::Unwritable);
    }
    let overdue: Vec<_> = pending.iter().filter(|p| p.next_step_at() <= now).collect();
    for old in &overdue {
        let step = if old.in_overlap() {
            "deactivation"
        } else {
            "deletion"
        };
        seen.warnings.push(format!(
            "the {step} of old key {} was due on {}: `rekey prune` does it",
            old.key_id,
            time::rfc3339(old.next_step_at())
        ));
    }
    if !overdue.is_empty() {
        seen.alerts.push(Alert::Overdue);
    }
    for copy in stale {
        seen.warnings.push(format!(
            "{}:{} still holds old key {} ({}): point it at the current key, or add a sink for it",
            rekey_sinks::shown::path(&copy.path),
            copy.line,
            copy.key_id,
            copy.state
        ));
    }
    if !stale.is_empty() {
        seen.alerts.push(Alert::StaleCopy);
    }
    seen
}

/// Whether nothing could be learned of the profile's key (AWS unreachable, access
/// denied, an interrupted rotation): an error, which beats any alert, so a monitor never
/// reads "all is well" when nothing was checked (issue 18).
pub(crate) fn unchecked(plan: &ProfilePlan) -> bool {
    plan.current_key.is_none() && matches!(plan.decision, Decision::Error { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::error::ErrorKind;
    use crate::engine::rotation::plan::{CurrentKey, SinkReport};
    use crate::state::Owner;

    const DAY: Duration = Duration::from_secs(86_400);

    fn plan(age: Duration, sinks: Vec<Option<SinkState>>, now: SystemTime) -> ProfilePlan {
        ProfilePlan {
            profile: "p".into(),
            also: Vec::new(),
            via: None,
            identity: None,
            current_key: Some(CurrentKey {
                id: "AKIAOLD".into(),
                created: now - age,
                age_days: age.as_secs() / 86_400,
                last_used: None,
                last_use_read: false,
            }),
            other_key: None,
            quarantine: None,
            sinks: sinks
                .into_iter()
                .map(|state| SinkReport {
                    sink: "a place".into(),
                    state,
                    read_only: false,
                })
                .collect(),
            decision: Decision::Skip {
                reason: "young".into(),
            },
            steps: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn pending(next_step: SystemTime, overlap: bool) -> PendingDeletion {
        PendingDeletion {
            owner: Owner::example("p", "u"),
            key_id: "AKIAPENDING".into(),
            deactivated_at: next_step,
            delete_after: next_step,
            overlap_since: overlap.then_some(next_step - DAY),
            replaced_by: None,
        }
    }

    #[test]
    fn a_young_key_in_sync_with_nothing_due_raises_nothing() {
        let now = SystemTime::now();
        let plan = plan(DAY, vec![Some(SinkState::InSync)], now);
        let later = pending(now + DAY, false);
        let seen = attention(&plan, Some(90 * DAY), &[&later], &[], now);
        assert_eq!(seen, Attention::default());
    }

    #[test]
    fn a_key_at_max_age_is_past_it() {
        let now = SystemTime::now();
        let seen = attention(&plan(90 * DAY, vec![], now), Some(90 * DAY), &[], &[], now);
        assert_eq!(seen.alerts, vec![Alert::PastMaxAge]);
        assert!(seen.warnings[0].contains("past max_age 90d"), "{seen:?}");
        // Without a max_age (a conflict's plan) age alone raises nothing.
        assert_eq!(
            attention(&plan(900 * DAY, vec![], now), None, &[], &[], now).alerts,
            vec![]
        );
    }

    #[test]
    fn a_sink_holding_another_key_drifts() {
        let now = SystemTime::now();
        let drift = Some(SinkState::Drift {
            key_id: "AKIAOTHER".into(),
        });
        let plan = plan(DAY, vec![Some(SinkState::InSync), drift, None], now);
        assert_eq!(
            attention(&plan, None, &[], &[], now).alerts,
            vec![Alert::Drift]
        );
    }

    #[test]
    fn a_step_due_and_not_taken_is_overdue_and_says_which() {
        let now = SystemTime::now();
        let plan = plan(DAY, vec![], now);
        let deletion = pending(now - DAY, false);
        let deactivation = pending(now, true);
        let seen = attention(&plan, None, &[&deletion, &deactivation], &[], now);
        assert_eq!(seen.alerts, vec![Alert::Overdue]);
        assert!(
            seen.warnings[0].starts_with("the deletion of old key"),
            "{seen:?}"
        );
        assert!(
            seen.warnings[1].starts_with("the deactivation of"),
            "{seen:?}"
        );
    }

    #[test]
    fn a_profile_whose_key_was_never_read_is_unchecked_not_alerted() {
        let now = SystemTime::now();
        let mut unread = plan(DAY, vec![], now);
        unread.current_key = None;
        unread.decision = Decision::Error {
            message: "no answer".into(),
            error_kind: ErrorKind::Aws,
        };
        assert!(unchecked(&unread));
        assert_eq!(
            attention(&unread, Some(DAY), &[], &[], now),
            Attention::default()
        );
        // Read, then stopped: checked, and the reason is a warning.
        let mut stopped = plan(DAY, vec![], now);
        stopped.decision = unread.decision.clone();
        assert!(!unchecked(&stopped));
        let seen = attention(&stopped, None, &[], &[], now);
        assert_eq!(seen.warnings, vec!["no answer".to_owned()]);
    }
}
