//! After a leak response deletes the old key, proof that AWS refuses it: a deleted key
//! keeps working for a few seconds (3-4 s measured in 2025), long enough for whoever
//! holds it to create another key for the user. STS is asked with the old key until it
//! answers `InvalidClientTokenId` three times in a row, within a bound.

use std::time::Duration;

use rekey_sinks::AccessKey;

use crate::aws::{Aws, AwsErrorKind};
use crate::engine::error::{Cause, ErrorKind};

/// Refusals in a row that count as proof (one can be a replica that heard early).
const IN_A_ROW: u32 = 3;

/// Between two questions.
const POLL: Duration = Duration::from_millis(500);

/// Asks STS with `key` until it is refused [`IN_A_ROW`] times in a row; how long that
/// took, or a `still_accepted` failure at `bound`.
pub(crate) async fn prove_dead(
    aws: &Aws,
    key: &AccessKey,
    bound: Duration,
) -> Result<Duration, Cause> {
    let started = tokio::time::Instant::now();
    let mut refused = 0;
    loop {
        match aws.whose(key).await {
            Err(e) if e.kind == AwsErrorKind::InvalidCredentials => refused += 1,
            // Accepted (or no answer): the count starts again.
            _ => refused = 0,
        }
        if refused >= IN_A_ROW {
            return Ok(started.elapsed());
        }
        if started.elapsed() >= bound {
            return Err(Cause::new(
                ErrorKind::StillAccepted,
                format!(
                    "AWS still accepted the old key {} {}s after it was deleted (STS answered with it): whoever holds it may still act; look for keys you did not create and for its last use",
                    key.id(),
                    bound.as_secs()
                ),
            ));
        }
        tokio::time::sleep(POLL).await; // poll interval, bounded by `bound`
    }
}
