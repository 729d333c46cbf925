//! How the engine's events ([`Action`]) read, in text and in the JSON output's
//! `actions` (a list of these sentences: the documented shape).

use std::borrow::Cow;

use crate::engine::action::{Action, Shared, Signer};
use crate::time::rfc3339;

/// `action`, told as one line.
pub(crate) fn told(action: &Action) -> String {
    match action {
        Action::CreatedKey { key_id } => format!("created new key {key_id}"),
        Action::Proven {
            key_id,
            calls,
            took,
        } => format!(
            "new key {key_id} works ({calls} calls, {:.1}s)",
            took.as_secs_f64()
        ),
        Action::Wrote { sink } => format!("wrote {sink}"),
        Action::Promoted { sink } => format!("{sink} hands out the new key now, verified"),
        Action::Verified { command, took } => format!(
            "verification `{command}` passed ({:.1}s)",
            took.as_secs_f64()
        ),
        Action::Deactivated { key_id, signer } => {
            let signed: Cow<str> = match signer {
                Signer::Via(via) => format!("signed as profile {via}").into(),
                Signer::Mfa(serial) => format!("signed with an MFA session ({serial})").into(),
                Signer::NewKey => "signed with the new key".into(),
            };
            format!("deactivated old key {key_id} ({signed})")
        }
        Action::DeletedOldKey { key_id } => format!("deleted old key {key_id} (grace 0)"),
        Action::DeletionScheduled {
            key_id,
            after,
            not_yet,
            shared,
        } => {
            let note = match not_yet {
                Some(why) => {
                    format!("could not delete old key {key_id} yet ({why}); prune will retry; ")
                }
                None => String::new(),
            };
            format!(
                "{note}old key {key_id} no longer works (inactive); `rekey prune` deletes it after {}{}",
                rfc3339(*after),
                shared_note(shared)
            )
        }
        Action::OverlapBegun {
            key_id,
            until,
            delete_after,
            shared,
        } => format!(
            "old key {key_id} still works until {} (overlap); then `rekey prune` deactivates it, and deletes it after {}{}",
            rfc3339(*until),
            rfc3339(*delete_after),
            shared_note(shared)
        ),
        Action::EndedOverlap { key_id } => format!(
            "deactivated the last rotation's old key {key_id}, ending its overlap (it may be leaked too)"
        ),
        Action::DeletedInactiveKey { key_id } => {
            format!("deleted inactive key {key_id} to make room")
        }
        Action::Reactivated { key_id } => format!("reactivated old key {key_id}"),
        Action::Restored { sink } => format!("restored {sink}"),
        Action::WroteOldKeyBack { sink } => format!(
            "wrote the old key back to {sink} (its undo data was lost with the interrupted run)"
        ),
        Action::DeletedNewKey { key_id } => format!("deleted new key {key_id}"),
        Action::DeletedOrphan { key_id } => {
            format!("deleted key {key_id} whose secret never arrived")
        }
        Action::KeptStranger { key_id, reason } => format!(
            "kept key {key_id}, which appeared during the unanswered create: {reason}; delete it by hand if nobody uses it"
        ),
        Action::StaleKeyGone { key_id } => format!("inactive key {key_id} had been deleted"),
        Action::WithdrewShared { key_id } => {
            format!("removed the shared pending deletion of {key_id} from IAM")
        }
        Action::OldKeyRefused { .. }
        | Action::UnknownKey(_)
        | Action::SessionsRevoked { .. }
        | Action::QuarantineLifted { .. }
        | Action::QuarantineKept { .. }
        | Action::Traced { .. }
        | Action::LeftBehind(_)
        | Action::Fenced { .. }
        | Action::FenceLowered { .. }
        | Action::FenceKept { .. } => told_leak(action),
        Action::Warning(warning) => format!("warning: {warning}"),
    }
}

