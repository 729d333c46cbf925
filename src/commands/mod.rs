//! One module per command. Each takes plain options (the CLI converts its arguments
//! into them: clap stays in [`crate::cli`]) and a [`Context`], does its work with the
//! engine, and prints through [`crate::report`]. What several commands share, choosing
//! the profiles and planning them, lives here.

pub(crate) mod apply;
pub(crate) mod audit;
pub(crate) mod credential_process;
pub(crate) mod find;
pub(crate) mod hook;
pub(crate) mod init;
pub(crate) mod plan;
pub(crate) mod prune;
pub(crate) mod recover;
pub(crate) mod respond;
pub(crate) mod rollback;
pub(crate) mod schedule;
pub(crate) mod status;
pub(crate) mod sync;
pub(crate) mod trust;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use futures_util::stream::{self, StreamExt};

use crate::aws::{Aws, CodePrompt};
use crate::config::discovery::{self, Skipped};
use crate::config::manifest::{self, Notify};
use crate::config::paths::Paths;
use crate::config::profile::{FenceChoice, Leak, Policy, ProfileSpec};
use crate::engine::error::{Cause, ErrorKind};
use crate::engine::find::uncovered;
use crate::engine::old_keys::prune as pruning;
use crate::engine::recovery;
use crate::engine::rotation::plan::Plan;
use crate::engine::rotation::planner::{self, PlanOptions, Planned};
use crate::engine::rotation::shared_key::{self, Grouped};
use crate::report::count;
use crate::state::{ChildRecorder, PendingDeletion, StateDir, StateError};

/// How a successful command ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Done (or nothing to do).
    Success,
    /// `plan --detailed-exitcode` found changes to make.
    ChangesPlanned,
    /// `status --detailed-exitcode` found something to act on (see
    /// [`crate::report::Alert`]).
    NeedsAttention,
    /// The user stopped the run (Ctrl-C, SIGTERM): exit 130, as a shell reports it.
    Interrupted,
}

/// What every command runs with: where things are, and the global options.
pub(crate) struct Context {
    /// Every path from the environment, resolved once.
    pub(crate) paths: Paths,
    /// How many profiles to plan and rotate at once.
    pub(crate) jobs: usize,
    /// Only errors on stderr, no progress.
    pub(crate) quiet: bool,
    /// The MFA code given with `--mfa-code`.
    pub(crate) mfa_code: Option<String>,
    /// Whom to ask for an MFA code when none was given and no `mfa_command` is set (the
    /// command line's terminal prompt).
    pub(crate) mfa_prompt: Option<Arc<dyn CodePrompt>>,
    /// How long throttled calls are retried (`--api-timeout`).
    pub(crate) api_timeout: Duration,
    /// Where `--notify` sends this run's events (the manifest's `notify:` adds more).
    pub(crate) notify: Vec<Notify>,
    /// `--manifest-sha256` (or `REKEY_MANIFEST_SHA256`): the content of a manifest the
    /// operator trusts for this run (see [`trust`]).
    pub(crate) manifest_pin: Option<String>,
    state: StateDir,
}

impl Context {
    /// Resolves the paths from the environment (`state_dir` overrides the state
    /// directory's) and sets the global options.
    pub(crate) fn new(
        state_dir: Option<PathBuf>,
        lock_timeout: Duration,
        jobs: usize,
        quiet: bool,
    ) -> Self {
        let paths = Paths::resolve(|name| std::env::var(name).ok(), state_dir);
        let state = StateDir::new(&paths.state_dir).with_lock_timeout(lock_timeout);
        Self {
            paths,
            jobs,
            quiet,
            mfa_code: None,
            mfa_prompt: None,
            api_timeout: crate::aws::pacing::DEFAULT_API_TIMEOUT,
            notify: Vec::new(),
            manifest_pin: std::env::var("REKEY_MANIFEST_SHA256")
                .ok()
                .filter(|pin| !pin.is_empty())
                .map(|pin| pin.to_ascii_lowercase()),
            state,
        }
    }

