//! The manifest fields of an `exec` sink.

use serde::Deserialize;

/// `type: exec` in the manifest.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The plugin and its arguments. A program with a `/` in its name is resolved
    /// relative to the manifest's folder; otherwise it is looked up on `PATH`.
    pub command: Vec<String>,
    /// How long one request may take (default 30s), e.g. `10s`, `2m`.
    pub timeout: Option<String>,
}
