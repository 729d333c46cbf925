//! Text output for people. (JSON output is the serde form of the same types.)

use std::fmt::Write;

use console::style;

use crate::engine::fleet::sync::{SinkAction, SyncReport};
use crate::engine::old_keys::prune::{PruneOutcome, Pruned};
use crate::engine::rotation::plan::{
    CurrentKey, Decision, Plan, ProfilePlan, PruneItem, PruneStep, SinkReport, SinkState, Step,
};
use crate::engine::rotation::planner::describe_last_use;
use crate::report::{ApplyOutcome, ProfileResult, ProfileStatus, ReplacedKey};
use crate::time;

/// The plan, as `rekey plan` prints it: first where its profiles come from.
pub(crate) fn plan(plan: &Plan) -> String {
    let mut out = format!("Profiles from {}\n", plan.source);
    if !plan.reaches.is_empty() {
        out.push_str("It runs and sends, as trusted:\n");
        for reach in &plan.reaches {
            let _ = writeln!(out, "  - {reach}");
        }
    }
    out + &plan_body(plan)
}

/// The plan without its first line (`apply` prints that before it plans).
pub(crate) fn plan_body(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.compromised {
        let _ = writeln!(
            out,
            "{} every selected key is replaced now, whatever max_age says, and each old key is deleted as soon as its replacement works and is written, then proven refused by AWS; {}.\n",
            style("Leak response (--compromised):").red().bold(),
            if plan.sessions_kept {
                "the users' older sessions are kept (--keep-sessions)"
            } else {
                "then every session the user opened before is revoked (an inline deny policy)"
            }
        );
    }
    for profile in &plan.profiles {
        out.push('\n');
        profile_plan(&mut out, profile);
    }
    if !plan.skipped.is_empty() {
        out.push_str("\nNot rotated:\n");
        for s in &plan.skipped {
            let _ = writeln!(out, "  {}: {}", s.profile, s.reason);
        }
    }
    if !plan.prune.is_empty() {
        out.push('\n');
        out.push_str(&due(&plan.prune));
    }
    let count = |f: fn(&Decision) -> bool| plan.profiles.iter().filter(|p| f(&p.decision)).count();
    let _ = write!(
        out,
        "\nPlan: {} to rotate, {} unchanged, {} with errors, {} to delete.",
        count(|d| *d == Decision::Rotate),
        count(|d| matches!(d, Decision::Skip { .. })),
        count(|d| matches!(d, Decision::Error { .. })),
        super::count(plan.prune.len(), "old key")
    );
    out
}

fn profile_plan(out: &mut String, p: &ProfilePlan) {
    let headline = match &p.decision {
        Decision::Rotate => style("rotate").green().to_string(),
        Decision::Skip { reason } => format!("no change: {reason}"),
        Decision::Error { message, .. } => format!("{} {message}", style("ERROR:").red().bold()),
    };
    let _ = writeln!(out, "profile {}: {headline}", label(&p.profile, &p.also));
    if !p.also.is_empty() {
        let _ = writeln!(out, "  (one rotation: these profiles hold the same key)");
    }
    if let Some(identity) = &p.identity {
        let _ = writeln!(out, "  user  {}", identity.arn);
    }
    if let Some(via) = &p.via {
        let _ = writeln!(out, "  via   {via} (signs the IAM calls)");
    }
    if let Some(quarantine) = &p.quarantine {
        let denies = match &quarantine.denies {
            Some(denies) if denies.is_empty() => "nothing the response calls".to_owned(),
            Some(denies) => denies.join(", "),
            None => "unknown (its document could not be read)".to_owned(),
        };
        let _ = writeln!(
            out,
            "  {} by AWS: {} (denies {denies})",
            style("quarantined").red(),
            quarantine.names()
        );
    }
    if let Some(key) = &p.current_key {
        let _ = writeln!(out, "{}", key_line(key));
    }
    sink_lines(out, &p.sinks);
    for (n, step) in p.steps.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", n + 1, describe_step(step));
    }
    for warning in &p.warnings {
        let _ = writeln!(out, "  {} {warning}", style("warning:").yellow());
    }
}