    /// Whom to tell about this run: `--notify`'s URLs and the `notify:` of the manifest
    /// `selection` finds, once trusted (an unreadable manifest adds none: reading it is
    /// the run's own error to report; an untrusted one stops the run).
    pub(crate) fn notify_targets(&self, selection: &Selection) -> Result<Vec<Notify>> {
        let mut targets = self.notify.clone();
        match trust::open(self, selection) {
            Ok(Some(manifest)) => targets.extend(manifest.notify_targets(&self.paths)),
            Ok(None) => {}
            Err(e) if e.is::<trust::Untrusted>() => return Err(e),
            Err(_) => {}
        }
        Ok(targets)
    }

    /// Sends `events` to `targets`; a notification that keeps failing is a warning.
    pub(crate) async fn tell(&self, targets: &[Notify], events: Vec<crate::notify::Event>) {
        if targets.is_empty() || events.is_empty() {
            return;
        }
        for warning in crate::notify::send(targets, &events).await {
            tracing::warn!("{warning}");
        }
    }

    /// The AWS SDK configuration, with the MFA code given on the command line.
    pub(crate) async fn aws(&self) -> Aws {
        Aws::load()
            .await
            .with_mfa(self.mfa_code.clone(), self.mfa_prompt.clone())
            .with_api_timeout(self.api_timeout)
    }

    /// The state directory, once it is checked to be safe to use (see
    /// [`StateDir::check`]).
    pub(crate) fn state(&self) -> Result<&StateDir> {
        self.state.check()?;
        // Every program started from now on is recorded there while it runs (see
        // `rekey_sinks::child`), so a run after a crash can wait for it.
        rekey_sinks::child::watch_children(Box::new(ChildRecorder(self.state.clone())));
        Ok(&self.state)
    }
}

/// Which profiles to work on.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selection {
    /// The manifest (default: `$REKEY_MANIFEST`, else the nearest rekey.yaml, else
    /// default mode).
    pub(crate) manifest: Option<PathBuf>,
    /// Only these profiles (all when empty).
    pub(crate) profiles: Vec<String>,
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
        let message = format!(
            "{} could not be resolved: {}",
            count(failed.len(), "interrupted rotation"),
            failed.join(", ")
        );
        return Err(Cause::new(ErrorKind::Interrupted, message).into());
    }
    Ok(())
}

/// The `error_kind` of a run's failure: the kind of the typed error inside it (the
/// first one along its chain of causes), else `other`.
pub(crate) fn error_kind(error: &anyhow::Error) -> ErrorKind {
    use crate::config::discovery::DiscoveryError;
    use crate::config::manifest::ManifestError;
    for cause in error.chain() {
        if let Some(cause) = cause.downcast_ref::<Cause>() {
            return cause.kind;
        }
        if let Some(refused) =
            cause.downcast_ref::<crate::engine::old_keys::rollback::RollbackError>()
        {
            return refused.kind;
        }
        if let Some(aws) = cause.downcast_ref::<crate::aws::AwsError>() {
            return aws.into();
        }
        if cause.is::<StateError>() || cause.is::<crate::state::lock::LockError>() {
            return ErrorKind::State;
        }
        if cause.is::<ManifestError>()
            || cause.is::<DiscoveryError>()
            || cause.is::<trust::Untrusted>()
        {
            return ErrorKind::Config;
        }
    }
    ErrorKind::Other
}

/// The selected profiles and where they came from.
pub(crate) struct Profiles {
    /// The manifest, or default mode's credentials file.
    pub(crate) source: String,
    /// The selected profiles (all, without `--profile`).
    pub(crate) specs: Vec<ProfileSpec>,
    /// The configured profiles `--profile` did not select: one holding a selected
    /// profile's key is rotated with it (see [`shared_key`]).
    pub(crate) others: Vec<ProfileSpec>,
    /// Profiles of the credentials file that default mode does not rotate, and why.
    pub(crate) skipped: Vec<Skipped>,
    /// The manifest's `scan:`: where copies of the keys may be.
    pub(crate) scan: Option<manifest::Scan>,
    /// What the manifest runs or sends (see [`Plan::reaches`]).
    pub(crate) reaches: Vec<String>,
}

