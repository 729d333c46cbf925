//! `rekey apply`: resolve interrupted rotations, plan, confirm, prune, rotate, report.

use std::io::IsTerminal;
use std::time::Instant;

use anyhow::Result;
use futures_util::stream::{self, StreamExt};

use super::{
    confirm, load_profiles, make_plan, unresolved, warn_about_environment_keys, Choices, Context,
    Outcome, Planning, Selection,
};
use crate::aws::Aws;
use crate::engine::error::{Cause, ErrorKind};
use crate::engine::interrupt;
use crate::engine::old_keys::prune;
use crate::engine::recovery;
use crate::engine::rotation;
use crate::engine::rotation::plan::Plan;
use crate::engine::rotation::planner::{self, Next, PlanOptions, Planned, Rotation};
use crate::engine::rotation::shared_key;
use crate::report::count;
use crate::report::progress::Progress;
use crate::report::{text, ApplyOutcome, ApplyReport, Output, ProfileResult, ReplacedKey};
use crate::state::StateDir;

/// What `rekey apply` is asked.
pub(crate) struct Options {
    /// Which profiles.
    pub(crate) selection: Selection,
    /// What changes the plan (`--grace`, `--now`, `--compromised`, …).
    pub(crate) choices: Choices,
    /// Do not ask for confirmation.
    pub(crate) yes: bool,
    /// Text or JSON.
    pub(crate) output: Output,
}

/// Runs `rekey apply` (see the module docs). With `--output json`, stdout gets exactly
/// one JSON document, also when the run fails; everything else goes to stderr.
pub(crate) async fn run(ctx: &Context, args: Options) -> Result<Outcome> {
    let mut report = ApplyReport::new();
    let aws = ctx.aws().await;
    let signals = stop_on_signal();
    // The state dir is checked inside, so that a refused one is reported in the JSON
    // document too (issue 20, point 8).
    let result = match ctx.state() {
        Ok(state) => apply(ctx, &aws, state, &args, &mut report).await,
        Err(e) => Err(e),
    };
    report.throttled = aws.pacing().throttled();
    if let Err(e) = &result {
        report.error = Some(format!("{e:#}"));
        report.error_kind = Some(super::error_kind(e));
    }
    // The text was printed as the run went.
    crate::report::emit(args.output, &report, String::new)?;
    // An untrusted manifest stopped the run before this; it adds no target.
    let targets = ctx.notify_targets(&args.selection).unwrap_or_default();
    ctx.tell(&targets, crate::notify::events::apply(&report, "apply"))
        .await;
    signals.abort();
    if interrupt::requested() {
        eprintln!("Interrupted: what was in progress was undone (see above; nothing new started). `rekey status` shows where each profile stands, `rekey recover` resolves anything left, and `rekey apply` goes on with the rest.");
        return Ok(Outcome::Interrupted);
    }
    result
}

/// Ctrl-C or SIGTERM during `apply`: the rotations in progress stop at their next step
/// (undone, if they made a key), nothing new starts, and the run says so (see
/// [`interrupt`]); a second signal ends the process at once.
fn stop_on_signal() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return;
        };
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            if interrupt::requested() {
                eprintln!(
                    "\nStopped at once: `rekey recover` finishes or undoes what was in progress."
                );
                std::process::exit(130);
            }
            interrupt::request();
            eprintln!("\nStopping: rotations in progress stop at their next step (undone if they made a key); nothing new starts. Ctrl-C again stops at once (then run `rekey recover`).");
        }
    })
}

