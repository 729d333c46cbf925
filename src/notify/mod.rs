//! Telling a person what an unattended run did: the events of a run (a key rotated, a
//! failure, a key kept in use, an overdue step, a key past its age, a leak response, an
//! unknown key, audit findings), sent to the manifest's `notify:` targets and the
//! command line's `--notify URL`s. Events of one kind in one run go as one notification
//! (a hundred rotations are one message, not a hundred: a chat's webhook takes about
//! one a second). A payload holds ids, names, dates and messages, never a secret. A failed notification is tried three times within a deadline, then said as
//! a warning: it never fails the run.

mod command;
pub(crate) mod events;
mod webhook;

use std::time::{Duration, SystemTime};

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::config::manifest::Notify;
use crate::engine::error::ErrorKind;

/// Attempts per notification.
const ATTEMPTS: u32 = 3;

/// One attempt may take this long.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// All attempts of one notification end by then.
const DEADLINE: Duration = Duration::from_secs(20);

/// Notifications sent at once.
const AT_ONCE: usize = 4;

/// What happened, for programs (`event` in the JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    /// A key was replaced everywhere.
    Rotated,
    /// A profile (or the run) failed.
    Failed,
    /// prune kept an old key because it is still in use (or held by a sink).
    KeptInUse,
    /// An old key's deactivation or deletion is overdue.
    Overdue,
    /// A key is past its `max_age`.
    PastMaxAge,
    /// A leak response replaced a key.
    Compromised,
    /// A leak response found a key of the user that nobody made here.
    UnknownKey,
    /// `rekey audit` found keys to act on.
    AuditFindings,
    /// `rekey find` found a current key's copy no sink writes, or a key in pushed
    /// history.
    Found,
}

/// One event, as a notification carries it (under `rekey` in a webhook's body; the
/// whole of a command's stdin).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct Event {
    /// What happened.
    pub(crate) event: Kind,
    /// The command that saw it (`apply`, `prune`, …).
    pub(crate) command: String,
    /// When.
    #[serde(with = "crate::time::serde_rfc3339")]
    #[schemars(with = "crate::time::Rfc3339")]
    pub(crate) time: SystemTime,
    /// The machine.
    pub(crate) host: String,
    /// One line for people.
    pub(crate) text: String,
    /// The profile, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) profile: Option<String>,
    /// The key concerned (the old one, for a rotation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key_id: Option<String>,
    /// The key that replaced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) new_key_id: Option<String>,
    /// A failure's kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error_kind: Option<ErrorKind>,
    /// Several events of this kind in one run, each whole (then `text` lists them and
    /// `profile`, `key_id`, `new_key_id` and `error_kind` are left out).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) events: Vec<Event>,
}

impl Event {
    /// An event of `kind` seen by `command`, told as `text`.
    pub(crate) fn new(kind: Kind, command: &str, text: impl Into<String>) -> Self {
        Self {
            event: kind,
            command: command.to_owned(),
            time: crate::time::now(),
            host: host(),
            text: text.into(),
            profile: None,
            key_id: None,
            new_key_id: None,
            error_kind: None,
            events: Vec::new(),
        }
    }

    /// The same event about `profile`.
    pub(crate) fn profile(mut self, profile: &str) -> Self {
        self.profile = Some(profile.to_owned());
        self
    }

    /// The same event about `key_id`.
    pub(crate) fn key(mut self, key_id: &str) -> Self {
        self.key_id = Some(key_id.to_owned());
        self
    }

    /// The same event naming the key that replaced it.
    pub(crate) fn new_key(mut self, key_id: &str) -> Self {
        self.new_key_id = Some(key_id.to_owned());
        self
    }

    /// The same event with a failure's kind.
    pub(crate) fn error_kind(mut self, kind: ErrorKind) -> Self {
        self.error_kind = Some(kind);
        self
    }
}

/// This machine's name (the kernel's node name).
fn host() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// Lines of a merged event's `text` (the rest are counted).
const LISTED: usize = 20;

/// The events of one run, those of one kind merged into one, in the order their kinds
/// first appear.
fn by_kind(events: &[Event]) -> Vec<Event> {
    let mut kinds: Vec<Kind> = Vec::new();
    for event in events {
        if !kinds.contains(&event.event) {
            kinds.push(event.event);
        }
    }
    kinds
        .into_iter()
        .map(|kind| {
            let of_kind: Vec<&Event> = events.iter().filter(|e| e.event == kind).collect();
            let [only] = of_kind.as_slice() else {
                let first = of_kind[0];
                let mut text = format!("{} events ({}):", of_kind.len(), first.command);
                for event in of_kind.iter().take(LISTED) {
                    text.push_str("\n- ");
                    text.push_str(&event.text);
                }
                if of_kind.len() > LISTED {
                    text.push_str(&format!("\n- and {} more", of_kind.len() - LISTED));
                }
                let mut merged = Event::new(kind, &first.command, text);
                merged.events = of_kind.into_iter().cloned().collect();
                return merged;
            };
            (*only).clone()
        })
        .collect()
}

