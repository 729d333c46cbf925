//! What kind of failure stopped a profile, kept from where it happened to the output:
//! the stable `error_kind` of the JSON output, so a program can tell throttling from a
//! missing permission from a full key slot from a sink that failed.

use std::fmt;

use serde::Serialize;

use rekey_sinks::SinkError;

use crate::aws::{AwsError, AwsErrorKind, MfaError};
use crate::engine::rotation::propagation::PropagationError;
use crate::state::lock::LockError;
use crate::state::{BeginError, StateError};

/// The kind of a failure. Serialized in `snake_case`; new kinds may be added, existing
/// ones never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub(crate) enum ErrorKind {
    /// AWS refused a call for lack of permission (`AccessDenied`).
    AccessDenied,
    /// AWS kept throttling after the retries.
    Throttled,
    /// STS and IAM did not both accept the new key within the propagation timeout.
    NotPropagated,
    /// A key is malformed, missing, unknown to AWS, inactive, or not the user's.
    InvalidKey,
    /// The user has no room for a new key: a second key rekey may not delete.
    NoRoom,
    /// A sink cannot be read or written; found before anything changed.
    SinkUnwritable,
    /// Writing or restoring a sink failed during the rotation.
    SinkFailed,
    /// The verification command failed or timed out.
    VerifyFailed,
    /// Profiles that share a key have different settings.
    SettingsConflict,
    /// An earlier rotation of the user is unfinished (`rekey recover` resolves it).
    Interrupted,
    /// Another rekey process held a lock too long, or changed the keys since planning.
    Busy,
    /// AWS did not answer, or failed in another way.
    Aws,
    /// The state directory could not be used.
    State,
    /// No MFA session could be opened (no code given and nobody to ask, the
    /// `mfa_command` failed, or AWS refused the code), or IAM needs one and `plan` was
    /// not asked to open it.
    Mfa,
    /// A leak response deleted the old key, and AWS still accepted it at the bound.
    StillAccepted,
    /// The user is under AWS's quarantine (`AWSCompromisedKeyQuarantine*`), which denies
    /// what a response signed with the user's own key calls: sign it as an
    /// administrator (`--via`).
    Quarantined,
    /// The key has a copy under the manifest's `scan:` roots that no sink writes:
    /// rotating would leave it holding the old key.
    UncoveredCopy,
    /// The key was last rotated through another manifest (or default mode), which
    /// writes places this run does not: rotating it here would leave them behind.
    OtherManifest,
    /// There is no rotation `rollback` may undo: no old key awaiting deletion, its
    /// places' earlier content not kept, the old key deleted or already active, or the
    /// new key used by others during an overlap (without `--force`).
    NoRollback,
    /// The manifest or the shared AWS files could not be read, break the schema, or the
    /// manifest is not trusted.
    Config,
    /// Nothing was done: the user declined, or there was nobody to ask (`--yes`).
    Cancelled,
    /// One or more profiles failed; each result has its own `error_kind`.
    ProfilesFailed,
    /// Anything else; the message says what.
    Other,
}

/// A failure: what went wrong, for people, and its kind, for programs.
#[derive(Debug, Clone)]
pub(crate) struct Cause {
    /// The kind.
    pub(crate) kind: ErrorKind,
    /// What went wrong and what to do (never a secret).
    pub(crate) message: String,
}

impl Cause {
    /// A failure of `kind`.
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl Cause {
    /// A failure of an AWS call, of the call's kind, told as `message`.
    pub(crate) fn aws(error: &AwsError, message: impl Into<String>) -> Self {
        Self::new(error.into(), message)
    }

    /// The same failure, its message prefixed with `context` (`"context: message"`).
    pub(crate) fn context(self, context: impl fmt::Display) -> Self {
        Self::new(self.kind, format!("{context}: {}", self.message))
    }
}

impl std::error::Error for Cause {}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<&AwsError> for ErrorKind {
    fn from(error: &AwsError) -> Self {
        match error.kind {
            AwsErrorKind::AccessDenied => ErrorKind::AccessDenied,
            AwsErrorKind::Throttled => ErrorKind::Throttled,
            AwsErrorKind::InvalidCredentials => ErrorKind::InvalidKey,
            AwsErrorKind::LimitExceeded => ErrorKind::NoRoom,
            _ => ErrorKind::Aws,
        }
    }
}

impl From<AwsError> for Cause {
    fn from(error: AwsError) -> Self {
        Self::new((&error).into(), error.to_string())
    }
}

impl ErrorKind {
    /// The kind of a sink's failure: a secret store's refusal is a missing permission;
    /// anything else is `otherwise` (unwritable before a change, failed during one).
    pub(crate) fn of_sink(error: &SinkError, otherwise: ErrorKind) -> ErrorKind {
        match error {
            SinkError::AccessDenied { .. } => ErrorKind::AccessDenied,
            SinkError::InvalidKey { .. } => ErrorKind::InvalidKey,
            _ => otherwise,
        }
    }
}

impl From<MfaError> for Cause {
    fn from(error: MfaError) -> Self {
        let kind = match &error {
            MfaError::Aws(aws) => aws.into(),
            _ => ErrorKind::Mfa,
        };
        Self::new(kind, error.to_string())
    }
}

impl From<StateError> for Cause {
    fn from(error: StateError) -> Self {
        Self::new(ErrorKind::State, error.to_string())
    }
}

impl From<LockError> for Cause {
    fn from(error: LockError) -> Self {
        let kind = match error {
            LockError::Busy { .. } => ErrorKind::Busy,
            _ => ErrorKind::State,
        };
        Self::new(kind, error.to_string())
    }
}

impl From<PropagationError> for Cause {
    fn from(error: PropagationError) -> Self {
        let kind = match &error {
            PropagationError::Timeout { .. } | PropagationError::IamTimeout { .. } => {
                ErrorKind::NotPropagated
            }
            PropagationError::WrongIdentity { .. } => ErrorKind::InvalidKey,
            PropagationError::Iam(aws) => aws.into(),
        };
        Self::new(kind, error.to_string())
    }
}

impl From<BeginError> for Cause {
    fn from(error: BeginError) -> Self {
        let kind = match error {
            BeginError::Interrupted(_) => ErrorKind::Interrupted,
            BeginError::State(_) => ErrorKind::State,
        };
        Self::new(kind, error.to_string())
    }
}
