//! Pending deletions shared through IAM user tags (`state: iam` in the manifest).
//!
//! A machine that deactivates an old key records its deletion in its own state dir, as
//! always, and also tags the IAM user with `rekey:pending:<KEY ID>` =
//! `<deactivated at>/<delete after>/<overlap since, or ->/<replaced by>` (RFC 3339 times
//! from AWS's clock, with the fraction of a second that prune compares with IAM's
//! last-used date; the id of the key that replaced it: well within IAM's tag limits of
//! 128 characters per key and 256 per value, and only characters tags allow). Tags of
//! two or three times (written before the replacing key was kept) still read.
//! Any machine whose manifest names the user then sees the deletion in `plan` and
//! `status`, and `prune` deletes the key there as it would here, removing the tag.
//!
//! IAM is the shared truth: where a local record and a tag disagree on dates, the tag
//! wins; a local record with no tag stays (its machine may lack `iam:TagUser`). Tags are
//! never trusted to delete anything by themselves: prune checks the key in IAM (inactive,
//! unused since) and every sink exactly as for a local record. A tag left behind for a
//! key that is gone is removed by the next prune that finds the key gone.

use std::collections::BTreeMap;

use crate::aws::{AwsError, AwsErrorKind, Caller};
use crate::config::profile::{PendingStore, Policy};
use crate::state::{Owner, PendingDeletion};
use crate::time;

/// The tag key prefix; the key id follows.
pub(crate) const TAG_PREFIX: &str = "rekey:pending:";

/// The tag recording `pending`: (key, value). The value is
/// `<deactivate at>/<delete after>/<overlap since, or ->/<replaced by>`; the last two are
/// left out when unknown.
pub(crate) fn tag(pending: &PendingDeletion) -> (String, String) {
    let mut value = format!(
        "{}/{}",
        time::rfc3339_exact(pending.deactivated_at),
        time::rfc3339_exact(pending.delete_after)
    );
    let since = pending.overlap_since.map(time::rfc3339_exact);
    match (&since, &pending.replaced_by) {
        (since, Some(replaced_by)) => {
            let since = since.as_deref().unwrap_or("-");
            value = format!("{value}/{since}/{replaced_by}");
        }
        (Some(since), None) => value = format!("{value}/{since}"),
        (None, None) => {}
    }
    (format!("{TAG_PREFIX}{}", pending.key_id), value)
}

/// The pending deletions among a user's tags, owned by `owner` (this machine's profile
/// for that user). Tags that are not rekey's, or malformed, are ignored.
pub(crate) fn from_tags(tags: &[(String, String)], owner: &Owner) -> Vec<PendingDeletion> {
    tags.iter()
        .filter_map(|(key, value)| {
            let key_id = key.strip_prefix(TAG_PREFIX)?;
            let mut parts = value.split('/');
            let (deactivated, delete_after) = (parts.next()?, parts.next()?);
            let overlap_since = match parts.next() {
                Some("-") | None => None,
                Some(since) => Some(crate::time::parse_rfc3339(since)?),
            };
            let replaced_by = match parts.next() {
                Some(id) if rekey_sinks::AccessKey::is_plausible_id(id) => Some(id.to_owned()),
                Some(_) => return None,
                None => None,
            };
            Some(PendingDeletion {
                owner: owner.clone(),
                key_id: key_id.to_owned(),
                deactivated_at: crate::time::parse_rfc3339(deactivated)?,
                delete_after: crate::time::parse_rfc3339(delete_after)?,
                overlap_since,
                replaced_by,
            })
        })
        .collect()
}

/// What IAM said about a user's shared pending deletions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shared {
    /// The deletions the tags record.
    pub(crate) pending: Vec<PendingDeletion>,
    /// Why they could not be read (for example `iam:ListUserTags` denied), for the user.
    pub(crate) warning: Option<String>,
}

/// Reads the pending deletions tagged on `owner`'s user, signed by `caller`, when the
/// policy shares them; a failure is a warning (the local records still count).
pub(crate) async fn read(caller: &Caller, policy: &Policy, owner: &Owner) -> Shared {
    if policy.pending_store != PendingStore::Iam {
        return Shared::default();
    }
    match caller.user_tags(&owner.user_name).await {
        Ok(tags) => Shared {
            pending: from_tags(&tags, owner),
            warning: None,
        },
        Err(e) => Shared {
            pending: Vec::new(),
            warning: Some(format!(
                "cannot read the pending deletions shared in IAM ({}): only this machine's records count",
                explain(&e)
            )),
        },
    }
}

/// Tags the user with `pending` when the policy shares pending deletions. Returns a
/// warning when that failed (the local record stands).
pub(crate) async fn publish(
    caller: &Caller,
    policy: &Policy,
    pending: &PendingDeletion,
) -> Option<String> {
    if policy.pending_store != PendingStore::Iam {
        return None;
    }
    let (key, value) = tag(pending);
    caller
        .tag_user(&pending.owner.user_name, &key, &value)
        .await
        .err()
        .map(|e| {
            format!(
                "the deletion of {} is recorded on this machine only: cannot share it in IAM ({})",
                pending.key_id,
                explain(&e)
            )
        })
}

