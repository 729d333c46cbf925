//! `-v` shows the work (issue 31): one line per AWS call, whatever the service (rekey's
//! IAM, STS and S3 clients, and the secret stores' here): what was called, how it ended,
//! how long it took, how many attempts, and which key signed it, by id (the id is no
//! secret; the signature and the secret never appear). A retried attempt says so as it
//! starts, so a run against an endpoint that does not answer is not silent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// How long an attempt may go unanswered before it is said, even without `-v`.
const SAY_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

/// Logs every call of the client it is added to (at `info`: shown with `-v`).
#[derive(Debug, Clone, Default)]
pub struct CallLog;

/// When the call began, how many attempts it made, and who signed it.
#[derive(Debug, Clone)]
struct Call {
    began: Instant,
    attempts: u32,
    signer: Option<String>,
    /// Set once the current attempt ends.
    answered: Arc<AtomicBool>,
}

impl Storable for Call {
    type Storer = StoreReplace<Self>;
}

/// `iam:ListAccessKeys`, as the SDK names the operation.
fn operation(cfg: &ConfigBag) -> String {
    match cfg.load::<Metadata>() {
        Some(meta) => format!("{}:{}", meta.service().to_lowercase(), meta.name()),
        None => "an AWS call".to_owned(),
    }
}

/// The access key id in a SigV4 `Authorization` header
/// (`… Credential=AKIA…/20261206/us-east-1/iam/aws4_request, …`).
pub fn signer_of(authorization: &str) -> Option<String> {
    let rest = authorization.split("Credential=").nth(1)?;
    let id = rest.split('/').next()?;
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric())).then(|| id.to_owned())
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "rekey::CallLog"
    }

    fn read_before_attempt(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut call = cfg.load::<Call>().cloned().unwrap_or(Call {
            began: Instant::now(),
            attempts: 0,
            signer: None,
            answered: Arc::default(),
        });
        call.attempts += 1;
        if call.attempts > 1 {
            tracing::info!(
                "{}: attempt {} after {} ms",
                operation(cfg),
                call.attempts,
                call.began.elapsed().as_millis()
            );
        }
        // Never silent for long, even without -v: an attempt still unanswered after a
        // moment is said once.
        let answered = Arc::new(AtomicBool::new(false));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (answered, what, attempt) = (answered.clone(), operation(cfg), call.attempts);
            runtime.spawn(async move {
                tokio::time::sleep(SAY_AFTER).await;
                if !answered.load(Ordering::SeqCst) {
                    tracing::warn!(
                        "still waiting for {what} after {} s (attempt {attempt}; -v shows each AWS call)",
                        SAY_AFTER.as_secs()
                    );
                }
            });
        }
        call.answered = answered;
        cfg.interceptor_state().store_put(call);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        _: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(call) = cfg.load::<Call>() {
            call.answered.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let signer = context
            .request()
            .headers()
            .get("authorization")
            .and_then(signer_of);
        if let Some(mut call) = cfg.load::<Call>().cloned() {
            call.signer = signer;
            cfg.interceptor_state().store_put(call);
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = cfg.load::<Call>() else {
            return Ok(());
        };
        let ended = match context.response() {
            Some(response) => format!("HTTP {}", response.status().as_u16()),
            None => "no answer".to_owned(),
        };
        let signer = call.signer.as_deref().unwrap_or("no key");
        tracing::info!(
            "{}: {ended} in {} ms, {} attempt{}, signed by {signer}",
            operation(cfg),
            call.began.elapsed().as_millis(),
            call.attempts,
            if call.attempts == 1 { "" } else { "s" }
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::signer_of;

    #[test]
    fn the_signer_is_read_from_the_credential_scope_alone() {
        let header = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261206/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd";
        assert_eq!(signer_of(header).as_deref(), Some("AKIAIOSFODNN7EXAMPLE"));
        assert_eq!(signer_of("Bearer token"), None);
    }
}