/// Sends every event to every target, one notification per kind (see [`by_kind`]); a
/// target that keeps failing is said as a warning (returned, for the command to print),
/// never an error.
pub(crate) async fn send(targets: &[Notify], events: &[Event]) -> Vec<String> {
    let merged = by_kind(events);
    let deliveries = merged
        .iter()
        .flat_map(|event| targets.iter().map(move |target| (target, event)));
    stream::iter(deliveries)
        .map(|(target, event)| async move {
            deliver(target, event)
                .await
                .err()
                .map(|why| format!("could not notify {}: {why}", shown(target)))
        })
        .buffer_unordered(AT_ONCE)
        .filter_map(|warning| async move { warning })
        .collect()
        .await
}

/// One event to one target: [`ATTEMPTS`] tries, backing off, within [`DEADLINE`].
async fn deliver(target: &Notify, event: &Event) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            // Back off 1 s, then 2 s (a retry, bounded by the deadline).
            let wait = Duration::from_secs(1 << (attempt - 1));
            if tokio::time::Instant::now() + wait >= deadline {
                break;
            }
            tokio::time::sleep(wait).await;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let timeout = ATTEMPT_TIMEOUT.min(left);
        let tried = match target {
            Notify::Webhook(url) => webhook::post(&url.0, event, timeout).await,
            Notify::Command(argv) => command::run(argv, event, timeout).await,
        };
        match tried {
            Ok(()) => return Ok(()),
            Err(why) => last = why,
        }
    }
    Err(format!("{last} ({ATTEMPTS} attempts)"))
}

/// A target for people: a webhook's host only (its path is often a secret token, as
/// Slack's are; its userinfo a password), a command's program.
fn shown(target: &Notify) -> String {
    match target {
        Notify::Webhook(url) => format!("webhook {}", url.host()),
        Notify::Command(argv) => format!("command {}", crate::escape::shown(argv.split_first().0)),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// docs/schemas/notify-event.schema.json is generated from [`Event`];
    /// `REKEY_BLESS=1` writes it again.
    #[test]
    fn the_committed_event_schema_is_generated_from_the_event_type() {
        let generated = crate::report::json_schema::<Event>(
            "a notification's event (the manifest's notify:, --notify), schema 1",
        );
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schemas/notify-event.schema.json");
        if std::env::var_os("REKEY_BLESS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale: run REKEY_BLESS=1 ./scripts/test the_committed_event_schema",
            path.display()
        );
    }

    #[test]
    fn events_of_one_kind_go_as_one() {
        let rotated = |n: usize| {
            Event::new(Kind::Rotated, "apply", format!("rotated profile p{n}"))
                .profile(&format!("p{n}"))
        };
        let failed = Event::new(Kind::Failed, "apply", "profile q failed");
        let mut events: Vec<Event> = (0..25).map(rotated).collect();
        events.insert(1, failed);
        let merged = by_kind(&events);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].event, Kind::Rotated);
        assert_eq!(merged[0].events.len(), 25);
        assert_eq!(merged[0].profile, None);
        assert!(merged[0]
            .text
            .starts_with("25 events (apply):\n- rotated profile p0\n"));
        assert!(
            merged[0].text.ends_with("\n- and 5 more"),
            "{}",
            merged[0].text
        );
        assert_eq!(
            merged[1].text, "profile q failed",
            "one of its kind: as it is"
        );
        assert!(merged[1].events.is_empty());
    }

    #[test]
    fn a_webhook_is_shown_by_its_host_only() {
        let hook = Notify::Webhook(crate::config::manifest::WebhookUrl(
            "https://hooks.slack.com/services/T0/B0/secret-token".into(),
        ));
        assert_eq!(shown(&hook), "webhook hooks.slack.com");
        let with_password = Notify::Webhook(crate::config::manifest::WebhookUrl(
            "https://user:hunter2@hooks.example.com:8443/x?token=t".into(),
        ));
        assert_eq!(shown(&with_password), "webhook hooks.example.com:8443");
        assert!(!format!("{with_password:?}").contains("hunter2"));
    }
}
