//! The `exec` sink: places rekey does not know, reached through a plugin program.
//!
//! CI secrets, Kubernetes, Vault, a password manager, a deploy hook: a plugin is any
//! program that speaks the JSON protocol in [`protocol`] on stdin/stdout (modelled on
//! cargo's credential providers). Secrets travel only on stdin, never in arguments or
//! the environment. A plugin's failure, timeout or malformed answer is a sink failure
//! showing its stderr, with the key's secret redacted.

mod config;
pub mod protocol;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::ExposeSecret;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::time::Instant;

pub use config::Config;
use protocol::{
    Answer, Described, Done, Envelope, ErrorKind, Held, Hello, PluginError, Request, Written,
};
use serde::de::DeserializeOwned;

use crate::child::{self, Child};
use crate::{AccessKey, Checked, Sink, SinkError, Snapshot};

/// Default limit for one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A plugin program as a [`Sink`].
#[derive(Debug, Clone)]
pub struct Plugin {
    program: PathBuf,
    args: Vec<String>,
    timeout: Duration,
    /// What the plugin said of itself, once asked.
    description: Arc<OnceLock<String>>,
}

impl Plugin {
    /// The plugin run as `program args…`, each request limited to `timeout`.
    pub fn new(program: impl Into<PathBuf>, args: Vec<String>, timeout: Duration) -> Self {
        Self {
            program: program.into(),
            args,
            timeout,
            description: Arc::default(),
        }
    }

