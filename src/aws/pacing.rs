//! Pacing to AWS's rate limits, shared by the whole run (issue 19).
//!
//! IAM's rate limit is per account, unpublished, and cannot be raised; beyond it IAM
//! answers `Throttling`. The AWS SDK's adaptive retry mode already paces one client as
//! rekey needs: no limit until the first throttled answer, then a cut rate, raised again
//! slowly (CUBIC). But rekey builds many clients (a pair per key, more per `via` profile
//! and MFA session), each of which would learn the limit alone. So each service gets one
//! [`RetryPartition`] per run, carrying one client rate limiter that every client of the
//! service shares: the SDK's machinery, shared, rather than a limiter of rekey's own.
//!
//! The SDK's retry quota (a token bucket that stops retrying when many attempts fail)
//! would fail a profile after a burst of throttling: it is unlimited here, and the
//! run's time budget (`--api-timeout`) bounds retries instead. A call still throttled
//! after the SDK's attempts is made again ([`Pacing::patiently`]) until the budget is
//! spent: throttling alone never fails a profile while time is left.
//!
//! [`Counter`], an interceptor on every client, counts throttled answers (as the SDK's
//! own retry classifiers judge them) and accepted calls, for the progress line and the
//! JSON report.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_smithy_runtime::client::retries::{ClientRateLimiter, RetryPartition, TokenBucket};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryReason,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::ErrorKind;

use super::error::{AwsError, AwsErrorKind};

/// How long a run may keep retrying throttled calls, unless told otherwise.
pub(crate) const DEFAULT_API_TIMEOUT: Duration = Duration::from_secs(600);

/// The services rekey paces, each with its own limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    /// IAM: the one whose limit matters.
    Iam,
    /// STS (identities, propagation probes, MFA sessions).
    Sts,
    /// S3 (the shared state's lease and journal copies).
    S3,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Iam => "IAM",
            Service::Sts => "STS",
            Service::S3 => "S3",
        }
    }
}

/// The run's pacing: one rate limiter per service, the time budget, the counts.
#[derive(Debug)]
pub(crate) struct Pacing {
    partitions: [RetryPartition; 3],
    deadline: Instant,
    counts: [Arc<Counts>; 3],
}

impl Pacing {
    /// Pacing for a run that may retry throttled calls for `budget`.
    pub(crate) fn new(budget: Duration) -> Self {
        Self::until(Instant::now() + budget, "rekey")
    }

    /// Pacing of its own for another account (IAM's rate limit is per account), with
    /// the run's deadline.
    pub(crate) fn for_account(&self, account: &str) -> Self {
        Self::until(self.deadline, &format!("rekey-{account}"))
    }

    fn until(deadline: Instant, name: &str) -> Self {
        let epoch = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let partition = |service: &str| {
            RetryPartition::custom(format!("{name}-{service}"))
                .client_rate_limiter(ClientRateLimiter::new(epoch))
                .token_bucket(TokenBucket::unlimited())
                .build()
        };
        Self {
            partitions: [partition("iam"), partition("sts"), partition("s3")],
            deadline,
            counts: Default::default(),
        }
    }

    fn index(service: Service) -> usize {
        match service {
            Service::Iam => 0,
            Service::Sts => 1,
            Service::S3 => 2,
        }
    }

    /// The retry partition every client of `service` uses: the shared limiter.
    pub(crate) fn partition(&self, service: Service) -> RetryPartition {
        self.partitions[Self::index(service)].clone()
    }

    /// The interceptor that counts `service`'s answers.
    pub(crate) fn counter(&self, service: Service) -> Counter {
        Counter(self.counts[Self::index(service)].clone())
    }

