//! What a leak alert says was exposed, for `rekey respond`: an AWS Health event as
//! EventBridge delivers it (`detail-type: "AWS Health Event"`, one of the risk event
//! types that name access keys, [`HEALTH_KEY_EVENTS`], the key ids in
//! `detail.affectedEntities`), or a GitHub secret-scanning alert as the REST API gives
//! it (`secret_type`, `secret`, and `validity`, shown), alone, under `alert`, or as a
//! `repository_dispatch` event's `client_payload`. (A `secret_scanning_alert` webhook
//! carries no `secret`: a workflow fetches the alert first, see `examples/respond/`.)
//! An event of any other type is named and refused, never guessed at.
//!
//! An alert for a secret access key carries the secret itself: it is kept as a
//! [`SecretString`], matched against the keys rekey holds, and never shown.

use secrecy::SecretString;
use serde_json::Value;

/// The AWS Health risk event types that name access keys: exposed (found public),
/// suspected of exposure, compromised (used by someone else), suspected of compromise,
/// and the quarantine AWS applied to the key's user. Each is a leak to respond to.
pub(crate) const HEALTH_KEY_EVENTS: &[&str] = &[
    "AWS_RISK_CREDENTIALS_EXPOSED",
    "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED",
    "AWS_RISK_CREDENTIALS_COMPROMISED",
    "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED",
    "AWS_RISK_IAM_QUARANTINE",
];

/// What an alert says was exposed, and where it came from.
#[derive(Debug)]
pub(crate) struct Exposure {
    /// The alert, for people: "AWS Health event arn:…", "GitHub secret-scanning alert
    /// https://…".
    pub(crate) source: String,
    /// What it names.
    pub(crate) exposed: Vec<Exposed>,
}

/// One exposed credential.
#[derive(Debug)]
pub(crate) enum Exposed {
    /// An access key id.
    KeyId(String),
    /// A secret access key (GitHub's `aws_secret_access_key`); its id is found by
    /// matching the keys rekey holds.
    Secret(SecretString),
}

/// Why an event names nothing rekey can respond to.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EventError {
    /// Not JSON at all.
    #[error("the event is not JSON ({0}); nothing was changed")]
    NotJson(String),
    /// An AWS Health event of another type.
    #[error("the AWS Health event is of type {0}, not one that names exposed access keys ({kinds}): nothing to respond to, nothing was changed", kinds = HEALTH_KEY_EVENTS.join(", "))]
    OtherHealthEvent(String),
    /// A secret-scanning alert for another kind of secret.
    #[error("the GitHub secret-scanning alert is for {0}, not an AWS access key (aws_access_key_id or aws_secret_access_key): nothing was changed")]
    OtherSecret(String),
    /// The right kind of event, but no access key id in it.
    #[error(
        "{0} names no access key id (AKIA followed by 16 letters and digits); nothing was changed"
    )]
    NoKey(String),
    /// Neither shape.
    #[error("the event is neither an AWS Health event as EventBridge delivers it (detail-type \"AWS Health Event\") nor a GitHub secret-scanning alert (secret_type, secret); nothing was changed")]
    Unknown,
}

/// Reads an alert (see the module docs).
pub(crate) fn parse(text: &str) -> Result<Exposure, EventError> {
    // serde_json's message gives a line and column, never the text.
    let event: Value =
        serde_json::from_str(text).map_err(|e| EventError::NotJson(e.to_string()))?;
    let event = event.get("client_payload").unwrap_or(&event);
    if event["detail-type"] == "AWS Health Event" {
        return health(event);
    }
    let alert = event.get("alert").unwrap_or(event);
    if alert.get("secret_type").is_some() {
        return github(alert);
    }
    Err(EventError::Unknown)
}

fn health(event: &Value) -> Result<Exposure, EventError> {
    let detail = &event["detail"];
    let code = detail["eventTypeCode"].as_str().unwrap_or_default();
    if !HEALTH_KEY_EVENTS.contains(&code) {
        return Err(EventError::OtherHealthEvent(code.to_owned()));
    }
    let source = match detail["eventArn"].as_str() {
        Some(arn) => format!("AWS Health event {arn} ({code})"),
        None => format!("AWS Health event ({code})"),
    };
    let entities = detail["affectedEntities"].as_array();
    let mut exposed: Vec<Exposed> = Vec::new();
    for entity in entities.into_iter().flatten() {
        let Some(id) = entity["entityValue"].as_str().filter(|v| is_key_id(v)) else {
            continue;
        };
        if !exposed
            .iter()
            .any(|e| matches!(e, Exposed::KeyId(k) if k == id))
        {
            exposed.push(Exposed::KeyId(id.to_owned()));
        }
    }
    if exposed.is_empty() {
        return Err(EventError::NoKey(source));
    }
    Ok(Exposure { source, exposed })
}

