//! A leak response in progress (issue 30, point 3): which of its steps are done for one
//! leaked key, so that a response killed midway (a CI job cancelled after the old key's
//! deletion) is finished by `rekey recover` or by the next response, and never reported
//! done over an undone step.
//!
//! Written once the user's lock is held, before the rotation begins; each step that IAM
//! cannot tell afterwards is marked as it ends; removed once every step is done. Whether
//! the key was replaced and deleted is IAM's fact, read when finishing, so it is not
//! marked. The record holds the leaked key's secret, as a journal does (0600), because
//! proving that AWS refuses the key takes the key; it goes with the record. With
//! `state: s3://…` every write is copied to the shared state too ([`Replica`], as
//! `responses/<account>-<user>.json`), so that another machine finishes a response a
//! killed one left.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::{corrupt, off_runtime, Owner, Replica, StateDir, StateError, StoredKey};
use crate::time::serde_rfc3339;

/// One leak response in progress.
#[derive(Serialize, Deserialize)]
pub(crate) struct ResponseRecord {
    /// Whose key leaked.
    #[serde(flatten)]
    pub(crate) owner: Owner,
    /// The leaked key.
    pub(crate) leaked_key: StoredKey,
    /// When the response began (AWS's time): a key made since is most likely the
    /// attacker's.
    #[serde(with = "serde_rfc3339")]
    pub(crate) began: SystemTime,
    /// How long AWS may still accept the deleted key (`--revocation-timeout`).
    pub(crate) revocation_timeout_secs: u64,
    /// Whether unknown keys are deactivated (`--quarantine`).
    pub(crate) quarantine: bool,
    /// Whether the user's sessions are left alone (`--keep-sessions`).
    pub(crate) keep_sessions: bool,
    /// Whether AWS's quarantine of the user is lifted once the key is refused
    /// (`--lift-quarantine`).
    #[serde(default)]
    pub(crate) lift_quarantine: bool,
    /// Whether what the leaked key made is contained (`respond` unless `--no-contain`).
    #[serde(default)]
    pub(crate) contain: bool,
    /// When the leaked key was created: where CloudTrail is read from.
    #[serde(
        default,
        with = "crate::time::serde_rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) leaked_created: Option<SystemTime>,
    /// The service the leaked key was last used with: what a lifted quarantine proves
    /// the new key can do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_service: Option<String>,
    /// The steps done, in order.
    pub(crate) done: Vec<ResponseStep>,
}

/// A step of a leak response after the rotation, once done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ResponseStep {
    /// AWS refuses the deleted key.
    Refused,
    /// The keys it may have made were looked for (and quarantined).
    Searched,
    /// The user's older sessions were revoked.
    SessionsRevoked,
    /// AWS's quarantine of the user was read, and kept (named) or lifted.
    QuarantineChecked,
    /// What the leaked key did was read from CloudTrail (and what it left contained).
    Traced,
}

impl ResponseRecord {
    /// Whether `step` is done (revoking sessions is, when they are kept).
    pub(crate) fn has(&self, step: ResponseStep) -> bool {
        self.done.contains(&step) || (step == ResponseStep::SessionsRevoked && self.keep_sessions)
    }

    /// Whether every step is done.
    pub(crate) fn complete(&self) -> bool {
        [
            ResponseStep::Refused,
            ResponseStep::Searched,
            ResponseStep::Traced,
            ResponseStep::QuarantineChecked,
            ResponseStep::SessionsRevoked,
        ]
        .into_iter()
        .all(|step| self.has(step))
    }

    /// `--revocation-timeout`.
    pub(crate) fn revocation_timeout(&self) -> Duration {
        Duration::from_secs(self.revocation_timeout_secs)
    }
}

impl StateDir {
    fn response_name(account: &str, user_name: &str) -> String {
        format!("responses/{account}-{user_name}.json")
    }

    fn response_path(&self, account: &str, user_name: &str) -> PathBuf {
        self.root.join(Self::response_name(account, user_name))
    }

    /// Records the response `record` begins (replacing an unfinished one of the user:
    /// a new response starts over), here and in `replica`.
    pub(crate) async fn begin_response(
        &self,
        record: &ResponseRecord,
        replica: Option<&dyn Replica>,
    ) -> Result<(), StateError> {
        self.put_response(record, replica).await
    }

    async fn put_response(
        &self,
        record: &ResponseRecord,
        replica: Option<&dyn Replica>,
    ) -> Result<(), StateError> {
        let json = zeroize::Zeroizing::new(
            serde_json::to_vec_pretty(record).expect("plain data serializes"),
        );
        let (account, user) = (&record.owner.account, &record.owner.user_name);
        let path = self.response_path(account, user);
        let (state, local) = (self.clone(), json.clone());
        let written = path.clone();
        off_runtime(move || state.write(&written, &local)).await?;
        if let Some(replica) = replica {
            let name = Self::response_name(account, user);
            replica.put(&name, &json).await.map_err(|e| StateError {
                action: "copy to the shared state",
                path,
                source: std::io::Error::other(e),
            })?;
        }
        Ok(())
    }

    /// Marks `step` of `owner`'s response done (nothing if there is none).
    pub(crate) async fn mark_response(
        &self,
        owner: &Owner,
        step: ResponseStep,
        replica: Option<&dyn Replica>,
    ) -> Result<(), StateError> {
        let Some(mut record) = self.response(&owner.account, &owner.user_name)? else {
            return Ok(());
        };
        if !record.done.contains(&step) {
            record.done.push(step);
        }
        self.put_response(&record, replica).await
    }

    /// Removes `owner`'s response: every step is done (or it never began). The shared
    /// copy goes first: a local record left behind is finished again, harmlessly.
    pub(crate) async fn forget_response(
        &self,
        owner: &Owner,
        replica: Option<&dyn Replica>,
    ) -> Result<(), StateError> {
        let path = self.response_path(&owner.account, &owner.user_name);
        if let Some(replica) = replica {
            let name = Self::response_name(&owner.account, &owner.user_name);
            replica.remove(&name).await.map_err(|e| StateError {
                action: StateError::SHARED_COPY_LEFT,
                path: path.clone(),
                source: std::io::Error::other(e),
            })?;
        }
        let state = self.clone();
        off_runtime(move || state.remove(&path)).await
    }

    /// Imports a response's record another machine copied to the shared state
    /// (authenticated), unless this state dir has one for that user: whether it did.
    pub(crate) async fn import_response(
        &self,
        record: &ResponseRecord,
    ) -> Result<bool, StateError> {
        let (account, user) = (&record.owner.account, &record.owner.user_name);
        if self.response(account, user)?.is_some() {
            return Ok(false);
        }
        self.put_response(record, None).await?;
        Ok(true)
    }

    /// The response in progress for the user, if any.
    pub(crate) fn response(
        &self,
        account: &str,
        user_name: &str,
    ) -> Result<Option<ResponseRecord>, StateError> {
        let path = self.response_path(account, user_name);
        let Some(bytes) = self.read(&path)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| corrupt(&path, e))
    }

    /// Every leak response in progress on this machine.
    pub(crate) fn open_responses(&self) -> Result<Vec<ResponseRecord>, StateError> {
        let mut all = Vec::new();
        for path in self.list(&self.path(&["responses"]))? {
            if let Some(bytes) = self.read(&path)? {
                all.push(serde_json::from_slice(&bytes).map_err(|e| corrupt(&path, e))?);
            }
        }
        Ok(all)
    }
}
