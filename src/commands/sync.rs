//! `rekey sync`: copy each profile's current key to the sinks that hold another one
//! (see [`crate::engine::fleet::sync`]).

use anyhow::{bail, Result};
use futures_util::stream::{self, StreamExt};

use super::{confirm, load_profiles, Choices, Context, Outcome, Selection};
use crate::engine::fleet::sync::{self, SinkAction, SyncReport};
use crate::engine::rotation::plan::Plan;
use crate::report::count;
use crate::report::{emit, text, Output, SyncRun};

/// What `rekey sync` is asked.
pub(crate) struct Options {
    /// Which profiles.
    pub(crate) selection: Selection,
    /// Do not ask.
    pub(crate) yes: bool,
    /// Undo the last sync instead.
    pub(crate) undo: bool,
    /// Text or JSON.
    pub(crate) output: Output,
}

/// Runs `rekey sync`.
pub(crate) async fn run(ctx: &Context, args: Options) -> Result<Outcome> {
    let state = ctx.state()?;
    let aws = ctx.aws().await;
    let profiles = load_profiles(ctx, &aws, &args.selection, &Choices::default())?;
    if args.undo {
        if !args.yes {
            confirm(
                "Put back what the last `rekey sync` replaced, where the key it wrote is still held.",
                "Undo the last sync?",
            )?;
        }
        let mut reports = Vec::new();
        for spec in &profiles.specs {
            reports.push(sync::undo(state, spec).await);
        }
        return finish(&args, reports);
    }
    let found: Vec<_> = stream::iter(&profiles.specs)
        .map(|spec| sync::inspect(&aws, state, spec))
        .buffered(ctx.jobs)
        .collect()
        .await;
    let planned: Vec<&SyncReport> = found
        .iter()
        .map(|f| match f {
            Ok(found) => &found.report,
            Err((report, _)) => report,
        })
        .collect();
    if !args.yes && planned.iter().any(|r| r.has_writes()) {
        let summary: Vec<SyncReport> = planned.into_iter().cloned().collect();
        confirm(&text::synced(&summary), "Write the current key there?")?;
    }
    let mut reports = Vec::new();
    for (spec, found) in profiles.specs.iter().zip(found) {
        reports.push(match found {
            Ok(found) => sync::carry_out(&aws, state, spec, found).await,
            Err((report, _)) => report,
        });
    }
    // An untrusted manifest stopped the run before this; it adds no target.
    let targets = ctx.notify_targets(&args.selection).unwrap_or_default();
    ctx.tell(&targets, crate::notify::events::sync(&reports))
        .await;
    finish(&args, reports)
}

/// Prints the reports; fails if any profile could not be synced.
fn finish(args: &Options, reports: Vec<SyncReport>) -> Result<Outcome> {
    let run = SyncRun {
        schema: Plan::SCHEMA_VERSION,
        profiles: reports.clone(),
    };
    emit(args.output, &run, || text::synced(&reports))?;
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| r.error.is_some() || r.sinks.iter().any(|s| s.action == SinkAction::Failed))
        .map(|r| r.profile.as_str())
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} could not be synced: {}",
            count(failed.len(), "profile"),
            failed.join(", ")
        );
    }
    Ok(Outcome::Success)
}
