//! Running a program that handles keys (a plugin, the user's `verify` command) so that
//! it can neither outlive its timeout nor flood rekey, and what it prints is shown only
//! with every known secret redacted.
//!
//! - It runs in its **own process group**; at the deadline, and as soon as the program
//!   itself exits, the whole group is killed, so `sleep 60` in a script, or a
//!   background job left holding the pipes (`sleep 25 & exit 0`), cannot keep rekey
//!   (and the locks it holds) waiting. Reading its output stops at the same deadline.
//! - A protocol **line** is read up to [`MAX_LINE`] bytes, and **stderr** (or a
//!   command's output) is kept up to [`MAX_KEPT`] bytes and drained beyond, so a program
//!   printing gigabytes without a newline costs rekey no memory.
//! - [`redact`] replaces every secret this process has seen (see
//!   [`remember_secret`]): the old key, the new key, and the strings of a plugin's undo
//!   data, in every message shown. Output cut at [`MAX_KEPT`] is redacted **before**
//!   it is shown cut ([`Captured::shown`]): a secret the cut splits would otherwise
//!   escape redaction, since only whole secrets are recognised.
//! - A [`ChildWatcher`] is told when each group starts and ends. A program in its own
//!   group outlives rekey if rekey is killed (SIGKILL, the OOM killer): the engine
//!   records the groups, so the run that recovers can wait for an orphaned plugin to
//!   finish its write before it puts the place back.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::time::Instant;
use zeroize::Zeroizing;

/// The longest protocol line read from a program (1 MiB).
pub const MAX_LINE: usize = 1 << 20;
/// The most of a program's stderr (or output) kept to show (64 KiB); the rest is read
/// and dropped.
pub const MAX_KEPT: usize = 64 << 10;
/// Secrets shorter than this are not redacted: they would match ordinary words, and no
/// AWS secret is this short.
const MIN_SECRET: usize = 8;

/// Every secret this process has seen, to be redacted from anything a program prints.
static SECRETS: Mutex<Vec<Zeroizing<String>>> = Mutex::new(Vec::new());

/// Remembers `secret` so that [`redact`] hides it from now on. Every
/// [`crate::AccessKey`] does this for its secret when it is made.
pub fn remember_secret(secret: &str) {
    if secret.len() < MIN_SECRET {
        return;
    }
    let mut known = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|s| s.as_str() == secret) {
        known.push(Zeroizing::new(secret.to_owned()));
    }
}

/// Remembers every string inside `value` (a plugin's undo data may hold a key in any
/// field, in any form).
pub fn remember_strings(value: &serde_json::Value) {
    match value {
        serde_json::Value::String(s) => remember_secret(s),
        serde_json::Value::Array(items) => items.iter().for_each(remember_strings),
        serde_json::Value::Object(map) => map.values().for_each(remember_strings),
        _ => {}
    }
}

/// `text` with every remembered secret replaced by `[REDACTED]`.
pub fn redact(text: &str) -> String {
    let known = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    let mut text = text.to_owned();
    // Longest first, so a secret containing another is hidden whole.
    let mut secrets: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        if text.contains(secret) {
            text = text.replace(secret, "[REDACTED]");
        }
    }
    text
}

/// What was kept of a program's output: its first [`MAX_KEPT`] bytes, and whether there
/// was more.
pub struct Captured {
    bytes: Zeroizing<Vec<u8>>,
    truncated: bool,
}

impl Captured {
    /// The output as the program wrote it, up to the cap: for an answer that is itself
    /// the secret (an MFA code), never for showing.
    pub fn raw(&self) -> &[u8] {
        &self.bytes
    }

    /// The output as it may be shown: every remembered secret redacted, trimmed, and,
    /// when the output was cut, without a tail that starts a remembered secret (the cut
    /// may fall inside one, leaving a part of it that [`redact`] cannot recognise).
    pub fn shown(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        let mut text = redact(&text);
        if self.truncated {
            let known = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
            let cut = known
                .iter()
                .filter_map(|secret| started_secret(&text, secret))
                .min()
                .unwrap_or(text.len());
            text.truncate(cut);
            text.push_str(" [… cut]");
        }
        text.trim().to_owned()
    }
}

/// Where `text` ends with the start of `secret` (its longest such tail), if it does.
fn started_secret(text: &str, secret: &str) -> Option<usize> {
    (1..secret.len())
        .rev()
        .filter(|&n| secret.is_char_boundary(n))
        .find(|&n| text.ends_with(&secret[..n]))
        .map(|n| text.len() - n)
}