/// A leak response's own actions, told as one line each.
fn told_leak(action: &Action) -> String {
    match action {
        Action::OldKeyRefused { key_id, took } => format!(
            "AWS refuses old key {key_id} (refused after {:.1} s)",
            took.as_secs_f64()
        ),
        Action::UnknownKey(key) => {
            let used = key.last_used.map_or_else(
                || "never used".to_owned(),
                |at| format!("last used {}", rfc3339(at)),
            );
            let done = match (key.active, key.quarantined) {
                (_, true) => "deactivated (kept as evidence)",
                (true, false) => "left active: check it, or run again with --quarantine",
                (false, false) => "inactive",
            };
            let when = match key.made_during_response {
                true => " during this response",
                false => "",
            };
            format!(
                "UNKNOWN KEY {} of the user (created {}{when}, {used}), not made by this run and in no place: {done}",
                key.key_id,
                rfc3339(key.created)
            )
        }
        Action::SessionsRevoked { user, before } => format!(
            "revoked every session of {user} issued before {} (inline policy {})",
            rfc3339(*before),
            crate::engine::leak::revocation::SESSIONS_POLICY
        ),
        Action::QuarantineLifted {
            user,
            policies,
            at,
            proof,
            took,
        } => format!(
            "lifted AWS's quarantine of {user}: detached {} at {}; the new key then made {proof} ({:.1}s)",
            policies.join(", "),
            rfc3339(*at),
            took.as_secs_f64()
        ),
        Action::QuarantineKept {
            user,
            policies,
            commands,
        } => format!(
            "AWS's quarantine of {user} stays ({}): it denies the user key changes and more until detached, once whatever uses the new key is known to work: {} (or `--lift-quarantine`)",
            policies.join(", "),
            commands.join("; ")
        ),
        Action::Traced {
            key_id,
            calls,
            writes,
            regions,
            unread,
        } => {
            let unread = match unread.is_empty() {
                true => String::new(),
                false => format!("; NOT READ: {}", unread.join("; ")),
            };
            format!(
                "CloudTrail ({}): the leaked key {key_id} made {calls} calls, {writes} of them writes{unread}. Its history arrives up to about 15 minutes late: look again then (`rekey respond` with the same alert reads it anew and contains what arrived; or aws cloudtrail lookup-events --lookup-attributes AttributeKey=AccessKeyId,AttributeValue={key_id})",
                regions.join(", ")
            )
        }
        Action::LeftBehind(left) => {
            use crate::engine::leak::activity::Entity;
            let what = match &left.entity {
                Entity::User { user } => format!("user {user}"),
                Entity::AccessKey { user, key_id } => format!("access key {key_id} of {user}"),
                Entity::LoginProfile { user } => format!("a console password for {user}"),
                Entity::Role { role } => format!("role {role}"),
                Entity::Changed { call, target } => format!("{call} on {target}"),
            };
            let done = match (&left.contained, &left.undo, &left.not_contained) {
                (Some(done), Some(undo), _) => format!("contained: {done} (undo: {undo})"),
                (Some(done), None, _) => format!("contained: {done}"),
                (None, _, Some(why)) => format!("NOT contained: {why}"),
                (None, _, None) => "NOT contained".to_owned(),
            };
            format!(
                "LEFT BEHIND by the leaked key: {what} ({} at {}): {done}",
                left.evidence,
                rfc3339(left.at)
            )
        }
        Action::Fenced {
            policy_id,
            account,
            principals,
        } => format!(
            "fenced: service control policy {policy_id} on account {account} denies everything to {}",
            principals.join(", ")
        ),
        Action::FenceLowered { policy_id } => {
            format!("took the fence down: service control policy {policy_id} detached and deleted")
        }
        Action::FenceKept { why, removal } => {
            format!("the fence stays ({why}); take it down with: {removal}")
        }
        _ => unreachable!("told_leak is given a leak response's action"),
    }
}

fn shared_note(shared: &Shared) -> String {
    match shared {
        Shared::No => String::new(),
        Shared::InIam => " (shared in IAM with every machine)".to_owned(),
        Shared::Failed(warning) => format!(" (warning: {warning})"),
    }
}

/// In the JSON output an action is its sentence.
impl serde::Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&told(self))
    }
}

impl schemars::JsonSchema for Action {
    fn schema_name() -> Cow<'static, str> {
        "Action".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "One thing rekey did, as a sentence for people (never a secret).",
            "type": "string"
        })
    }
}
