//! What `plan` shows and `apply` carries out: per profile, a decision and its steps.
//!
//! These types hold no secrets and serialize to the documented JSON (`--output json`,
//! schema [`Plan::SCHEMA_VERSION`]).

use std::time::SystemTime;

use serde::Serialize;

use crate::aws::Identity;
use crate::config::discovery::Skipped;
use crate::engine::error::ErrorKind;
use crate::time::serde_rfc3339;

/// The whole plan.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Plan {
    /// JSON schema version of this output.
    pub(crate) schema: u32,
    /// Where the profiles came from: a manifest path, or `default` mode.
    pub(crate) source: String,
    /// What the manifest, trusted, names that runs a program or sends something (each
    /// program with its arguments, each bucket, webhook host, KMS key, secret store and
    /// signing profile), as `rekey trust` listed it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) reaches: Vec<String>,
    /// One entry per selected profile.
    pub(crate) profiles: Vec<ProfilePlan>,
    /// Profiles default mode does not rotate, with the reason.
    pub(crate) skipped: Vec<Skipped>,
    /// Old keys whose grace period has ended; apply deletes them first.
    pub(crate) prune: Vec<PruneItem>,
    /// A leak response (`--compromised`): every key replaced now, old keys deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) compromised: bool,
    /// With `compromised`: the users' older sessions are left alone (`--keep-sessions`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) sessions_kept: bool,
}

impl Plan {
    /// The version of the JSON shape; bumped on incompatible changes.
    pub(crate) const SCHEMA_VERSION: u32 = 1;

    /// Whether applying would change anything.
    pub(crate) fn has_changes(&self) -> bool {
        !self.prune.is_empty() || self.profiles.iter().any(|p| p.decision == Decision::Rotate)
    }
}

/// One profile's plan.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct ProfilePlan {
    /// The profile name.
    pub(crate) profile: String,
    /// Profiles holding the same key, rotated with this one (omitted when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) also: Vec<String>,
    /// The profile that signs the IAM calls (admin rotation; omitted when the key signs
    /// for itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) via: Option<String>,
    /// Who the current key belongs to (absent if it could not be determined).
    pub(crate) identity: Option<Identity>,
    /// The key the first sink holds.
    pub(crate) current_key: Option<CurrentKey>,
    /// The user's other key, if any.
    pub(crate) other_key: Option<OtherKey>,
    /// A leak response: the user is under AWS's quarantine (omitted when not, or when
    /// no leak response is planned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) quarantine: Option<crate::engine::leak::quarantine::Quarantine>,
    /// Each sink and what it holds now.
    pub(crate) sinks: Vec<SinkReport>,
    /// What apply will do with this profile.
    pub(crate) decision: Decision,
    /// The steps apply takes, in order (empty unless rotating).
    pub(crate) steps: Vec<Step>,
    /// What the user should know that does not stop the profile (omitted when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) warnings: Vec<String>,
}

/// One sink of a profile, as plan found it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct SinkReport {
    /// The sink, described.
    pub(crate) sink: String,
    /// What it holds, compared with the profile's current key (absent when the current
    /// key could not be read).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(crate) state: Option<SinkState>,
    /// The file has no write permission: apply replaces it anyway (its folder allows
    /// that), keeping its mode. rekey was told to write it; the mode guards against
    /// edits by hand, as `vim`'s `:w!` treats it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) read_only: bool,
}

/// What a sink holds compared with the profile's current key (the first sink's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(crate) enum SinkState {
    /// It holds the current key.
    InSync,
    /// It holds another key; apply overwrites it with the new key.
    Drift {
        /// The key it holds.
        key_id: String,
    },
    /// It holds no key; apply writes one.
    Missing,
    /// It does not exist; apply creates it (the sink says `create: true`).
    Absent,
    /// It cannot be written; the profile stops before any key is created.
    Unwritable {
        /// Why.
        reason: String,
    },
}

/// The key a profile uses now.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct CurrentKey {
    /// Its id.
    pub(crate) id: String,
    /// When it was created.
    #[serde(with = "serde_rfc3339")]
    #[schemars(with = "crate::time::Rfc3339")]
    pub(crate) created: SystemTime,
    /// Age in whole days.
    pub(crate) age_days: u64,
    /// Last use, if IAM recorded one.
    pub(crate) last_used: Option<LastUse>,
    /// Whether IAM was asked for the last use (not when nobody reads the plan; JSON
    /// output always asks).
    #[serde(skip)]
    pub(crate) last_use_read: bool,
}

