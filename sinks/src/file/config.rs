//! The manifest fields of a `file` sink.

use serde::Deserialize;

use super::{Format, KeyPath};

/// `type: file` in the manifest.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The file; `~` and paths relative to the manifest are resolved by the engine.
    pub path: String,
    /// `json`, `yaml` or `toml`; default from the file's extension.
    pub format: Option<Format>,
    /// Key path of the access key id, e.g. `aws.access_key_id`.
    pub access_key_id: KeyPath,
    /// Key path of the secret access key.
    pub secret_access_key: KeyPath,
}
