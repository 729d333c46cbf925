//! Shell completion with clap_complete's dynamic engine: the script `rekey completions
//! SHELL` prints hands each completion back to rekey (`REKEY_COMPLETE=SHELL rekey --
//! WORDS…`), so a profile completes to the names rekey would rotate here: the
//! manifest's, else the static-key profiles of the shared AWS files.

use clap::CommandFactory;
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use clap_complete::env::Shells;

use crate::config::discovery;
use crate::config::manifest;
use crate::config::paths::Paths;
use crate::config::profile::Policy;

/// The variable that makes a run a completion. Not clap's default `COMPLETE`: a variable
/// that generic, set for another reason, would turn every rekey run into a completion.
const VARIABLE: &str = "REKEY_COMPLETE";

/// Answers the shell and exits when this run is a completion; returns otherwise.
pub(super) fn answer_the_shell() {
    clap_complete::CompleteEnv::with_factory(super::Cli::command)
        .var(VARIABLE)
        .complete();
}

/// The script for `shell`, ending with where to install it: a comment each of these
/// shells skips, last because zsh reads `#compdef` on the first line.
pub(super) fn script(shell: clap_complete::Shell) -> anyhow::Result<Vec<u8>> {
    let name = shell.to_string();
    let shells = Shells::builtins();
    let completer = shells
        .completer(&name)
        .ok_or_else(|| anyhow::anyhow!("no completion script for {name}"))?;
    let mut script = Vec::new();
    completer.write_registration(VARIABLE, "rekey", "rekey", "rekey", &mut script)?;
    script.extend(format!("\n# {}\n", install_line(shell)).into_bytes());
    Ok(script)
}

/// How to install the completion script for `shell`.
fn install_line(shell: clap_complete::Shell) -> &'static str {
    use clap_complete::Shell;
    match shell {
        Shell::Bash => "Install: rekey completions bash > ~/.local/share/bash-completion/completions/rekey",
        // Sourced, not autoloaded from fpath: the script registers its completer with
        // `compdef` when it runs, which an autoloaded `_rekey` would do only on the
        // first TAB, completing nothing then.
        Shell::Zsh => "Install: rekey completions zsh > ~/.zsh/rekey.zsh, then `source ~/.zsh/rekey.zsh` in ~/.zshrc after `autoload -U compinit; compinit`",
        Shell::Fish => "Install: rekey completions fish > ~/.config/fish/completions/rekey.fish",
        Shell::PowerShell => "Install: rekey completions powershell >> $PROFILE",
        Shell::Elvish => "Install: rekey completions elvish > ~/.config/elvish/lib/rekey.elv (and `use rekey` in rc.elv)",
        _ => "Install: see your shell's documentation for completion scripts",
    }
}

/// Completes an argument that names a profile.
pub(super) fn profiles() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        profile_names()
            .into_iter()
            .map(CompletionCandidate::new)
            .collect::<Vec<_>>()
    })
}

/// The profiles of the manifest a plain `rekey plan` would use from here, else default
/// mode's. A manifest that cannot be read completes nothing: the run itself will say why.
/// Reading names is all a completion does with a found manifest, trusted or not.
fn profile_names() -> Vec<String> {
    let paths = Paths::resolve(|name| std::env::var(name).ok(), None);
    let nearest = || {
        let cwd = std::env::current_dir().ok()?;
        manifest::find::nearest(&cwd, &paths.home)
    };
    match paths.manifest.clone().or_else(nearest) {
        Some(path) => manifest::load(&path)
            .map(|found| found.raw.profiles.into_keys().collect())
            .unwrap_or_default(),
        None => discovery::discover(&paths, Policy::default())
            .map(|found| found.profiles.into_iter().map(|p| p.name).collect())
            .unwrap_or_default(),
    }
}
