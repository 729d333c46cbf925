//! The events of each command's report (see [`super::Kind`]): built from what the
//! command prints, so a notification says nothing the report does not (never a secret).

use super::{Event, Kind};
use crate::engine::fleet::sync::SyncReport;
use crate::engine::old_keys::prune::{PruneOutcome, Pruned};
use crate::engine::old_keys::status::Alert;
use crate::report::audit::AuditReport;
use crate::report::find::FindReport;
use crate::report::respond::RespondReport;
use crate::report::{ApplyOutcome, ApplyReport, ProfileStatus};

/// `apply`'s (and `respond`'s) events: each rotation, failure, leak response and unknown
/// key; a run that stopped early, as a failure.
pub(crate) fn apply(report: &ApplyReport, command: &str) -> Vec<Event> {
    let mut events = Vec::new();
    for result in &report.results {
        let profile = &result.profile;
        match &result.outcome {
            ApplyOutcome::Rotated(rotated) => events.push(
                Event::new(
                    Kind::Rotated,
                    command,
                    format!(
                        "rotated profile {profile}: {} -> {}",
                        rotated.old_key_id, rotated.new_key_id
                    ),
                )
                .profile(profile)
                .key(&rotated.old_key_id)
                .new_key(&rotated.new_key_id),
            ),
            ApplyOutcome::Failed {
                error, error_kind, ..
            } => events.push(
                Event::new(
                    Kind::Failed,
                    command,
                    format!("profile {profile} failed: {error}"),
                )
                .profile(profile)
                .error_kind(*error_kind),
            ),
            ApplyOutcome::Skipped { .. } => {}
        }
    }
    for replaced in &report.replaced {
        let refused = replaced
            .response
            .refused_after
            .map_or_else(String::new, |s| format!(", refused by AWS after {s:.1} s"));
        events.push(
            Event::new(
                Kind::Compromised,
                command,
                format!(
                    "leak response: {} (profile {}) replaced by {} and deleted{refused}",
                    replaced.key_id, replaced.profile, replaced.replaced_by
                ),
            )
            .profile(&replaced.profile)
            .key(&replaced.key_id)
            .new_key(&replaced.replaced_by),
        );
        for unknown in &replaced.response.unknown_keys {
            let done = if unknown.quarantined {
                "deactivated (kept as evidence)"
            } else if unknown.active {
                "LEFT ACTIVE"
            } else {
                "inactive"
            };
            events.push(
                Event::new(
                    Kind::UnknownKey,
                    command,
                    format!(
                        "unknown key {} of the user of profile {} (created {}): {done}",
                        unknown.key_id,
                        replaced.profile,
                        crate::time::rfc3339(unknown.created)
                    ),
                )
                .profile(&replaced.profile)
                .key(&unknown.key_id),
            );
        }
    }
    // A run that stopped early; one whose profiles failed has said so already.
    let told_failure = events.iter().any(|e| e.event == Kind::Failed);
    if let (Some(error), false) = (&report.error, told_failure) {
        events.push(Event::new(
            Kind::Failed,
            command,
            format!("{command} stopped: {error}"),
        ));
    }
    events
}

/// `prune`'s events: keys kept because they are in use or held, and failures.
pub(crate) fn prune(pruned: &[Pruned]) -> Vec<Event> {
    pruned
        .iter()
        .filter_map(|p| match &p.outcome {
            PruneOutcome::Kept {
                reason,
                error_kind: None,
            } => Some(
                Event::new(
                    Kind::KeptInUse,
                    "prune",
                    format!(
                        "kept old key {} (profile {}): {reason}",
                        p.key_id, p.profile
                    ),
                )
                .profile(&p.profile)
                .key(&p.key_id),
            ),
            PruneOutcome::Kept {
                reason,
                error_kind: Some(kind),
            } => Some(
                Event::new(
                    Kind::Failed,
                    "prune",
                    format!(
                        "could not prune {} (profile {}): {reason}",
                        p.key_id, p.profile
                    ),
                )
                .profile(&p.profile)
                .key(&p.key_id)
                .error_kind(*kind),
            ),
            PruneOutcome::KeyLost { reason } => Some(
                Event::new(
                    Kind::Failed,
                    "prune",
                    format!("pruning {} (profile {}): {reason}", p.key_id, p.profile),
                )
                .profile(&p.profile)
                .key(&p.key_id)
                .error_kind(crate::engine::error::ErrorKind::State),
            ),
            _ => None,
        })
        .collect()
}

/// `status`'s events: keys past their age, overdue steps.
pub(crate) fn status(statuses: &[ProfileStatus]) -> Vec<Event> {
    let mut events = Vec::new();
    for status in statuses {
        let profile = &status.plan.profile;
        let key = status.plan.current_key.as_ref();
        if status.alerts.contains(&Alert::PastMaxAge) {
            let mut event = Event::new(
                Kind::PastMaxAge,
                "status",
                format!(
                    "profile {profile}: key {} is {} days old, past its max_age",
                    key.map_or("?", |k| k.id.as_str()),
                    key.map_or(0, |k| k.age_days)
                ),
            )
            .profile(profile);
            if let Some(key) = key {
                event = event.key(&key.id);
            }
            events.push(event);
        }
        if status.alerts.contains(&Alert::Overdue) {
            let now = crate::time::now();
            for pending in &status.pending {
                let (step, due) = match pending.overlap_since {
                    Some(_) => ("deactivation", pending.deactivated_at),
                    None => ("deletion", pending.delete_after),
                };
                if due > now {
                    continue;
                }
                events.push(
                    Event::new(
                        Kind::Overdue,
                        "status",
                        format!(
                            "profile {profile}: old key {}'s {step} was due on {} (`rekey prune` does it)",
                            pending.key_id,
                            crate::time::rfc3339(due)
                        ),
                    )
                    .profile(profile)
                    .key(&pending.key_id),
                );
            }
        }
    }
    events
}

