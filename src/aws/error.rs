//! AWS failures, classified into what a user can act on.
//!
//! The engine decides by [`AwsErrorKind`] (retry, wait for propagation, explain a missing
//! permission); the message says which call failed and what to do.

use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// What kind of failure an AWS call had: the classification every AWS call of rekey
/// shares, engine and secret-store sinks alike (see [`rekey_sinks::aws`]).
pub(crate) use rekey_sinks::aws::Kind as AwsErrorKind;

/// A failed AWS call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub(crate) struct AwsError {
    /// The call, e.g. `iam:CreateAccessKey`.
    pub(crate) operation: &'static str,
    /// The classification.
    pub(crate) kind: AwsErrorKind,
    /// What AWS said, and what to do about it.
    pub(crate) message: String,
}

/// What to do when `operation` is denied: a user's own keys need the policy of
/// docs/security.md; `rekey audit`'s reads and role need what the guide lists.
fn denied_advice(operation: &str) -> String {
    match operation {
        "sts:AssumeRole" => " (the role must exist in that account and trust the signer, which needs sts:AssumeRole on it)".to_owned(),
        "organizations:ListAccounts" | "iam:GenerateCredentialReport" | "iam:GetCredentialReport" => {
            format!(" (the signer needs {operation}; see \"rekey audit\" in rekey's docs/guide.md)")
        }
        op if op.starts_with("s3:") => format!(" (the signer needs {operation} on the shared state's bucket; see \"state: s3\" in rekey's docs/guide.md)"),
        _ => format!(" (the key needs permission for {operation} on its own user; see the IAM policy in rekey's docs/security.md)"),
    }
}

impl AwsError {
    /// Classifies an SDK error from `operation` (see [`rekey_sinks::aws::classify`]).
    pub(crate) fn from_sdk<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (kind, detail) = rekey_sinks::aws::classify(operation, &error);
        let advice = match kind {
            AwsErrorKind::AccessDenied => denied_advice(operation),
            AwsErrorKind::InvalidCredentials => {
                " (the key is unknown to AWS, inactive, or not yet usable)".to_owned()
            }
            AwsErrorKind::Throttled => {
                " (AWS is throttling requests; try again in a minute)".to_owned()
            }
            _ => String::new(),
        };
        Self {
            operation,
            kind,
            message: format!("{detail}{advice}"),
        }
    }

    /// Whether the call may have taken effect although it failed: no answer, an answer
    /// that could not be read, or a server error. A definitive refusal (any 4xx, such
    /// as `LimitExceeded`) changed nothing.
    pub(crate) fn outcome_unknown(&self) -> bool {
        matches!(
            self.kind,
            AwsErrorKind::NoResponse | AwsErrorKind::ServerError
        )
    }

    /// A response without the fields the API promises.
    pub(crate) fn malformed(operation: &'static str) -> Self {
        Self {
            operation,
            kind: AwsErrorKind::Other,
            message: "the response lacked required fields".to_owned(),
        }
    }
}
