//! `rekey plan`: what `apply` would do, touching nothing.

use anyhow::{bail, Result};

use super::{look, Choices, Context, Outcome, Planning, Selection};
use crate::engine::rotation::plan::Decision;
use crate::report::count;
use crate::report::{text, Output};

/// What `rekey plan` is asked.
pub(crate) struct Options {
    /// Which profiles.
    pub(crate) selection: Selection,
    /// Plan as `apply` would with these choices.
    pub(crate) choices: Choices,
    /// Text or JSON.
    pub(crate) output: Output,
    /// Exit 2 when changes are planned.
    pub(crate) detailed_exitcode: bool,
    /// Open MFA sessions (`--mfa`, `--mfa-code`): a plan uses up no code unasked.
    pub(crate) mfa: bool,
}

/// Runs `rekey plan`.
pub(crate) async fn run(ctx: &Context, args: Options) -> Result<Outcome> {
    let (_, Planning { plan, .. }) = look(ctx, &args.selection, args.choices, args.mfa).await?;
    crate::report::emit(args.output, &plan, || text::plan(&plan))?;
    let failed = plan
        .profiles
        .iter()
        .filter(|p| matches!(p.decision, Decision::Error { .. }));
    let failed: Vec<&str> = failed.map(|p| p.profile.as_str()).collect();
    if !failed.is_empty() {
        bail!(
            "{} cannot be rotated: {}",
            count(failed.len(), "profile"),
            failed.join(", ")
        );
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Outcome::ChangesPlanned
    } else {
        Outcome::Success
    })
}
