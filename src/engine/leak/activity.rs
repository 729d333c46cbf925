//! What the leaked key did, and what it left behind. A responder's first question is
//! answered by CloudTrail (`LookupEvents` by the key's id, from its creation to now):
//! the calls per event name, every write in full, the principals its calls named. An
//! attacker's persistence survives the key's deletion (public tooling makes users, keys
//! for other users, console passwords, roles trusting an outside account, policy
//! versions), so every IAM entity a write created or changed is a finding with its
//! evidence event, which [`super::containment`] contains. CloudTrail's history lags the
//! calls by minutes: what it shows is what has arrived, and the report says so.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use crate::aws::trail::TrailEvent;
use crate::aws::{Aws, Caller};
use crate::time::serde_rfc3339;

/// The regions a response reads unless told: IAM's and STS's global calls are recorded
/// in us-east-1; the run's own region holds its other calls.
pub(crate) fn default_regions(own: Option<&str>) -> Vec<String> {
    let mut regions = vec!["us-east-1".to_owned()];
    if let Some(own) = own.filter(|r| *r != "us-east-1") {
        regions.push(own.to_owned());
    }
    regions
}

/// What CloudTrail shows the leaked key did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct Activity {
    /// The regions read.
    pub(crate) regions: Vec<String>,
    /// The window read: from the key's creation…
    #[serde(with = "serde_rfc3339")]
    #[schemars(with = "crate::time::Rfc3339")]
    pub(crate) since: SystemTime,
    /// …to the read.
    #[serde(with = "serde_rfc3339")]
    #[schemars(with = "crate::time::Rfc3339")]
    pub(crate) until: SystemTime,
    /// How many calls, per event name.
    pub(crate) calls: BTreeMap<String, usize>,
    /// Every call that changed something (or tried to), oldest first.
    pub(crate) writes: Vec<Call>,
    /// The IAM users and roles its calls named.
    pub(crate) principals: Vec<String>,
    /// Every IAM entity a write created or changed, and what was done about it.
    pub(crate) left_behind: Vec<LeftBehind>,
    /// Regions that could not be read, with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) unread: Vec<String>,
}

/// One call, in full.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct Call {
    /// When.
    #[serde(with = "serde_rfc3339")]
    #[schemars(with = "crate::time::Rfc3339")]
    pub(crate) time: SystemTime,
    /// The region it was recorded in.
    pub(crate) region: String,
    /// Where it came from.
    pub(crate) source_ip: Option<String>,
    /// The service and call: `iam:CreateUser`.
    pub(crate) call: String,
    /// What it named: `AWS::IAM::User evil`.
    pub(crate) resources: Vec<String>,
    /// Its error code, if it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// An IAM entity the leaked key created or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Entity {
    /// A user it created.
    User {
        /// The user.
        user: String,
    },
    /// An access key it made for another user.
    AccessKey {
        /// Whose.
        user: String,
        /// The key.
        key_id: String,
    },
    /// A console password it gave a user.
    LoginProfile {
        /// Whose.
        user: String,
    },
    /// A role it created, or whose trust policy it changed.
    Role {
        /// The role.
        role: String,
    },
    /// Anything else it changed in IAM: a policy version, a group membership, a policy
    /// put on or attached to a user, group or role. Reported, not contained.
    Changed {
        /// The call, e.g. `iam:CreatePolicyVersion`.
        call: String,
        /// What it named.
        target: String,
    },
}

/// One entity left behind, its evidence, and its containment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub(crate) struct LeftBehind {
    /// What.
    #[serde(flatten)]
    pub(crate) entity: Entity,
    /// The call that made it (the evidence), and when.
    pub(crate) evidence: String,
    /// When that call was made.
    #[serde(with = "serde_rfc3339")]
    #[schemars(with = "crate::time::Rfc3339")]
    pub(crate) at: SystemTime,
    /// What rekey did to contain it (absent: nothing, see `not_contained`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) contained: Option<String>,
    /// The command that undoes the containment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) undo: Option<String>,
    /// Why it was not contained (reported only, `--no-contain`, or a refusal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) not_contained: Option<String>,
}

