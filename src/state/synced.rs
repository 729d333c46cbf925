//! What the last `rekey sync` of a profile replaced, so that `rekey sync --undo` can put
//! it back (issue 17, defect 10): a machine that synced to a key that is later deleted
//! (a rollback elsewhere) holds only a dead key, with which it can read nothing, not even
//! the hub that holds the working one again.
//!
//! `$STATE/synced/<profile>/<n>` is sink n's content before the sync wrote it (as the
//! journal's backups are kept), `<n>.key` the id of the key it wrote there. Only the last
//! sync is kept.

use std::path::PathBuf;

use rekey_sinks::Snapshot;

use super::journal::{owned_bytes, remove_dir, save_backup_in};
use super::{off_runtime, StateDir, StateError};

/// One place the last sync wrote.
pub(crate) struct Synced {
    /// The sink's index in the profile.
    pub(crate) index: usize,
    /// What it held before.
    pub(crate) before: Snapshot,
    /// The key sync wrote there.
    pub(crate) written_key_id: String,
}

impl StateDir {
    fn synced_dir(&self, profile: &str) -> PathBuf {
        self.path(&["synced", profile])
    }

    /// Forgets what an earlier sync of `profile` replaced (a new sync begins).
    pub(crate) async fn forget_synced(&self, profile: &str) -> Result<(), StateError> {
        let dir = self.synced_dir(profile);
        off_runtime(move || remove_dir(&dir)).await
    }

    /// Keeps sink `index`'s content from before a sync wrote `written_key_id` there.
    pub(crate) async fn keep_synced(
        &self,
        profile: &str,
        index: usize,
        before: &Snapshot,
        written_key_id: &str,
    ) -> Result<(), StateError> {
        let (state, dir) = (self.clone(), self.synced_dir(profile));
        let bytes = owned_bytes(before);
        let key_id = written_key_id.to_owned();
        off_runtime(move || {
            save_backup_in(&state, &dir, index, bytes.as_ref().map(|b| b.as_slice()))?;
            state.write(&dir.join(format!("{index}.key")), key_id.as_bytes())
        })
        .await
    }

    /// What the last sync of `profile` replaced, by sink index.
    pub(crate) fn synced(&self, profile: &str) -> Result<Vec<Synced>, StateError> {
        let dir = self.synced_dir(profile);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StateError {
                    action: "list",
                    path: dir,
                    source,
                })
            }
        };
        let mut indexes: Vec<usize> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".key")?.parse().ok()
            })
            .collect();
        indexes.sort_unstable();
        let mut found = Vec::new();
        for index in indexes {
            let Some(key_id) = self.read(&dir.join(format!("{index}.key")))? else {
                continue;
            };
            found.push(Synced {
                index,
                before: self.read_backup(&dir, index)?,
                written_key_id: String::from_utf8_lossy(&key_id).into_owned(),
            });
        }
        Ok(found)
    }
}