/// `  key   AKIA… (created 2026-01-02, 327d old, last used …)`.
fn key_line(key: &CurrentKey) -> String {
    format!(
        "  key   {} (created {}, {} old, {})",
        key.id,
        time::date(key.created),
        time::age(time::since(key.created, crate::time::now())),
        if key.last_use_read {
            describe_last_use(key.last_used.as_ref())
        } else {
            "last use not read".to_owned()
        }
    )
}

fn describe_step(step: &Step) -> String {
    match step {
        Step::DeleteInactiveKey { key_id, reason } => format!("delete inactive key {key_id} to make room ({reason})"),
        Step::EndOverlap { key_id } => format!("end the overlap: deactivate and delete the last rotation's old key {key_id} (it may be leaked too)"),
        Step::QuarantineKey { key_id } => format!("quarantine unknown key {key_id}: deactivate it, report its creation and last use, and delete it to make room (--make-room)"),
        Step::CreateKey => "create a new access key".to_owned(),
        Step::AwaitPropagation {
            consecutive,
            timeout_secs,
        } => format!("wait until STS accepts the new key {consecutive} times in a row, then IAM (at most {timeout_secs}s)"),
        Step::WriteSink { sink } => format!("write {sink}"),
        Step::Verify { command, timeout_secs } => {
            format!("run `{command}` with the new key (at most {timeout_secs}s); roll back if it fails")
        }
        Step::DeactivateOldKey { key_id, via: None } => format!("deactivate {key_id}, signed with the new key"),
        Step::DeactivateOldKey { key_id, via: Some(via) } => format!("deactivate {key_id}, signed as profile {via}"),
        Step::DeleteOldKey { key_id } => format!("delete {key_id} at once (grace 0)"),
        Step::KeepOldKeyActive {
            key_id,
            overlap_secs,
            grace_secs,
        } => {
            let secs = |s: &u64| time::age(std::time::Duration::from_secs(*s));
            format!(
                "leave {key_id} active for the overlap ({}); prune deactivates it then and deletes it {} later",
                secs(overlap_secs),
                secs(grace_secs)
            )
        }
        Step::ScheduleDeletion { key_id, grace_secs } => {
            format!("delete {key_id} after a grace period of {}", time::age(std::time::Duration::from_secs(*grace_secs)))
        }
    }
}

/// The due pending deletions.
pub(crate) fn due(items: &[PruneItem]) -> String {
    let mut out = String::from("Old keys due for deletion (or, after an overlap, deactivation):\n");
    for item in items {
        let step = match item.step {
            PruneStep::Delete => "delete",
            PruneStep::Deactivate => "deactivate (overlap over)",
        };
        let _ = writeln!(
            out,
            "  {step} {} of {} (profile {}, due {})",
            item.key_id,
            item.user_arn,
            item.profile,
            time::rfc3339(item.due)
        );
    }
    out
}

/// What `prune` says when nothing is due: how many old keys wait, and when the next is
/// due, with what ends the wait (issue 31: "no old keys are due" told nothing).
pub(crate) fn nothing_due(waiting: &[&crate::state::PendingDeletion]) -> String {
    let Some(next) = waiting.first() else {
        return "No old key waits for deletion.".to_owned();
    };
    let step = match next.in_overlap() {
        true => "deactivation (its overlap ends)",
        false => "deletion",
    };
    format!(
        "No old key is due yet: {} {}; the next is the {step} of {} (profile {}) on {}. Run `rekey prune` again then (`rekey schedule install` runs it daily), or `rekey prune --now` to end the wait early (prune's other rules still apply).",
        waiting.len(),
        if waiting.len() == 1 { "waits" } else { "wait" },
        next.key_id,
        next.owner.profile,
        time::rfc3339(next.next_step_at())
    )
}

