//! `rekey init`: a commented starter rekey.yaml from the credentials file's profiles.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};

use super::{Context, Outcome};
use crate::config::discovery;
use crate::config::manifest;
use crate::config::profile::Policy;
use crate::report::count;

/// What `rekey init` is asked.
pub(crate) struct Options {
    /// Where to write the manifest.
    pub(crate) manifest: PathBuf,
    /// Replace an existing file.
    pub(crate) force: bool,
}

/// Runs `rekey init`.
pub(crate) fn run(ctx: &Context, args: Options) -> Result<Outcome> {
    let paths = &ctx.paths;
    if args.manifest.exists() && !args.force {
        bail!(
            "{} already exists; use --force to replace it",
            args.manifest.display()
        );
    }
    let found = discovery::discover(paths, Policy::default())?;
    let text = crate::config::init::starter_manifest(&found);
    // Check what we write is a manifest rekey reads.
    manifest::parse(&args.manifest, &text)
        .context("internal error: the starter manifest does not parse")?;
    std::fs::write(&args.manifest, text)
        .with_context(|| format!("cannot write {}", args.manifest.display()))?;
    println!(
        "Wrote {} with {}; review it, then run `rekey plan`.",
        args.manifest.display(),
        count(found.profiles.len(), "profile")
    );
    Ok(Outcome::Success)
}
