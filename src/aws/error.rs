//! AWS failures, classified into what a user can act on.
//!
//! The engine decides by [`AwsErrorKind`] (retry, wait for propagation, explain a missing
//! permission); the message says which call failed and what to do.

use std::sync::OnceLock;

use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};

/// Where requests go when it is not AWS itself, and why: `http://127.0.0.1:4566
/// (AWS_ENDPOINT_URL)`. Noted once per process by [`note_endpoints`] (the endpoint
/// settings are the process's environment and config file), so that "no answer" names
/// the address that did not answer instead of leaving the user to guess.
static ENDPOINTS: OnceLock<Endpoints> = OnceLock::new();

#[derive(Debug, Default)]
struct Endpoints {
    /// `AWS_ENDPOINT_URL_<SERVICE>`, by lower-case service name.
    per_service: Vec<(String, String)>,
    /// `AWS_ENDPOINT_URL`, or the config file's `endpoint_url`.
    global: Option<String>,
}

/// Notes where requests go: `var` looks up environment variables; `configured` is the
/// SDK's resolved global endpoint (environment or config file).
pub(crate) fn note_endpoints(var: impl Fn(&str) -> Option<String>, configured: Option<&str>) {
    let per_service = ["IAM", "STS", "S3", "SECRETS_MANAGER", "SSM"]
        .into_iter()
        .filter_map(|service| {
            let name = format!("AWS_ENDPOINT_URL_{service}");
            let url = var(&name).filter(|u| !u.is_empty())?;
            let key = service.replace('_', "").to_lowercase();
            Some((key, format!("{url} ({name})")))
        })
        .collect();
    let global = match var("AWS_ENDPOINT_URL").filter(|u| !u.is_empty()) {
        Some(url) => Some(format!("{url} (AWS_ENDPOINT_URL)")),
        None => configured.map(|url| format!("{url} (endpoint_url in the AWS config file)")),
    };
    let _ = ENDPOINTS.set(Endpoints {
        per_service,
        global,
    });
}

/// Where `operation` (`sts:GetCallerIdentity`) was sent, for people.
fn endpoint_of(operation: &str) -> String {
    let service = operation.split(':').next().unwrap_or_default();
    let noted = ENDPOINTS.get().and_then(|e| {
        e.per_service
            .iter()
            .find(|(s, _)| s == service)
            .map(|(_, url)| url.clone())
            .or_else(|| e.global.clone())
    });
    noted.unwrap_or_else(|| format!("AWS ({service})"))
}

/// What kind of failure an AWS call had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AwsErrorKind {
    /// The key lacks a permission (`AccessDenied`).
    AccessDenied,
    /// The key is unknown, inactive or not yet propagated (`InvalidClientTokenId`,
    /// `SignatureDoesNotMatch`, or a bare HTTP 403).
    InvalidCredentials,
    /// The user already has two keys (`LimitExceeded`).
    LimitExceeded,
    /// The API throttled us even after the SDK's retries.
    Throttled,
    /// The user or key does not exist (`NoSuchEntity`).
    NoSuchEntity,
    /// No answer: connection failure or timeout. The call may or may not have happened.
    NoResponse,
    /// The service failed (HTTP 5xx, after the SDK's retries): the call may or may not
    /// have taken effect.
    ServerError,
    /// Anything else.
    Other,
}

/// A failed AWS call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct AwsError {
    /// The call, e.g. `iam:CreateAccessKey`.
    pub operation: &'static str,
    /// The classification.
    pub kind: AwsErrorKind,
    /// What AWS said, and what to do about it.
    pub message: String,
}

impl AwsError {
    /// Classifies an SDK error from `operation`.
    pub fn from_sdk<E, R>(operation: &'static str, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + HasStatus,
    {
        let (kind, detail) = match &error {
            SdkError::ServiceError(service) => {
                let status = service.raw().status();
                let code = service.err().code().unwrap_or_default().to_owned();
                let text = service.err().message().unwrap_or_default().to_owned();
                let kind = match code.as_str() {
                    "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
                        AwsErrorKind::AccessDenied
                    }
                    "InvalidClientTokenId"
                    | "SignatureDoesNotMatch"
                    | "InvalidAccessKeyId"
                    | "AuthFailure" => AwsErrorKind::InvalidCredentials,
                    "LimitExceeded" | "LimitExceededException" => AwsErrorKind::LimitExceeded,
                    "Throttling"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "TooManyRequestsException" => AwsErrorKind::Throttled,
                    "NoSuchEntity" => AwsErrorKind::NoSuchEntity,
                    // Some emulators (and a few proxies) answer auth failures with a bare 403.
                    "" if status == 403 => AwsErrorKind::InvalidCredentials,
                    _ if status >= 500 => AwsErrorKind::ServerError,
                    _ => AwsErrorKind::Other,
                };
                let code = if code.is_empty() {
                    format!("HTTP {status}")
                } else {
                    code
                };
                (
                    kind,
                    if text.is_empty() {
                        code
                    } else {
                        format!("{code}: {text}")
                    },
                )
            }
            SdkError::TimeoutError(_) => (
                AwsErrorKind::NoResponse,
                format!("no answer from {} in time", endpoint_of(operation)),
            ),
            SdkError::DispatchFailure(f) => (
                AwsErrorKind::NoResponse,
                format!(
                    "no answer from {}: {}",
                    endpoint_of(operation),
                    describe_chain(f.as_connector_error().map(|e| e as &dyn std::error::Error))
                ),
            ),
            SdkError::ResponseError(_) => {
                (AwsErrorKind::NoResponse, "unreadable response".to_owned())
            }
            other => (AwsErrorKind::Other, describe_chain(Some(other))),
        };
        let advice = match kind {
            AwsErrorKind::AccessDenied => {
                format!(" (the key needs permission for {operation} on its own user; see the IAM policy in rekey's README)")
            }
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
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self.kind,
            AwsErrorKind::NoResponse | AwsErrorKind::ServerError
        )
    }

    /// A response without the fields the API promises.
    pub fn malformed(operation: &'static str) -> Self {
        Self {
            operation,
            kind: AwsErrorKind::Other,
            message: "the response lacked required fields".to_owned(),
        }
    }
}

/// Access to the HTTP status of a raw response, whatever its concrete type.
pub trait HasStatus {
    /// The HTTP status code.
    fn status(&self) -> u16;
}

impl HasStatus for aws_smithy_runtime_api::http::Response {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

fn describe_chain(error: Option<&dyn std::error::Error>) -> String {
    let mut parts = Vec::new();
    let mut next = error;
    while let Some(e) = next {
        parts.push(e.to_string());
        next = e.source();
    }
    parts.join(": ")
}
