//! The managed policies attached to a user, as a leak response needs them: AWS attaches
//! its quarantine policy (`AWSCompromisedKeyQuarantine`, `…V2`, `…V3`, `…V4`) to a user
//! whose key it found exposed, and that policy denies the very calls a self-service
//! response makes. What it denies is read from the policy's own document, so a version
//! AWS publishes later is judged by what it says, not by a list kept here.

use super::{AwsError, Caller};

/// A managed policy attached to a user (`iam:ListAttachedUserPolicies`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct AttachedPolicy {
    /// Its name, e.g. `AWSCompromisedKeyQuarantineV2`.
    pub(crate) name: String,
    /// Its ARN, e.g. `arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2`.
    pub(crate) arn: String,
}

impl AttachedPolicy {
    /// Whether it is one of AWS's quarantine policies for a leaked key (any version).
    /// AWS-managed only (`arn:PARTITION:iam::aws:policy/…`): a customer policy that
    /// borrows the name is not AWS's quarantine.
    pub(crate) fn is_quarantine(&self) -> bool {
        self.name.starts_with("AWSCompromisedKeyQuarantine")
            && self.arn.starts_with("arn:")
            && self.arn.contains(":iam::aws:policy/")
    }
}

impl Caller {
    /// The managed policies attached to `user` (`iam:ListAttachedUserPolicies`), every
    /// page.
    pub(crate) async fn attached_policies(
        &self,
        user: &str,
    ) -> Result<Vec<AttachedPolicy>, AwsError> {
        faked!(self, |iam, signer| iam.attached_policies(signer, user));
        let mut attached = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .paced(|| async {
                    self.iam
                        .list_attached_user_policies()
                        .user_name(user)
                        .set_marker(marker.clone())
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("iam:ListAttachedUserPolicies", e))
                })
                .await?;
            attached.extend(page.attached_policies().iter().filter_map(|p| {
                Some(AttachedPolicy {
                    name: p.policy_name()?.to_owned(),
                    arn: p.policy_arn()?.to_owned(),
                })
            }));
            match page.marker() {
                Some(next) if page.is_truncated() => marker = Some(next.to_owned()),
                _ => return Ok(attached),
            }
        }
    }

    /// `iam:PutRolePolicy`: adds, or replaces, the role's inline policy `name`.
    pub(crate) async fn put_role_policy(
        &self,
        role: &str,
        name: &str,
        document: &str,
    ) -> Result<(), AwsError> {
        faked!(self, |iam, signer| iam.accepts(signer, "iam:PutRolePolicy"));
        self.paced(|| async {
            self.iam
                .put_role_policy()
                .role_name(role)
                .policy_name(name)
                .policy_document(document)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:PutRolePolicy", e))
        })
        .await?;
        Ok(())
    }

    /// `iam:DeleteLoginProfile`: the user's console password goes.
    pub(crate) async fn delete_login_profile(&self, user: &str) -> Result<(), AwsError> {
        faked!(self, |iam, signer| iam
            .accepts(signer, "iam:DeleteLoginProfile"));
        self.paced(|| async {
            self.iam
                .delete_login_profile()
                .user_name(user)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:DeleteLoginProfile", e))
        })
        .await?;
        Ok(())
    }

    /// `iam:DetachUserPolicy`.
    pub(crate) async fn detach_user_policy(&self, user: &str, arn: &str) -> Result<(), AwsError> {
        faked!(self, |iam, signer| iam
            .detach_user_policy(signer, user, arn));
        self.paced(|| async {
            self.iam
                .detach_user_policy()
                .user_name(user)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:DetachUserPolicy", e))
        })
        .await?;
        Ok(())
    }

    /// The actions the default version of the managed policy `arn` denies
    /// (`iam:GetPolicy`, then `iam:GetPolicyVersion`), as written there: patterns such
    /// as `iam:Create*` included.
    pub(crate) async fn policy_denies(&self, arn: &str) -> Result<Vec<String>, AwsError> {
        faked!(self, |iam, signer| iam.policy_denies(signer, arn));
        let policy = self
            .paced(|| async {
                self.iam
                    .get_policy()
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:GetPolicy", e))
            })
            .await?;
        let version = policy
            .policy()
            .and_then(|p| p.default_version_id())
            .unwrap_or("v1")
            .to_owned();
        let out = self
            .paced(|| async {
                self.iam
                    .get_policy_version()
                    .policy_arn(arn)
                    .version_id(&version)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:GetPolicyVersion", e))
            })
            .await?;
        let document = out
            .policy_version()
            .and_then(|v| v.document())
            .unwrap_or("");
        Ok(denied_actions(document))
    }
}