/// What changes a plan: `apply`'s choices, which `plan` takes too, to show what they
/// would do. `--grace` and `--compromised` override every profile's policy.
#[derive(Debug, Clone, Default)]
pub(crate) struct Choices {
    /// `--grace`.
    pub(crate) grace: Option<Duration>,
    /// `--now`: every key is due, whatever `max_age` says.
    pub(crate) now: bool,
    /// A leak response (`--compromised`): every key is due, no overlap, no grace.
    pub(crate) compromised: bool,
    /// `--make-room`.
    pub(crate) make_room: bool,
    /// `--ignore-manifest`.
    pub(crate) ignore_manifest: bool,
    /// `--allow-uncovered`.
    pub(crate) allow_uncovered: bool,
    /// Default mode searches the home folder for other copies of the keys it would
    /// rotate (`plan`, `apply`; not `--no-scan`).
    pub(crate) search_home: bool,
    /// `--no-scan`: no search for copies at all, the manifest's `scan:` included.
    pub(crate) no_scan: bool,
    /// `--revocation-timeout`: with `--compromised`, how long AWS may still accept a
    /// deleted old key.
    pub(crate) revocation_timeout: Duration,
    /// `--quarantine`: with `--compromised`, deactivate unknown keys of the user.
    pub(crate) quarantine: bool,
    /// `--keep-sessions`: with `--compromised`, revoke no session of the user.
    pub(crate) keep_sessions: bool,
    /// `--via`: with `--compromised`, the profile that signs every selected profile's
    /// IAM calls (an administrator), overriding the manifest's `via:`.
    pub(crate) via: Option<String>,
    /// `--lift-quarantine`: with `--compromised`, detach AWS's quarantine once the old
    /// key is replaced and refused.
    pub(crate) lift_quarantine: bool,
    /// Read whether AWS quarantined each user (`status`; a leak response always does).
    pub(crate) read_quarantine: bool,
    /// `respond --no-contain`: report what the leaked key made, contain nothing of it.
    pub(crate) no_contain: bool,
    /// `--fence --org-via PROFILE`: fence the user for the response's duration.
    pub(crate) fence: Option<String>,
    /// `--keep-fence`: leave the fence standing.
    pub(crate) keep_fence: bool,
    /// `--regions`: where CloudTrail is read (empty: the default regions).
    pub(crate) regions: Vec<String>,
}

impl Choices {
    /// The planner's options for these choices.
    fn plan_options(&self) -> PlanOptions {
        PlanOptions {
            make_room: self.make_room,
            skip_current_last_use: false,
            compromised: self.compromised,
            now: self.now,
            ignore_manifest: self.ignore_manifest,
            mfa_sessions: true,
            allow_uncovered: self.allow_uncovered,
            read_quarantine: self.read_quarantine || self.compromised,
        }
    }
}

/// The manifest to use, absolute: `--manifest FILE`, else `$REKEY_MANIFEST`, else the
/// nearest `rekey.yaml` (see [`manifest::find`]); `None`: default mode.
pub(crate) fn manifest_path(paths: &Paths, selection: &Selection) -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok();
    let chosen = selection
        .manifest
        .clone()
        .or_else(|| paths.manifest.clone());
    match chosen {
        Some(path) => Some(std::path::absolute(&path).unwrap_or(path)),
        None => manifest::find::nearest(cwd.as_deref()?, &paths.home),
    }
}

