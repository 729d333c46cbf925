//! The manifest fields of a `keyring` sink.

use std::sync::Arc;

use serde::Deserialize;

use super::{Keyring, DEFAULT_SERVICE};
use crate::sink::{BuildContext, SinkConfig};
use crate::Sink;

/// `type: keyring` in the manifest.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The keyring service (default `rekey`).
    pub service: Option<String>,
    /// The account (default: the profile name).
    pub account: Option<String>,
}

impl Config {
    /// The entry this configuration names for `profile`.
    pub fn entry(&self, profile: &str) -> Keyring {
        Keyring::new(
            self.service.as_deref().unwrap_or(DEFAULT_SERVICE),
            self.account.as_deref().unwrap_or(profile),
        )
    }
}

impl SinkConfig for Config {
    fn build(&self, ctx: &BuildContext<'_>) -> Arc<dyn Sink> {
        Arc::new(self.entry(ctx.profile))
    }
}