/// `apply` without the report's printing: `rekey respond` runs it for the profiles
/// that hold an exposed key, within its own report.
pub(super) async fn apply(
    ctx: &Context,
    aws: &Aws,
    state: &StateDir,
    args: &Options,
    report: &mut ApplyReport,
) -> Result<Outcome> {
    let for_people = args.output == Output::Text;
    let profiles = load_profiles(ctx, aws, &args.selection, &args.choices)?;
    if for_people {
        println!("Profiles from {}", profiles.source);
    }
    warn_about_environment_keys();
    // With `state: s3://…`, also what a killed machine left in the shared state; a
    // user whose lease another run holds is stopped below with that as the cause.
    let held = recovery::import_shared(aws, state, &profiles.specs).await;
    let stuck = recover_first(aws, state, args, &profiles, report).await?;
    let options = PlanOptions {
        // With --yes and text output the plan is printed only if nothing changes; a
        // leak response reports each replaced key's last use.
        skip_current_last_use: args.yes && for_people && !args.choices.compromised,
        ..args.choices.plan_options()
    };
    // Grouped after recovery: an interrupted shared rotation leaves its sinks disagreeing.
    let grouped = shared_key::group(&profiles.specs, &profiles.others).await;
    let Planning {
        mut plan,
        mut planned,
        pending,
        ..
    } = make_plan(ctx, aws, &profiles, &grouped, options).await?;
    stop_held(&mut plan, &mut planned, held);
    let plan_shown = show_and_confirm(&plan, args)?;
    report.plan = Some(plan);

    let now = crate::time::now();
    // Prune signs as planning resolved each profile's user, moments ago.
    let resolved: Vec<_> = planned.iter_mut().filter_map(|p| p.user.take()).collect();
    report.pruned = prune::prune(aws, state, &grouped.specs, &pending, &resolved, now, false).await;
    let progress = Progress::new(for_people && !ctx.quiet);
    let shown = for_people && !plan_shown;
    rotate_all(aws, state, planned, ctx.jobs, &progress, shown, report).await;
    if args.choices.compromised {
        report.replaced = replaced(report);
    }
    if for_people {
        print_summary(aws, report, args.choices.compromised, ctx.quiet);
    }
    ending(stuck, report, args.choices.compromised)
}

/// Puts right first what an interrupted run left half-done (asking, without --yes).
/// A rotation that cannot be resolved stops only its own user (planning reports it as
/// interrupted), returned as the error the run ends with; every other profile is still
/// pruned and rotated.
async fn recover_first(
    aws: &Aws,
    state: &StateDir,
    args: &Options,
    profiles: &super::Profiles,
    report: &mut ApplyReport,
) -> Result<Option<anyhow::Error>> {
    let interrupted = recovery::pending_for(state, &profiles.specs)?;
    if interrupted == 0 {
        return Ok(None);
    }
    if !args.yes {
        confirm(
            &format!(
                "{} will be resolved first (see `rekey recover`).",
                count(interrupted, "interrupted rotation")
            ),
            "Resolve them?",
        )?;
    }
    let results = recovery::recover(aws, state, &profiles.specs, &profiles.others, false).await?;
    if args.output == Output::Text {
        for result in &results {
            print!("{}", text::recovered(result));
        }
    }
    report.recovered = results.iter().map(recovery::Report::from).collect();
    Ok(unresolved(&results).err())
}

/// Shows the plan when nothing changes (it then says everything, each profile's error
/// included: the results would only say it again), else asks before changing anything
/// (unless --yes). Returns whether the plan was shown.
fn show_and_confirm(plan: &Plan, args: &Options) -> Result<bool> {
    let for_people = args.output == Output::Text;
    let plan_shown = for_people && !plan.has_changes();
    if plan_shown {
        println!("{}", text::plan_body(plan));
    } else if plan.has_changes() && !args.yes {
        // For people the source line is already out (first, on stdout).
        let shown = if for_people {
            text::plan_body(plan)
        } else {
            text::plan(plan)
        };
        confirm(&shown, "Rotate these keys?")?;
    }
    Ok(plan_shown)
}

/// Rotates the planned profiles concurrently, so IAM's propagation delay is paid once,
/// not once per profile; locks keep them from writing one file at the same time.
/// Results are reported in manifest order as they complete (printed if `shown`), and
/// the progress line says when rekey is pacing to a throttled rate (`aws::pacing`).
async fn rotate_all(
    aws: &Aws,
    state: &StateDir,
    planned: Vec<Planned>,
    jobs: usize,
    progress: &Progress,
    shown: bool,
    report: &mut ApplyReport,
) {
    let mut rotations = stream::iter(planned)
        .map(|planned| async move { carry_out(aws, state, planned, progress).await })
        .buffered(jobs);
    let mut ticks = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        tokio::select! {
            next = rotations.next() => match next {
                Some(result) => {
                    if shown {
                        progress.print(&text::profile_result(&result));
                    }
                    report.results.push(result);
                }
                None => break,
            },
            _ = ticks.tick() => progress.pacing(aws.pacing().status()),
        }
    }
    drop(rotations);
    progress.clear();
}

/// The run's summary for people: what prune did, the keys a leak response replaced,
/// throttling, the table (on a terminal) and the closing line with what comes next.
fn print_summary(aws: &Aws, report: &ApplyReport, compromised: bool, quiet: bool) {
    print!("{}", text::pruned(&report.pruned));
    if compromised {
        print!("{}", text::replaced(&report.replaced));
    }
    if let Some(note) = text::throttled(&aws.pacing().throttled()) {
        println!("{note}");
    }
    // The table is for a person reading stdout; a log file gets the lines above.
    if std::io::stdout().is_terminal() && !quiet {
        print!("{}", text::summary_table(&report.results));
    }
    println!("{}", text::summary(&report.results));
}