/// When and where a key was last used.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct LastUse {
    /// When.
    #[serde(with = "serde_rfc3339")]
    #[schemars(with = "crate::time::Rfc3339")]
    pub(crate) date: SystemTime,
    /// Which service, if known.
    pub(crate) service: Option<String>,
    /// Which region, if known.
    pub(crate) region: Option<String>,
}

/// The user's second key, which decides whether there is room for a new one.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct OtherKey {
    /// Its id.
    pub(crate) id: String,
    /// `Active` or `Inactive`.
    pub(crate) active: bool,
    /// Whether rekey deactivated it in an earlier rotation.
    pub(crate) deactivated_by_rekey: bool,
    /// When it was created.
    #[serde(with = "serde_rfc3339")]
    #[schemars(with = "crate::time::Rfc3339")]
    pub(crate) created: SystemTime,
    /// Last use, if IAM recorded one.
    pub(crate) last_used: Option<LastUse>,
}

/// The decision for a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Decision {
    /// Rotate the key.
    Rotate,
    /// Nothing to do (the key is younger than `max_age`, or the profile is not a user's).
    Skip {
        /// Why.
        reason: String,
    },
    /// The profile cannot be rotated; apply fails for it and changes nothing.
    Error {
        /// What is wrong and what to do.
        message: String,
        /// What kind of failure, for programs.
        error_kind: ErrorKind,
    },
}

/// One action apply takes for a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub(crate) enum Step {
    /// Delete an inactive key of the user to make room (IAM allows two keys).
    DeleteInactiveKey {
        /// The key.
        key_id: String,
        /// Why it may be deleted.
        reason: String,
    },
    /// Leak response during an overlap: deactivate and delete the last rotation's old
    /// key, still active by design (it may be leaked too), to make room.
    EndOverlap {
        /// The key.
        key_id: String,
    },
    /// Leak response (`--quarantine --make-room`): an active key of the user that no
    /// place holds (perhaps made with the leaked key) is deactivated, its facts
    /// reported, and deleted to make room.
    QuarantineKey {
        /// The key.
        key_id: String,
    },
    /// `CreateAccessKey`, signed with the current key.
    CreateKey,
    /// Prove the new key works with `GetCallerIdentity`.
    AwaitPropagation {
        /// Successes in a row required.
        consecutive: u32,
        /// Give up after this many seconds.
        timeout_secs: u64,
    },
    /// Write the new key into a sink.
    WriteSink {
        /// The sink, described.
        sink: String,
    },
    /// Run the verification command with the new key.
    Verify {
        /// The command line.
        command: String,
        /// Roll back after this many seconds.
        timeout_secs: u64,
    },
    /// Deactivate the old key, signed with the new key.
    DeactivateOldKey {
        /// The old key.
        key_id: String,
        /// The profile that signs it (admin rotation); absent: the new key signs.
        #[serde(skip_serializing_if = "Option::is_none")]
        via: Option<String>,
    },
    /// Leave the old key active for an overlap period (every machine picks up the new
    /// key meanwhile); prune deactivates it then, and deletes it a grace period later.
    KeepOldKeyActive {
        /// The old key.
        key_id: String,
        /// The overlap period in seconds.
        overlap_secs: u64,
        /// The grace period after the deactivation, in seconds.
        grace_secs: u64,
    },
    /// Delete the old key at once (grace 0).
    DeleteOldKey {
        /// The old key.
        key_id: String,
    },
    /// Record the old key for deletion when its grace period ends.
    ScheduleDeletion {
        /// The old key.
        key_id: String,
        /// The grace period in seconds.
        grace_secs: u64,
    },
}

/// A pending step on an old key that is due.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct PruneItem {
    /// What is due.
    pub(crate) step: PruneStep,
    /// The profile whose key deletes it.
    pub(crate) profile: String,
    /// The owning user.
    pub(crate) user_arn: String,
    /// The key to delete.
    pub(crate) key_id: String,
    /// When its grace period (or overlap) ended.
    #[serde(with = "serde_rfc3339")]
    #[schemars(with = "crate::time::Rfc3339")]
    pub(crate) due: SystemTime,
}

/// What prune does to an old key whose time has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PruneStep {
    /// Its overlap period is over: deactivate it (it is deleted a grace period later).
    Deactivate,
    /// Its grace period is over: delete it.
    Delete,
}
