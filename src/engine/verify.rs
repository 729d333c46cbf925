//! Running the user's verification command against the new key.
//!
//! It runs after every sink holds the new key and before the old key is deactivated,
//! so a failure still has the old key to roll back to. The new key is in its
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`; `AWS_PROFILE` names the
//! profile and `AWS_SESSION_TOKEN` is removed), so it can test through the environment
//! or through the files. Its output is shown only with the secrets redacted, and it
//! never runs past its timeout.

use std::time::Instant;

use rekey_sinks::child::Child;
use rekey_sinks::AccessKey;
use secrecy::ExposeSecret;
use tokio::process::Command;

use crate::config::profile::Verify;

/// Runs `verify` for `profile` with `key`; on failure, says why with its output. It runs
/// under [`rekey_sinks::child`]'s rules: its own process group, killed as a group at the
/// timeout (and whatever it leaves running, once it exits), at most 64 KiB of output
/// kept, every known secret (the new key's, the old key's) redacted.
pub(crate) async fn run(verify: &Verify, profile: &str, key: &AccessKey) -> Result<String, String> {
    let (program, args) = verify
        .command
        .split_first()
        .ok_or("verify has no command")?;
    let shown = verify.command.join(" ");
    let started = Instant::now();
    let mut command = Command::new(program);
    command
        .args(args)
        .env("AWS_ACCESS_KEY_ID", key.id())
        .env("AWS_SECRET_ACCESS_KEY", key.secret().expose_secret())
        .env("AWS_PROFILE", profile)
        .env_remove("AWS_SESSION_TOKEN");
    let deadline = tokio::time::Instant::now() + verify.timeout;
    let (finished, stdout) = Child::run(&mut command, deadline)
        .await
        .map_err(|e| format!("verification `{shown}` could not start: {e}"))?;
    let stdout = stdout.shown();
    let output = [stdout.as_str(), finished.stderr.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let with_output = |message: String| {
        if output.is_empty() {
            message
        } else {
            format!("{message}; its output: {output}")
        }
    };
    match finished.status {
        None => Err(with_output(format!(
            "verification `{shown}` timed out after {:?}",
            verify.timeout
        ))),
        Some(status) if !status.success() => Err(with_output(format!(
            "verification `{shown}` failed ({status})"
        ))),
        Some(_) => Ok(format!(
            "verification `{shown}` passed ({:.1}s)",
            started.elapsed().as_secs_f64()
        )),
    }
}