/// Reads what `key_id` (of `user`) did from `since` to now in `regions`, as `reader`
/// (never the quarantined user: an admin, else the user's new key).
pub(crate) async fn trace(
    aws: &Aws,
    reader: &Caller,
    (key_id, user): (&str, &str),
    since: SystemTime,
    regions: &[String],
) -> Activity {
    let until = aws.clock().now();
    let mut events = Vec::new();
    let mut unread = Vec::new();
    for region in regions {
        match aws
            .lookup_events(reader, region, key_id, (since, until))
            .await
        {
            Ok(found) => events.extend(found),
            Err(e) => unread.push(format!("{region}: {e}")),
        }
    }
    events.sort_by_key(|e| e.time);
    summarize(&events, user, (since, until), regions, unread)
}

/// The activity `events` (oldest first) show, for a key of `user`.
fn summarize(
    events: &[TrailEvent],
    user: &str,
    (since, until): (SystemTime, SystemTime),
    regions: &[String],
    unread: Vec<String>,
) -> Activity {
    let mut calls = BTreeMap::new();
    let mut principals = Vec::new();
    for event in events {
        *calls.entry(event.name.clone()).or_insert(0) += 1;
        for (kind, name) in &event.resources {
            let principal = matches!(kind.as_str(), "AWS::IAM::User" | "AWS::IAM::Role");
            if principal && name != user && !principals.contains(name) {
                principals.push(name.clone());
            }
        }
    }
    let writes = events.iter().filter(|e| !e.read_only).map(call).collect();
    let left_behind = events
        .iter()
        .filter(|e| !e.read_only && e.error.is_none())
        .filter_map(|e| entity(e, user).map(|entity| (e, entity)))
        .map(|(e, entity)| LeftBehind {
            entity,
            evidence: call_name(e),
            at: e.time,
            contained: None,
            undo: None,
            not_contained: None,
        })
        .collect();
    Activity {
        regions: regions.to_vec(),
        since,
        until,
        calls,
        writes,
        principals,
        left_behind,
        unread,
    }
}

/// `iam:CreateUser` from `iam.amazonaws.com` and `CreateUser`.
fn call_name(e: &TrailEvent) -> String {
    let service = e.source.split('.').next().unwrap_or_default();
    format!("{service}:{}", e.name)
}

fn call(e: &TrailEvent) -> Call {
    Call {
        time: e.time,
        region: e.region.clone(),
        source_ip: e.source_ip.clone(),
        call: call_name(e),
        resources: e
            .resources
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect(),
        error: e.error.clone(),
    }
}