impl Caller {
    /// A read of `service` that changes nothing, as the signer (the user's new key):
    /// the proof that it can do what the user last did once a quarantine is lifted.
    /// `s3`: `s3:ListAllMyBuckets`; `iam`: `iam:GetUser` (itself); any other service,
    /// or none known: `sts:GetCallerIdentity`. Returns the action made.
    pub(crate) async fn harmless_read(&self, service: Option<&str>) -> Result<String, AwsError> {
        faked!(self, |iam, signer| iam
            .identity(signer)
            .map(|_| "sts:GetCallerIdentity".to_owned()));
        let action = match service {
            Some("s3") => "s3:ListAllMyBuckets",
            Some("iam") => "iam:GetUser",
            _ => "sts:GetCallerIdentity",
        };
        self.paced(|| async {
            match action {
                "s3:ListAllMyBuckets" => self
                    .s3
                    .list_buckets()
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| AwsError::from_sdk(action, e)),
                "iam:GetUser" => self
                    .iam
                    .get_user()
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| AwsError::from_sdk(action, e)),
                _ => self.identity().await.map(drop),
            }
        })
        .await?;
        Ok(action.to_owned())
    }
}

/// The actions a policy document denies: every `Action` of a statement whose `Effect` is
/// `Deny` (a string or a list). IAM returns documents URL-encoded (RFC 3986); one that
/// is not is read as it is. A document that is not JSON denies nothing known.
pub(crate) fn denied_actions(document: &str) -> Vec<String> {
    let decoded = percent_encoding::percent_decode_str(document).decode_utf8_lossy();
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&decoded) else {
        return Vec::new();
    };
    let statements = match &json["Statement"] {
        serde_json::Value::Array(list) => list.clone(),
        one @ serde_json::Value::Object(_) => vec![one.clone()],
        _ => Vec::new(),
    };
    let mut denied = Vec::new();
    for statement in statements.iter().filter(|s| s["Effect"] == "Deny") {
        match &statement["Action"] {
            serde_json::Value::String(action) => denied.push(action.clone()),
            serde_json::Value::Array(actions) => {
                denied.extend(actions.iter().filter_map(|a| a.as_str().map(str::to_owned)))
            }
            _ => {}
        }
    }
    denied
}

/// Whether the IAM action pattern `pattern` (`iam:Create*`, `*`, case-insensitive as IAM
/// matches actions) covers `action`.
pub(crate) fn action_matches(pattern: &str, action: &str) -> bool {
    fn matches(pattern: &[u8], text: &[u8]) -> bool {
        match (pattern.first(), text.first()) {
            (None, None) => true,
            (Some(b'*'), _) => {
                matches(&pattern[1..], text) || (!text.is_empty() && matches(pattern, &text[1..]))
            }
            (Some(b'?'), Some(_)) => matches(&pattern[1..], &text[1..]),
            (Some(p), Some(t)) if p.eq_ignore_ascii_case(t) => matches(&pattern[1..], &text[1..]),
            _ => false,
        }
    }
    matches(pattern.as_bytes(), action.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_encoded_document_is_read_for_its_denies() {
        let document = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Deny%22%2C%22Action%22%3A%5B%22iam%3ACreateAccessKey%22%2C%22s3%3AGetObject%22%5D%2C%22Resource%22%3A%22%2A%22%7D%2C%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22iam%3ADeleteAccessKey%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        assert_eq!(
            denied_actions(document),
            ["iam:CreateAccessKey", "s3:GetObject"]
        );
    }

    #[test]
    fn a_plain_document_with_one_statement_and_one_action_is_read_too() {
        let document = r#"{"Statement":{"Effect":"Deny","Action":"iam:*","Resource":"*"}}"#;
        assert_eq!(denied_actions(document), ["iam:*"]);
        assert!(denied_actions("not json").is_empty());
    }

    #[test]
    fn action_patterns_match_as_iam_matches_them() {
        assert!(action_matches("iam:CreateAccessKey", "iam:createaccesskey"));
        assert!(action_matches("iam:Create*", "iam:CreateAccessKey"));
        assert!(action_matches("*", "sts:GetSessionToken"));
        assert!(action_matches("iam:?pdateAccessKey", "iam:UpdateAccessKey"));
        assert!(!action_matches("iam:Create*", "iam:DeleteAccessKey"));
        assert!(!action_matches(
            "iam:CreateAccessKey",
            "iam:CreateAccessKeyX"
        ));
        assert!(!action_matches("s3:*", "iam:CreateAccessKey"));
    }

    #[test]
    fn only_aws_managed_quarantine_policies_count() {
        let policy = |name: &str, arn: &str| AttachedPolicy {
            name: name.into(),
            arn: arn.into(),
        };
        let aws = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";
        assert!(policy("AWSCompromisedKeyQuarantineV3", aws).is_quarantine());
        let own = "arn:aws:iam::123456789012:policy/AWSCompromisedKeyQuarantineV3";
        assert!(!policy("AWSCompromisedKeyQuarantineV3", own).is_quarantine());
        let other = "arn:aws:iam::aws:policy/ReadOnlyAccess";
        assert!(!policy("ReadOnlyAccess", other).is_quarantine());
    }
}
