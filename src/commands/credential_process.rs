//! `rekey credential-process`: print a key held in the keyring or in a Secrets Manager
//! secret as `credential_process` JSON, and nothing else, on stdout.

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use super::{Context, Outcome};
use rekey_sinks::registry::{BuildContext, SinkConfig};
use rekey_sinks::Sink;

use crate::config::manifest;

/// Which keyring entry: a manifest profile's keyring sink, or one named directly.
pub(crate) struct Options {
    /// The profile whose (first) keyring sink to read.
    pub(crate) profile: Option<String>,
    /// The manifest naming the profile.
    pub(crate) manifest: Option<PathBuf>,
    /// The keyring service, with `account`.
    pub(crate) service: Option<String>,
    /// The keyring account.
    pub(crate) account: Option<String>,
    /// A Secrets Manager secret instead.
    pub(crate) secret: Option<Secret>,
}

/// A Secrets Manager secret written by a `secretsmanager` sink.
pub(crate) struct Secret {
    /// Its name or ARN.
    pub(crate) secret_id: String,
    /// Its region (default: the SDK's).
    pub(crate) region: Option<String>,
    /// The AWS profile that reads it.
    pub(crate) via: String,
}

/// Runs `rekey credential-process`.
pub(crate) async fn run(ctx: &Context, args: Options) -> Result<Outcome> {
    if let Some(secret) = args.secret {
        return print_secret(ctx, secret).await;
    }
    let entry = match (&args.account, &args.profile) {
        (Some(account), _) => {
            let service = args
                .service
                .as_deref()
                .unwrap_or(rekey_sinks::keyring::DEFAULT_SERVICE);
            rekey_sinks::keyring::Keyring::new(service, account.as_str())
        }
        (None, Some(profile)) => {
            let selection = super::Selection {
                manifest: args.manifest.clone(),
                profiles: Vec::new(),
            };
            let path = super::manifest_path(&ctx.paths, &selection).with_context(|| {
                format!(
                    "no {} here or in a parent folder; pass --manifest",
                    manifest::FILE_NAME
                )
            })?;
            let loaded = manifest::load(&path)?;
            let spec = loaded.raw.profiles.get(profile).with_context(|| {
                format!(
                    "no profile `{profile}` in {}",
                    rekey_sinks::shown::path(&path)
                )
            })?;
            let config = spec
                .sinks
                .iter()
                .flat_map(manifest::RawSinks::iter)
                .find_map(|sink| match sink {
                    manifest::RawSink::Keyring(config) => Some(config),
                    _ => None,
                })
                .with_context(|| {
                    format!(
                        "profile `{profile}` has no keyring sink in {}",
                        path.display()
                    )
                })?;
            config.entry(profile)
        }
        (None, None) => unreachable!("clap requires --profile or --account"),
    };
    let json = rekey_sinks::blocking::off_runtime(move || -> Result<_> {
        let json = entry.read_json()?;
        json.with_context(|| {
            format!(
                "{} does not exist; run `rekey apply` first",
                entry.describe()
            )
        })
    })
    .await?;
    println!("{}", json.as_str());
    Ok(Outcome::Success)
}

/// Reads the secret as `secret.via` and prints its key.
async fn print_secret(ctx: &Context, secret: Secret) -> Result<Outcome> {
    let aws = ctx.aws().await;
    let expand = |path: &str| PathBuf::from(path);
    let build = BuildContext {
        profile: &secret.via,
        credentials_file: &ctx.paths.credentials_file,
        config_file: &ctx.paths.config_file,
        expand: &expand,
        sdk: aws.sdk_config(),
    };
    let config = rekey_sinks::secretsmanager::Config {
        secret_id: secret.secret_id,
        region: secret.region,
        kms_key_id: None,
        create: false,
        via: Some(secret.via.clone()),
    };
    let sink = config.build(&build);
    let key = sink.read().await?.with_context(|| {
        format!(
            "{} does not exist; run `rekey apply` first",
            sink.describe()
        )
    })?;
    println!("{}", rekey_sinks::credential_process::encode(&key).as_str());
    Ok(Outcome::Success)
}
