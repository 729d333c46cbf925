//! `rekey trust`, and the gate every command passes its manifest through (issue 29).
//!
//! A manifest is found, not chosen: a cloned repository's `rekey.yaml` was written by
//! its author. What it names that only moves the user's key between this machine's
//! places is used as found; what it names that runs a program or sends something (a
//! plugin, a verify or MFA command, a webhook, a shared bucket, a secret store, an
//! administrator's profile) is used only once the user has trusted that exact content,
//! as `direnv allow` and `mise trust` work. Unattended runs pin the content instead,
//! with `--manifest-sha256` (or `REKEY_MANIFEST_SHA256`), set where the operator sets
//! the command: the path alone (`--manifest FILE`) trusts nothing, since FILE may sit
//! in a checkout of code others can change.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::{manifest_path, Context, Outcome, Selection};
use crate::config::manifest::{self, Manifest, Reach};
use crate::escape;
use crate::state::TrustedManifest;

/// What `rekey trust` is asked.
pub(crate) struct Options {
    /// The manifest (default: the one a command run here would use).
    pub(crate) manifest: Option<PathBuf>,
    /// `--list`: every trusted manifest.
    pub(crate) list: bool,
    /// `--revoke`: forget the manifest's trust.
    pub(crate) revoke: bool,
}

/// A manifest that names what runs or sends, and that the user has not trusted as it
/// is now: nothing it names was run or contacted.
#[derive(Debug)]
pub(crate) struct Untrusted {
    /// The manifest.
    pub(crate) path: PathBuf,
    /// Its content's SHA-256, for `--manifest-sha256`.
    pub(crate) sha256: String,
    /// What it would run and where it would send.
    pub(crate) reach: Vec<Reach>,
    /// When a trust of another content of the same file was recorded.
    pub(crate) changed_since: Option<String>,
}

impl std::error::Error for Untrusted {}

impl fmt::Display for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = escape::path(&self.path);
        match &self.changed_since {
            Some(when) => write!(f, "{path} changed since you trusted it ({when})")?,
            None => write!(f, "{path} is not trusted")?,
        }
        writeln!(
            f,
            ", and it names programs to run or places to send to; nothing it names was run or contacted. It would:"
        )?;
        for reach in &self.reach {
            writeln!(f, "  - {reach}")?;
        }
        write!(
            f,
            "Read it; if you trust it, run `rekey trust {path}`, or, for an unattended run, pin this content with --manifest-sha256 {} (REKEY_MANIFEST_SHA256)",
            self.sha256
        )
    }
}

/// The manifest a command works with ([`manifest_path`]), read, checked to be the
/// user's file, and trusted if it names anything that runs or sends; `None`: default
/// mode.
pub(crate) fn open(ctx: &Context, selection: &Selection) -> Result<Option<Manifest>> {
    let Some(path) = manifest_path(&ctx.paths, selection) else {
        return Ok(None);
    };
    let manifest = manifest::load(&path)?;
    check(ctx, &manifest)?;
    Ok(Some(manifest))
}

/// Passes `manifest` if it names nothing that runs or sends, or if the user trusts
/// this content of it (recorded, or pinned for this run).
pub(crate) fn check(ctx: &Context, manifest: &Manifest) -> Result<()> {
    let reach = manifest.reach(&ctx.paths);
    if reach.is_empty() || ctx.manifest_pin.as_deref() == Some(manifest.sha256.as_str()) {
        return Ok(());
    }
    let path = canonical(&manifest.path);
    let recorded = ctx.state()?.trusted(&path)?;
    match recorded {
        Some(record) if record.sha256 == manifest.sha256 => Ok(()),
        recorded => Err(Untrusted {
            path: manifest.path.clone(),
            sha256: manifest.sha256.clone(),
            reach,
            changed_since: recorded.map(|r| crate::time::rfc3339(r.trusted_at)),
        }
        .into()),
    }
}

/// Records that the user trusts `manifest` as it is now.
pub(crate) fn record(ctx: &Context, manifest: &Manifest) -> Result<()> {
    ctx.state()?.trust(&TrustedManifest {
        path: canonical(&manifest.path),
        sha256: manifest.sha256.clone(),
        trusted_at: crate::time::now(),
    })?;
    Ok(())
}

/// Runs `rekey trust`.
pub(crate) async fn run(ctx: &Context, options: Options) -> Result<Outcome> {
    if options.list {
        return list(ctx);
    }
    let selection = Selection {
        manifest: options.manifest,
        profiles: Vec::new(),
    };
    let path = manifest_path(&ctx.paths, &selection).with_context(|| {
        format!(
            "no {} here or in a parent folder; name the file: rekey trust FILE",
            manifest::FILE_NAME
        )
    })?;
    let shown = escape::path(&path);
    if options.revoke {
        match ctx.state()?.revoke_trust(&canonical(&path))? {
            true => println!("{shown} is no longer trusted."),
            false => println!("{shown} was not trusted; nothing to revoke."),
        }
        return Ok(Outcome::Success);
    }
    let manifest = manifest::load(&path)?;
    record(ctx, &manifest)?;
    let reach = manifest.reach(&ctx.paths);
    println!("Trusted {shown} as it is now (sha256 {}).", manifest.sha256);
    match reach.is_empty() {
        true => println!("It names nothing that runs or sends; a change to it needs a new trust."),
        false => {
            println!("rekey may now, as it says:");
            for r in &reach {
                println!("  - {r}");
            }
            println!("A change to the file needs a new `rekey trust`.");
        }
    }
    Ok(Outcome::Success)
}

/// `rekey trust --list`: each trusted manifest, and whether it is still as trusted.
fn list(ctx: &Context) -> Result<Outcome> {
    let all = ctx.state()?.all_trusted()?;
    if all.is_empty() {
        println!("No manifest is trusted.");
    }
    for record in all {
        let now = std::fs::read(&record.path)
            .map(|bytes| crate::digest::sha256_hex(&bytes))
            .ok();
        let status = match now {
            None => "missing",
            Some(sha) if sha == record.sha256 => "trusted",
            Some(_) => "changed since: not trusted",
        };
        println!(
            "{}  {}  {}  {status}",
            crate::time::rfc3339(record.trusted_at),
            &record.sha256[..12],
            escape::path(&record.path)
        );
    }
    Ok(Outcome::Success)
}

/// The manifest's path as trust records it: absolute, links resolved (the same file
/// reached as `./rekey.yaml` or through a link is one trust).
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}
