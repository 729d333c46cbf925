//! Old keys rekey deleted, kept after the deletion (id, whose, when; never a secret): a
//! copy of a deleted key left in some file is what breaks next, and `rekey find` and
//! `rekey status` name it with the date it stopped working.

use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{corrupt, off_runtime, Owner, StateDir, StateError};
use crate::time::serde_rfc3339;

/// A key rekey deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeletedKey {
    /// Whose key it was.
    #[serde(flatten)]
    pub(crate) owner: Owner,
    /// The key.
    pub(crate) key_id: String,
    /// When rekey deleted it (or found it gone).
    #[serde(with = "serde_rfc3339")]
    pub(crate) deleted_at: SystemTime,
}

impl StateDir {
    fn deleted_path(&self, key_id: &str) -> PathBuf {
        self.path(&["deleted", &format!("{key_id}.json")])
    }

    /// Records that `key` was deleted.
    pub(crate) async fn remember_deleted(&self, key: &DeletedKey) -> Result<(), StateError> {
        let json = serde_json::to_vec_pretty(key).expect("plain data serializes");
        let (state, path) = (self.clone(), self.deleted_path(&key.key_id));
        off_runtime(move || state.write(&path, &json)).await
    }

    /// Every key rekey deleted on this machine.
    pub(crate) fn all_deleted(&self) -> Result<Vec<DeletedKey>, StateError> {
        let mut all = Vec::new();
        for path in self.list(&self.path(&["deleted"]))? {
            if let Some(bytes) = self.read(&path)? {
                all.push(serde_json::from_slice(&bytes).map_err(|e| corrupt(&path, e))?);
            }
        }
        Ok(all)
    }
}
