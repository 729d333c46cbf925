//! A leak response in progress (issue 30, point 3): which of its steps are done for one
//! leaked key, so that a response killed midway (a CI job cancelled after the old key's
//! deletion) is finished by `rekey recover` or by the next response, and never reported
//! done over an undone step.
//!
//! Written once the user's lock is held, before the rotation begins; each step that IAM
//! cannot tell afterwards is marked as it ends; removed once every step is done. Whether
//! the key was replaced and deleted is IAM's fact, read when finishing, so it is not
//! marked. The record holds the leaked key's secret, as a journal does (0600), because
//! proving that AWS refuses the key takes the key; it goes with the record.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::{corrupt, off_runtime, Owner, StateDir, StateError, StoredKey};
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
    fn response_path(&self, account: &str, user_name: &str) -> PathBuf {
        self.path(&["responses", &format!("{account}-{user_name}.json")])
    }

    /// Records the response `record` begins (replacing an unfinished one of the user:
    /// a new response starts over).
    pub(crate) async fn begin_response(&self, record: &ResponseRecord) -> Result<(), StateError> {
        self.put_response(record).await
    }

    async fn put_response(&self, record: &ResponseRecord) -> Result<(), StateError> {
        let json = zeroize::Zeroizing::new(
            serde_json::to_vec_pretty(record).expect("plain data serializes"),
        );
        let path = self.response_path(&record.owner.account, &record.owner.user_name);
        let state = self.clone();
        off_runtime(move || state.write(&path, &json)).await
    }

    /// Marks `step` of `owner`'s response done (nothing if there is none).
    pub(crate) async fn mark_response(
        &self,
        owner: &Owner,
        step: ResponseStep,
    ) -> Result<(), StateError> {
        let Some(mut record) = self.response(&owner.account, &owner.user_name)? else {
            return Ok(());
        };
        if !record.done.contains(&step) {
            record.done.push(step);
        }
        self.put_response(&record).await
    }

    /// Removes `owner`'s response: every step is done (or it never began).
    pub(crate) async fn forget_response(&self, owner: &Owner) -> Result<(), StateError> {
        let (state, path) = (
            self.clone(),
            self.response_path(&owner.account, &owner.user_name),
        );
        off_runtime(move || state.remove(&path)).await
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