/// The keys a leak response replaced, with their last use, to look for misuse.
pub(crate) fn replaced(keys: &[ReplacedKey]) -> String {
    let mut out = String::new();
    if keys.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "Replaced keys (look for misuse in CloudTrail around their last use):"
    );
    for key in keys {
        let response = &key.response;
        let deleted = response
            .deleted_at
            .map_or_else(String::new, |at| format!(" at {}", time::rfc3339(at)));
        let refused = response.refused_after.map_or_else(String::new, |s| {
            format!(" AWS refuses it (refused after {s:.1} s);")
        });
        let _ = writeln!(
            out,
            "  {} (profile {}): deleted{deleted}; replaced by {};{refused} {}",
            key.key_id,
            key.profile,
            key.replaced_by,
            describe_last_use(key.last_used.as_ref())
        );
        if let Some(before) = response.sessions_revoked_before {
            let _ = writeln!(
                out,
                "    sessions of the user issued before {} revoked",
                time::rfc3339(before)
            );
        }
        for unknown in &response.unknown_keys {
            let _ = writeln!(
                out,
                "    {}",
                super::action::told(&crate::engine::action::Action::UnknownKey(unknown.clone()))
            );
        }
    }
    out
}

/// What `rekey sync` will do, or did.
pub(crate) fn synced(reports: &[SyncReport]) -> String {
    let mut out = String::new();
    for report in reports {
        let _ = match (&report.current_key_id, report.created) {
            (Some(id), Some(created)) => writeln!(
                out,
                "profile {}: current key {id} (created {})",
                report.profile,
                time::rfc3339(created)
            ),
            (Some(id), None) => writeln!(
                out,
                "profile {}: every place holds {id}, which AWS accepts",
                report.profile
            ),
            _ => writeln!(out, "profile {}:", report.profile),
        };
        for sink in &report.sinks {
            let holds = sink.holds.as_deref().unwrap_or("no key");
            let what = match sink.action {
                SinkAction::InSync => "in sync".to_owned(),
                SinkAction::Write => format!("holds {holds}: the current key will be written"),
                SinkAction::Written => format!("held {holds}: wrote the current key"),
                SinkAction::Unchanged => match &sink.reason {
                    Some(reason) => format!("holds {holds}: {reason}"),
                    None => format!("holds {holds}: left as it is"),
                },
                SinkAction::Restored => {
                    format!("held {holds}: put back what it held before the last sync")
                }
                SinkAction::Failed => format!(
                    "{} {}",
                    style("FAILED:").red().bold(),
                    sink.reason.as_deref().unwrap_or_default()
                ),
            };
            let _ = writeln!(out, "  sink  {}: {what}", sink.sink);
        }
        for note in &report.notes {
            let _ = writeln!(out, "  {note}");
        }
        if let Some(error) = &report.error {
            let _ = writeln!(out, "  {} {error}", style("ERROR:").red().bold());
        }
    }
    out
}

/// What prune did.
pub(crate) fn pruned(pruned: &[Pruned]) -> String {
    let mut out = String::new();
    for p in pruned {
        let _ = match &p.outcome {
            PruneOutcome::Deleted => writeln!(
                out,
                "pruned: deleted old key {} (profile {})",
                p.key_id, p.profile
            ),
            PruneOutcome::Deactivated { delete_after } => writeln!(
                out,
                "pruned: deactivated old key {} (profile {}): its overlap is over; deleted after {}",
                p.key_id,
                p.profile,
                time::rfc3339(*delete_after)
            ),
            PruneOutcome::AlreadyGone => {
                writeln!(
                    out,
                    "pruned: old key {} (profile {}) was already deleted",
                    p.key_id, p.profile
                )
            }
            PruneOutcome::Kept { reason, .. } => {
                writeln!(
                    out,
                    "warning: kept old key {} (profile {}): {reason}",
                    p.key_id, p.profile
                )
            }
            PruneOutcome::KeyLost { reason } => {
                writeln!(out, "error: pruning {} (profile {}): {reason}", p.key_id, p.profile)
            }
        };
        if let Some(warning) = &p.warning {
            let _ = writeln!(out, "warning: {warning}");
        }
    }
    out
}

