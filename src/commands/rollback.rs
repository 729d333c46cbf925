//! `rekey rollback PROFILE`: undo the last rotation of a profile during its grace
//! period (see [`crate::engine::rollback`]).

use std::path::PathBuf;

use anyhow::Result;

use super::{confirm, load_profiles, print, Choices, Context, Outcome, Selection};
use crate::config::profile::ProfileSpec;
use crate::engine::recovery;
use crate::report::count;
use crate::report::{text, Output};

/// What `rekey rollback` is asked.
pub(crate) struct Options {
    /// The profile whose last rotation to undo.
    pub(crate) profile: String,
    /// The manifest naming it.
    pub(crate) manifest: Option<PathBuf>,
    /// Do not ask.
    pub(crate) yes: bool,
    /// Delete the new key even if something used it after the rotation (overlap).
    pub(crate) force: bool,
    /// Text or JSON.
    pub(crate) output: Output,
}

/// Runs `rekey rollback`.
pub(crate) async fn run(ctx: &Context, args: Options) -> Result<Outcome> {
    let state = ctx.state()?;
    let selection = Selection {
        manifest: args.manifest.clone(),
        profiles: vec![args.profile.clone()],
    };
    let aws = ctx.aws().await;
    let profiles = load_profiles(ctx, &aws, &selection, Choices::default())?;
    let configured: Vec<&ProfileSpec> = profiles.specs.iter().chain(&profiles.others).collect();
    let undo =
        crate::engine::rollback::prepare(&aws, state, &args.profile, &configured, args.force)
            .await?;
    let spec = &undo.spec;
    if !args.yes {
        confirm(
            &format!(
                "Roll back {}: make old key {} active again, restore its {}, delete key {}.",
                text::label(&spec.name, &spec.also),
                undo.pending.key_id,
                count(spec.sinks.len(), "sink"),
                undo.current_key_id
            ),
            "Roll back?",
        )?;
    }
    let done = Ok(crate::engine::rollback::run(&aws, state, undo).await?);
    let report = recovery::Report::from(&done);
    print(args.output, &report, || {
        text::recovered(&done).trim_end().to_owned()
    })?;
    Ok(Outcome::Success)
}
