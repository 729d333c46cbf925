//! `rekey status`: each profile's key, its age and last use, where its copies stand,
//! and the old keys awaiting deletion. Read-only.

use anyhow::{bail, Result};

use super::{look, Choices, Context, Outcome, Planning, Selection};
use crate::engine::find::uncovered;
use crate::engine::old_keys::status::{self, Attention};
use crate::engine::rotation::plan::Plan;
use crate::report::count;
use crate::report::{emit, text, Output, PendingKey, ProfileStatus, StaleCopyReport, StatusReport};

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
    let (
        grouped,
        Planning {
            plan,
            pending,
            scan,
            ..
        },
    ) = look(
        ctx,
        &options.selection,
        Choices {
            read_quarantine: true,
            ..Choices::default()
        },
        ctx.mfa_code.is_some(),
    )
    .await?;
    // With `scan:`, the files that still hold an old key.
    let old_copies = match &scan {
        Some(scan) => {
            let state = ctx.state()?;
            let deleted = state.all_deleted()?;
            uncovered::stale_copies(scan, &pending, &deleted, state.root()).await
        }
        None => Vec::new(),
    };
    let now = crate::time::now();
    let statuses: Vec<ProfileStatus> = plan
        .profiles
        .into_iter()
        .enumerate()
        .map(|(index, plan)| {
            // Conflicts (after the grouped specs) have no policy to check.
            let max_age = grouped.specs.get(index).and_then(|s| s.policy.max_age);
            let pending: Vec<_> = pending
                .iter()
                .filter(|p| p.concerns(&plan.profile))
                .collect();
            let stale = status::stale_copies(&plan.profile, &old_copies);
            let Attention { alerts, warnings } =
                status::attention(&plan, max_age, &pending, &stale, now);
            ProfileStatus {
                pending: pending.into_iter().map(PendingKey::from).collect(),
                stale_copies: stale
                    .into_iter()
                    .map(|c| StaleCopyReport {
                        path: ctx.paths.show(&c.path),
                        line: c.line,
                        key_id: c.key_id,
                        state: c.state,
                    })
                    .collect(),
                plan,
                warnings,
                alerts,
            }
        })
        .collect();
    let alerted = statuses.iter().any(|s| !s.alerts.is_empty());
    // An untrusted manifest stopped the run before this; it adds no target.
    let targets = ctx.notify_targets(&options.selection).unwrap_or_default();
    ctx.tell(&targets, crate::notify::events::status(&statuses))
        .await;
    let unchecked: Vec<String> = statuses
        .iter()
        .filter(|s| status::unchecked(&s.plan))
        .map(|s| s.plan.profile.clone())
        .collect();
    let report = StatusReport {
        schema: Plan::SCHEMA_VERSION,
        source: plan.source,
        profiles: statuses,
        skipped: plan.skipped,
    };
    emit(options.output, &report, || {
        text::status(&report.profiles, &report.skipped)
    })?;
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