/// The IAM entity a successful write made or changed (`None`: none, or the leaked
/// user's own keys, which the response's search for unknown keys covers).
fn entity(e: &TrailEvent, leaked_user: &str) -> Option<Entity> {
    if e.source != "iam.amazonaws.com" {
        return None;
    }
    let param = |name: &str| e.request[name].as_str().map(str::to_owned);
    let user = param("userName");
    Some(match e.name.as_str() {
        "CreateUser" => Entity::User { user: user? },
        "CreateAccessKey" => {
            let user = user.or_else(|| {
                e.response["accessKey"]["userName"]
                    .as_str()
                    .map(str::to_owned)
            })?;
            if user == leaked_user {
                return None;
            }
            let key_id = e.response["accessKey"]["accessKeyId"].as_str()?.to_owned();
            Entity::AccessKey { user, key_id }
        }
        "CreateLoginProfile" | "UpdateLoginProfile" => Entity::LoginProfile { user: user? },
        "CreateRole" | "UpdateAssumeRolePolicy" => Entity::Role {
            role: param("roleName")?,
        },
        "CreatePolicyVersion"
        | "SetDefaultPolicyVersion"
        | "AddUserToGroup"
        | "PutUserPolicy"
        | "AttachUserPolicy"
        | "PutGroupPolicy"
        | "AttachGroupPolicy"
        | "PutRolePolicy"
        | "AttachRolePolicy"
        | "CreatePolicy"
        | "UpdateUser" => {
            let target = [
                "policyArn",
                "groupName",
                "roleName",
                "userName",
                "policyName",
            ]
            .iter()
            .filter_map(|name| param(name).map(|v| format!("{name} {v}")))
            .collect::<Vec<_>>()
            .join(", ");
            Entity::Changed {
                call: call_name(e),
                target,
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, request: serde_json::Value, response: serde_json::Value) -> TrailEvent {
        TrailEvent {
            time: SystemTime::UNIX_EPOCH,
            name: name.to_owned(),
            source: "iam.amazonaws.com".to_owned(),
            region: "us-east-1".to_owned(),
            read_only: name.starts_with("List") || name.starts_with("Get"),
            source_ip: Some("203.0.113.7".to_owned()),
            resources: Vec::new(),
            request,
            response,
            error: None,
        }
    }

    #[test]
    fn what_the_key_left_behind_is_read_from_its_writes() {
        use serde_json::json;
        let events = [
            event("ListUsers", json!({}), json!(null)),
            event("CreateUser", json!({"userName": "evil"}), json!(null)),
            event(
                "CreateAccessKey",
                json!({"userName": "evil"}),
                json!({"accessKey": {"accessKeyId": "AKIAEVIL000000000001", "userName": "evil"}}),
            ),
            // The leaked user's own new key: the search for unknown keys covers it.
            event(
                "CreateAccessKey",
                json!({}),
                json!({"accessKey": {"accessKeyId": "AKIAOWN0000000000001", "userName": "dev"}}),
            ),
            event(
                "CreateLoginProfile",
                json!({"userName": "evil"}),
                json!(null),
            ),
            event("CreateRole", json!({"roleName": "backdoor"}), json!(null)),
            event(
                "CreatePolicyVersion",
                json!({"policyArn": "arn:aws:iam::1:policy/p"}),
                json!(null),
            ),
        ];
        let window = (SystemTime::UNIX_EPOCH, SystemTime::UNIX_EPOCH);
        let activity = summarize(&events, "dev", window, &["us-east-1".into()], Vec::new());
        let entities: Vec<Entity> = activity
            .left_behind
            .iter()
            .map(|l| l.entity.clone())
            .collect();
        assert_eq!(
            entities,
            [
                Entity::User {
                    user: "evil".into()
                },
                Entity::AccessKey {
                    user: "evil".into(),
                    key_id: "AKIAEVIL000000000001".into()
                },
                Entity::LoginProfile {
                    user: "evil".into()
                },
                Entity::Role {
                    role: "backdoor".into()
                },
                Entity::Changed {
                    call: "iam:CreatePolicyVersion".into(),
                    target: "policyArn arn:aws:iam::1:policy/p".into()
                },
            ]
        );
        assert_eq!(activity.calls["CreateAccessKey"], 2);
        assert_eq!(activity.writes.len(), 6, "every call but the read");
    }

    #[test]
    fn a_failed_write_is_shown_but_leaves_nothing_behind() {
        let mut failed = event(
            "CreateUser",
            serde_json::json!({"userName": "evil"}),
            serde_json::Value::Null,
        );
        failed.error = Some("AccessDenied".into());
        let window = (SystemTime::UNIX_EPOCH, SystemTime::UNIX_EPOCH);
        let activity = summarize(&[failed], "dev", window, &[], Vec::new());
        assert!(activity.left_behind.is_empty());
        assert_eq!(activity.writes[0].error.as_deref(), Some("AccessDenied"));
    }
}
