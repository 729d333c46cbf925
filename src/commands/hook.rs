//! `rekey hook install`: a git `pre-commit` hook in the current repository that runs
//! `rekey find --staged`, so a commit that would add an AWS key is refused before it is
//! made. Where git looks for hooks (`core.hooksPath`, a worktree's common folder) is
//! git's to say (`git rev-parse --git-path hooks/pre-commit`). A hook rekey did not
//! write is never replaced unless asked (`--force`): it may be someone's whole
//! pre-commit setup. (The pre-commit framework takes `.pre-commit-hooks.yaml` from
//! rekey's repository instead.)

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context as _, Result};

use super::Outcome;

/// What marks a hook as rekey's.
const MARK: &str = "# rekey: refuse a commit that stages an AWS access key";

/// The hook.
fn script() -> String {
    format!(
        "#!/bin/sh\n{MARK} (written by `rekey hook install`).\n# Skip once, knowingly: git commit --no-verify\nexec rekey find --staged\n"
    )
}

/// What `rekey hook install` is asked.
pub(crate) struct Options {
    /// Replace a pre-commit hook rekey did not write.
    pub(crate) force: bool,
}

/// Installs the hook (see the module docs).
pub(crate) fn install(options: Options) -> Result<Outcome> {
    let path = hook_path()?;
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing.contains(MARK) => {}
        Ok(_) if !options.force => bail!(
            "{} is a pre-commit hook rekey did not write: not replaced. Add `rekey find --staged` to it, or replace it with --force",
            rekey_sinks::shown::path(&path)
        ),
        Ok(_) | Err(_) => {}
    }
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
    }
    rekey_sinks::atomic::write_file(&path, script().as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))?;
    println!(
        "Installed {}: each commit is refused while a staged line holds an AWS key (rekey find --staged).",
        rekey_sinks::shown::path(&path)
    );
    Ok(Outcome::Success)
}

/// Where git runs the repository's pre-commit hook from.
fn hook_path() -> Result<PathBuf> {
    let out = Command::new("git")
        .args([
            "rev-parse",
            "--path-format=absolute",
            "--git-path",
            "hooks/pre-commit",
        ])
        .output()
        .context("cannot run git: `rekey hook install` writes a git hook")?;
    if !out.status.success() {
        bail!(
            "not in a git repository: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}