/// `rekey status`.
pub(crate) fn status(
    statuses: &[ProfileStatus],
    skipped: &[crate::config::discovery::Skipped],
) -> String {
    let mut out = String::new();
    for status in statuses {
        let p = &status.plan;
        let _ = writeln!(out, "profile {}", label(&p.profile, &p.also));
        if let Some(identity) = &p.identity {
            let _ = writeln!(out, "  user  {}", identity.arn);
        }
        match (&p.current_key, &p.decision) {
            (Some(key), _) => {
                let _ = writeln!(out, "{}", key_line(key));
            }
            (None, Decision::Error { message, .. })
            | (None, Decision::Skip { reason: message }) => {
                let _ = writeln!(out, "  key   unknown: {message}");
            }
            (None, Decision::Rotate) => {}
        }
        sink_lines(&mut out, &p.sinks);
        for pending in &status.pending {
            let _ = match pending.overlap_since {
                Some(since) => writeln!(
                    out,
                    "  old   {} active in its overlap since {}: deactivated after {}, deleted after {}",
                    pending.key_id,
                    time::rfc3339(since),
                    time::rfc3339(pending.deactivated_at),
                    time::rfc3339(pending.delete_after)
                ),
                None => writeln!(
                    out,
                    "  old   {} deactivated {}, to be deleted after {}",
                    pending.key_id,
                    time::rfc3339(pending.deactivated_at),
                    time::rfc3339(pending.delete_after)
                ),
            };
        }
        for warning in &status.warnings {
            let _ = writeln!(out, "  warning: {warning}");
        }
    }
    for s in skipped {
        let _ = writeln!(out, "not rotated: {}: {}", s.profile, s.reason);
    }
    out
}

/// `  sink  <description>: <state>`, one line per sink.
fn sink_lines(out: &mut String, sinks: &[SinkReport]) {
    for report in sinks {
        let read_only = if report.read_only {
            "; read-only: will be replaced, keeping its mode"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  sink  {}{}{read_only}",
            report.sink,
            sink_state(report.state.as_ref())
        );
    }
}

fn sink_state(state: Option<&SinkState>) -> String {
    match state {
        None => String::new(),
        Some(SinkState::InSync) => ": in sync".to_owned(),
        Some(SinkState::Drift { key_id }) => format!(": drift (holds {key_id})"),
        Some(SinkState::Missing) => ": missing (no key yet)".to_owned(),
        Some(SinkState::Absent) => ": does not exist: will be created (create: true)".to_owned(),
        Some(SinkState::Unwritable { reason }) => format!(": UNWRITABLE ({reason})"),
    }
}

/// How one interrupted rotation was resolved.
pub(crate) fn recovered(
    result: &Result<crate::engine::recovery::Recovered, crate::engine::recovery::RecoveryFailure>,
) -> String {
    use crate::engine::recovery::Resolution;
    let mut out = String::new();
    let (headline, actions) = match result {
        Ok(done) => {
            let what = match done.outcome {
                Resolution::NothingToUndo => "nothing had changed",
                Resolution::OrphanDeleted => {
                    "the key the interrupted create made without its secret was deleted; nothing else had changed"
                }
                Resolution::RolledForward => "rolled forward: the rotation is complete",
                Resolution::RolledBack => "rolled back: the old key is in use again",
                Resolution::ResponseFinished => {
                    "the interrupted leak response was finished: the leaked key is deleted and refused, the door closed"
                }
            };
            (
                format!("recovered {} ({}): {what}", done.profile, done.user_arn),
                &done.actions,
            )
        }
        Err(failure) => (format!("recovery FAILED for {failure}"), &failure.actions),
    };
    let _ = writeln!(out, "{headline}");
    for action in actions {
        let _ = writeln!(out, "  - {}", super::action::told(action));
    }
    out
}

/// `a`, or `a + b + c` for profiles rotated together.
pub(crate) fn label(profile: &str, also: &[String]) -> String {
    crate::engine::rotation::shared_key::members(profile, also).join(" + ")
}

/// One profile's apply result.
pub(crate) fn profile_result(result: &ProfileResult) -> String {
    let mut out = String::new();
    let who = label(&result.profile, &result.also);
    match &result.outcome {
        ApplyOutcome::Rotated(rotated) => {
            let _ = writeln!(
                out,
                "{who}: {} {} -> {}",
                style("rotated").green(),
                rotated.old_key_id,
                rotated.new_key_id
            );
            for action in &rotated.actions {
                let _ = writeln!(out, "  - {}", super::action::told(action));
            }
            for warning in &rotated.warnings {
                let _ = writeln!(out, "  {} {warning}", style("warning:").yellow());
            }
        }
        ApplyOutcome::Skipped { reason } => {
            let _ = writeln!(out, "{who}: no change: {reason}");
        }
        ApplyOutcome::Failed { error, actions, .. } => {
            let _ = writeln!(out, "{who}: {} {error}", style("FAILED:").red().bold());
            for action in actions {
                let _ = writeln!(out, "  - {}", super::action::told(action));
            }
        }
    }
    out
}