/// How the run ends: an unresolved interrupted rotation (`stuck`) and the profiles that
/// failed are errors. A leak response that left a selected key in place did not do its
/// job, whatever the reason (issue 17, defect 7).
fn ending(
    stuck: Option<anyhow::Error>,
    report: &ApplyReport,
    compromised: bool,
) -> Result<Outcome> {
    let failed: Vec<String> = report
        .results
        .iter()
        .filter(|r| match r.outcome {
            ApplyOutcome::Failed { .. } => true,
            ApplyOutcome::Skipped { .. } => compromised,
            _ => false,
        })
        .map(|r| text::label(&r.profile, &r.also))
        .collect();
    let profiles = || format!("{} failed", count(failed.len(), "profile"));
    let failed_ones = |message: String| Err(Cause::new(ErrorKind::ProfilesFailed, message).into());
    match (stuck, failed.is_empty()) {
        (None, true) => Ok(Outcome::Success),
        (None, false) if compromised => failed_ones(format!(
            "{} failed or were not replaced: {}",
            count(failed.len(), "profile"),
            failed.join(", ")
        )),
        (None, false) => failed_ones(format!("{}: {}", profiles(), failed.join(", "))),
        (Some(stuck), true) => Err(stuck),
        (Some(stuck), false) => failed_ones(format!(
            "{stuck:#}; and {}: {}",
            profiles(),
            failed.join(", ")
        )),
    }
}

/// The keys a leak response replaced, with their last use as planning found it.
fn replaced(report: &ApplyReport) -> Vec<ReplacedKey> {
    let planned = report.plan.iter().flat_map(|plan| &plan.profiles);
    report
        .results
        .iter()
        .filter_map(|result| match &result.outcome {
            ApplyOutcome::Rotated(rotated) => Some((result, rotated)),
            _ => None,
        })
        .map(|(result, rotated)| ReplacedKey {
            profile: result.profile.clone(),
            key_id: rotated.old_key_id.clone(),
            replaced_by: rotated.new_key_id.clone(),
            response: rotated.leak_response.clone().unwrap_or_default(),
            last_used: planned
                .clone()
                .find(|p| p.profile == result.profile)
                .and_then(|p| p.current_key.as_ref())
                .and_then(|key| key.last_used.clone()),
        })
        .collect()
}

/// Rotates one planned profile (or reports why not), showing its progress.
async fn carry_out(
    aws: &Aws,
    state: &StateDir,
    planned: Planned,
    progress: &Progress,
) -> ProfileResult {
    let started = Instant::now();
    let plan = &planned.plan;
    let outcome = match planned.next {
        Next::Rotate(rotation) => {
            let Rotation { spec, input } = *rotation;
            let task = progress.start(&text::label(&plan.profile, &plan.also));
            let result =
                rotation::rotate(aws, state, &spec, plan, input, &|stage| task.stage(&stage)).await;
            task.finish();
            match result {
                Ok(rotated) => ApplyOutcome::Rotated(rotated),
                Err(failure) => ApplyOutcome::Failed {
                    error: failure.kind.to_string(),
                    error_kind: failure.error_kind(),
                    actions: failure.actions,
                },
            }
        }
        Next::Skip(reason) => ApplyOutcome::Skipped { reason },
        Next::Error(cause) => ApplyOutcome::Failed {
            error: cause.message,
            error_kind: cause.kind,
            actions: Vec::new(),
        },
    };
    ProfileResult {
        profile: plan.profile.clone(),
        also: plan.also.clone(),
        seconds: started.elapsed().as_secs_f64(),
        outcome,
    }
}

/// Stops each profile the shared state stops (issue 30): another run holds its user's
/// lease (that run, not the second key it may have made, is why nothing is done), or
/// the shared state cannot be read.
fn stop_held(plan: &mut Plan, planned: &mut [Planned], stopped: Vec<recovery::Stopped>) {
    for stop in stopped {
        let concerns = |p: &crate::engine::rotation::plan::ProfilePlan| match &stop.who {
            recovery::Stops::User { account, user_name } => p.identity.as_ref().is_some_and(|i| {
                i.account == *account && i.user_name.as_deref() == Some(user_name.as_str())
            }),
            recovery::Stops::Profiles(names) => names.contains(&p.profile),
        };
        for (planned, shown) in planned.iter_mut().zip(plan.profiles.iter_mut()) {
            if concerns(&planned.plan) {
                planner::stop(planned, stop.cause.clone());
                *shown = planned.plan.clone();
            }
        }
    }
}
