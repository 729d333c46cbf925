//! What `rekey respond` reports: per exposed key, who held it and how it was contained;
//! the compromised response itself is an `apply` report inside.

use std::fmt::Write;
use std::time::SystemTime;

use serde::Serialize;

use super::ApplyReport;
use crate::time;

/// What `rekey respond --output json` prints.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct RespondReport {
    /// Always 1.
    pub(crate) schema: u32,
    /// The alert, for people ("AWS Health event arn:…").
    pub(crate) source: String,
    /// One per credential the alert names.
    pub(crate) exposed: Vec<ExposedKey>,
    /// The compromised response for the profiles that held one (`None`: no profile
    /// did).
    pub(crate) apply: Option<ApplyReport>,
    /// Why the run stopped, if it did (also on stderr).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    /// The kind of `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error_kind: Option<crate::engine::error::ErrorKind>,
}

/// A credential the alert names, and what became of it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct ExposedKey {
    /// The key id (`None`: an exposed secret that no key rekey holds has).
    pub(crate) key_id: Option<String>,
    /// The alert named the secret access key, not the id (never shown).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) by_secret: bool,
    /// The profiles whose key it is (or was: an old key rekey keeps a record of).
    pub(crate) profiles: Vec<String>,
    /// The IAM user, where it was looked up (a key no profile holds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<String>,
    /// What was done.
    pub(crate) status: Containment,
    /// For people: why, or what is left to do.
    pub(crate) detail: String,
    /// A key rekey had deleted: what CloudTrail shows it did, read again now (its
    /// history arrives minutes late), and what it left behind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) activity: Option<Box<crate::engine::leak::activity::Activity>>,
}

/// How an exposed key was contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Containment {
    /// Replaced everywhere, deleted, and proven refused (see `replaced` in `apply`).
    Replaced,
    /// rekey had deleted it already.
    AlreadyDeleted,
    /// No profile holds it; deactivated in IAM (`--deactivate-unknown`). Whatever holds
    /// it stops working: it was not replaced.
    Deactivated,
    /// No profile holds it, and nothing was done.
    NotHeld,
    /// A profile holds it, but its response failed (see `apply.results`).
    Failed,
}

impl Containment {
    /// Whether the leak is closed without a person's help.
    pub(crate) fn closed(self) -> bool {
        matches!(self, Containment::Replaced | Containment::AlreadyDeleted)
    }
}

/// The alert and who holds what it names, before the response. What the alert says
/// (its URL, a key id) was written by whoever sent it: shown escaped.
pub(crate) fn header(source: &str, exposed: &[ExposedKey]) -> String {
    let mut out = format!("Responding to {}\n", crate::escape::shown(source));
    for key in exposed {
        let name = describe(key);
        let _ = match key.profiles.as_slice() {
            [] => writeln!(out, "  {name}: held by no profile"),
            profiles => writeln!(out, "  {name}: profile {}", profiles.join(", ")),
        };
    }
    out.push('\n');
    out
}

/// What became of each exposed key.
pub(crate) fn summary(exposed: &[ExposedKey]) -> String {
    let mut out = String::from("\nExposed keys:\n");
    for key in exposed {
        let status = match key.status {
            Containment::Replaced => "replaced",
            Containment::AlreadyDeleted => "already deleted",
            Containment::Deactivated => "DEACTIVATED, not replaced",
            Containment::NotHeld => "NOT CONTAINED",
            Containment::Failed => "NOT CONTAINED: the response failed",
        };
        let detail = crate::escape::shown(&key.detail);
        let _ = writeln!(out, "  {}: {status}: {detail}", describe(key));
    }
    out
}

fn describe(key: &ExposedKey) -> String {
    let id = key.key_id.as_deref().map(crate::escape::shown);
    match (id, key.by_secret) {
        (Some(id), false) => id.into_owned(),
        (Some(id), true) => format!("{id} (its secret was exposed)"),
        (None, _) => "a secret access key (not shown)".to_owned(),
    }
}

/// `deleted on 2026-12-01` for a key rekey deleted.
pub(crate) fn deleted_on(at: SystemTime) -> String {
    format!("rekey deleted it on {}", time::date(at))
}
