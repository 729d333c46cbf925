//! The manifest fields of a `credentials_file` sink.

use std::sync::Arc;

use serde::Deserialize;

use super::CredentialsFile;
use crate::sink::{BuildContext, SinkConfig};
use crate::Sink;

/// `type: credentials_file` in the manifest. Both fields are optional; the engine fills
/// in the defaults (`$AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`, and the
/// profile's name) because they depend on the environment and the profile.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The file; `~` and paths relative to the manifest are resolved by the engine.
    pub path: Option<String>,
    /// The section (`[NAME]`) to write.
    pub section: Option<String>,
    /// Create the file if it does not exist (default false, as for `dotenv`). A missing
    /// section of an existing file is always added.
    #[serde(default)]
    pub create: bool,
}

impl SinkConfig for Config {
    fn build(&self, ctx: &BuildContext<'_>) -> Arc<dyn Sink> {
        let path = self
            .path
            .as_deref()
            .map_or_else(|| ctx.credentials_file.to_owned(), |p| (ctx.expand)(p));
        let section = self
            .section
            .clone()
            .unwrap_or_else(|| ctx.profile.to_owned());
        Arc::new(CredentialsFile::new(path, section).creating(self.create))
    }
}