/// What default mode knows of profile `name`: why it skips it (an SSO or role profile,
/// session keys), or, if no profile of that name holds a key, the nearest one that does.
fn keyless_hint(paths: &Paths, known: &discovery::Discovered, name: &str) -> Option<String> {
    if let Some(skipped) = known.skipped.iter().find(|s| s.profile == name) {
        return Some(format!(
            "`{name}` in the shared AWS files is not a static-key profile: {}",
            skipped.reason
        ));
    }
    if known.profiles.iter().any(|p| p.name == name) {
        return None;
    }
    let nearest = known
        .profiles
        .iter()
        .map(|p| (strsim::levenshtein(&p.name, name), &p.name))
        .filter(|(distance, _)| *distance <= 2)
        .min()?;
    Some(format!(
        "did you mean `{}`? (it has a key in {} or {})",
        nearest.1,
        paths.show(&paths.credentials_file),
        paths.show(&paths.config_file)
    ))
}

/// The manifest ([`manifest_path`], once [`trust`] passes it), else default mode; then
/// `--profile` filters.
pub(crate) fn load_profiles(
    ctx: &Context,
    aws: &Aws,
    selection: &Selection,
    choices: &Choices,
) -> Result<Profiles> {
    let paths = &ctx.paths;
    let mut profiles = match trust::open(ctx, selection)? {
        Some(manifest) => {
            let absolute = manifest.path.clone();
            let mut specs = manifest.resolve(paths, aws.sdk_config());
            // A profile the manifest gives no device takes the config file's, as the AWS
            // CLI would: its own, or with `via`, the signing profile's.
            let serials = discovery::configured_mfa_serials(paths)?;
            // What default mode knows of each name, for a profile whose key is not
            // where the manifest says (unreadable shared files: no hints, no error).
            let known = discovery::discover(paths, Policy::default()).ok();
            for spec in &mut specs {
                spec.manifest = Some(absolute.clone());
                spec.keyless_hint = known
                    .as_ref()
                    .and_then(|k| keyless_hint(paths, k, &spec.name));
                if spec.policy.mfa_serial.is_none() {
                    let signer = spec.policy.via.as_deref().unwrap_or(&spec.name);
                    spec.policy.mfa_serial = serials.get(signer).cloned();
                }
            }
            Profiles {
                source: paths.show(&absolute),
                specs,
                others: Vec::new(),
                skipped: Vec::new(),
                scan: manifest.scan(paths).filter(|_| !choices.no_scan),
                reaches: manifest
                    .reach(paths)
                    .iter()
                    .map(|r| r.to_string())
                    .collect(),
            }
        }
        None => {
            let found = discovery::discover(paths, Policy::default())?;
            Profiles {
                source: format!(
                    "default mode: every static-key profile of {} (no {} here or in a parent folder)",
                    paths.show(&paths.credentials_file),
                    manifest::FILE_NAME
                ),
                specs: found.profiles,
                others: Vec::new(),
                skipped: found.skipped,
                scan: choices.search_home.then(|| manifest::Scan::home(paths)),
                reaches: Vec::new(),
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
    for spec in profiles.specs.iter_mut().chain(&mut profiles.others) {
        if let Some(grace) = choices.grace {
            spec.policy.grace = grace;
        }
        if choices.compromised {
            spec.policy.grace = Duration::ZERO;
            spec.policy.overlap = Duration::ZERO;
            spec.policy.leaked = Some(Leak {
                revocation_timeout: choices.revocation_timeout,
                quarantine: choices.quarantine,
                keep_sessions: choices.keep_sessions,
                lift_quarantine: choices.lift_quarantine,
                contain: choices.quarantine && !choices.no_contain,
                fence: choices.fence.clone().map(|org_via| FenceChoice {
                    org_via,
                    keep: choices.keep_fence,
                }),
                regions: choices.regions.clone(),
            });
            // The admin signs with the key it holds for the whole run: its own profile,
            // if the response replaces it too, signs for itself as it would without.
            let via = choices.via.as_ref();
            if let Some(via) = via.filter(|v| spec.name != **v && !spec.also.contains(v)) {
                spec.policy.via = Some(via.clone());
            }
        }
    }
    Ok(profiles)
}

/// A plan and what carrying it out needs.
pub(crate) struct Planning {
    /// What `plan` shows.
    pub(crate) plan: Plan,
    /// Per profile (in the plan's order), what a rotation needs.
    pub(crate) planned: Vec<Planned>,
    /// Every pending deletion: this machine's records and those shared in IAM.
    pub(crate) pending: Vec<PendingDeletion>,
    /// The manifest's `scan:`, if it has one.
    pub(crate) scan: Option<manifest::Scan>,
}

/// Plans every rotation of `grouped` (the selected profiles of `profiles`, grouped by
/// key); the conflicts' plans come last.
pub(crate) async fn make_plan(
    ctx: &Context,
    aws: &Aws,
    profiles: &Profiles,
    grouped: &Grouped,
    options: PlanOptions,
) -> Result<Planning> {
    let state = ctx.state()?;
    // Profiles are inspected concurrently (in order of the manifest in the result).
    let mut planned: Vec<Planned> = stream::iter(&grouped.specs)
        .map(|spec| planner::plan_profile(aws, state, spec, options))
        .buffered(ctx.jobs)
        .collect()
        .await;
    // With `scan:`, a key with a copy no sink writes stops its rotation here.
    if let Some(scan) = &profiles.scan {
        let every: Vec<ProfileSpec> = (profiles.specs.iter().chain(&profiles.others))
            .cloned()
            .collect();
        let show = |path: &std::path::Path| ctx.paths.show(path);
        // A leak response never waits for a copy to be adopted: the key must die, and the
        // copy is named as a warning.
        let allow = options.allow_uncovered || options.compromised;
        uncovered::check(&mut planned, &every, scan, state.root(), allow, &show).await;
    }
    planned.extend(grouped.conflicts.iter().map(planner::conflict));
    let shared = planned
        .iter()
        .flat_map(|p| p.shared_pending.iter().cloned());
    let pending = pruning::records(state, shared.collect())?;
    let prune = pruning::due(&pending, &grouped.specs, crate::time::now());
    let plan = Plan {
        schema: Plan::SCHEMA_VERSION,
        source: profiles.source.clone(),
        reaches: profiles.reaches.clone(),
        profiles: planned.iter().map(|p| p.plan.clone()).collect(),
        skipped: profiles.skipped.clone(),
        prune,
        compromised: options.compromised,
        sessions_kept: grouped
            .specs
            .iter()
            .any(|s| s.policy.leaked.as_ref().is_some_and(|l| l.keep_sessions)),
    };
    Ok(Planning {
        plan,
        planned,
        pending,
        scan: profiles.scan.clone(),
    })
}

/// What `plan` and `status` share: select the profiles, group them by key, plan (reads
/// only), as `apply` would with `choices`.
async fn look(
    ctx: &Context,
    selection: &Selection,
    choices: Choices,
    mfa_sessions: bool,
) -> Result<(Grouped, Planning)> {
    // The state dir first: one it refuses stops the command before AWS is asked.
    ctx.state()?;
    let aws = ctx.aws().await;
    let profiles = load_profiles(ctx, &aws, selection, &choices)?;
    warn_about_environment_keys();
    let grouped = shared_key::group(&profiles.specs, &profiles.others).await;
    let options = PlanOptions {
        mfa_sessions,
        ..choices.plan_options()
    };
    let planning = make_plan(ctx, &aws, &profiles, &grouped, options).await?;
    Ok((grouped, planning))
}

/// Shows `summary` and asks, on stderr (stdout stays for results, and is one JSON
/// document with `--output json`); refuses outright when stdin is not a terminal.
pub(crate) fn confirm(summary: &str, question: &str) -> Result<()> {
    let cancelled = |message: &str| Cause::new(ErrorKind::Cancelled, message);
    if !std::io::stdin().is_terminal() {
        return Err(cancelled("refusing to change anything without --yes: standard input is not a terminal, so rekey cannot ask for confirmation; nothing was changed").into());
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
        return Err(cancelled("cancelled; nothing was changed").into());
    }
    Ok(())
}
