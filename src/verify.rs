//! Running the user's verification command against the new key.
//!
//! It runs after every sink holds the new key and before the old key is deactivated,
//! so a failure still has the old key to roll back to. The new key is in its
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`; `AWS_PROFILE` names the
//! profile and `AWS_SESSION_TOKEN` is removed), so it can test through the environment
//! or through the files. Its output is shown only with the secrets redacted.

use std::process::Stdio;
use std::time::Instant;

use rekey_sinks::AccessKey;
use secrecy::ExposeSecret;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::profile::Verify;

/// Runs `verify` for `profile` with `key`; on failure, says why with its output.
pub async fn run(
    verify: &Verify,
    profile: &str,
    key: &AccessKey,
    old_secret: Option<&str>,
) -> Result<String, String> {
    let secret = key.secret().expose_secret();
    let redact = |text: &str| {
        let mut text = text.replace(secret, "[REDACTED]");
        if let Some(old) = old_secret.filter(|s| !s.is_empty()) {
            text = text.replace(old, "[REDACTED]");
        }
        text
    };
    let (program, args) = verify
        .command
        .split_first()
        .ok_or("verify has no command")?;
    let shown = verify.command.join(" ");
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", key.id())
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_PROFILE", profile)
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("verification `{shown}` could not start: {e}"))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let output = tokio::spawn(async move {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let _ = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        out.extend_from_slice(&err);
        String::from_utf8_lossy(&out).into_owned()
    });
    let status = tokio::time::timeout(verify.timeout, child.wait()).await;
    if status.is_err() {
        let _ = child.kill().await;
    }
    let output = output.await.unwrap_or_default();
    let output = redact(output.trim());
    let with_output = |message: String| {
        if output.is_empty() {
            message
        } else {
            format!("{message}; its output: {output}")
        }
    };
    match status {
        Err(_) => Err(with_output(format!(
            "verification `{shown}` timed out after {:?}",
            verify.timeout
        ))),
        Ok(Err(e)) => Err(format!("verification `{shown}` failed to run: {e}")),
        Ok(Ok(status)) if !status.success() => Err(with_output(format!(
            "verification `{shown}` failed ({status})"
        ))),
        Ok(Ok(_)) => Ok(format!(
            "verification `{shown}` passed ({:.1}s)",
            started.elapsed().as_secs_f64()
        )),
    }
}
