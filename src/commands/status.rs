//! `rekey status`: each profile's key, its age and last use, where its copies stand,
//! and the old keys awaiting deletion. Read-only.

use anyhow::{bail, Result};

use super::{look, Choices, Context, Outcome, Planning, Selection};
use crate::engine::plan::{Decision, Plan, SinkState};
use crate::report::count;
use crate::report::{print_json, text, Alert, Output, ProfileStatus, StatusReport};

/// What `rekey status` is asked.
pub(crate) struct Options {
    /// Which profiles.
    pub(crate) selection: Selection,
    /// Text or JSON.
    pub(crate) output: Output,
    /// Exit 2 when any profile has an alert.
    pub(crate) detailed_exitcode: bool,
}

/// Runs `rekey status`.
pub(crate) async fn run(ctx: &Context, options: Options) -> Result<Outcome> {
    let (grouped, Planning { plan, pending, .. }) = look(
        ctx,
        &options.selection,
        Choices::default(),
        ctx.mfa_code.is_some(),
    )
    .await?;
    let now = crate::time::now();
    let statuses: Vec<ProfileStatus> = plan
        .profiles
        .into_iter()
        .enumerate()
        .map(|(index, plan)| {
            let mut warnings = plan.warnings.clone();
            let mut alerts = Vec::new();
            // A profile that stops after its key was read shows the key, and why here.
            if let (Some(_), Decision::Error { message, .. }) = (&plan.current_key, &plan.decision)
            {
                warnings.push(message.clone());
            }
            // Conflicts (after the grouped specs) have no policy to check.
            let max_age = grouped.specs.get(index).and_then(|s| s.policy.max_age);
            if let (Some(max_age), Some(key)) = (max_age, &plan.current_key) {
                let age = crate::time::since(key.created, now);
                if age >= max_age {
                    alerts.push(Alert::PastMaxAge);
                    warnings.push(format!(
                        "key {} is {} old, past max_age {}: `rekey apply` rotates it",
                        key.id,
                        crate::time::age(age),
                        crate::time::age(max_age)
                    ));
                }
            }
            let drifts = plan
                .sinks
                .iter()
                .any(|s| matches!(s.state, Some(SinkState::Drift { .. })));
            if drifts {
                alerts.push(Alert::Drift);
            }
            let pending: Vec<_> = pending
                .iter()
                .filter(|p| p.concerns(&plan.profile))
                .cloned()
                .collect();
            let overdue: Vec<_> = pending.iter().filter(|p| p.next_step_at() <= now).collect();
            for old in &overdue {
                let step = if old.in_overlap() {
                    "deactivation"
                } else {
                    "deletion"
                };
                warnings.push(format!(
                    "the {step} of old key {} was due on {}: `rekey prune` does it",
                    old.key_id,
                    crate::time::rfc3339(old.next_step_at())
                ));
            }
            if !overdue.is_empty() {
                alerts.push(Alert::Overdue);
            }
            ProfileStatus {
                pending,
                plan,
                warnings,
                alerts,
            }
        })
        .collect();
    let alerted = statuses.iter().any(|s| !s.alerts.is_empty());
    // A profile whose key could not even be looked at (AWS unreachable, access denied,
    // an interrupted rotation) is an error, which beats --detailed-exitcode's 2: a
    // monitor must not read "all is well" when nothing could be checked (issue 18).
    let unchecked: Vec<String> = statuses
        .iter()
        .filter(|s| {
            s.plan.current_key.is_none() && matches!(s.plan.decision, Decision::Error { .. })
        })
        .map(|s| s.plan.profile.clone())
        .collect();
    match options.output {
        Output::Text => print!("{}", text::status(&statuses, &plan.skipped)),
        Output::Json => print_json(&StatusReport {
            schema: Plan::SCHEMA_VERSION,
            source: plan.source,
            profiles: statuses,
            skipped: plan.skipped,
        })?,
    }
    if !unchecked.is_empty() {
        bail!(
            "{} could not be checked: {}",
            count(unchecked.len(), "profile"),
            unchecked.join(", ")
        );
    }
    Ok(if options.detailed_exitcode && alerted {
        Outcome::NeedsAttention
    } else {
        Outcome::Success
    })
}
