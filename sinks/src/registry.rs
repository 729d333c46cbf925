//! Every sink type the manifest knows, in one list: `type:` selects the variant, and
//! each variant's configuration (in its sink's folder) builds its sink. Adding a sink is
//! a new folder with a `Config` that implements [`SinkConfig`], plus one variant here
//! and one arm in [`Config::as_sink_config`] (a closed enum and a `match`: enough for a
//! handful of sinks, and the compiler finds a missing arm). The traits a sink
//! implements live in `sink.rs`: the sinks import those, never this list (no cycle).

use std::sync::Arc;

use serde::Deserialize;

pub use crate::sink::{BuildContext, SinkConfig};
use crate::{
    config_file, credentials_file, dotenv, exec, file, keyring, secretsmanager, ssm, Sink,
};

/// One sink entry of the manifest, selected by its `type:` field.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[schemars(rename = "Sink")]
pub enum Config {
    /// `type: credentials_file`.
    CredentialsFile(credentials_file::Config),
    /// `type: config_file` (static keys in `~/.aws/config`).
    ConfigFile(config_file::Config),
    /// `type: dotenv`.
    Dotenv(dotenv::Config),
    /// `type: file` (JSON, YAML or TOML).
    File(file::Config),
    /// `type: keyring` (the OS credential store).
    Keyring(keyring::Config),
    /// `type: exec` (a plugin program).
    Exec(exec::Config),
    /// `type: secretsmanager` (an AWS Secrets Manager secret).
    Secretsmanager(secretsmanager::Config),
    /// `type: ssm` (an SSM Parameter Store SecureString).
    Ssm(ssm::Config),
}

impl Config {
    /// The configuration, whatever its type.
    pub fn as_sink_config(&self) -> &dyn SinkConfig {
        match self {
            Config::CredentialsFile(config) => config,
            Config::ConfigFile(config) => config,
            Config::Dotenv(config) => config,
            Config::File(config) => config,
            Config::Keyring(config) => config,
            Config::Exec(config) => config,
            Config::Secretsmanager(config) => config,
            Config::Ssm(config) => config,
        }
    }

    /// The sink this entry describes.
    pub fn build(&self, ctx: &BuildContext<'_>) -> Arc<dyn Sink> {
        self.as_sink_config().build(ctx)
    }

    /// What the sink runs or where it sends the key ([`SinkConfig::reach`]).
    pub fn reach(&self, ctx: &BuildContext<'_>) -> Option<crate::Reach> {
        self.as_sink_config().reach(ctx)
    }
}
