//! MFA sessions: `sts:GetSessionToken` with a one-time code, for principals whose policy
//! denies IAM without MFA (the policy AWS recommends for users who manage their own
//! credentials).
//!
//! A code is single-use within its 30-second window, so a session is opened once per
//! device per run and reused by every profile signing through that device; a refused
//! code is not asked for again either. Where a code comes from is the caller's choice:
//! `--mfa-code`, else whatever the engine passes (its `mfa_command`), else the
//! [`CodePrompt`] the command line installed. This layer never reads a terminal.

use std::sync::{Arc, Mutex};

use aws_credential_types::Credentials;

use super::{Aws, AwsError, AwsErrorKind, Caller};

/// Asks a person for a code. The command line installs one that reads the terminal;
/// without one (or off a terminal) a run that needs a code stops before changing anything.
pub(crate) trait CodePrompt: Send + Sync {
    /// A code for device `serial`, or `None` when there is nobody to ask.
    fn ask(&self, serial: &str) -> Option<std::io::Result<String>>;
}

/// Why no MFA session could be opened.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum MfaError {
    /// No `--mfa-code`, no `mfa_command` and nobody to ask.
    #[error("an MFA code for {serial} is needed and there is no terminal to ask: pass --mfa-code CODE, or set mfa_command in the manifest; nothing was changed")]
    NoCode {
        /// The device.
        serial: String,
    },
    /// The prompt could not read an answer.
    #[error("cannot read the MFA code: {0}")]
    Unreadable(String),
    /// `mfa_command` could not run, failed, timed out or printed nothing.
    #[error("mfa_command `{program}` {problem}")]
    Command {
        /// The program.
        program: String,
        /// What went wrong ("failed (exit status: 1)", "printed no code", ...).
        problem: String,
    },
    /// AWS refused the code.
    #[error("AWS refused the MFA code for {serial} (wrong, or already used in this 30-second window); wait for the next code and run again. Nothing was changed")]
    Refused {
        /// The device.
        serial: String,
    },
    /// `GetSessionToken` failed for another reason (throttled, unreachable, ...).
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// Where codes come from: the one given on the command line (used once), then the
/// prompt.
#[derive(Default)]
pub(super) struct MfaCodes {
    given: Mutex<Option<String>>,
    prompt: Option<Arc<dyn CodePrompt>>,
}

impl Aws {
    /// The same configuration, with the code given on the command line (`--mfa-code`)
    /// and whom to ask when a code is needed and none was given.
    pub(crate) fn with_mfa(
        mut self,
        code: Option<String>,
        prompt: Option<Arc<dyn CodePrompt>>,
    ) -> Self {
        self.codes = Arc::new(MfaCodes {
            given: Mutex::new(code),
            prompt,
        });
        self
    }

    /// A code for `serial` from the installed prompt; [`MfaError::NoCode`] without one.
    /// The prompt waits for a person, so it runs on a blocking thread: the runtime's
    /// workers go on meanwhile (other profiles' calls, the lease's renewal, Ctrl-C).
    pub(crate) async fn ask_code(&self, serial: &str) -> Result<String, MfaError> {
        let no_code = || MfaError::NoCode {
            serial: serial.to_owned(),
        };
        let prompt = self.codes.prompt.clone().ok_or_else(no_code)?;
        let device = serial.to_owned();
        let answer = tokio::task::spawn_blocking(move || prompt.ask(&device))
            .await
            .map_err(|e| MfaError::Unreadable(format!("the prompt stopped: {e}")))?
            .ok_or_else(no_code)?;
        let code = answer.map_err(|e| MfaError::Unreadable(e.to_string()))?;
        Ok(code.trim().to_owned())
    }

    /// Clients signing with an MFA session for device `serial`, opened once per run
    /// (`sts:GetSessionToken`, signed by `user`: the user's key, or an admin profile)
    /// with a code from `--mfa-code` or, if none was given, from `code()`, asked for
    /// only when no session exists yet: a code is single-use, so a run never asks twice
    /// for one device.
    pub(crate) async fn mfa_session<F>(
        &self,
        user: &Caller,
        serial: &str,
        code: impl FnOnce() -> F,
    ) -> Result<Caller, MfaError>
    where
        F: std::future::Future<Output = Result<String, MfaError>>,
    {
        let mut sessions = self.sessions.lock().await;
        if let Some(opened) = sessions.get(serial) {
            // A refused code is not asked for again in this run either.
            return opened.clone();
        }
        let opened = self.open_session(user, serial, code).await;
        sessions.insert(serial.to_owned(), opened.clone());
        opened
    }

    /// Forgets the session of device `serial`, so the next call that needs one opens
    /// another (with a new code): a leak response revoked every session of the user
    /// issued before it, this run's own included.
    pub(crate) async fn forget_session(&self, serial: &str) {
        self.sessions.lock().await.remove(serial);
    }

    async fn open_session<F>(
        &self,
        user: &Caller,
        serial: &str,
        code: impl FnOnce() -> F,
    ) -> Result<Caller, MfaError>
    where
        F: std::future::Future<Output = Result<String, MfaError>>,
    {
        let given = self
            .codes
            .given
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let code = match given {
            Some(code) => code,
            None => code().await?,
        };
        let out = user
            .sts
            .get_session_token()
            .serial_number(serial)
            .token_code(code.trim())
            .send()
            .await
            .map_err(|e| {
                let error = AwsError::from_sdk("sts:GetSessionToken", e);
                match error.kind {
                    AwsErrorKind::AccessDenied => MfaError::Refused {
                        serial: serial.to_owned(),
                    },
                    _ => MfaError::Aws(error),
                }
            })?;
        let credentials = out
            .credentials
            .ok_or_else(|| AwsError::malformed("sts:GetSessionToken"))?;
        let session = Credentials::new(
            credentials.access_key_id,
            credentials.secret_access_key,
            Some(credentials.session_token),
            None,
            "rekey-mfa",
        );
        Ok(self.clients(session))
    }
}