/// Told when a program's process group starts and when nothing of it runs any more.
pub trait ChildWatcher: Send + Sync {
    /// A program started in process group `group`, to be done by `deadline`.
    fn started(&self, group: i32, deadline: SystemTime);
    /// Its group was killed and the program reaped.
    fn ended(&self, group: i32);
}

static WATCHER: OnceLock<Box<dyn ChildWatcher>> = OnceLock::new();

/// Tells `watcher` about every program started from now on (the first watcher set stays).
pub fn watch_children(watcher: Box<dyn ChildWatcher>) {
    let _ = WATCHER.set(watcher);
}

/// A running program in its own process group, with stderr drained in the background.
pub struct Child {
    child: tokio::process::Child,
    group: Option<rustix::process::Pid>,
    deadline: Instant,
    stderr: tokio::task::JoinHandle<Captured>,
}

/// How a program ended.
pub struct Finished {
    /// Its exit status; `None` if it was killed at the deadline.
    pub status: Option<ExitStatus>,
    /// The start of its stderr (at most [`MAX_KEPT`] bytes), redacted and trimmed.
    pub stderr: String,
}

impl Child {
    /// Starts `command` (stdin and stdout as the caller set them; stderr is taken) in a
    /// process group of its own, to be finished by `deadline`.
    ///
    /// A program named by path (not found on `PATH`) must be one only this user or root
    /// could have written ([`crate::ownership`]): rekey hands it secrets.
    pub fn spawn(command: &mut Command, deadline: Instant) -> std::io::Result<Self> {
        let program = Path::new(command.as_std().get_program());
        if program.components().count() > 1 {
            crate::ownership::check_file(program)?;
        }
        let mut child = command
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()?;
        let group = child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32));
        if let (Some(group), Some(watcher)) = (group, WATCHER.get()) {
            let left = deadline.saturating_duration_since(Instant::now());
            watcher.started(group.as_raw_nonzero().get(), SystemTime::now() + left);
        }
        let stderr = child.stderr.take().expect("piped");
        let stderr = tokio::spawn(async move {
            let mut reader = tokio::io::BufReader::new(stderr);
            read_capped(&mut reader).await
        });
        Ok(Self {
            child,
            group,
            deadline,
            stderr,
        })
    }

    /// The program's stdin, if the caller piped it.
    pub fn stdin(&mut self) -> Option<tokio::process::ChildStdin> {
        self.child.stdin.take()
    }

    /// The program's stdout, if the caller piped it.
    pub fn stdout(&mut self) -> Option<tokio::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// The deadline it was given.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Waits for the program to exit, until the deadline; then kills its whole process
    /// group (what is left running in it, or everything if the deadline passed) and
    /// collects what it wrote to stderr, waiting no more than a moment for that.
    pub async fn finish(mut self) -> Finished {
        let status = match tokio::time::timeout_at(self.deadline, self.child.wait()).await {
            Ok(Ok(status)) => Some(status),
            Ok(Err(_)) | Err(_) => None,
        };
        self.kill_group();
        if status.is_none() {
            let _ = self.child.kill().await;
        }
        // The group is gone, so the pipe closes at once; a process that left the group
        // (setsid) and holds it open is not waited for.
        let stderr = match tokio::time::timeout(Duration::from_millis(500), &mut self.stderr).await
        {
            Ok(Ok(captured)) => captured.shown(),
            _ => {
                self.stderr.abort();
                String::new()
            }
        };
        Finished { status, stderr }
    }

    /// Runs `command` (stdin from nothing, stdout captured) to its end or `deadline`:
    /// how it ended, and the first [`MAX_KEPT`] bytes of its stdout.
    pub async fn run(
        command: &mut Command,
        deadline: Instant,
    ) -> std::io::Result<(Finished, Captured)> {
        command.stdin(Stdio::null()).stdout(Stdio::piped());
        let mut child = Self::spawn(command, deadline)?;
        let mut stdout = child.stdout().expect("piped");
        let stdout = tokio::spawn(async move { read_capped(&mut stdout).await });
        let finished = child.finish().await;
        // The group is dead by now; a process that left it and holds the pipe is not
        // waited for.
        let stdout = match tokio::time::timeout(Duration::from_millis(500), stdout).await {
            Ok(Ok(captured)) => captured,
            _ => Captured {
                bytes: Zeroizing::new(Vec::new()),
                truncated: false,
            },
        };
        Ok((finished, stdout))
    }

    fn kill_group(&self) {
        if let Some(group) = self.group {
            // It may be gone already (ESRCH): nothing to do then.
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for Child {
    /// Finished or abandoned: the group is killed (`kill_on_drop` kills only the
    /// program itself), and the watcher told.
    fn drop(&mut self) {
        self.kill_group();
        if let (Some(group), Some(watcher)) = (self.group, WATCHER.get()) {
            watcher.ended(group.as_raw_nonzero().get());
        }
    }
}

/// A protocol line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// Longer than [`MAX_LINE`] without a newline.
    #[error("it wrote a line longer than {} bytes", MAX_LINE)]
    TooLong,
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Reads one line (without its newline) of at most [`MAX_LINE`] bytes; the buffer is
/// zeroized on drop, since an answer may carry a secret.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> Result<Zeroizing<String>, LineError> {
    let mut bytes = Zeroizing::new(Vec::new());
    let limit = u64::try_from(MAX_LINE + 1).unwrap_or(u64::MAX);
    (&mut *reader)
        .take(limit)
        .read_until(b'\n', &mut bytes)
        .await?;
    if bytes.len() > MAX_LINE && bytes.last() != Some(&b'\n') {
        return Err(LineError::TooLong);
    }
    let text = String::from_utf8_lossy(&bytes)
        .trim_end_matches(['\n', '\r'])
        .to_owned();
    Ok(Zeroizing::new(text))
}

/// Reads `reader` to its end, keeping the first [`MAX_KEPT`] bytes.
pub async fn read_capped<R: AsyncRead + Unpin>(reader: &mut R) -> Captured {
    let mut kept = Captured {
        bytes: Zeroizing::new(Vec::new()),
        truncated: false,
    };
    let mut buffer = Zeroizing::new(vec![0; 8192]);
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = MAX_KEPT.saturating_sub(kept.bytes.len());
                kept.truncated |= n > room;
                kept.bytes.extend_from_slice(&buffer[..n.min(room)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_every_remembered_secret_and_nothing_short() {
        remember_secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        remember_strings(&serde_json::json!({"before": {"s": "oldSecretValue/12345"}, "n": 1}));
        remember_secret("abc");
        let shown =
            redact("new wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY old oldSecretValue/12345 abc");
        assert_eq!(shown, "new [REDACTED] old [REDACTED] abc");
    }

    /// Defect 8 of issue 17: output was cut, then redacted, so a secret the cut split
    /// was shown all but its last characters.
    #[tokio::test]
    async fn a_secret_split_by_the_cut_is_never_shown_in_part() {
        let secret = "Zq9/UoP+Rt7sLkJhGfDdSaQwEeRrTtYyUuIiOoPp";
        remember_secret(secret);
        for offset in 0..=secret.len() {
            let mut output = vec![b'x'; MAX_KEPT - offset];
            output.extend_from_slice(secret.as_bytes());
            output.extend_from_slice(b" and more");
            let shown = read_capped(&mut &output[..]).await.shown();
            for part in secret.as_bytes().windows(4) {
                let part = std::str::from_utf8(part).unwrap();
                assert!(!shown.contains(part), "offset {offset}: {part} shown");
            }
            assert!(shown.ends_with("[… cut]"), "offset {offset}");
        }
    }

    #[tokio::test]
    async fn output_within_the_cap_is_redacted_and_not_marked_cut() {
        remember_secret("Kk8/short+output+SECRET+abcdefghijklmnop");
        let output = b"  failed with Kk8/short+output+SECRET+abcdefghijklmnop\n";
        let shown = read_capped(&mut &output[..]).await.shown();
        assert_eq!(shown, "failed with [REDACTED]");
    }

    #[tokio::test]
    async fn a_line_without_end_is_refused_at_the_limit() {
        let long = vec![b'x'; MAX_LINE + 10];
        let mut reader = tokio::io::BufReader::new(&long[..]);
        assert!(matches!(
            read_line(&mut reader).await,
            Err(LineError::TooLong)
        ));
        let mut reader = tokio::io::BufReader::new(&b"{\"v\":[1]}\nrest"[..]);
        assert_eq!(
            read_line(&mut reader).await.unwrap().as_str(),
            "{\"v\":[1]}"
        );
    }

    #[tokio::test]
    async fn the_deadline_kills_the_whole_group() {
        let started = std::time::Instant::now();
        let mut command = Command::new("sh");
        command.args(["-c", "sleep 30 & sleep 30; echo done"]);
        command.stdin(Stdio::null()).stdout(Stdio::null());
        let child =
            Child::spawn(&mut command, Instant::now() + Duration::from_millis(300)).unwrap();
        let finished = child.finish().await;
        assert!(finished.status.is_none(), "killed, not exited");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}