/// `sync`'s events: profiles that could not be synced.
pub(crate) fn sync(reports: &[SyncReport]) -> Vec<Event> {
    reports
        .iter()
        .filter_map(|r| {
            let error = r.error.as_ref()?;
            let mut event = Event::new(
                Kind::Failed,
                "sync",
                format!("could not sync profile {}: {error}", r.profile),
            )
            .profile(&r.profile);
            if let Some(kind) = r.error_kind {
                event = event.error_kind(kind);
            }
            Some(event)
        })
        .collect()
}

/// `audit`'s event: one, when any key has a finding, or an account could not be audited.
pub(crate) fn audit(report: &AuditReport) -> Vec<Event> {
    let flagged: Vec<_> = report
        .accounts
        .iter()
        .flat_map(|a| &a.keys)
        .filter(|k| !k.findings.is_empty())
        .collect();
    let mut events = Vec::new();
    for account in report.accounts.iter().filter(|a| a.root_active_keys > 0) {
        events.push(Event::new(
            Kind::AuditFindings,
            "audit",
            format!(
                "account {}: the root user has {}",
                account.account,
                crate::report::count(account.root_active_keys, "active access key")
            ),
        ));
    }
    if !flagged.is_empty() {
        let worst: Vec<String> = flagged
            .iter()
            .take(5)
            .map(|k| {
                let told: Vec<&str> = k.findings.iter().map(|f| f.describe()).collect();
                format!(
                    "{} {} {} ({})",
                    k.account,
                    k.user,
                    k.key_id,
                    told.join(", ")
                )
            })
            .collect();
        let more = match flagged.len() {
            n if n > 5 => format!("; and {} more", n - 5),
            _ => String::new(),
        };
        events.push(Event::new(
            Kind::AuditFindings,
            "audit",
            format!(
                "{} keys to act on in {} accounts: {}{more}",
                flagged.len(),
                report.accounts.len(),
                worst.join("; ")
            ),
        ));
    }
    for account in report.unreachable() {
        let mut event = Event::new(
            Kind::Failed,
            "audit",
            format!(
                "account {} not audited: {}",
                account.account,
                account.error.as_deref().unwrap_or_default()
            ),
        );
        if let Some(kind) = account.error_kind {
            event = event.error_kind(kind);
        }
        events.push(event);
    }
    events
}

/// `respond`'s events: the leak response's, and each exposed key left open.
pub(crate) fn respond(report: &RespondReport) -> Vec<Event> {
    let mut events = report
        .apply
        .as_ref()
        .map(|applied| apply(applied, "respond"))
        .unwrap_or_default();
    if let (Some(error), true) = (&report.error, report.exposed.is_empty()) {
        events.push(Event::new(
            Kind::Failed,
            "respond",
            format!("respond stopped: {error}"),
        ));
    }
    for key in report.exposed.iter().filter(|k| !k.status.closed()) {
        let mut event = Event::new(
            Kind::Failed,
            "respond",
            format!(
                "exposed key {} is not replaced: {}",
                key.key_id.as_deref().unwrap_or("(a secret)"),
                key.detail
            ),
        );
        if let Some(id) = &key.key_id {
            event = event.key(id);
        }
        events.push(event);
    }
    events
}

/// `find`'s events: each current key with a copy no sink writes (the next rotation
/// leaves it behind), and each key in a repository's pushed history (leaked).
pub(crate) fn find(report: &FindReport) -> Vec<Event> {
    let mut events = Vec::new();
    for key in report.keys.iter().chain(&report.unknown) {
        let uncovered = key.state == "current" && key.copies.iter().any(|c| c.covered_by.is_none());
        if uncovered {
            let files: Vec<&str> = (key.copies.iter())
                .filter(|c| c.covered_by.is_none())
                .map(|c| c.path.as_str())
                .collect();
            let event = Event::new(
                Kind::Found,
                "find",
                format!(
                    "{} (current) has copies no sink writes: {}",
                    key.key_id,
                    files.join(", ")
                ),
            );
            events.push(event.key(&key.key_id));
        }
        let pushed: Vec<String> = (key.history.iter())
            .filter(|h| h.pushed)
            .map(|h| format!("{}: {}", h.repository, h.path))
            .collect();
        if !pushed.is_empty() {
            let event = Event::new(
                Kind::Found,
                "find",
                format!(
                    "{} is in pushed history, so leaked: {}",
                    key.key_id,
                    pushed.join(", ")
                ),
            );
            events.push(event.key(&key.key_id));
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::error::ErrorKind;
    use crate::report::ProfileResult;

    fn failed(profile: &str) -> ProfileResult {
        ProfileResult {
            profile: profile.to_owned(),
            also: Vec::new(),
            seconds: 0.1,
            outcome: ApplyOutcome::Failed {
                error: "AccessDenied; nothing was changed".to_owned(),
                error_kind: ErrorKind::AccessDenied,
                actions: Vec::new(),
            },
        }
    }

    #[test]
    fn a_failed_profile_is_told_once_and_a_stopped_run_once() {
        let mut report = ApplyReport::new();
        report.results.push(failed("dev"));
        report.error = Some("1 profile failed: dev".to_owned());
        let events = apply(&report, "apply");
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].event, Kind::Failed);
        assert_eq!(events[0].profile.as_deref(), Some("dev"));
        assert_eq!(events[0].error_kind, Some(ErrorKind::AccessDenied));

        let mut stopped = ApplyReport::new();
        stopped.error = Some("the manifest is malformed".to_owned());
        let events = apply(&stopped, "apply");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].text, "apply stopped: the manifest is malformed");
    }
}
