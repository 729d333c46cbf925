//! `rekey plan`: what `apply` would do, touching nothing.

use anyhow::{bail, Result};

use super::{look, print, Context, Outcome, Planning, Selection};
use crate::engine::plan::Decision;
use crate::engine::planner::PlanOptions;
use crate::report::{text, Output};

/// What `rekey plan` is asked.
pub struct Options {
    /// Which profiles.
    pub selection: Selection,
    /// Text or JSON.
    pub output: Output,
    /// Exit 2 when changes are planned.
    pub detailed_exitcode: bool,
    /// Plan the leak response (`apply --compromised`).
    pub compromised: bool,
}

/// Runs `rekey plan`.
pub async fn run(ctx: &Context, args: Options) -> Result<Outcome> {
    let options = PlanOptions {
        compromised: args.compromised,
        ..PlanOptions::default()
    };
    let (_, Planning { plan, .. }) = look(ctx, &args.selection, options).await?;
    print(args.output, &plan, || text::plan(&plan))?;
    let failed = plan
        .profiles
        .iter()
        .filter(|p| matches!(p.decision, Decision::Error { .. }));
    let failed: Vec<&str> = failed.map(|p| p.profile.as_str()).collect();
    if !failed.is_empty() {
        bail!(
            "{} profile(s) cannot be rotated: {}",
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Outcome::ChangesPlanned
    } else {
        Outcome::Success
    })
}
