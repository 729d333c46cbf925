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

/// Why the verification did not pass. Its output (secrets redacted) is part of the
/// message: it is what the user needs to see.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VerifyError {
    /// The program could not be started.
    #[error("verification `{shown}` could not start: {reason}")]
    NotStarted {
        /// The command line.
        shown: String,
        /// The operating system's error.
        reason: String,
    },
    /// It ran past its timeout and was killed.
    #[error(
        "verification `{shown}` timed out after {after:?}{}",
        with_output(output)
    )]
    TimedOut {
        /// The command line.
        shown: String,
        /// The timeout.
        after: std::time::Duration,
        /// What it printed, redacted.
        output: String,
    },
    /// It exited unsuccessfully.
    #[error("verification `{shown}` failed ({status}){}", with_output(output))]
    Failed {
        /// The command line.
        shown: String,
        /// How it exited.
        status: std::process::ExitStatus,
        /// What it printed, redacted.
        output: String,
    },
}

fn with_output(output: &str) -> String {
    match output {
        "" => String::new(),
        output => format!("; its output: {output}"),
    }
}

/// Runs `verify` for `profile` with `key`; how long it took to pass, or why it did not,
/// with its output. It runs under [`rekey_sinks::child`]'s rules: its own process group, killed
/// as a group at the timeout (and whatever it leaves running, once it exits), at most
/// 64 KiB of output kept, every known secret (the new key's, the old key's) redacted.
pub(crate) async fn run(
    verify: &Verify,
    profile: &str,
    key: &AccessKey,
) -> Result<std::time::Duration, VerifyError> {
    let (program, args) = verify.command.split_first();
    let shown = verify.command.shown();
    let started = Instant::now();
    let mut command = Command::new(program);
    command
        .args(args)
        .env("AWS_ACCESS_KEY_ID", key.id())
        .env("AWS_SECRET_ACCESS_KEY", key.secret().expose_secret())
        .env("AWS_PROFILE", profile)
        .env_remove("AWS_SESSION_TOKEN");
    let deadline = tokio::time::Instant::now() + verify.timeout;
    let (finished, stdout) = match Child::run(&mut command, deadline).await {
        Ok(ran) => ran,
        Err(e) => {
            return Err(VerifyError::NotStarted {
                shown,
                reason: e.to_string(),
            })
        }
    };
    let stdout = stdout.shown();
    let output = [stdout.as_str(), finished.stderr.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    match finished.status {
        None => Err(VerifyError::TimedOut {
            shown,
            after: verify.timeout,
            output,
        }),
        Some(status) if !status.success() => Err(VerifyError::Failed {
            shown,
            status,
            output,
        }),
        Some(_) => Ok(started.elapsed()),
    }
}
