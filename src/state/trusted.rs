//! The manifests the user trusts (`rekey trust`, or written by `rekey init`): what a
//! manifest names that runs or sends (a plugin, a verify command, a webhook, a shared
//! bucket) is used only once its path and its exact content are recorded here, as
//! direnv records `direnv allow` (issue 29). A changed file is a new file: it needs a
//! new trust.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{corrupt, StateDir, StateError};
use crate::time::serde_rfc3339;

/// A manifest the user trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TrustedManifest {
    /// Its absolute path.
    pub(crate) path: PathBuf,
    /// The SHA-256 of the content the user trusted (lowercase hex).
    pub(crate) sha256: String,
    /// When.
    #[serde(with = "serde_rfc3339")]
    pub(crate) trusted_at: SystemTime,
}

impl StateDir {
    /// One record per path, named by the path's hash (a path may hold any character).
    fn trusted_path(&self, manifest: &Path) -> PathBuf {
        let name = crate::digest::sha256_hex(manifest.as_os_str().as_encoded_bytes());
        self.path(&["trusted", &format!("{}.json", &name[..32])])
    }

    /// Records `record` (replacing an earlier trust of the same path).
    pub(crate) fn trust(&self, record: &TrustedManifest) -> Result<(), StateError> {
        let json = serde_json::to_vec_pretty(record).expect("plain data serializes");
        self.write(&self.trusted_path(&record.path), &json)
    }

    /// The trust recorded for the manifest at `path`, if any.
    pub(crate) fn trusted(&self, path: &Path) -> Result<Option<TrustedManifest>, StateError> {
        let file = self.trusted_path(path);
        let Some(bytes) = self.read(&file)? else {
            return Ok(None);
        };
        let record: TrustedManifest =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(&file, e))?;
        Ok((record.path == path).then_some(record))
    }

    /// Every trusted manifest, by path.
    pub(crate) fn all_trusted(&self) -> Result<Vec<TrustedManifest>, StateError> {
        let mut all = Vec::new();
        for file in self.list(&self.path(&["trusted"]))? {
            if let Some(bytes) = self.read(&file)? {
                all.push(
                    serde_json::from_slice::<TrustedManifest>(&bytes)
                        .map_err(|e| corrupt(&file, e))?,
                );
            }
        }
        all.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(all)
    }

    /// Forgets the trust of the manifest at `path`; whether there was one.
    pub(crate) fn revoke_trust(&self, path: &Path) -> Result<bool, StateError> {
        if self.trusted(path)?.is_none() {
            return Ok(false);
        }
        self.remove(&self.trusted_path(path))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trust_is_recorded_per_path_and_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("state"));
        let record = |path: &str, sha256: &str| TrustedManifest {
            path: PathBuf::from(path),
            sha256: sha256.to_owned(),
            trusted_at: SystemTime::UNIX_EPOCH,
        };
        state.trust(&record("/p/rekey.yaml", "aa")).unwrap();
        state.trust(&record("/q/rekey.yaml", "bb")).unwrap();
        // A new trust of the same path replaces the old one.
        state.trust(&record("/p/rekey.yaml", "cc")).unwrap();
        assert_eq!(
            state.trusted(Path::new("/p/rekey.yaml")).unwrap(),
            Some(record("/p/rekey.yaml", "cc"))
        );
        assert_eq!(state.all_trusted().unwrap().len(), 2);
        assert!(state.revoke_trust(Path::new("/p/rekey.yaml")).unwrap());
        assert!(!state.revoke_trust(Path::new("/p/rekey.yaml")).unwrap());
        assert_eq!(state.trusted(Path::new("/p/rekey.yaml")).unwrap(), None);
    }
}