    fn command_line(&self) -> String {
        std::iter::once(self.program.display().to_string())
            .chain(self.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn failure(&self, message: String) -> SinkError {
        SinkError::Plugin {
            command: self.command_line(),
            message,
        }
    }

    /// Runs the plugin for one request and returns its `ok` fields. The plugin runs
    /// under [`crate::child`]'s rules: its own process group, killed at the timeout,
    /// lines capped, every known secret redacted from what it says.
    async fn call<T: DeserializeOwned>(&self, request: Request<'_>) -> Result<T, SinkError> {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            // Secrets go over stdin only: not even the caller's AWS keys are passed on.
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let deadline = Instant::now() + self.timeout;
        let mut child = Child::spawn(&mut command, deadline)
            .map_err(|e| self.failure(format!("cannot start it: {e}")))?;
        let stdin = child.stdin().expect("piped");
        let stdout = BufReader::new(child.stdout().expect("piped"));
        let line = zeroize::Zeroizing::new(
            serde_json::to_string(&Envelope {
                v: protocol::VERSION,
                request,
            })
            .expect("plain data"),
        );
        let result = tokio::time::timeout_at(deadline, exchange(stdin, stdout, &line)).await;
        let finished = child.finish().await;
        let with_stderr = |message: String| {
            if finished.stderr.is_empty() {
                message
            } else {
                format!("{message}; its stderr: {}", finished.stderr)
            }
        };
        match result {
            Err(_) => {
                Err(self.failure(with_stderr(format!("no answer within {:?}", self.timeout))))
            }
            Ok(Err(message)) => Err(self.failure(with_stderr(message))),
            Ok(Ok(_)) if finished.status.is_some_and(|s| !s.success()) => {
                let status = finished.status.expect("checked");
                Err(self.failure(with_stderr(format!("it answered but exited with {status}"))))
            }
            Ok(Ok(answer)) => Ok(answer),
        }
    }
}

/// The protocol exchange: the plugin's hello, rekey's request, the plugin's answer.
async fn exchange<T: DeserializeOwned>(
    mut stdin: tokio::process::ChildStdin,
    mut stdout: BufReader<tokio::process::ChildStdout>,
    request: &str,
) -> Result<T, String> {
    let hello = child::read_line(&mut stdout)
        .await
        .map_err(|e| format!("cannot read its hello: {e}"))?;
    let hello: Hello = serde_json::from_str(&hello)
        .map_err(|_| "its first line is not a protocol hello like {\"v\":[1]}".to_owned())?;
    if !hello.v.contains(&protocol::VERSION) {
        return Err(format!(
            "it speaks protocol versions {:?}; rekey speaks {}",
            hello.v,
            protocol::VERSION
        ));
    }
    let send = |e: std::io::Error| format!("cannot send the request: {e}");
    stdin.write_all(request.as_bytes()).await.map_err(send)?;
    stdin.write_all(b"\n").await.map_err(send)?;
    drop(stdin);
    let answer = child::read_line(&mut stdout)
        .await
        .map_err(|e| format!("cannot read its answer: {e}"))?;
    match serde_json::from_str::<Answer<T>>(&answer) {
        Ok(Answer::Ok(fields)) => Ok(fields),
        Ok(Answer::Error(PluginError {
            kind: Some(ErrorKind::Unsupported),
            message,
        })) => Err(format!(
            "it does not support this operation: {}",
            child::redact(&message)
        )),
        Ok(Answer::Error(e)) => Err(child::redact(&e.message)),
        Err(_) if answer.trim().is_empty() => Err("it exited without answering".to_owned()),
        Err(_) => Err("its answer is not valid protocol JSON".to_owned()),
    }
}

#[async_trait]
impl Sink for Plugin {
    fn describe(&self) -> String {
        match self.description.get() {
            Some(d) => format!("plugin {} ({d})", self.command_line()),
            None => format!("plugin {}", self.command_line()),
        }
    }

    fn id(&self) -> String {
        // Not the plugin's own description: that is known only once it has been asked.
        format!("plugin {}", self.command_line())
    }

    async fn read(&self) -> Result<Option<AccessKey>, SinkError> {
        let held: Held = self.call(Request::Read).await?;
        let Some(id) = held.access_key_id else {
            return Ok(None);
        };
        // Moved out of the answer, never copied: the one copy is zeroized on drop.
        let secret = held.secret_access_key.ok_or_else(|| {
            self.failure(
                "it gives the key id but not the secret, so it cannot be a profile's first sink"
                    .into(),
            )
        })?;
        AccessKey::new(id, secret)
            .map(Some)
            .map_err(|source| SinkError::InvalidKey {
                place: self.describe(),
                source,
            })
    }

    async fn read_id(&self) -> Result<Option<String>, SinkError> {
        let held: Held = self.call(Request::Read).await?;
        // Not needed here: dropped (zeroized).
        drop(held.secret_access_key);
        match held.access_key_id {
            // Never shown if it cannot be an id: it may be a secret in the wrong field.
            Some(id) if !AccessKey::is_plausible_id(&id) => Err(self.failure(
                "its `access_key_id` is not of the form AKIA… (upper-case letters and digits)"
                    .into(),
            )),
            id => Ok(id),
        }
    }

    async fn check(&self) -> Result<Checked, SinkError> {
        if let Ok(Described {
            description: Some(text),
        }) = self.call(Request::Describe).await
        {
            let _ = self
                .description
                .set(text.lines().next().unwrap_or_default().to_owned());
        }
        self.call::<Done>(Request::Check)
            .await
            .map(|_| Checked::Ready)
    }

    async fn snapshot(&self) -> Result<Snapshot, SinkError> {
        // The plugin's write answers with its own undo data; until then, `null`.
        Ok(Snapshot::Bytes(b"null".to_vec().into()))
    }

    async fn write(&self, key: &AccessKey) -> Result<Option<Snapshot>, SinkError> {
        let secret = key.secret().expose_secret();
        let request = Request::Write {
            access_key_id: key.id(),
            secret_access_key: secret,
        };
        let Written { undo } = self.call(request).await?;
        let bytes = zeroize::Zeroizing::new(serde_json::to_vec(&undo).expect("JSON value"));
        Ok(Some(Snapshot::Bytes(bytes.to_vec().into())))
    }

    async fn restore(&self, snapshot: &Snapshot, _written: &AccessKey) -> Result<(), SinkError> {
        // The plugin's own undo data says what to undo.
        let undo = match snapshot {
            Snapshot::Absent => serde_json::Value::Null,
            Snapshot::Bytes(bytes) => {
                serde_json::from_slice(bytes.expose_secret()).unwrap_or(serde_json::Value::Null)
            }
        };
        // The undo data may hold the previous key in any field: redact all of it from
        // whatever the plugin says.
        child::remember_strings(&undo);
        self.call::<Done>(Request::Restore { undo: &undo })
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests;
