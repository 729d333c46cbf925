//! The manifest fields of a `keyring` sink.

use serde::Deserialize;

/// `type: keyring` in the manifest.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The keyring service (default `rekey`).
    pub service: Option<String>,
    /// The account (default: the profile name).
    pub account: Option<String>,
}
