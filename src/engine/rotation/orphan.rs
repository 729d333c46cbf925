//! Keys an unanswered `CreateAccessKey` may have left: which of them rekey may delete.
//!
//! When `CreateAccessKey` gets no answer (a lost response, a reset connection, a crash
//! before the secret reached the journal), IAM may have created a key whose secret
//! nobody has. Such a key must go (it takes one of the user's two slots and nobody can
//! use it), but a key that merely *appeared* since planning may be someone else's: the
//! user may have rotated by hand after a crash, and the next run must not delete the key
//! that is now in their credentials file (with that very key signing the deletion).
//!
//! So a stranger is deleted only if all of these hold, and is otherwise kept, with a
//! note saying why:
//! - no sink of the profile holds it (read back now);
//! - IAM says it was created within the create call's time window (with a margin for
//!   clock skew between this machine and AWS);
//! - IAM has no record of it ever being used.

use std::time::{Duration, Instant, SystemTime};

use crate::aws::{AwsError, AwsErrorKind, Caller, KeyMeta};
use crate::config::profile::ProfileSpec;
use crate::engine::action::Action;
use crate::engine::error::Cause;
use crate::engine::fleet::lease;
use crate::time;

/// Clock skew tolerated between this machine and IAM's `CreateDate` (SigV4 itself
/// refuses requests more than 5 minutes off).
const SKEW: Duration = Duration::from_secs(5 * 60);

/// When the unanswered call may have created a key: from when it was sent to when it
/// was given up (or, after a crash, a bound on how long it could have run).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    /// When the call was sent.
    pub(crate) from: SystemTime,
    /// When it ended, at the latest.
    pub(crate) to: SystemTime,
}

impl Window {
    fn contains(&self, created: SystemTime) -> bool {
        let from = self.from.checked_sub(SKEW).unwrap_or(self.from);
        created >= from && created <= self.to + SKEW
    }
}

/// How long IAM's `ListAccessKeys` may lag a create (seconds, in practice): the search
/// for an orphan lists until this long after the create was sent...
const SETTLE: Duration = Duration::from_secs(5);
/// ...and until two lists in a row agree, but not longer than this.
const GIVE_UP: Duration = Duration::from_secs(30);
/// The pause between two lists.
const BETWEEN: Duration = Duration::from_secs(1);

/// Every key of `user` IAM lists, once its lists have settled after a create sent at
/// `sent` (issue 19: a list right after a create can be stale, and a stale list would
/// hide the orphan). Lists until two in a row agree and [`SETTLE`] has passed since
/// `sent` (or [`GIVE_UP`] since the first list), and returns every key any list showed:
/// one that is gone since is skipped when it is deleted.
pub(crate) async fn settled_keys(
    caller: &Caller,
    user: &str,
    sent: SystemTime,
) -> Result<Vec<KeyMeta>, AwsError> {
    let first = Instant::now();
    let settle = SETTLE.saturating_sub(time::since(sent, crate::time::now()));
    let mut seen: Vec<KeyMeta> = Vec::new();
    let mut previous: Option<Vec<String>> = None;
    loop {
        let keys = caller.list_keys(user).await?;
        let mut ids: Vec<String> = keys.iter().map(|k| k.id.clone()).collect();
        ids.sort();
        for key in keys {
            if !seen.iter().any(|s| s.id == key.id) {
                seen.push(key);
            }
        }
        let agreed = previous.as_ref() == Some(&ids);
        if (agreed && first.elapsed() >= settle) || first.elapsed() >= GIVE_UP {
            return Ok(seen);
        }
        previous = Some(ids);
        tokio::time::sleep(BETWEEN).await; // between two reads of IAM, not a test wait
    }
}

/// Deletes each key of `user` not in `existing` that is provably the unanswered call's
/// (see the module docs), signing with `caller`; keeps and reports the others. Returns
/// how many were deleted; `Err` only if a read or a deletion failed.
pub(crate) async fn delete_strangers(
    caller: &Caller,
    spec: &ProfileSpec,
    user: &str,
    keys: &[KeyMeta],
    existing: &[String],
    window: Window,
    actions: &mut Vec<Action>,
) -> Result<usize, Cause> {
    let mut deleted = 0;
    for key in keys.iter().filter(|k| !existing.contains(&k.id)) {
        match why_not_ours(caller, spec, key, window).await? {
            Some(reason) => actions.push(Action::KeptStranger {
                key_id: key.id.clone(),
                reason,
            }),
            // Undoing the unanswered create (see `lease::undoing`).
            None => match caller.delete_key(user, &key.id, &lease::undoing()).await {
                Ok(()) => {
                    actions.push(Action::DeletedOrphan {
                        key_id: key.id.clone(),
                    });
                    deleted += 1;
                }
                // A key an earlier (stale) list showed and that is gone since.
                Err(AwsError {
                    kind: AwsErrorKind::NoSuchEntity,
                    ..
                }) => {}
                Err(e) => {
                    return Err(Cause::aws(
                        &e,
                        format!(
                            "key {} was created without its secret and cannot be deleted: {e}",
                            key.id
                        ),
                    ))
                }
            },
        }
    }
    Ok(deleted)
}

/// `None` if `key` is provably the unanswered call's; else why it may be someone's.
async fn why_not_ours(
    caller: &Caller,
    spec: &ProfileSpec,
    key: &KeyMeta,
    window: Window,
) -> Result<Option<String>, Cause> {
    for sink in &spec.sinks {
        match sink.read_id().await {
            Ok(Some(id)) if id == key.id => {
                return Ok(Some(format!("{} holds it", sink.describe())))
            }
            Ok(_) => {}
            Err(e) => {
                return Ok(Some(format!(
                    "cannot tell whether {} holds it ({e})",
                    sink.describe()
                )))
            }
        }
    }
    if !window.contains(key.created) {
        return Ok(Some(format!(
            "it was created {}, not while rekey's create call ran",
            time::rfc3339(key.created)
        )));
    }
    let used = match caller.last_used(&key.id).await {
        Ok(used) => used,
        // Gone since a stale list showed it: nothing to delete.
        Err(e) if e.kind == AwsErrorKind::NoSuchEntity => return Ok(Some("it is gone".into())),
        Err(e) => return Err(Cause::aws(&e, format!("cannot check key {}: {e}", key.id))),
    };
    Ok(used
        .date
        .map(|date| format!("it was used on {}", time::rfc3339(date))))
}