fn github(alert: &Value) -> Result<Exposure, EventError> {
    let kind = alert["secret_type"].as_str().unwrap_or_default();
    let mut source = match alert["html_url"].as_str() {
        Some(url) => format!("GitHub secret-scanning alert {url}"),
        None => "GitHub secret-scanning alert".to_owned(),
    };
    // GitHub's check of the secret: `active` (it works), `inactive`, `unknown`. Shown,
    // never acted on: a key GitHub saw inactive may have been used before.
    if let Some(validity) = alert["validity"].as_str() {
        source.push_str(&format!(" (validity: {validity})"));
    }
    let secret = alert["secret"].as_str().unwrap_or_default().trim();
    let exposed = match kind {
        "aws_access_key_id" if is_key_id(secret) => Exposed::KeyId(secret.to_owned()),
        "aws_access_key_id" => return Err(EventError::NoKey(source)),
        "aws_secret_access_key" if !secret.is_empty() => {
            Exposed::Secret(SecretString::from(secret.to_owned()))
        }
        "aws_secret_access_key" => return Err(EventError::NoKey(source)),
        other => return Err(EventError::OtherSecret(other.to_owned())),
    };
    Ok(Exposure {
        source,
        exposed: vec![exposed],
    })
}

/// `AKIA` and 16 of AWS's key-id characters: a long-term user key (a temporary `ASIA`
/// key is not rotated; its session is revoked with its user's).
fn is_key_id(text: &str) -> bool {
    text.len() == 20
        && text.starts_with("AKIA")
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const EXAMPLE: &str = "AKIAIOSFODNN7EXAMPLE";

    fn ids(exposure: &Exposure) -> Vec<&str> {
        exposure
            .exposed
            .iter()
            .filter_map(|e| match e {
                Exposed::KeyId(id) => Some(id.as_str()),
                Exposed::Secret(_) => None,
            })
            .collect()
    }

    #[test]
    fn reads_the_aws_health_event_as_eventbridge_delivers_it() {
        let text =
            include_str!("../../../tests/fixtures/events/aws-health-credentials-exposed.json");
        let exposure = parse(text).unwrap();
        assert_eq!(ids(&exposure), [EXAMPLE]);
        assert!(exposure
            .source
            .starts_with("AWS Health event arn:aws:health:"));
    }

    #[test]
    fn reads_a_github_alert_alone_and_as_a_repository_dispatch_payload() {
        for text in [
            include_str!("../../../tests/fixtures/events/github-secret-scanning-alert.json"),
            include_str!("../../../tests/fixtures/events/github-repository-dispatch.json"),
        ] {
            let exposure = parse(text).unwrap();
            assert_eq!(ids(&exposure), [EXAMPLE]);
            assert!(exposure
                .source
                .starts_with("GitHub secret-scanning alert https://"));
        }
    }

    #[test]
    fn an_alert_for_a_secret_keeps_it_secret() {
        let text = r#"{"secret_type": "aws_secret_access_key", "secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}"#;
        let exposure = parse(text).unwrap();
        let Exposed::Secret(secret) = &exposure.exposed[0] else {
            panic!("a secret");
        };
        assert!(secret.expose_secret().starts_with("wJalr"));
        assert!(
            !format!("{exposure:?}").contains("wJalr"),
            "never in a debug dump"
        );
    }

    #[test]
    fn every_health_risk_event_that_names_keys_is_read_and_named() {
        let text =
            include_str!("../../../tests/fixtures/events/aws-health-credentials-exposed.json");
        for code in HEALTH_KEY_EVENTS {
            let event = text.replace(
                "\"eventTypeCode\": \"AWS_RISK_CREDENTIALS_EXPOSED\"",
                &format!("\"eventTypeCode\": \"{code}\""),
            );
            let exposure = parse(&event).unwrap();
            assert_eq!(ids(&exposure), [EXAMPLE], "{code}");
            assert!(
                exposure.source.ends_with(&format!("({code})")),
                "{}",
                exposure.source
            );
        }
    }

    #[test]
    fn a_github_alerts_validity_is_shown() {
        let text = include_str!("../../../tests/fixtures/events/github-secret-scanning-alert.json");
        assert!(parse(text).unwrap().source.ends_with("(validity: active)"));
    }

    #[test]
    fn other_events_are_refused_with_what_they_are() {
        let other = r#"{"detail-type": "AWS Health Event", "detail": {"eventTypeCode": "AWS_EC2_OPERATIONAL_ISSUE"}}"#;
        assert!(
            matches!(parse(other), Err(EventError::OtherHealthEvent(c)) if c == "AWS_EC2_OPERATIONAL_ISSUE")
        );
        let token = r#"{"secret_type": "github_personal_access_token", "secret": "ghp_x"}"#;
        assert!(matches!(parse(token), Err(EventError::OtherSecret(_))));
        let nothing = r#"{"detail-type": "AWS Health Event", "detail": {"eventTypeCode": "AWS_RISK_CREDENTIALS_EXPOSED", "affectedEntities": [{"entityValue": "not-a-key"}]}}"#;
        assert!(matches!(parse(nothing), Err(EventError::NoKey(_))));
        assert!(matches!(parse("{}"), Err(EventError::Unknown)));
        let broken = parse("{\"secret\": \"wJalrXUtnFEMI");
        let message = broken.unwrap_err().to_string();
        assert!(
            message.contains("not JSON") && !message.contains("wJalr"),
            "{message}"
        );
    }
}
