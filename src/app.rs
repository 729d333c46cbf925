//! The commands: load the profiles, plan, confirm, apply, prune, report.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use futures_util::stream::{self, StreamExt};
use rekey_sinks::Sink;
use serde::Serialize;

use crate::aws::Aws;
use crate::cli::{
    Cli, Command, CredentialProcessArgs, InitArgs, Outcome, Output, PlanArgs, PruneArgs,
    RecoverArgs, RollbackArgs, Selection, StatusArgs,
};
use crate::discovery::{self, Skipped};
use crate::manifest;
use crate::paths::Paths;
use crate::plan::{Decision, Plan};
use crate::planner::{self, PlanOptions, Planned};
use crate::profile::{Policy, ProfileSpec};
use crate::prune;
use crate::recovery;
use crate::render;
use crate::shared_key::{self, Grouped};
use crate::state::StateDir;

/// Runs the command `cli` names.
pub async fn run(cli: Cli) -> Result<Outcome> {
    let paths = Paths::resolve(|name| std::env::var(name).ok(), cli.state_dir.clone());
    let state = StateDir::new(&paths.state_dir).with_lock_timeout(cli.lock_timeout.0);
    let uses_state = !matches!(
        cli.command,
        Command::Init(_) | Command::Completions(_) | Command::CredentialProcess(_)
    );
    if uses_state {
        state.check()?;
    }
    let jobs = usize::from(cli.jobs);
    let quiet = cli.quiet;
    match cli.command {
        Command::Plan(args) => plan(&paths, &state, args, jobs).await,
        Command::Apply(args) => crate::apply::apply(&paths, &state, args, jobs, quiet).await,
        Command::Prune(args) => prune_command(&paths, &state, args).await,
        Command::Recover(args) => recover_command(&paths, &state, args).await,
        Command::Status(args) => status(&paths, &state, args, jobs).await,
        Command::Rollback(args) => rollback_command(&paths, &state, args).await,
        Command::Init(args) => init(&paths, args),
        Command::Completions(args) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut command, "rekey", &mut std::io::stdout());
            Ok(Outcome::Success)
        }
        Command::CredentialProcess(args) => credential_process(args).await,
    }
}

/// What `rekey status --output json` prints for a profile.
#[derive(Serialize)]
pub(crate) struct ProfileStatus {
    #[serde(flatten)]
    pub plan: crate::plan::ProfilePlan,
    /// Old keys of this profile waiting for deletion.
    pub pending: Vec<crate::state::PendingDeletion>,
    /// Things the user should know (e.g. the key is past `max_age`).
    pub warnings: Vec<String>,
}

async fn status(paths: &Paths, state: &StateDir, args: StatusArgs, jobs: usize) -> Result<Outcome> {
    let (grouped, plan) = look(paths, state, &args.selection, jobs).await?;
    let pending = state.all_pending()?;
    let statuses: Vec<ProfileStatus> = plan
        .profiles
        .into_iter()
        .enumerate()
        .map(|(index, plan)| {
            let mut warnings = Vec::new();
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
    match args.output {
        Output::Text => print!("{}", render::status(&statuses, &plan.skipped)),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "schema": Plan::SCHEMA_VERSION,
                "source": plan.source,
                "profiles": statuses,
                "skipped": plan.skipped,
            }))?
        ),
    }
    Ok(Outcome::Success)
}

async fn rollback_command(paths: &Paths, state: &StateDir, args: RollbackArgs) -> Result<Outcome> {
    let selection = Selection {
        manifest: args.manifest.clone(),
        profiles: vec![args.profile.clone()],
    };
    let profiles = load_profiles(paths, &selection, None)?;
    let configured: Vec<&ProfileSpec> = profiles.specs.iter().chain(&profiles.others).collect();
    let aws = Aws::load().await;
    let undo = crate::rollback::prepare(&aws, state, &args.profile, &configured).await?;
    let spec = &undo.spec;
    if !args.yes {
        confirm(
            &format!(
                "Roll back {}: make old key {} active again, restore its {} sink(s), delete key {}.",
                render::label(&spec.name, &spec.also),
                undo.pending.key_id,
                spec.sinks.len(),
                undo.current_key_id
            ),
            "Roll back?",
        )?;
    }
    let done = crate::rollback::run(&aws, state, undo).await?;
    print!("{}", render::recovered(&Ok(done)));
    Ok(Outcome::Success)
}

fn init(paths: &Paths, args: InitArgs) -> Result<Outcome> {
    if args.manifest.exists() && !args.force {
        bail!(
            "{} already exists; use --force to replace it",
            args.manifest.display()
        );
    }
    let found = discovery::discover(paths, Policy::default())?;
    let text = crate::init::starter_manifest(&found);
    // Check what we write is a manifest rekey reads.
    manifest::parse(&args.manifest, &text)
        .context("internal error: the starter manifest does not parse")?;
    std::fs::write(&args.manifest, text)
        .with_context(|| format!("cannot write {}", args.manifest.display()))?;
    println!(
        "Wrote {} with {} profile(s); review it, then run `rekey plan`.",
        args.manifest.display(),
        found.profiles.len()
    );
    Ok(Outcome::Success)
}

