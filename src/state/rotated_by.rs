//! Which manifest last rotated each key (issue 18): run from another folder, rekey
//! would otherwise fall back to default mode (or find another manifest), rotate the key,
//! and leave every place only the first manifest names on the deactivated key.
//!
//! `$STATE/rotated/<key-id>.json` names the manifest (or none: default mode) and the
//! places (sink ids) the rotation that made the key wrote it to, from the rotation's
//! end until the key is deleted (by prune, grace 0, make-room or a rollback).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{corrupt, off_runtime, StateDir, StateError};

/// The run that made a key, as the key's next rotation must compare itself with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RotatedBy {
    /// The manifest (absolute), or `None` for default mode.
    pub(crate) manifest: Option<PathBuf>,
    /// Every place that rotation wrote the key to, by sink id.
    pub(crate) places: Vec<String>,
}

impl StateDir {
    fn rotated_by_path(&self, key_id: &str) -> PathBuf {
        self.path(&["rotated", &format!("{key_id}.json")])
    }

    /// Records that `key_id` was made and written by `by`.
    pub(crate) async fn remember_rotated_by(
        &self,
        key_id: &str,
        by: &RotatedBy,
    ) -> Result<(), StateError> {
        let json = serde_json::to_vec_pretty(by).expect("plain data serializes");
        let (state, path) = (self.clone(), self.rotated_by_path(key_id));
        off_runtime(move || state.write(&path, &json)).await
    }

    /// Forgets how `key_id` was made (it was deleted).
    pub(crate) async fn forget_rotated_by(&self, key_id: &str) -> Result<(), StateError> {
        let (state, path) = (self.clone(), self.rotated_by_path(key_id));
        off_runtime(move || state.remove(&path)).await
    }

    /// How `key_id` was made, if rekey made it on this machine.
    pub(crate) fn rotated_by(&self, key_id: &str) -> Result<Option<RotatedBy>, StateError> {
        let path = self.rotated_by_path(key_id);
        self.read(&path)?
            .map(|bytes| serde_json::from_slice(&bytes).map_err(|e| corrupt(&path, e)))
            .transpose()
    }
}
