//! After a leak response deletes the old key, proof that AWS refuses it: a deleted key
//! keeps working for a few seconds (3-4 s measured in 2025), long enough for whoever
//! holds it to create another key for the user. STS is asked with the old key until it
//! answers `InvalidClientTokenId` three times in a row, within a bound.

use std::time::Duration;

use rekey_sinks::AccessKey;

use crate::aws::{Aws, AwsErrorKind};
use crate::config::profile::ProfileSpec;
use crate::engine::action::Action;
use crate::engine::error::{Cause, ErrorKind};
use crate::engine::signing;

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

/// Once the old key is refused: the user's keys that this run did not create
/// (`new_key_id`) and that no place of `spec` holds, perhaps made with the leaked key
/// while it still worked. Each is reported; with `quarantine`, deactivated (never
/// deleted: it is evidence). Read and changed as the profile signs after the rotation
/// (its new key, or its `via` profile).
pub(crate) async fn unknown_keys(
    aws: &Aws,
    spec: &ProfileSpec,
    user: &str,
    new_key_id: &str,
    quarantine: bool,
) -> Result<Vec<Action>, Cause> {
    let current = spec
        .sinks
        .first()
        .read()
        .await
        .ok()
        .flatten()
        .ok_or_else(|| {
            Cause::new(
                ErrorKind::InvalidKey,
                "the profile's first sink holds no key",
            )
        })?;
    let caller = signing::signer(aws, &spec.policy, &current).await?;
    let mut held = Vec::new();
    for sink in spec.sinks.iter() {
        if let Ok(Some(id)) = sink.read_id().await {
            held.push(id);
        }
    }
    let mut found = Vec::new();
    for key in caller.list_keys(user).await? {
        if key.id == new_key_id || held.contains(&key.id) {
            continue;
        }
        let last_used = caller.last_used(&key.id).await.ok().and_then(|u| u.date);
        let quarantined = quarantine && key.active && {
            caller.set_active(user, &key.id, false).await?;
            true
        };
        found.push(Action::UnknownKey {
            key_id: key.id,
            created: key.created,
            last_used,
            quarantined,
        });
    }
    Ok(found)
}
