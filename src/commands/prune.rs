//! `rekey prune`: delete old keys whose grace period has ended, when safe (see
//! [`crate::engine::old_keys::prune`]).

use anyhow::{bail, Result};

use super::{confirm, load_profiles, Choices, Context, Outcome, Selection};
use crate::engine::old_keys::prune;
use crate::engine::rotation::plan::Plan;
use crate::report::{emit, text, Output, PruneReport};

/// What `rekey prune` is asked.
pub(crate) struct Options {
    /// Which profiles.
    pub(crate) selection: Selection,
    /// Do not ask.
    pub(crate) yes: bool,
    /// Deactivate a key whose overlap is over even if it was used since the rotation.
    pub(crate) force: bool,
    /// End the selected keys' grace (and overlap) periods now (`--now`).
    pub(crate) now: bool,
    /// Text or JSON.
    pub(crate) output: Output,
}

/// Runs `rekey prune`.
pub(crate) async fn run(ctx: &Context, args: Options) -> Result<Outcome> {
    let state = ctx.state()?;
    let aws = ctx.aws().await;
    let profiles = load_profiles(ctx, &aws, &args.selection, &Choices::default())?;
    // With `state: iam`, another machine's pending deletions are pruned here too.
    let (shared, warnings) = prune::shared(&aws, &profiles.specs).await;
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    let mut pending = prune::records(state, shared)?;
    if args.now {
        let now = crate::time::now();
        pending = pending.iter().map(|p| p.due_by(now)).collect();
    }
    let due = prune::due(&pending, &profiles.specs, crate::time::now());
    if due.is_empty() {
        let report = PruneReport {
            schema: Plan::SCHEMA_VERSION,
            pruned: Vec::new(),
        };
        emit(args.output, &report, || {
            let waiting = prune::waiting(&pending, &profiles.specs, crate::time::now());
            text::nothing_due(&waiting)
        })?;
        return Ok(Outcome::Success);
    }
    if !args.yes {
        confirm(&text::due(&due), "Delete these keys?")?;
    }
    let now = crate::time::now();
    let pruned = prune::prune(&aws, state, &profiles.specs, &pending, &[], now, args.force).await;
    // An untrusted manifest stopped the run before this; it adds no target.
    let targets = ctx.notify_targets(&args.selection).unwrap_or_default();
    ctx.tell(&targets, crate::notify::events::prune(&pruned))
        .await;
    let lost: Vec<String> = (pruned.iter())
        .filter(|p| matches!(p.outcome, prune::PruneOutcome::KeyLost { .. }))
        .map(|p| p.profile.clone())
        .collect();
    let report = PruneReport {
        schema: Plan::SCHEMA_VERSION,
        pruned,
    };
    emit(args.output, &report, || text::pruned(&report.pruned))?;
    if !lost.is_empty() {
        bail!(
            "a user may be left without an Active key (profile {}): see above",
            lost.join(", ")
        );
    }
    Ok(Outcome::Success)
}
