//! What the commands print: the types of the versioned JSON output (every document has
//! `"schema": 1`; fields are only ever added), the text for people ([`text`]), and live
//! progress on a terminal ([`progress`]).

pub(crate) mod action;
pub(crate) mod audit;
pub(crate) mod audit_html;
pub(crate) mod find;
pub(crate) mod progress;
pub(crate) mod respond;
pub(crate) mod sarif;
pub(crate) mod text;

use serde::Serialize;

use std::time::SystemTime;

use crate::engine::error::ErrorKind;
use crate::engine::old_keys::prune::Pruned;
pub(crate) use crate::engine::old_keys::status::Alert;
use crate::engine::recovery;
use crate::engine::rotation::plan::Plan;
use crate::engine::rotation::Rotated;
use crate::state::PendingDeletion;

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// For people.
    Text,
    /// For programs: one JSON document on stdout (see the README for the schema).
    Json,
}

/// What `apply --output json` prints: one document, whatever happened. A run that
/// stopped early has what it did until then and `error`.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct ApplyReport {
    /// Always 1 (see [`Plan::SCHEMA_VERSION`]).
    pub(crate) schema: u32,
    /// Interrupted rotations resolved before planning (see `rekey recover`).
    pub(crate) recovered: Vec<recovery::Report>,
    /// `None` if the run stopped before planning.
    pub(crate) plan: Option<Plan>,
    /// Old keys deleted (or kept) before rotating.
    pub(crate) pruned: Vec<Pruned>,
    /// One per rotation, in manifest order.
    pub(crate) results: Vec<ProfileResult>,
    /// With `--compromised`: each replaced key and its last use, to look for misuse.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) replaced: Vec<ReplacedKey>,
    /// Why the run stopped, if it did (also on stderr).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    /// The kind of `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error_kind: Option<ErrorKind>,
    /// Answers per service that were `Throttling` (rekey paced and retried them).
    pub(crate) throttled: crate::aws::pacing::Throttled,
}

impl ApplyReport {
    /// A report of nothing done yet.
    pub(crate) fn new() -> Self {
        Self {
            schema: Plan::SCHEMA_VERSION,
            recovered: Vec::new(),
            plan: None,
            pruned: Vec::new(),
            results: Vec::new(),
            replaced: Vec::new(),
            error: None,
            error_kind: None,
            throttled: Default::default(),
        }
    }
}

/// What `rekey sync --output json` prints.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct SyncRun {
    /// Always 1.
    pub(crate) schema: u32,
    /// One per profile, in manifest order.
    pub(crate) profiles: Vec<crate::engine::fleet::sync::SyncReport>,
}

/// A key a leak response (`apply --compromised`) replaced, and how the door was closed
/// behind it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct ReplacedKey {
    /// The profile.
    pub(crate) profile: String,
    /// The replaced (now deleted) key.
    pub(crate) key_id: String,
    /// The key that replaced it.
    pub(crate) replaced_by: String,
    /// Its last use as IAM recorded it before the rotation (`None`: never used).
    pub(crate) last_used: Option<crate::engine::rotation::plan::LastUse>,
    /// When it was deleted, when AWS refused it, which sessions were revoked and which
    /// unknown keys were found.
    #[serde(flatten)]
    pub(crate) response: crate::engine::leak::revocation::LeakResponse,
}

/// How one rotation (a profile, or profiles sharing a key) ended.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct ProfileResult {
    /// The profile (the first of a group sharing a key).
    pub(crate) profile: String,
    /// Profiles rotated with `profile` because they held the same key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) also: Vec<String>,
    /// Wall time of this profile's rotation.
    pub(crate) seconds: f64,
    /// How it ended.
    #[serde(flatten)]
    pub(crate) outcome: ApplyOutcome,
}

/// The outcome part of a [`ProfileResult`].
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub(crate) enum ApplyOutcome {
    /// Rotated: the new key is in every sink, the old one deactivated.
    Rotated(Rotated),
    /// Not rotated, by decision (e.g. younger than `max_age`).
    Skipped {
        /// Why.
        reason: String,
    },
    /// Not rotated, or undone.
    Failed {
        /// What went wrong and where that leaves the user.
        error: String,
        /// What kind of failure, for programs.
        error_kind: ErrorKind,
        /// What was done, in order.
        actions: Vec<crate::engine::action::Action>,
    },
}

