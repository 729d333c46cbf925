//! A command notification: a program given the event as JSON on stdin, run under the
//! child runner's rules (its own process group, killed at the deadline).

use std::process::Stdio;
use std::time::Duration;

use rekey_sinks::child::Child;
use tokio::io::AsyncWriteExt;

use super::Event;
use crate::config::argv::Argv;

/// Runs `argv` with `event` on stdin; exit 0 within `timeout` is success.
pub(super) async fn run(argv: &Argv, event: &Event, timeout: Duration) -> Result<(), String> {
    let (program, args) = argv.split_first();
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    let deadline = tokio::time::Instant::now() + timeout;
    let mut child = Child::spawn(&mut command, deadline).map_err(|e| format!("cannot run: {e}"))?;
    if let Some(mut stdin) = child.stdin() {
        let json = serde_json::to_vec(event).map_err(|e| e.to_string())?;
        // A program that does not read its stdin is not a failure.
        let _ = stdin.write_all(&json).await;
    }
    let finished = child.finish().await;
    match finished.status {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(format!("{status}: {}", finished.stderr)),
        None => Err(format!("did not finish within {} s", timeout.as_secs())),
    }
}
