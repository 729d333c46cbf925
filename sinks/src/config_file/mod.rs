//! The `config_file` sink: one profile's static keys in the AWS config file
//! (`~/.aws/config`), which the CLI and SDKs read keys from as well as the credentials
//! file. The section is `[profile NAME]` (`[default]` for the default profile); reading
//! and editing are the credentials file's, with the config file's naming rules.

use std::sync::Arc;

use serde::Deserialize;

use crate::credentials_file::CredentialsFile;
use crate::sink::{BuildContext, SinkConfig};
use crate::Sink;

/// `type: config_file` in the manifest. Both fields are optional.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The file (default `$AWS_CONFIG_FILE`, else `~/.aws/config`).
    pub path: Option<String>,
    /// The profile whose section to write (default: the manifest profile's name).
    pub profile: Option<String>,
}

impl SinkConfig for Config {
    fn build(&self, ctx: &BuildContext<'_>) -> Arc<dyn Sink> {
        let path = self
            .path
            .as_deref()
            .map_or_else(|| ctx.config_file.to_owned(), |p| (ctx.expand)(p));
        let profile = self
            .profile
            .clone()
            .unwrap_or_else(|| ctx.profile.to_owned());
        Arc::new(CredentialsFile::in_config_file(path, profile))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::AccessKey;

    fn key() -> AccessKey {
        AccessKey::new("AKIANEW0000000000001", "new+Secret/Key".into()).unwrap()
    }

    #[tokio::test]
    async fn a_config_file_profile_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let before = "# mine\n[default]\nregion = eu-west-1\n\n[profile dev]\noutput = json\naws_access_key_id = AKIAOLD0000000000001\naws_secret_access_key = old/Secret\n";
        let expand = |p: &str| PathBuf::from(p);
        let ctx = BuildContext {
            profile: "dev",
            credentials_file: &dir.path().join("credentials"),
            config_file: &path,
            expand: &expand,
            sdk: &crate::aws::SdkConfig::builder().build(),
        };
        let sink = Config::default().build(&ctx);
        assert_eq!(
            sink.describe(),
            format!("config file {} [profile dev]", path.display())
        );
        crate::round_trip::file_round_trip(
            sink.as_ref(),
            &path,
            before,
            "AKIAOLD0000000000001",
            &key(),
        )
        .await;
    }
}