/// Keys in the environment override the shared files for every profile: a rotation
/// would update the files while programs keep using the environment's key.
pub(crate) fn warn_about_environment_keys() {
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|v| !v.is_empty()) {
        tracing::warn!(
            "AWS_ACCESS_KEY_ID is set in the environment: it overrides the credentials files for every profile, so programs started from this shell keep using that key after a rotation"
        );
    }
}

async fn recover_command(paths: &Paths, state: &StateDir, args: RecoverArgs) -> Result<Outcome> {
    let profiles = load_profiles(paths, &args.selection, None)?;
    let aws = Aws::load().await;
    let results = recovery::recover(&aws, state, &profiles.specs, &profiles.others).await?;
    match args.output {
        Output::Text if results.is_empty() => println!("No interrupted rotation to resolve."),
        Output::Text => {
            for result in &results {
                print!("{}", render::recovered(result));
            }
        }
        Output::Json => {
            let items: Vec<recovery::Report> = results.iter().map(Into::into).collect();
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({ "schema": Plan::SCHEMA_VERSION, "recovered": items })
                )?
            );
        }
    }
    unresolved(&results)?;
    Ok(Outcome::Success)
}

/// Fails, naming them, if any of the interrupted rotations could not be resolved.
pub(crate) fn unresolved(
    results: &[Result<recovery::Recovered, recovery::RecoveryFailure>],
) -> Result<()> {
    let failed: Vec<&str> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|f| f.profile.as_str())
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} interrupted rotation(s) could not be resolved: {}",
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

/// Prints the keyring entry's `credential_process` JSON, and nothing else, on stdout.
async fn credential_process(args: CredentialProcessArgs) -> Result<Outcome> {
    let entry = match (&args.account, &args.profile) {
        (Some(account), _) => {
            let service = args
                .service
                .as_deref()
                .unwrap_or(rekey_sinks::keyring::DEFAULT_SERVICE);
            rekey_sinks::keyring::Keyring::new(service, account.as_str())
        }
        (None, Some(profile)) => {
            let path = args
                .manifest
                .clone()
                .unwrap_or_else(|| PathBuf::from(manifest::FILE_NAME));
            let path = std::path::absolute(&path).unwrap_or(path);
            let loaded = manifest::load(&path)?;
            let spec = loaded
                .raw
                .profiles
                .get(profile)
                .with_context(|| format!("no profile `{profile}` in {}", path.display()))?;
            let config = spec
                .sinks
                .iter()
                .flat_map(|s| s.value.iter())
                .find_map(|sink| match sink {
                    manifest::RawSink::Keyring(config) => Some(config),
                    _ => None,
                })
                .with_context(|| {
                    format!(
                        "profile `{profile}` has no keyring sink in {}",
                        path.display()
                    )
                })?;
            manifest::keyring_sink(config, profile)
        }
        (None, None) => unreachable!("clap requires --profile or --account"),
    };
    let json = tokio::task::spawn_blocking(move || {
        let json = entry.read_json()?;
        json.with_context(|| {
            format!(
                "{} does not exist; run `rekey apply` first",
                entry.describe()
            )
        })
    })
    .await??;
    println!("{}", json.as_str());
    Ok(Outcome::Success)
}

/// The selected profiles and where they came from.
pub(crate) struct Profiles {
    /// The manifest, or default mode's credentials file.
    pub source: String,
    /// The selected profiles (all, without `--profile`).
    pub specs: Vec<ProfileSpec>,
    /// The configured profiles `--profile` did not select: one holding a selected
    /// profile's key is rotated with it (see [`shared_key`]).
    pub others: Vec<ProfileSpec>,
    /// Profiles of the credentials file that default mode does not rotate, and why.
    pub skipped: Vec<Skipped>,
}

