//! rekey's one AWS access layer (issue 19), shared by the engine (IAM, STS, S3) and the
//! secret-store sinks (Secrets Manager, SSM); it lives in this crate, the lower of the
//! two, so both can use it:
//!
//! - [`policy`]: the retry and timeout policy every client gets (through the shared
//!   `SdkConfig`), and the secret stores' clients ([`secrets_manager`], [`ssm`]);
//! - [`load_profile`]: how a named AWS profile's credentials are loaded, with the run's
//!   HTTP client and region;
//! - [`classify`]: what kind of failure an SDK error is, and its message (never the
//!   error's `Debug` form, which can hold a raw HTTP answer, and so a secret);
//! - [`patiently`]: how a call signed with a key that may still be propagating is made
//!   again while the service answers "unknown key".
//!
//! The engine adds the rest of the layer on top: building IAM/STS/S3 clients, the run's
//! shared rate limiter, and its time budget for throttled calls. The secret stores'
//! clients are built from the shared `SdkConfig` (so with this policy) and use the SDK's
//! default retry partition of their service, which the SDK keeps for the whole process:
//! one adaptive limiter per service for the run there too.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The SDK's shared configuration (region, credentials, HTTP client, retry and timeout
/// policy), named here so that code outside the AWS layer (the manifest building the
/// secret-store sinks) can pass it along without naming an SDK crate.
pub use aws_types::SdkConfig;

/// The retry and timeout policy of every client. Throttling, 5xx and dropped
/// connections are retried with exponential backoff and jitter, in adaptive mode (which
/// paces to a throttled rate; the engine shares one limiter per service across its
/// clients, and retries a call still throttled after these attempts while the run's
/// budget lasts). A connection must open within 5 s, an attempt end within 20 s.
pub fn policy() -> (RetryConfig, TimeoutConfig) {
    let retry = RetryConfig::adaptive()
        .with_max_attempts(5)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(5));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(20))
        .build();
    (retry, timeouts)
}

/// A Secrets Manager client on `sdk` (the run's shared configuration, with the
/// credentials a store sink signs with): the one place such a client is built.
pub fn secrets_manager(sdk: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::config::Builder::from(sdk)
        .interceptor(crate::call_log::CallLog)
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

/// An SSM client on `sdk`, as [`secrets_manager`].
pub fn ssm(sdk: &SdkConfig) -> aws_sdk_ssm::Client {
    let config = aws_sdk_ssm::config::Builder::from(sdk)
        .interceptor(crate::call_log::CallLog)
        .build();
    aws_sdk_ssm::Client::from_conf(config)
}

/// The credentials of the AWS profile `profile`, whatever its kind (static keys, SSO, a
/// role, web identity, `credential_process`), resolved as every AWS tool resolves them
/// (rekey never reads them itself), with `base`'s HTTP client and region: no second
/// connection pool, no region lookup. Checked once here, so that a profile without
/// working credentials is named now rather than at its first call; the error says what
/// is wrong with the profile, for the caller to name it.
pub async fn load_profile(
    base: &SdkConfig,
    profile: &str,
) -> Result<SharedCredentialsProvider, String> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).profile_name(profile);
    if let Some(region) = base.region() {
        loader = loader.region(region.clone());
    }
    if let Some(http) = base.http_client() {
        loader = loader.http_client(http);
    }
    let loaded = loader.load().await;
    let provider = loaded
        .credentials_provider()
        .ok_or_else(|| "has no credentials to sign with".to_owned())?;
    provider
        .provide_credentials()
        .await
        .map_err(|e| format!("has no credentials that can be loaded: {e}"))?;
    Ok(provider)
}

/// What kind of failure an AWS call had: what rekey decides by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// The signer lacks a permission (`AccessDenied`).
    AccessDenied,
    /// The signing key is unknown, inactive or not yet propagated
    /// (`InvalidClientTokenId`, `SignatureDoesNotMatch`, `UnrecognizedClientException`,
    /// or a bare HTTP 403).
    InvalidCredentials,
    /// The user already has two keys (`LimitExceeded`).
    LimitExceeded,
    /// The service throttled the call, after the SDK's retries.
    Throttled,
    /// The entity does not exist (`NoSuchEntity`).
    NoSuchEntity,
    /// No answer: connection failure or timeout. The call may or may not have happened.
    NoResponse,
    /// The service failed (HTTP 5xx, after the SDK's retries): the call may or may not
    /// have taken effect.
    ServerError,
    /// Anything else.
    Other,
}