/// Removes the tag of `key_id` (deleted, or active again) when the policy shares
/// pending deletions. Returns a warning when that failed.
pub(crate) async fn withdraw(
    caller: &Caller,
    policy: &Policy,
    user_name: &str,
    key_id: &str,
) -> Option<String> {
    if policy.pending_store != PendingStore::Iam {
        return None;
    }
    caller
        .untag_user(user_name, &format!("{TAG_PREFIX}{key_id}"))
        .await
        .err()
        .map(|e| {
            format!(
                "cannot remove the IAM tag {TAG_PREFIX}{key_id} ({}); the next prune that finds the key gone removes it",
                explain(&e)
            )
        })
}

/// This machine's records merged with IAM's, one per key, ordered by key id: IAM's dates
/// win where both have the key (IAM is what every machine sees).
pub(crate) fn merge(
    local: Vec<PendingDeletion>,
    shared: Vec<PendingDeletion>,
) -> Vec<PendingDeletion> {
    let mut merged: BTreeMap<String, PendingDeletion> =
        local.into_iter().map(|p| (p.key_id.clone(), p)).collect();
    for tagged in shared {
        match merged.get_mut(&tagged.key_id) {
            Some(local) => {
                local.deactivated_at = tagged.deactivated_at;
                local.delete_after = tagged.delete_after;
                local.overlap_since = tagged.overlap_since;
                local.replaced_by = tagged.replaced_by.or(local.replaced_by.take());
            }
            None => {
                merged.insert(tagged.key_id.clone(), tagged);
            }
        }
    }
    merged.into_values().collect()
}

/// A missing permission named as such; anything else as AWS said it.
fn explain(error: &AwsError) -> String {
    match error.kind {
        AwsErrorKind::AccessDenied => format!(
            "{} is denied: add it to the policy, see rekey's README",
            error.operation
        ),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn owner() -> Owner {
        Owner::example("dev", "dev")
    }

    fn pending(key_id: &str, deactivated: u64, grace: u64) -> PendingDeletion {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(deactivated);
        PendingDeletion {
            owner: owner(),
            key_id: key_id.into(),
            deactivated_at: at,
            delete_after: at + Duration::from_secs(grace),
            overlap_since: None,
            replaced_by: None,
        }
    }

    #[test]
    fn a_tag_reads_back_as_the_same_deletion() {
        let mut original = pending("AKIAOLDKEY0000000001", 1_764_000_000, 7 * 86_400);
        original.deactivated_at += Duration::from_micros(250_001);
        let (key, value) = tag(&original);
        assert_eq!(key, "rekey:pending:AKIAOLDKEY0000000001");
        assert_eq!(value, "2025-11-24T16:00:00.250001Z/2025-12-01T16:00:00Z");
        // IAM's limits: 128 characters per key, 256 per value.
        assert!(key.len() <= 128 && value.len() <= 256);
        let others = ("team".to_owned(), "platform".to_owned());
        let broken = (format!("{TAG_PREFIX}AKIABROKEN"), "yesterday".to_owned());
        assert_eq!(
            from_tags(&[others, (key, value), broken], &owner()),
            vec![original.clone()]
        );
        // In an overlap period the value has a third time.
        original.overlap_since = Some(original.deactivated_at - Duration::from_secs(86_400));
        let (key, value) = tag(&original);
        assert_eq!(value.split('/').count(), 3, "{value}");
        assert_eq!(from_tags(&[(key, value)], &owner()), vec![original.clone()]);
        // The key that replaced it comes last; `-` stands for no overlap.
        original.replaced_by = Some("AKIANEWKEY0000000002".into());
        let (key, value) = tag(&original);
        assert!(value.ends_with("Z/AKIANEWKEY0000000002"), "{value}");
        assert_eq!(from_tags(&[(key, value)], &owner()), vec![original.clone()]);
        original.overlap_since = None;
        let (key, value) = tag(&original);
        assert!(value.contains("Z/-/AKIANEWKEY"), "{value}");
        assert!(key.len() <= 128 && value.len() <= 256);
        assert_eq!(from_tags(&[(key, value)], &owner()), vec![original]);
    }

    #[test]
    fn iam_dates_win_and_local_only_records_stay() {
        let local = vec![pending("AKIAA", 100, 10), pending("AKIAB", 100, 10)];
        let shared = vec![pending("AKIAB", 200, 20), pending("AKIAC", 300, 30)];
        let merged = merge(local, shared);
        let summary: Vec<(&str, SystemTime)> = merged
            .iter()
            .map(|p| (p.key_id.as_str(), p.delete_after))
            .collect();
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(
            summary,
            vec![("AKIAA", at(110)), ("AKIAB", at(220)), ("AKIAC", at(330))]
        );
    }
}
