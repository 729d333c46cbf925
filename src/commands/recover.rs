//! `rekey recover`: finish or undo the rotations a crash interrupted (see
//! [`crate::engine::recovery`]).

use anyhow::Result;

use super::{load_profiles, unresolved, Choices, Context, Outcome, Selection};
use crate::engine::recovery;
use crate::engine::rotation::plan::Plan;
use crate::report::{emit, text, Output, RecoverReport};
use crate::state::ResponseRecord;

/// What `rekey recover` is asked.
pub(crate) struct Options {
    /// Which profiles.
    pub(crate) selection: Selection,
    /// Text or JSON.
    pub(crate) output: Output,
    /// Undo even when the run that held the lease may only be paused.
    pub(crate) force: bool,
}

/// Runs `rekey recover`.
pub(crate) async fn run(ctx: &Context, args: Options) -> Result<Outcome> {
    let state = ctx.state()?;
    let aws = ctx.aws().await;
    let profiles = load_profiles(ctx, &aws, &args.selection, &Choices::default())?;
    for held in recovery::import_shared(&aws, state, &profiles.specs).await {
        tracing::warn!("{}", held.cause);
    }
    let (selected, others) = (&profiles.specs, &profiles.others);
    let mut results = recovery::recover(&aws, state, selected, others, args.force).await?;
    // Then the leak responses a killed run left half done (their rotations resolved).
    let concerns =
        |record: &ResponseRecord| selected.iter().any(|p| record.owner.concerns(&p.name));
    let finished = recovery::finish_responses(&aws, state, selected, others, concerns);
    results.extend(finished.await?);
    let report = RecoverReport {
        schema: Plan::SCHEMA_VERSION,
        recovered: results.iter().map(Into::into).collect(),
    };
    emit(args.output, &report, || match results.is_empty() {
        true => "No interrupted rotation to resolve.".to_owned(),
        false => results.iter().map(text::recovered).collect(),
    })?;
    unresolved(&results)?;
    Ok(Outcome::Success)
}
