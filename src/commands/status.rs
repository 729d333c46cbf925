//! `rekey status`: each profile's key, its age and last use, where its copies stand,
//! and the old keys awaiting deletion. Read-only.

use std::time::SystemTime;

use anyhow::Result;

use super::{look, Context, Outcome, Planning, Selection};
use crate::engine::plan::{Decision, Plan};
use crate::report::{print_json, text, Output, ProfileStatus, StatusReport};

/// What `rekey status` is asked.
pub struct Options {
    /// Which profiles.
    pub selection: Selection,
    /// Text or JSON.
    pub output: Output,
}

/// Runs `rekey status`.
pub async fn run(ctx: &Context, options: Options) -> Result<Outcome> {
    let (grouped, Planning { plan, pending, .. }) = look(ctx, &options.selection).await?;
    let statuses: Vec<ProfileStatus> = plan
        .profiles
        .into_iter()
        .enumerate()
        .map(|(index, plan)| {
            let mut warnings = plan.warnings.clone();
            // A profile that stops after its key was read shows the key, and why here.
            if let (Some(_), Decision::Error { message, .. }) = (&plan.current_key, &plan.decision)
            {
                warnings.push(message.clone());
            }
            // Conflicts (after the grouped specs) have no policy to check.
            let max_age = grouped.specs.get(index).and_then(|s| s.policy.max_age);
            if let (Some(max_age), Some(key)) = (max_age, &plan.current_key) {
                let age = crate::time::since(key.created, SystemTime::now());
                if age >= max_age {
                    warnings.push(format!(
                        "key {} is {} old, past max_age {}: `rekey apply` rotates it",
                        key.id,
                        crate::time::age(age),
                        crate::time::age(max_age)
                    ));
                }
            }
            ProfileStatus {
                pending: pending
                    .iter()
                    .filter(|p| p.concerns(&plan.profile))
                    .cloned()
                    .collect(),
                plan,
                warnings,
            }
        })
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
    Ok(Outcome::Success)
}
