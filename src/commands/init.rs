//! `rekey init`: a commented starter rekey.yaml from the credentials file's profiles;
//! with `--scan`, every other place each key was found, as a sink (or a comment where
//! rekey cannot edit the place).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};

use super::{Context, Outcome};
use crate::config::discovery::{self, Discovered};
use crate::config::init::{self as starter, FoundCopy};
use crate::config::manifest;
use crate::config::profile::Policy;
use crate::engine::find::place::PlaceFormat;
use crate::engine::find::{self, KeyState};
use crate::report::count;
use crate::report::find::add_sink;

/// What `rekey init` is asked.
pub(crate) struct Options {
    /// Where to write the manifest.
    pub(crate) manifest: PathBuf,
    /// Replace an existing file.
    pub(crate) force: bool,
    /// `--scan [PATH...]`: look for the keys' other copies (no folder: the project and ~/.aws).
    pub(crate) scan: Option<Vec<PathBuf>>,
}

/// Runs `rekey init`.
pub(crate) async fn run(ctx: &Context, args: Options) -> Result<Outcome> {
    let paths = &ctx.paths;
    if args.manifest.exists() && !args.force {
        bail!(
            "{} already exists; use --force to replace it",
            rekey_sinks::shown::path(&args.manifest)
        );
    }
    let found = discovery::discover(paths, Policy::default())?;
    let roots = match &args.scan {
        Some(roots) => scan_roots(ctx, &args.manifest, roots),
        None => Vec::new(),
    };
    let places = match args.scan {
        Some(_) => other_places(ctx, &found, &roots).await?,
        None => BTreeMap::new(),
    };
    let shown: Vec<String> = roots.iter().map(|(_, shown)| shown.clone()).collect();
    let text = starter::starter_manifest(&found, &places, &shown);
    // Check what we write is a manifest rekey reads.
    let written = manifest::parse(&args.manifest, &text)
        .context("internal error: the starter manifest does not parse")?;
    std::fs::write(&args.manifest, text)
        .with_context(|| format!("cannot write {}", rekey_sinks::shown::path(&args.manifest)))?;
    // The user asked for this very file: it is theirs, as it is now.
    super::trust::record(ctx, &written)?;
    let more = places.values().map(Vec::len).sum::<usize>();
    let scanned = match args.scan {
        Some(_) => format!(" and {} found elsewhere", count(more, "place")),
        None => String::new(),
    };
    println!(
        "Wrote {} with {}{scanned}; review it, then run `rekey plan`.",
        rekey_sinks::shown::path(&args.manifest),
        count(found.profiles.len(), "profile")
    );
    Ok(Outcome::Success)
}

/// The folders `--scan` searches, absolute, each as the manifest's `scan:` writes it:
/// those given, else the project (the repository holding the manifest, else its folder)
/// and `~/.aws` (issue 31: the home folder was too wide to be the default).
fn scan_roots(
    ctx: &Context,
    manifest: &std::path::Path,
    given: &[PathBuf],
) -> Vec<(PathBuf, String)> {
    let paths = &ctx.paths;
    let manifest = std::path::absolute(manifest).unwrap_or_else(|_| manifest.to_owned());
    let folder = manifest
        .parent()
        .unwrap_or(std::path::Path::new("/"))
        .to_owned();
    if !given.is_empty() {
        return given
            .iter()
            .map(|r| std::path::absolute(r).unwrap_or_else(|_| r.clone()))
            .map(|r| {
                let shown = paths.show(&r);
                (r, shown)
            })
            .collect();
    }
    let project = folder
        .ancestors()
        .find(|f| f.join(".git").exists())
        .unwrap_or(&folder)
        .to_owned();
    let project_shown = match project.strip_prefix(&folder) {
        Ok(_) => ".".to_owned(),
        Err(_) => paths.show(&project),
    };
    let aws = paths.home.join(".aws");
    vec![(project, project_shown), (aws.clone(), paths.show(&aws))]
}

/// Per profile, the places under `roots` that hold its key besides the credentials
/// file, each with the sink that would write it or why rekey cannot.
async fn other_places(
    ctx: &Context,
    found: &Discovered,
    roots: &[(PathBuf, String)],
) -> Result<BTreeMap<String, Vec<FoundCopy>>> {
    let paths = &ctx.paths;
    let roots: Vec<PathBuf> = roots.iter().map(|(root, _)| root.clone()).collect();
    let known = find::known_keys(&found.profiles, &[], &[]).await;
    let covered = find::covered_places(&found.profiles);
    let searched = find::search(known, covered, roots, &paths.state_dir, None)
        .await
        .context("the search stopped")?;
    let mut places: BTreeMap<String, Vec<FoundCopy>> = BTreeMap::new();
    for key in searched
        .keys
        .iter()
        .filter(|k| k.state == KeyState::Current)
    {
        let Some(profile) = key.profiles.first() else {
            continue;
        };
        for copy in key.copies.iter().filter(|c| c.covered_by.is_none()) {
            let sink = add_sink(copy, paths).ok_or_else(|| match copy.format {
                PlaceFormat::ShellHistory => {
                    "a shell history, which rekey cannot edit: remove the key from it by hand"
                        .to_owned()
                }
                PlaceFormat::Other => {
                    "a file rekey cannot edit: keep the key in a place a sink can write".to_owned()
                }
                _ => "only the id was found there: write this sink by hand".to_owned(),
            });
            places.entry(profile.clone()).or_default().push(FoundCopy {
                at: format!("{}:{}", paths.show(&copy.path), copy.line),
                sink,
            });
        }
    }
    Ok(places)
}
