//! `rekey find`: every file under the roots that holds a copy of a key rekey knows,
//! and whether a sink keeps it current. Reads files, and asks STS whose each key is.

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use super::{load_profiles, Choices, Context, Outcome, Selection};
use crate::aws::Aws;
use crate::config::discovery;
use crate::config::profile::{Policy, ProfileSpec};
use crate::engine::find::{self, WalkOptions};
use crate::report::find::{self as report, FindReport};
use crate::report::sarif;
use crate::report::{emit, Output};

/// What `rekey find` is asked.
pub(crate) struct Options {
    /// Whose keys to look for (the manifest's profiles, or default mode's).
    pub(crate) selection: Selection,
    /// Where to look (default: the home folder).
    pub(crate) roots: Vec<PathBuf>,
    /// How to walk.
    pub(crate) walk: WalkOptions,
    /// Text or JSON.
    pub(crate) output: Output,
    /// SARIF 2.1.0 instead of rekey's JSON.
    pub(crate) sarif: bool,
    /// Exit 2 when a current key has a copy no sink writes.
    pub(crate) detailed_exitcode: bool,
    /// Search the current repository's staged changes instead (`--staged`).
    pub(crate) staged: bool,
}

/// Runs `rekey find`.
pub(crate) async fn run(ctx: &Context, options: Options) -> Result<Outcome> {
    if options.staged {
        return staged(ctx, &options.selection).await;
    }
    let state = ctx.state()?;
    let aws = Aws::load().await;
    let (specs, scan_roots) = known_profiles(ctx, &aws, &options.selection)?;
    let targets = ctx.notify_targets(&options.selection)?;
    let pending = state.all_pending()?;
    let deleted = state.all_deleted()?;
    let known = std::sync::Arc::new(find::known_keys(&specs, &pending, &deleted).await);
    let covered = find::covered_places(&specs);
    // The given folders, else the manifest's `scan:` roots, else the home folder.
    let roots: Vec<PathBuf> = match (options.roots.is_empty(), scan_roots) {
        (false, _) => options.roots,
        (true, Some(roots)) => roots,
        (true, None) => vec![ctx.paths.home.clone()],
    };
    // Absolute, so that the state dir is recognized whatever the roots' form.
    let roots: Vec<PathBuf> = roots
        .into_iter()
        .map(|r| std::path::absolute(&r).unwrap_or(r))
        .collect();
    let mut walk = options.walk;
    // The state dir's journal and backups hold keys by design: not copies to report.
    let state_root = state.root();
    walk.skip
        .push(std::path::absolute(state_root).unwrap_or_else(|_| state_root.to_owned()));
    let search = roots.clone();
    let walked = known.clone();
    // What STS answered earlier on whose each key is; a record that cannot be read is
    // asked again.
    let recorded = state.key_owners().unwrap_or_default();
    // The walk and STS's answers on the other keys, at the same time.
    let (found, owners) = tokio::join!(
        tokio::task::spawn_blocking(move || find::find(&walked, &covered, &search, &walk)),
        find::key_owners(&aws, &known, &recorded)
    );
    let mut found = found.context("the search stopped")?;
    for key in &mut found.keys {
        if let Some(arn) = owners.get(&key.key_id) {
            key.user_arn = Some(arn.clone());
        }
    }
    remember_new_owners(state, recorded, owners).await;
    let report = FindReport::new(&found, &roots, &ctx.paths);
    ctx.tell(&targets, crate::notify::events::find(&report))
        .await;
    match options.sarif {
        true => emit(Output::Json, &sarif::log(&found, &roots), String::new)?,
        false => emit(options.output, &report, || report::text(&report))?,
    }
    Ok(if options.detailed_exitcode && report.has_uncovered() {
        Outcome::NeedsAttention
    } else {
        Outcome::Success
    })
}

/// Adds to the record of whose each key is what this run learned, if anything (a find
/// that learned nothing writes nothing). Best effort: a record not kept is asked again.
async fn remember_new_owners(
    state: &crate::state::StateDir,
    mut recorded: crate::state::KeyOwners,
    learned: crate::state::KeyOwners,
) {
    let before = recorded.len();
    for (id, arn) in learned {
        recorded.entry(id).or_insert(arn);
    }
    if recorded.len() > before {
        if let Err(e) = state.remember_key_owners(&recorded).await {
            tracing::warn!("{e}");
        }
    }
}

/// The profiles whose keys are known (the manifest's, or default mode's, and the shared
/// files' static keys, manifest or not), and the manifest's `scan:` roots.
fn known_profiles(
    ctx: &Context,
    aws: &Aws,
    selection: &Selection,
) -> Result<(Vec<ProfileSpec>, Option<Vec<PathBuf>>)> {
    let profiles = load_profiles(ctx, aws, selection, &Choices::default())?;
    let scan_roots = profiles.scan.map(|s| s.roots);
    let mut specs = profiles.specs;
    specs.extend(profiles.others);
    if let Ok(discovered) = discovery::discover(&ctx.paths, Policy::default()) {
        let named: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        specs.extend(
            discovered
                .profiles
                .into_iter()
                .filter(|p| !named.contains(&p.name)),
        );
    }
    Ok((specs, scan_roots))
}

/// `rekey find --staged`: the current repository's staged changes (see
/// [`find::staged`]); each line holding a key is named, and the run fails (the commit a
/// pre-commit hook guards does not happen). Never a secret: a line is named by the key
/// it holds.
async fn staged(ctx: &Context, selection: &Selection) -> Result<Outcome> {
    let state = ctx.state()?;
    let aws = Aws::load().await;
    let (specs, _) = known_profiles(ctx, &aws, selection)?;
    let known = find::known_keys(&specs, &state.all_pending()?, &state.all_deleted()?).await;
    let dir = std::env::current_dir().context("cannot read the current folder")?;
    let hits = tokio::task::spawn_blocking(move || find::staged::search(&known, &dir))
        .await
        .context("the search stopped")??;
    if hits.is_empty() {
        return Ok(Outcome::Success);
    }
    for hit in &hits {
        let what = match hit.secret {
            true => "the secret access key of",
            false => "the id of",
        };
        println!(
            "{}:{}: {what} {} ({})",
            crate::escape::shown(&hit.path),
            hit.line,
            hit.key_id,
            hit.whose
        );
    }
    anyhow::bail!(
        "{} staged {} an AWS access key: take it out of the file and `git add` it again (or `git restore --staged FILE`); a key that was ever pushed is leaked (rekey respond, or rekey apply --compromised)",
        hits.len(),
        match hits.len() {
            1 => "line holds",
            _ => "lines hold",
        }
    )
}
