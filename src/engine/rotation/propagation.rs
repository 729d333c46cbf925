//! Proving a new key works before anything depends on it, instead of sleeping, and
//! riding out the rest of its propagation afterwards.
//!
//! IAM is eventually consistent, and not uniformly: a new key can be accepted by STS
//! seconds before IAM accepts it (2-15 s seen; aws-vault #132, #339, #536;
//! aws-rotate-iam-keys #81), and one success does not mean every endpoint knows it. So
//! the proof has two parts (see ARCHITECTURE.md, "Propagation is per service"):
//!
//! 1. `sts:GetCallerIdentity` signed with the new key succeeds `consecutive` times in a
//!    row for the expected user;
//! 2. then one IAM call signed with the new key (`iam:ListAccessKeys` on the user) is
//!    authenticated: success, or an authorization error such as `AccessDenied` (which
//!    proves IAM knows the key; a policy may deny IAM without MFA), while
//!    `InvalidClientTokenId`/`SignatureDoesNotMatch` mean "not yet".
//!
//! Both back off exponentially (with jitter) after each refusal, within one timeout.
//! Every later call signed with the new key goes through [`patiently`], which retries
//! "not yet" within the same timeout, so a replica that is slower than the one that
//! answered the proof cannot fail a rotation or its undo.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use rekey_sinks::aws::Backoff;

use crate::aws::{AwsError, AwsErrorKind, Caller};
use crate::config::profile::Propagation;

/// Longest wait between two STS probes: a key is noticed within a third of a second of
/// starting to work (issue 19: with a one-second cap, the wait had grown past the moment
/// the key worked). STS, not IAM: its calls do not spend the account's IAM budget.
const MAX_STS_BACKOFF: Duration = Duration::from_millis(300);
/// Longest wait between two IAM probes (and retries of "not yet" elsewhere): IAM is
/// asked only once STS agrees, and its calls count against the account's rate limit.
const MAX_BACKOFF: Duration = rekey_sinks::aws::MAX_BACKOFF;
/// Spacing between successes, so that "in a row" spans more than one instant.
const SUCCESS_SPACING: Duration = Duration::from_millis(100);

/// How the proof went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Proof {
    /// Calls made (STS and IAM).
    pub(crate) attempts: u32,
    /// Time taken.
    pub(crate) elapsed: Duration,
}

/// The new key was not proven to work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum PropagationError {
    /// STS did not accept it `consecutive` times in a row within the timeout.
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
    /// STS accepted it, IAM did not within the timeout.
    #[error("STS accepts the new key but IAM did not within {timeout:?} ({attempts} attempts; last error: {last})")]
    IamTimeout {
        /// The limit.
        timeout: Duration,
        /// Calls made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// IAM failed for another reason than "not yet".
    #[error("proving the new key with IAM: {0}")]
    Iam(AwsError),
    /// It works, but for someone else: never go on with it.
    #[error("the new key identifies as {got}, not {expected}")]
    WrongIdentity {
        /// The user the old key belongs to.
        expected: String,
        /// Who the new key says it is.
        got: String,
    },
}

/// Proves the key `caller` signs with works for `user_name` (whose ARN is
/// `expected_arn`): STS `rule.consecutive` times in a row, then IAM once (see the module
/// docs), within `rule.timeout`.
pub(crate) async fn prove(
    caller: &Caller,
    expected_arn: &str,
    user_name: &str,
    rule: Propagation,
) -> Result<Proof, PropagationError> {
    let start = Instant::now();
    let deadline = start + rule.timeout;
    let (mut attempts, mut streak, mut backoff) = (0, 0, Backoff::new(MAX_STS_BACKOFF));
    let mut last_error: Option<AwsError> = None;
    while streak < rule.consecutive {
        attempts += 1;
        let wait = match caller.identity().await {
            Ok(identity) if identity.arn == expected_arn => {
                streak += 1;
                backoff = Backoff::new(MAX_STS_BACKOFF);
                SUCCESS_SPACING
            }
            Ok(identity) => {
                return Err(PropagationError::WrongIdentity {
                    expected: expected_arn.to_owned(),
                    got: identity.arn,
                })
            }
            Err(error) => {
                tracing::debug!(attempt = attempts, %error, "STS does not accept the new key yet");
                last_error = Some(error);
                streak = 0;
                backoff.next()
            }
        };
        if streak >= rule.consecutive {
            break;
        }
        if !sleep_before(deadline, wait).await {
            return Err(PropagationError::Timeout {
                consecutive: rule.consecutive,
                timeout: rule.timeout,
                attempts,
                last: last_error.map_or_else(|| "none".to_owned(), |e| e.to_string()),
            });
        }
    }
    let mut backoff = Backoff::new(MAX_BACKOFF);
    loop {
        attempts += 1;
        match caller.list_keys(user_name).await {
            // An authorization error is an answer from IAM about this key: IAM has
            // authenticated it, it just may not do this.
            Ok(_)
            | Err(AwsError {
                kind: AwsErrorKind::AccessDenied,
                ..
            }) => {
                return Ok(Proof {
                    attempts,
                    elapsed: start.elapsed(),
                })
            }
            Err(error) if error.kind == AwsErrorKind::InvalidCredentials => {
                tracing::debug!(attempt = attempts, %error, "IAM does not accept the new key yet");
                if !sleep_before(deadline, backoff.next()).await {
                    return Err(PropagationError::IamTimeout {
                        timeout: rule.timeout,
                        attempts,
                        last: error.to_string(),
                    });
                }
            }
            Err(error) => return Err(PropagationError::Iam(error)),
        }
    }
}

/// Runs `call`, signed with a key that may still be propagating somewhere, again while
/// AWS answers "not yet" (`InvalidClientTokenId`, `SignatureDoesNotMatch`), for at most
/// `patience`: the one such retry of rekey ([`rekey_sinks::aws::patiently`]).
pub(crate) async fn patiently<T, F, Fut>(patience: Duration, call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let not_yet = |error: &AwsError| {
        let not_yet = error.kind == AwsErrorKind::InvalidCredentials;
        if not_yet {
            tracing::debug!(%error, "the key is not accepted yet; trying again");
        }
        not_yet
    };
    rekey_sinks::aws::patiently(patience, not_yet, call).await
}

/// Sleeps `wait`, cut at `deadline`; `false` if the deadline had already passed.
async fn sleep_before(deadline: Instant, wait: Duration) -> bool {
    let now = Instant::now();
    if now >= deadline {
        return false;
    }
    tokio::time::sleep(wait.min(deadline - now)).await;
    true
}
