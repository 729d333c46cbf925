//! Whose each key is, as STS answered `rekey find` (`$STATE/key-owners.json`: key id
//! to user ARN; never a secret). An access key belongs to one IAM user for its whole
//! life and AWS never issues its id again, so the answer cannot go stale: a later
//! `find` asks STS only about keys it has not met. It is only ever shown (and tells
//! whether an unknown id's account is one of the user's); nothing deactivates or
//! deletes a key on its word. It grows by one line per key met, and is written only
//! when a find learned something.

use std::collections::BTreeMap;

use super::{corrupt, off_runtime, StateDir, StateError};

/// Key id to the ARN of the IAM user it belongs to.
pub(crate) type KeyOwners = BTreeMap<String, String>;

impl StateDir {
    fn key_owners_path(&self) -> std::path::PathBuf {
        self.path(&["key-owners.json"])
    }

    /// What STS answered earlier on whose each key is (empty if nothing was recorded).
    pub(crate) fn key_owners(&self) -> Result<KeyOwners, StateError> {
        let path = self.key_owners_path();
        match self.read(&path)? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| corrupt(&path, e)),
            None => Ok(KeyOwners::new()),
        }
    }

    /// Records `owners`, replacing what was recorded.
    pub(crate) async fn remember_key_owners(&self, owners: &KeyOwners) -> Result<(), StateError> {
        let json = serde_json::to_vec_pretty(owners).expect("plain data serializes");
        let (state, path) = (self.clone(), self.key_owners_path());
        off_runtime(move || state.write(&path, &json)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn owners_are_read_back_as_recorded_and_none_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("state"));
        assert!(state.key_owners().unwrap().is_empty());
        let owners = KeyOwners::from([(
            "AKIAIOSFODNN7EXAMPLE".to_owned(),
            "arn:aws:iam::123456789012:user/alice".to_owned(),
        )]);
        state.remember_key_owners(&owners).await.unwrap();
        assert_eq!(state.key_owners().unwrap(), owners);
    }
}