    /// Runs `call` again while it is throttled and the budget lasts. The shared limiter
    /// spaces the attempts; a short pause keeps calls that were all refused at once
    /// from all coming back at once.
    pub(crate) async fn patiently<T, F, Fut>(&self, mut call: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        loop {
            match call().await {
                Err(e) if e.kind == AwsErrorKind::Throttled && Instant::now() < self.deadline => {
                    let pause = Duration::from_millis(100 + fastrand::u64(0..400));
                    tokio::time::sleep(pause).await;
                }
                Err(mut e) if e.kind == AwsErrorKind::Throttled => {
                    e.message
                        .push_str(" (still throttled when --api-timeout ran out)");
                    return Err(e);
                }
                other => return other,
            }
        }
    }

    /// Throttled answers so far, per service (for the JSON report).
    pub(crate) fn throttled(&self) -> Throttled {
        let n = |s: Service| {
            self.counts[Self::index(s)]
                .throttled
                .load(Ordering::Relaxed)
        };
        Throttled {
            iam: n(Service::Iam),
            sts: n(Service::Sts),
            s3: n(Service::S3),
        }
    }

    /// "IAM is throttling: 12 calls/s" while a service has throttled in the last few
    /// seconds, for the progress line; `None` when nothing is being paced.
    pub(crate) fn status(&self) -> Option<String> {
        let now = Instant::now();
        [Service::Iam, Service::Sts, Service::S3]
            .into_iter()
            .find_map(|service| {
                let rate = self.counts[Self::index(service)].recent_rate(now)?;
                Some(format!(
                    "{} is throttling: {rate:.0} calls/s",
                    service.name()
                ))
            })
    }
}

/// Throttled answers of a run, per service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Throttled {
    /// IAM's.
    pub(crate) iam: u64,
    /// STS's.
    pub(crate) sts: u64,
    /// S3's.
    pub(crate) s3: u64,
}

/// How long a throttled answer keeps the progress line saying so, and the window the
/// accepted rate is measured over.
const WINDOW: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
struct Counts {
    throttled: AtomicU64,
    /// When the last throttled answer came.
    last_throttled: Mutex<Option<Instant>>,
    /// When each call accepted in the last [`WINDOW`] was answered.
    accepted: Mutex<VecDeque<Instant>>,
}

impl Counts {
    fn note(&self, throttled: bool) {
        let now = Instant::now();
        if throttled {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            *self
                .last_throttled
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(now);
        } else {
            let mut accepted = self.accepted.lock().unwrap_or_else(|e| e.into_inner());
            accepted.push_back(now);
            while accepted
                .front()
                .is_some_and(|t| now.duration_since(*t) > WINDOW)
            {
                accepted.pop_front();
            }
        }
    }

    /// Accepted calls per second over the window, if the service throttled within it.
    fn recent_rate(&self, now: Instant) -> Option<f64> {
        let last = (*self
            .last_throttled
            .lock()
            .unwrap_or_else(|e| e.into_inner()))?;
        if now.duration_since(last) > WINDOW {
            return None;
        }
        let accepted = self.accepted.lock().unwrap_or_else(|e| e.into_inner());
        let recent = accepted
            .iter()
            .filter(|t| now.duration_since(**t) <= WINDOW)
            .count();
        Some(recent as f64 / WINDOW.as_secs_f64())
    }
}

/// Counts a service's answers: throttled (by the SDK's own retry classifiers, which
/// the adaptive limiter also follows) or accepted.
#[derive(Debug, Clone)]
pub(crate) struct Counter(Arc<Counts>);

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "rekey::Counter"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let ctx = context.inner();
        let Some(response) = ctx.response() else {
            return Ok(());
        };
        let throttled = runtime_components.retry_classifiers().any(|classifier| {
            matches!(
                classifier.classify_retry(ctx),
                RetryAction::RetryIndicated(RetryReason::RetryableError {
                    kind: ErrorKind::ThrottlingError,
                    ..
                })
            )
        });
        if throttled || response.status().as_u16() < 500 {
            self.0.note(throttled);
        }
        Ok(())
    }
}
