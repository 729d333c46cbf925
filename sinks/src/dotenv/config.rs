//! The manifest fields of a `dotenv` sink.

use serde::Deserialize;

/// `type: dotenv` in the manifest.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The `.env` file; `~` and paths relative to the manifest are resolved by the engine.
    pub path: String,
    /// The variable holding the access key id (default `AWS_ACCESS_KEY_ID`).
    pub access_key_id: Option<String>,
    /// The variable holding the secret (default `AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: Option<String>,
}