/// `--manifest FILE`, else `./rekey.yaml`, else default mode; then `--profile` filters.
pub(crate) fn load_profiles(
    paths: &Paths,
    selection: &Selection,
    grace: Option<std::time::Duration>,
) -> Result<Profiles> {
    let manifest_path = match &selection.manifest {
        Some(path) => Some(path.clone()),
        None => Some(PathBuf::from(manifest::FILE_NAME)).filter(|p| p.is_file()),
    };
    let mut profiles = match manifest_path {
        Some(path) => {
            let absolute = std::path::absolute(&path).unwrap_or(path);
            let manifest = manifest::load(&absolute)?;
            Profiles {
                source: absolute.display().to_string(),
                specs: manifest.resolve(paths),
                others: Vec::new(),
                skipped: Vec::new(),
            }
        }
        None => {
            let found = discovery::discover(paths, Policy::default())?;
            Profiles {
                source: format!("default mode ({})", paths.credentials_file.display()),
                specs: found.profiles,
                others: Vec::new(),
                skipped: found.skipped,
            }
        }
    };
    if !selection.profiles.is_empty() {
        let known: Vec<&str> = profiles.specs.iter().map(|p| p.name.as_str()).collect();
        for wanted in &selection.profiles {
            if !known.contains(&wanted.as_str()) {
                let skipped = profiles.skipped.iter().find(|s| &s.profile == wanted);
                match skipped {
                    Some(s) => bail!("profile `{wanted}` is not rotated: {}", s.reason),
                    None => bail!(
                        "no profile `{wanted}` in {} (known: {})",
                        profiles.source,
                        known.join(", ")
                    ),
                }
            }
        }
        let (selected, others) = std::mem::take(&mut profiles.specs)
            .into_iter()
            .partition(|p| selection.profiles.contains(&p.name));
        profiles.specs = selected;
        profiles.others = others;
        profiles.skipped.clear();
    }
    if let Some(grace) = grace {
        for spec in profiles.specs.iter_mut().chain(&mut profiles.others) {
            spec.policy.grace = grace;
        }
    }
    Ok(profiles)
}

/// Plans every rotation of `grouped` (the selected profiles of `profiles`, grouped by
/// key); the conflicts' plans come last.
pub(crate) async fn make_plan(
    aws: &Aws,
    state: &StateDir,
    profiles: &Profiles,
    grouped: &Grouped,
    options: PlanOptions,
    jobs: usize,
) -> Result<(Plan, Vec<Planned>)> {
    // Profiles are inspected concurrently (in order of the manifest in the result).
    let mut planned: Vec<Planned> = stream::iter(&grouped.specs)
        .map(|spec| planner::plan_profile(aws, state, spec, options))
        .buffered(jobs)
        .collect()
        .await;
    planned.extend(grouped.conflicts.iter().map(planner::conflict));
    let prune = prune::due(state, &grouped.specs, SystemTime::now())?;
    let plan = Plan {
        schema: Plan::SCHEMA_VERSION,
        source: profiles.source.clone(),
        profiles: planned.iter().map(|p| p.plan.clone()).collect(),
        skipped: profiles.skipped.clone(),
        prune,
    };
    Ok((plan, planned))
}

/// What `plan` and `status` share: select the profiles, group them by key, plan (reads
/// only).
async fn look(
    paths: &Paths,
    state: &StateDir,
    selection: &Selection,
    jobs: usize,
) -> Result<(Grouped, Plan)> {
    let profiles = load_profiles(paths, selection, None)?;
    warn_about_environment_keys();
    let aws = Aws::load().await;
    let grouped = shared_key::group(&profiles.specs, &profiles.others).await;
    let options = PlanOptions::default();
    let (plan, _) = make_plan(&aws, state, &profiles, &grouped, options, jobs).await?;
    Ok((grouped, plan))
}

async fn plan(paths: &Paths, state: &StateDir, args: PlanArgs, jobs: usize) -> Result<Outcome> {
    let (_, plan) = look(paths, state, &args.selection, jobs).await?;
    print(args.output, &plan, || render::plan(&plan))?;
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

async fn prune_command(paths: &Paths, state: &StateDir, args: PruneArgs) -> Result<Outcome> {
    let profiles = load_profiles(paths, &args.selection, None)?;
    let due = prune::due(state, &profiles.specs, SystemTime::now())?;
    if due.is_empty() {
        if args.output == Output::Text {
            println!("No old keys are due for deletion.");
        } else {
            println!(
                "{}",
                serde_json::json!({ "schema": Plan::SCHEMA_VERSION, "pruned": [] })
            );
        }
        return Ok(Outcome::Success);
    }
    if !args.yes {
        confirm(&render::due(&due), "Delete these keys?")?;
    }
    let aws = Aws::load().await;
    let pruned = prune::prune(&aws, state, &profiles.specs, SystemTime::now()).await?;
    match args.output {
        Output::Text => print!("{}", render::pruned(&pruned)),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "schema": Plan::SCHEMA_VERSION, "pruned": pruned })
            )?
        ),
    }
    Ok(Outcome::Success)
}

/// Shows `summary` and asks, on stderr (stdout stays for results, and is one JSON
/// document with `--output json`); refuses outright when stdin is not a terminal.
pub(crate) fn confirm(summary: &str, question: &str) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("refusing to change anything without --yes: standard input is not a terminal, so rekey cannot ask for confirmation; nothing was changed");
    }
    eprintln!("{summary}");
    eprint!("{question} Type `yes` to continue: ");
    std::io::stderr()
        .flush()
        .context("cannot write to stderr")?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    if answer.trim() != "yes" {
        bail!("cancelled; nothing was changed");
    }
    Ok(())
}

fn print<T: Serialize>(output: Output, value: &T, text: impl FnOnce() -> String) -> Result<()> {
    match output {
        Output::Text => println!("{}", text()),
        Output::Json => println!("{}", serde_json::to_string_pretty(value)?),
    }
    Ok(())
}
