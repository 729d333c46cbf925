//! `rekey rollback PROFILE`: undo the last rotation of a profile during its grace
//! period (see [`crate::engine::old_keys::rollback`]).

use std::path::PathBuf;

use anyhow::Result;

use super::{confirm, load_profiles, Choices, Context, Outcome, Selection};
use crate::config::profile::ProfileSpec;
use crate::engine::recovery;
use crate::report::count;
use crate::report::{emit, text, Output};

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

/// Runs `rekey rollback`. With `--output json`, stdout gets one document, also when
/// the rollback is refused or fails: `{status: failed, result: {profile, error_kind,
/// message, actions}}`.
pub(crate) async fn run(ctx: &Context, args: Options) -> Result<Outcome> {
    match roll_back(ctx, &args).await {
        Ok(done) => {
            let report = recovery::Report::Resolved(done.clone());
            emit(args.output, &report, || text::recovered(&Ok(done)))?;
            Ok(Outcome::Success)
        }
        Err(e) => {
            // For people the error alone, on stderr.
            let report = recovery::Report::Failed(recovery::RecoveryFailure {
                profile: args.profile.clone(),
                error_kind: super::error_kind(&e),
                message: format!("{e:#}"),
                actions: Vec::new(),
            });
            emit(args.output, &report, String::new)?;
            Err(e)
        }
    }
}

/// Finds the rotation to undo, asks (without --yes), and undoes it.
async fn roll_back(ctx: &Context, args: &Options) -> Result<recovery::Recovered> {
    let state = ctx.state()?;
    let selection = Selection {
        manifest: args.manifest.clone(),
        profiles: vec![args.profile.clone()],
    };
    let aws = ctx.aws().await;
    let profiles = load_profiles(ctx, &aws, &selection, &Choices::default())?;
    let configured: Vec<&ProfileSpec> = profiles.specs.iter().chain(&profiles.others).collect();
    let undo = crate::engine::old_keys::rollback::prepare(
        &aws,
        state,
        &args.profile,
        &configured,
        args.force,
    )
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
    Ok(crate::engine::old_keys::rollback::run(&aws, state, undo).await?)
}