/// The table closing apply on a terminal: a row per rotation.
pub(crate) fn summary_table(results: &[ProfileResult]) -> String {
    let rows: Vec<[String; 4]> = results
        .iter()
        .map(|r| {
            let (result, detail) = match &r.outcome {
                ApplyOutcome::Rotated(rotated) => (
                    "rotated",
                    format!("{} -> {}", rotated.old_key_id, rotated.new_key_id),
                ),
                ApplyOutcome::Skipped { reason } => ("unchanged", shorten(reason)),
                ApplyOutcome::Failed { error, .. } => ("FAILED", shorten(error)),
            };
            [
                label(&r.profile, &r.also),
                result.to_owned(),
                format!("{:.1}s", r.seconds),
                detail,
            ]
        })
        .collect();
    let header = ["PROFILE", "RESULT", "TIME", "DETAIL"].map(str::to_owned);
    let width = |column: usize| {
        rows.iter()
            .chain(std::iter::once(&header))
            .map(|row| row[column].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    let mut out = String::from("\n");
    for (index, row) in std::iter::once(&header).chain(&rows).enumerate() {
        // Pad before styling: escape codes have no width.
        let cells: Vec<String> = (0..3)
            .map(|c| format!("{:<w$}", row[c], w = widths[c]))
            .collect();
        let result = match row[1].as_str() {
            _ if index == 0 => style(cells[1].clone()).bold(),
            "rotated" => style(cells[1].clone()).green(),
            "FAILED" => style(cells[1].clone()).red().bold(),
            _ => style(cells[1].clone()).dim(),
        };
        let first = if index == 0 {
            style(cells[0].clone()).bold()
        } else {
            style(cells[0].clone())
        };
        let _ = writeln!(out, "{first}  {result}  {}  {}", cells[2], row[3]);
    }
    out
}

/// The first line of `text`, cut to fit a table cell (the whole text is printed above
/// the table).
fn shorten(text: &str) -> String {
    const WIDTH: usize = 72;
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= WIDTH && !text.contains('\n') {
        return line.to_owned();
    }
    let cut: String = line.chars().take(WIDTH - 1).collect();
    format!("{cut}…")
}

/// The closing line of apply, and the next step when old keys wait (issue 31: nothing
/// deletes them unless `prune` runs).
pub(crate) fn summary(results: &[ProfileResult]) -> String {
    let count = |f: fn(&ApplyOutcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    let done = format!(
        "Done: {} rotated, {} unchanged, {} failed.",
        count(|o| matches!(o, ApplyOutcome::Rotated(_))),
        count(|o| matches!(o, ApplyOutcome::Skipped { .. })),
        count(|o| matches!(o, ApplyOutcome::Failed { .. })),
    );
    let waits = results.iter().flat_map(|r| match &r.outcome {
        ApplyOutcome::Rotated(rotated) => rotated.actions.as_slice(),
        _ => &[],
    });
    let next = waits
        .filter_map(|action| match action {
            crate::engine::action::Action::DeletionScheduled { after, .. } => Some(*after),
            crate::engine::action::Action::OverlapBegun { until, .. } => Some(*until),
            _ => None,
        })
        .min();
    match next {
        Some(at) => format!(
            "{done}\nNext: `rekey prune` on or after {} (deactivates or deletes the old keys once due; `rekey schedule install` runs it daily); `rekey prune --now` ends the wait early.",
            time::rfc3339(at)
        ),
        None => done,
    }
}

/// A note for the log when AWS throttled the run (rekey paced itself and retried).
pub(crate) fn throttled(throttled: &crate::aws::pacing::Throttled) -> Option<String> {
    let total = throttled.iam + throttled.sts + throttled.s3;
    (total > 0).then(|| {
        format!(
            "note: AWS throttled {} (IAM {}, STS {}, S3 {}); rekey slowed to the rate it admits and retried them",
            super::count(total as usize, "call"),
            throttled.iam,
            throttled.sts,
            throttled.s3
        )
    })
}
