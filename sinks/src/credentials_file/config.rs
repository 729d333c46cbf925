//! The manifest fields of a `credentials_file` sink.

use serde::Deserialize;

/// `type: credentials_file` in the manifest. Both fields are optional; the engine fills
/// in the defaults (`$AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`, and the
/// profile's name) because they depend on the environment and the profile.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The file; `~` and paths relative to the manifest are resolved by the engine.
    pub path: Option<String>,
    /// The section (`[NAME]`) to write.
    pub section: Option<String>,
}
