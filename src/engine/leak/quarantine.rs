//! AWS's quarantine of a user whose key leaked. When AWS finds a key exposed it attaches
//! `AWSCompromisedKeyQuarantine` (V2, V3, V4 since) to the user, which denies, among
//! others, `iam:CreateAccessKey`: a response signed with the user's own key fails at its
//! first write. So the response reads the user's attached policies before it changes
//! anything, stops a self-signed response with the way on (an administrator's profile
//! as `--via`), and after the replacement leaves the quarantine in place, named with the
//! command that lifts it, unless `--lift-quarantine` asks rekey to detach it and prove
//! the new key can do what the user last did.

use std::time::{Duration, Instant};

use crate::aws::policies::{action_matches, AttachedPolicy};
use crate::aws::{AwsError, AwsErrorKind, Caller};

/// What a leak response signed with the user's own key calls on the user (the rotation,
/// the leaked key's deletion, the sessions' revocation, an MFA session).
const RESPONSE_NEEDS: &[&str] = &[
    "iam:ListAccessKeys",
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:DeleteAccessKey",
    "iam:PutUserPolicy",
    "sts:GetSessionToken",
];

/// A user under AWS's quarantine, as the response found it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Quarantine {
    /// The quarantine policies attached (every version AWS attached).
    pub(crate) policies: Vec<AttachedPolicy>,
    /// Of what the response calls, what they deny (from the policies' documents);
    /// absent when a document could not be read (`iam:GetPolicyVersion`).
    pub(crate) denies: Option<Vec<String>>,
}

impl Quarantine {
    /// The policies' names, for a message.
    pub(crate) fn names(&self) -> String {
        let names: Vec<&str> = self.policies.iter().map(|p| p.name.as_str()).collect();
        names.join(", ")
    }

    /// Whether a response signed with the user's own key cannot go through: it denies
    /// something the response calls, or what it denies is unknown.
    pub(crate) fn blocks_self_service(&self) -> bool {
        self.denies.as_ref().is_none_or(|denies| !denies.is_empty())
    }

    /// Why a self-signed response stops, and the way on (nothing was changed).
    pub(crate) fn stop_message(&self, user: &str) -> String {
        let denies = match &self.denies {
            Some(denies) => format!("which denies {}", denies.join(", ")),
            None => "which denies iam:CreateAccessKey among others (AWS's documentation; its document could not be read)".to_owned(),
        };
        format!(
            "{user} is under AWS's quarantine ({}), {denies}: a response signed with {user}'s own key would fail at its first write, so nothing was changed. Sign it as an administrator: the same command with `--via ADMIN_PROFILE` (a profile allowed iam:CreateAccessKey, UpdateAccessKey, DeleteAccessKey and PutUserPolicy on {user})",
            self.names()
        )
    }

    /// What lifts it by hand, one command per policy.
    pub(crate) fn lift_commands(&self, user: &str) -> Vec<String> {
        self.policies
            .iter()
            .map(|p| {
                format!(
                    "aws iam detach-user-policy --user-name {user} --policy-arn {}",
                    p.arn
                )
            })
            .collect()
    }
}

/// Whether `user` is under AWS's quarantine, read as `caller` (`Ok(None)`: it is not).
pub(crate) async fn read(caller: &Caller, user: &str) -> Result<Option<Quarantine>, AwsError> {
    let attached = caller.attached_policies(user).await?;
    let policies: Vec<AttachedPolicy> =
        attached.into_iter().filter(|p| p.is_quarantine()).collect();
    if policies.is_empty() {
        return Ok(None);
    }
    let mut denies = Some(Vec::new());
    for policy in &policies {
        match caller.policy_denies(&policy.arn).await {
            Ok(patterns) => {
                let needed = RESPONSE_NEEDS
                    .iter()
                    .filter(|action| patterns.iter().any(|p| action_matches(p, action)));
                if let Some(denies) = denies.as_mut() {
                    for action in needed {
                        if !denies.iter().any(|d| d == action) {
                            denies.push((*action).to_owned());
                        }
                    }
                }
            }
            Err(_) => denies = None,
        }
    }
    Ok(Some(Quarantine { policies, denies }))
}

/// How the quarantine was lifted: what was detached, and the proof that the new key
/// can do what the user last did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lifted {
    /// The policies detached.
    pub(crate) policies: Vec<String>,
    /// The harmless read the new key made once they were detached (`s3:ListAllMyBuckets`).
    pub(crate) proof: String,
    /// How long that took to be allowed (IAM's changes propagate).
    pub(crate) took: Duration,
}

/// Detaches every quarantine policy of `quarantine` from `user` (signed by `admin`),
/// then proves `new` (the user's new key) can make a harmless read of `service`, the
/// service the user last used (else STS), retried while still denied within `patience`
/// (a detach propagates as every IAM change does).
pub(crate) async fn lift(
    admin: &Caller,
    new: &Caller,
    user: &str,
    quarantine: &Quarantine,
    service: Option<&str>,
    patience: Duration,
) -> Result<Lifted, AwsError> {
    for policy in &quarantine.policies {
        match admin.detach_user_policy(user, &policy.arn).await {
            Ok(()) => {}
            // Detached meanwhile (by a person, or a run that was stopped).
            Err(e) if e.kind == AwsErrorKind::NoSuchEntity => {}
            Err(e) => return Err(e),
        }
    }
    let began = Instant::now();
    let mut pause = Duration::from_millis(200);
    let proof = loop {
        match new.harmless_read(service).await {
            Ok(proof) => break proof,
            Err(e) if e.kind == AwsErrorKind::AccessDenied && began.elapsed() < patience => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    };
    Ok(Lifted {
        policies: quarantine.policies.iter().map(|p| p.name.clone()).collect(),
        proof,
        took: began.elapsed(),
    })
}
