//! Containing what a leaked key left behind, without deleting what is evidence: a user
//! or role it made is denied everything by an inline policy ([`CONTAIN_POLICY`]), a
//! user's access keys are deactivated, a console password (login profile) is deleted
//! (it cannot be made harmless otherwise); each with the command that undoes it. And
//! an exposed key no profile holds (`respond --deactivate-unknown`): deactivated, its
//! user's older sessions revoked.

use super::activity::{Activity, Entity};
use super::revocation;
use crate::aws::{Aws, AwsError, AwsErrorKind, Caller, Permit};
use crate::engine::error::{Cause, ErrorKind};

/// The inline policy that contains a user or role the leaked key made.
pub(crate) const CONTAIN_POLICY: &str = "rekey-contain-deny-all";

/// A policy document denying everything.
const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"RekeyContainDenyAll","Effect":"Deny","Action":"*","Resource":"*"}]}"#;

/// Contains every entity of `activity` that can be, signed by `admin` (see the module
/// docs); each result, done or refused, is recorded on its entity.
pub(crate) async fn contain(admin: &Caller, activity: &mut Activity, permit: &Permit) {
    for left in &mut activity.left_behind {
        let done = match &left.entity {
            Entity::User { user } => contain_user(admin, user, permit).await,
            Entity::AccessKey { user, key_id } => admin
                .set_active(user, key_id, false, permit)
                .await
                .map(|()| reactivation(user, key_id)),
            Entity::LoginProfile { user } => match admin.delete_login_profile(user).await {
                Ok(()) => Ok((
                    format!("deleted {user}'s console password"),
                    format!("aws iam create-login-profile --user-name {user} --password-reset-required --password NEW"),
                )),
                Err(e) if e.kind == AwsErrorKind::NoSuchEntity => Ok((
                    format!("{user} has no console password (deleted since)"),
                    String::new(),
                )),
                Err(e) => Err(e),
            },
            Entity::Role { role } => admin
                .put_role_policy(role, CONTAIN_POLICY, DENY_ALL)
                .await
                .map(|()| {
                    (
                        format!("denied everything to role {role} (inline policy {CONTAIN_POLICY})"),
                        format!("aws iam delete-role-policy --role-name {role} --policy-name {CONTAIN_POLICY}"),
                    )
                }),
            Entity::Changed { .. } => {
                left.not_contained = Some("reported only: undo it by hand once reviewed".to_owned());
                continue;
            }
        };
        match done {
            Ok((contained, undo)) => {
                left.contained = Some(contained);
                left.undo = (!undo.is_empty()).then_some(undo);
            }
            Err(e) => left.not_contained = Some(format!("could not contain it: {e}")),
        }
    }
}

/// A user the leaked key made: denied everything, and its keys deactivated.
async fn contain_user(
    admin: &Caller,
    user: &str,
    permit: &Permit,
) -> Result<(String, String), AwsError> {
    admin
        .put_user_policy(user, CONTAIN_POLICY, DENY_ALL)
        .await?;
    let mut undo = vec![format!(
        "aws iam delete-user-policy --user-name {user} --policy-name {CONTAIN_POLICY}"
    )];
    let mut deactivated = Vec::new();
    for key in admin.list_keys(user).await? {
        if key.active {
            admin.set_active(user, &key.id, false, permit).await?;
            undo.push(reactivation(user, &key.id).1);
            deactivated.push(key.id);
        }
    }
    let keys = match deactivated.is_empty() {
        true => String::new(),
        false => format!(", deactivated its keys {}", deactivated.join(", ")),
    };
    Ok((
        format!("denied everything to user {user} (inline policy {CONTAIN_POLICY}){keys}"),
        undo.join("; "),
    ))
}

fn reactivation(user: &str, key_id: &str) -> (String, String) {
    (
        format!("deactivated {user}'s key {key_id}"),
        format!(
            "aws iam update-access-key --user-name {user} --access-key-id {key_id} --status Active"
        ),
    )
}

/// An exposed key no profile holds (`respond --via ADMIN --deactivate-unknown`): its
/// user found through IAM (signed as `via`), the key deactivated, and the user's older
/// sessions revoked unless `keep_sessions`. Returns the user, and what was said of its
/// sessions. Never a key of the user `via` signs as (issue 29): an alert is someone's
/// input, and one naming the responder's own key would lock the response out of IAM
/// midway.
pub(crate) async fn deactivate_unknown(
    aws: &Aws,
    via: &str,
    key_id: &str,
    keep_sessions: bool,
) -> Result<(String, String), Cause> {
    let admin = aws.via(via).await?;
    let used = admin.last_used(key_id).await?;
    let user = used.user_name.ok_or_else(|| {
        Cause::new(
            ErrorKind::InvalidKey,
            format!("IAM names no user for {key_id}"),
        )
    })?;
    let signer = admin.identity().await?;
    if signer.user_name.as_deref() == Some(user.as_str()) {
        return Err(Cause::new(ErrorKind::InvalidKey, format!(
            "not deactivated: it is a key of {user}, the user --via {via} signs as, and rekey never deactivates the keys it signs with (the response would lock itself out); deactivate it with another administrator's profile as --via, or replace it first"
        )));
    }
    let permit = crate::engine::fleet::lease::unleased();
    admin.set_active(&user, key_id, false, &permit).await?;
    let sessions = match keep_sessions {
        true => String::new(),
        false => match revocation::revoke_sessions_as(aws, &admin, &user).await {
            Ok(before) => format!(
                ", its sessions issued before {} revoked",
                crate::time::rfc3339(before)
            ),
            Err(cause) => format!(", but {cause}"),
        },
    };
    Ok((user, sessions))
}