/// What `rekey status --output json` prints for a profile.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct ProfileStatus {
    /// The profile's plan (read-only inspection).
    #[serde(flatten)]
    pub(crate) plan: crate::engine::rotation::plan::ProfilePlan,
    /// Old keys of this profile waiting for deletion.
    pub(crate) pending: Vec<PendingKey>,
    /// With `scan:` in the manifest: files there that still hold one of its old keys.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) stale_copies: Vec<StaleCopyReport>,
    /// Things the user should know (e.g. the key is past `max_age`).
    pub(crate) warnings: Vec<String>,
    /// What needs acting on (`status --detailed-exitcode` exits 2 if any).
    pub(crate) alerts: Vec<Alert>,
}

/// A file that still holds an old key.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct StaleCopyReport {
    /// The file.
    pub(crate) path: String,
    /// The line.
    pub(crate) line: usize,
    /// The old key.
    pub(crate) key_id: String,
    /// Where it stands: `inactive, deleted after …`, `deleted on …`, `active until …
    /// (overlap)`.
    pub(crate) state: String,
}

/// An old key awaiting its next step, as `status` reports it: a type of the output's
/// own, so the state dir's record can change without changing the documented JSON.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct PendingKey {
    /// The profile whose rotation replaced it (the first of a group sharing a key).
    pub(crate) profile: String,
    /// The other profiles of that rotation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) also: Vec<String>,
    /// The account.
    pub(crate) account: String,
    /// The user.
    pub(crate) user_arn: String,
    /// The user's name.
    pub(crate) user_name: String,
    /// The old key.
    pub(crate) key_id: String,
    /// When it was (or, in its overlap, will be) deactivated.
    #[serde(with = "crate::time::serde_rfc3339")]
    #[schemars(with = "crate::time::Rfc3339")]
    pub(crate) deactivated_at: SystemTime,
    /// When it may be deleted.
    #[serde(with = "crate::time::serde_rfc3339")]
    #[schemars(with = "crate::time::Rfc3339")]
    pub(crate) delete_after: SystemTime,
    /// In its overlap period: when the rotation that replaced it ended.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::time::serde_rfc3339_option"
    )]
    #[schemars(with = "Option<crate::time::Rfc3339>")]
    pub(crate) overlap_since: Option<SystemTime>,
    /// The key that replaced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) replaced_by: Option<String>,
}

impl From<&PendingDeletion> for PendingKey {
    fn from(pending: &PendingDeletion) -> Self {
        let owner = &pending.owner;
        Self {
            profile: owner.profile.clone(),
            also: owner.also.clone(),
            account: owner.account.clone(),
            user_arn: owner.user_arn.clone(),
            user_name: owner.user_name.clone(),
            key_id: pending.key_id.clone(),
            deactivated_at: pending.deactivated_at,
            delete_after: pending.delete_after,
            overlap_since: pending.overlap_since,
            replaced_by: pending.replaced_by.clone(),
        }
    }
}

/// What `rekey status --output json` prints.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct StatusReport {
    /// Always 1.
    pub(crate) schema: u32,
    /// The manifest, or default mode's credentials file.
    pub(crate) source: String,
    /// One per profile (or group sharing a key).
    pub(crate) profiles: Vec<ProfileStatus>,
    /// Profiles default mode does not rotate, and why.
    pub(crate) skipped: Vec<crate::config::discovery::Skipped>,
}

/// What `rekey prune --output json` prints.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct PruneReport {
    /// Always 1.
    pub(crate) schema: u32,
    /// What happened to each due key.
    pub(crate) pruned: Vec<Pruned>,
}

/// What `rekey recover --output json` prints.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct RecoverReport {
    /// Always 1.
    pub(crate) schema: u32,
    /// Each interrupted rotation, resolved or not.
    pub(crate) recovered: Vec<recovery::Report>,
}

