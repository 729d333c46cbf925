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
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

pub use config::Config;
use protocol::{Envelope, Hello, Request, Response};

use crate::{AccessKey, Sink, SinkError, Snapshot};

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

    /// Runs the plugin for one request and returns its `ok` fields.
    async fn call(
        &self,
        request: Request<'_>,
        secret: Option<&str>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, SinkError> {
        let redact = |text: &str| match secret {
            Some(s) if !s.is_empty() => text.replace(s, "[REDACTED]"),
            _ => text.to_owned(),
        };
        let mut child = Command::new(&self.program)
            .args(&self.args)
            // Secrets go over stdin only: not even the caller's AWS keys are passed on.
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| self.failure(format!("cannot start it: {e}")))?;
        let mut stdin = child.stdin.take().expect("piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        // Read stderr all along, so a chatty plugin never blocks on a full pipe.
        let mut stderr = child.stderr.take().expect("piped");
        let stderr_task = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        });
        let line = serde_json::to_string(&Envelope {
            v: protocol::VERSION,
            request,
        })
        .expect("plain data");
        let line = zeroize::Zeroizing::new(line);

        let exchange = async {
            let mut hello = String::new();
            stdout
                .read_line(&mut hello)
                .await
                .map_err(|e| format!("cannot read its hello: {e}"))?;
            let hello: Hello = serde_json::from_str(&hello).map_err(|_| {
                "its first line is not a protocol hello like {\"v\":[1]}".to_owned()
            })?;
            if !hello.v.contains(&protocol::VERSION) {
                return Err(format!(
                    "it speaks protocol versions {:?}; rekey speaks {}",
                    hello.v,
                    protocol::VERSION
                ));
            }
            stdin
                .write_all(line.as_bytes())
                .await
                .map_err(|e| format!("cannot send the request: {e}"))?;
            stdin
                .write_all(b"\n")
                .await
                .map_err(|e| format!("cannot send the request: {e}"))?;
            drop(stdin);
            let mut answer = String::new();
            stdout
                .read_line(&mut answer)
                .await
                .map_err(|e| format!("cannot read its answer: {e}"))?;
            let answer = zeroize::Zeroizing::new(answer);
            match serde_json::from_str::<Response>(&answer) {
                Ok(Response::Ok(fields)) => Ok(fields),
                Ok(Response::Error(e)) if e.kind.as_deref() == Some("unsupported") => Err(format!(
                    "it does not support this operation: {}",
                    redact(&e.message)
                )),
                Ok(Response::Error(e)) => Err(redact(&e.message)),
                Err(_) if answer.trim().is_empty() => Err("it exited without answering".to_owned()),
                Err(_) => Err("its answer is not valid protocol JSON".to_owned()),
            }
        };
        let result = tokio::time::timeout(self.timeout, exchange).await;
        let status = match &result {
            Ok(_) => tokio::time::timeout(self.timeout, child.wait())
                .await
                .ok()
                .and_then(Result::ok),
            Err(_) => {
                let _ = child.kill().await;
                None
            }
        };
        let err_text = match tokio::time::timeout(Duration::from_secs(1), stderr_task).await {
            Ok(Ok(text)) => redact(text.trim()),
            _ => String::new(),
        };
        let with_stderr = |message: String| {
            if err_text.is_empty() {
                message
            } else {
                format!("{message}; its stderr: {err_text}")
            }
        };
        match result {
            Err(_) => {
                Err(self.failure(with_stderr(format!("no answer within {:?}", self.timeout))))
            }
            Ok(Err(message)) => Err(self.failure(with_stderr(message))),
            Ok(Ok(_)) if status.is_some_and(|s| !s.success()) => Err(self.failure(with_stderr(
                format!("it answered but exited with {}", status.expect("checked")),
            ))),
            Ok(Ok(fields)) => Ok(fields),
        }
    }
}

fn string_field(fields: &serde_json::Map<String, serde_json::Value>, name: &str) -> Option<String> {
    fields.get(name).and_then(|v| v.as_str()).map(str::to_owned)
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
        let fields = self.call(Request::Read, None).await?;
        let Some(id) = string_field(&fields, "access_key_id") else {
            return Ok(None);
        };
        let secret = string_field(&fields, "secret_access_key").ok_or_else(|| {
            self.failure(
                "it gives the key id but not the secret, so it cannot be a profile's first sink"
                    .into(),
            )
        })?;
        AccessKey::new(id, SecretString::from(secret))
            .map(Some)
            .map_err(|source| SinkError::InvalidKey {
                place: self.describe(),
                source,
            })
    }

    async fn read_id(&self) -> Result<Option<String>, SinkError> {
        Ok(string_field(
            &self.call(Request::Read, None).await?,
            "access_key_id",
        ))
    }

    async fn check(&self) -> Result<(), SinkError> {
        if let Ok(fields) = self.call(Request::Describe, None).await {
            if let Some(text) = string_field(&fields, "description") {
                let _ = self
                    .description
                    .set(text.lines().next().unwrap_or_default().to_owned());
            }
        }
        self.call(Request::Check, None).await.map(|_| ())
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
        let fields = self.call(request, Some(secret)).await?;
        let undo = fields
            .get("undo")
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        let bytes = zeroize::Zeroizing::new(serde_json::to_vec(&undo).expect("JSON value"));
        Ok(Some(Snapshot::Bytes(bytes.to_vec().into())))
    }

    async fn restore(&self, snapshot: &Snapshot) -> Result<(), SinkError> {
        let undo = match snapshot {
            Snapshot::Absent => serde_json::Value::Null,
            Snapshot::Bytes(bytes) => {
                serde_json::from_slice(bytes.expose_secret()).unwrap_or(serde_json::Value::Null)
            }
        };
        self.call(Request::Restore { undo: &undo }, None)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests;
