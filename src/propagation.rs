//! Proving a new key works before anything depends on it, instead of sleeping.
//!
//! IAM is eventually consistent: a new key can be rejected for several seconds, and one
//! success does not mean every endpoint knows it. So rekey calls `GetCallerIdentity` with
//! the new key until it succeeds `consecutive` times in a row for the expected user,
//! backing off exponentially (with jitter) after each failure, within a timeout.

use std::time::Duration;

use tokio::time::Instant;

use crate::aws::{AwsError, Caller};
use crate::profile::Propagation;

/// First wait after a failure; doubled after each further failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait between two attempts: a key that starts working after a few seconds is
/// noticed within a second, and 32 waiting rotations poll STS at most ~32 times a second.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Spacing between successes, so that "in a row" spans more than one instant.
const SUCCESS_SPACING: Duration = Duration::from_millis(100);

/// How the proof went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proof {
    /// Calls made.
    pub attempts: u32,
    /// Time taken.
    pub elapsed: Duration,
}

/// The new key was not proven to work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PropagationError {
    /// It did not work `consecutive` times in a row within the timeout.
    #[error("the new key did not work {consecutive} times in a row within {timeout:?} ({attempts} attempts; last error: {last})")]
    Timeout {
        /// Required successes.
        consecutive: u32,
        /// The limit.
        timeout: Duration,
        /// Calls made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// It works, but for someone else: never go on with it.
    #[error("the new key identifies as {got}, not {expected}")]
    WrongIdentity {
        /// The user the old key belongs to.
        expected: String,
        /// Who the new key says it is.
        got: String,
    },
}

/// Calls `GetCallerIdentity` through `caller` (signing with the new key) until it returns
/// `expected_arn` `rule.consecutive` times in a row, or `rule.timeout` passes.
pub async fn prove(
    caller: &Caller,
    expected_arn: &str,
    rule: Propagation,
) -> Result<Proof, PropagationError> {
    let start = Instant::now();
    let deadline = start + rule.timeout;
    let (mut attempts, mut streak, mut backoff) = (0, 0, FIRST_BACKOFF);
    let mut last_error: Option<AwsError> = None;
    loop {
        attempts += 1;
        let wait = match caller.identity().await {
            Ok(identity) if identity.arn == expected_arn => {
                streak += 1;
                if streak >= rule.consecutive {
                    return Ok(Proof {
                        attempts,
                        elapsed: start.elapsed(),
                    });
                }
                backoff = FIRST_BACKOFF;
                SUCCESS_SPACING
            }
            Ok(identity) => {
                return Err(PropagationError::WrongIdentity {
                    expected: expected_arn.to_owned(),
                    got: identity.arn,
                })
            }
            Err(error) => {
                tracing::debug!(attempt = attempts, %error, "new key not usable yet");
                last_error = Some(error);
                streak = 0;
                let jittered = backoff.mul_f64(0.5 + fastrand::f64() / 2.0);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                jittered
            }
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(PropagationError::Timeout {
                consecutive: rule.consecutive,
                timeout: rule.timeout,
                attempts,
                last: last_error.map_or_else(|| "none".to_owned(), |e| e.to_string()),
            });
        }
        tokio::time::sleep(wait.min(deadline - now)).await;
    }
}