/// The kind of `error` from `operation` (`iam:ListAccessKeys`), and what went wrong, for
/// people: `Code: AWS's message`, or where no answer came from.
pub fn classify<E>(operation: &str, error: &SdkError<E, HttpResponse>) -> (Kind, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or_default();
            let text = service.err().message().unwrap_or_default();
            // A success the SDK could not read (an answer cut or spoiled on the way):
            // the call may have taken effect. Its body is never shown (it can be a secret).
            if code.is_empty() && status < 300 {
                return (Kind::NoResponse, "unreadable response".to_owned());
            }
            let kind = match code {
                "AccessDenied"
                | "AccessDeniedException"
                | "UnauthorizedOperation"
                | "AllAccessDisabled"
                | "KMS.AccessDeniedException" => Kind::AccessDenied,
                "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "InvalidAccessKeyId"
                | "AuthFailure"
                | "UnrecognizedClientException"
                | "InvalidSignatureException" => Kind::InvalidCredentials,
                "LimitExceeded" | "LimitExceededException" => Kind::LimitExceeded,
                "Throttling"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
                | "SlowDown" => Kind::Throttled,
                "NoSuchEntity" => Kind::NoSuchEntity,
                // Some emulators (and a few proxies) answer auth failures with a bare 403.
                "" if status == 403 => Kind::InvalidCredentials,
                _ if status >= 500 => Kind::ServerError,
                _ => Kind::Other,
            };
            let code = if code.is_empty() {
                format!("HTTP {status}")
            } else {
                code.to_owned()
            };
            let detail = if text.is_empty() {
                code
            } else {
                format!("{code}: {text}")
            };
            (kind, detail)
        }
        SdkError::TimeoutError(_) => (
            Kind::NoResponse,
            format!("no answer from {} in time", endpoint_of(operation)),
        ),
        SdkError::DispatchFailure(failure) => {
            let mut why = Vec::new();
            let mut next = failure
                .as_connector_error()
                .map(|e| e as &dyn std::error::Error);
            while let Some(e) = next {
                why.push(e.to_string());
                next = e.source();
            }
            (
                Kind::NoResponse,
                format!(
                    "no answer from {}: {}",
                    endpoint_of(operation),
                    why.join(": ")
                ),
            )
        }
        // An answer the SDK could not read.
        SdkError::ResponseError(_) => (Kind::NoResponse, "unreadable response".to_owned()),
        _ => (Kind::Other, "the request could not be made".to_owned()),
    }
}

/// Where requests go when it is not AWS itself, and why: `http://127.0.0.1:4566
/// (AWS_ENDPOINT_URL)`. Noted once per process by [`note_endpoints`] (the endpoint
/// settings are the process's environment and config file), so that "no answer" names
/// the address that did not answer instead of leaving the user to guess.
static ENDPOINTS: OnceLock<Endpoints> = OnceLock::new();

#[derive(Debug, Default)]
struct Endpoints {
    /// `AWS_ENDPOINT_URL_<SERVICE>`, by lower-case service name without `_`.
    per_service: Vec<(String, String)>,
    /// `AWS_ENDPOINT_URL`, or the config file's `endpoint_url`.
    global: Option<String>,
}

/// Notes where requests go: `var` looks up environment variables; `configured` is the
/// SDK's resolved global endpoint (environment or config file).
pub fn note_endpoints(var: impl Fn(&str) -> Option<String>, configured: Option<&str>) {
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

/// First wait after a "not yet"; doubled after each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two attempts signed with a propagating key.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Runs `call`, signed with a key that may still be propagating somewhere, again while
/// `not_yet` says its error means "this service does not know the key yet", for at most
/// `patience`. Any other answer, or the last "not yet", is returned as it is.
pub async fn patiently<T, E, F, Fut>(
    patience: Duration,
    not_yet: impl Fn(&E) -> bool,
    mut call: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = tokio::time::Instant::now() + patience;
    let mut backoff = Backoff::new(MAX_BACKOFF);
    loop {
        match call().await {
            Err(error) if not_yet(&error) => {
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    return Err(error);
                }
                // Between two attempts at a remote service; the last one at the deadline.
                tokio::time::sleep(backoff.next().min(deadline - now)).await;
            }
            other => return other,
        }
    }
}

/// Exponential backoff from [`FIRST_BACKOFF`] to a cap, each wait jittered to 50-100 %
/// so that many rotations waiting together do not poll in step.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Backoff up to `max`.
    pub fn new(max: Duration) -> Self {
        Self {
            next: FIRST_BACKOFF,
            max,
        }
    }

    /// The next wait.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Duration {
        let jittered = self.next.mul_f64(0.5 + fastrand::f64() / 2.0);
        self.next = (self.next * 2).min(self.max);
        jittered
    }
}
