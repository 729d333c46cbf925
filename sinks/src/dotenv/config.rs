//! The manifest fields of a `dotenv` sink.

use std::sync::Arc;

use serde::Deserialize;

use super::{DotEnv, Variables};
use crate::sink::{BuildContext, Reach, SinkConfig};
use crate::Sink;

/// `type: dotenv` in the manifest.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The `.env` file; `~` and paths relative to the manifest are resolved by the engine.
    pub path: String,
    /// The variable holding the access key id (default `AWS_ACCESS_KEY_ID`).
    pub access_key_id: Option<String>,
    /// The variable holding the secret (default `AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: Option<String>,
    /// Create the file if it does not exist (default false: a missing file is an error,
    /// so a mistyped path never gets the new secret while the real file keeps the old).
    #[serde(default)]
    pub create: bool,
}

impl SinkConfig for Config {
    fn build(&self, ctx: &BuildContext<'_>) -> Arc<dyn Sink> {
        let defaults = Variables::default();
        let variables = Variables {
            access_key_id: self.access_key_id.clone().unwrap_or(defaults.access_key_id),
            secret_access_key: self
                .secret_access_key
                .clone()
                .unwrap_or(defaults.secret_access_key),
        };
        Arc::new(DotEnv::new((ctx.expand)(&self.path), variables).creating(self.create))
    }

    fn reach(&self, ctx: &BuildContext<'_>) -> Option<Reach> {
        self.create
            .then(|| Reach::Creates((ctx.expand)(&self.path)))
    }
}