/// The JSON Schema of the document each command prints with `--output json`, by
/// command, generated from the types serialized (committed as
/// `docs/schemas/COMMAND.schema.json`; a test keeps them current and checks real output
/// against them).
#[cfg(test)]
pub(crate) fn json_schemas() -> Vec<(&'static str, String)> {
    fn schema<T: schemars::JsonSchema>(command: &str) -> String {
        json_schema::<T>(&format!("`rekey {command} --output json`, schema 1"))
    }
    vec![
        ("plan", schema::<Plan>("plan")),
        ("apply", schema::<ApplyReport>("apply")),
        ("status", schema::<StatusReport>("status")),
        ("prune", schema::<PruneReport>("prune")),
        ("sync", schema::<SyncRun>("sync")),
        ("recover", schema::<RecoverReport>("recover")),
        ("rollback", schema::<recovery::Report>("rollback")),
        ("find", schema::<find::FindReport>("find")),
        ("respond", schema::<respond::RespondReport>("respond")),
        ("audit", schema::<audit::AuditReport>("audit")),
        (
            "failure",
            json_schema::<Failure>(
                "any `rekey … --output json` that stopped before its own document, schema 1",
            ),
        ),
    ]
}

/// The JSON Schema (draft 2020-12) of what `T` serializes to, titled `title`.
#[cfg(test)]
pub(crate) fn json_schema<T: schemars::JsonSchema>(title: &str) -> String {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>();
    schema.insert("title".into(), title.into());
    serde_json::to_string_pretty(&schema).expect("a schema is JSON") + "\n"
}

/// Whether this run printed its result (a JSON document) on stdout.
static EMITTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The one way a command's result reaches stdout: `document` as pretty JSON, or `text()`
/// for people (what was not already printed as the run went; nothing if empty). With
/// JSON, exactly one document per run: see [`emit_failure`].
pub(crate) fn emit<T: Serialize>(
    output: Output,
    document: &T,
    text: impl FnOnce() -> String,
) -> serde_json::Result<()> {
    let shown = match output {
        Output::Json => {
            EMITTED.store(true, std::sync::atomic::Ordering::SeqCst);
            serde_json::to_string_pretty(document)?
        }
        Output::Text => text(),
    };
    if !shown.is_empty() {
        let newline = if shown.ends_with('\n') { "" } else { "\n" };
        print!("{shown}{newline}");
    }
    Ok(())
}

/// A run that failed before printing its document prints one in its place, so that a
/// program reading `--output json` always gets one: `{schema, error, error_kind}`.
pub(crate) fn emit_failure(output: Output, error: &str, error_kind: ErrorKind) {
    if output != Output::Json || EMITTED.load(std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let document = Failure {
        schema: Plan::SCHEMA_VERSION,
        error: error.to_owned(),
        error_kind,
    };
    let _ = emit(output, &document, String::new);
}

/// What `--output json` prints for a run that stopped before its own document.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Failure {
    /// Always 1.
    pub(crate) schema: u32,
    /// Why the run stopped (also on stderr).
    pub(crate) error: String,
    /// Its kind (see `error_kind`).
    pub(crate) error_kind: ErrorKind,
}

/// `n` things for people: "1 profile", "3 profiles" (`noun` is the singular; every
/// noun rekey counts takes an `s`).
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// `docs/schemas/*.schema.json` are generated from the output types; after changing
    /// them, `REKEY_BLESS=1 ./scripts/test the_committed_output_schemas` writes them again.
    #[test]
    fn the_committed_output_schemas_are_generated_from_the_output_types() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schemas");
        for (command, generated) in super::json_schemas() {
            let path = folder.join(format!("{command}.schema.json"));
            if std::env::var_os("REKEY_BLESS").is_some() {
                std::fs::create_dir_all(&folder).unwrap();
                std::fs::write(&path, &generated).unwrap();
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == generated,
                "{} is stale: run REKEY_BLESS=1 ./scripts/test the_committed_output_schemas",
                path.display()
            );
        }
    }
}
