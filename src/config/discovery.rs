//! Default mode: without a manifest, every profile with a static key is rotated in place
//! (in the credentials file, or in the config file's `[profile NAME]` section, with the
//! SDK's precedence: the credentials file wins), and every other profile is listed with
//! why it is skipped.

use std::path::Path;

use std::sync::Arc;

use rekey_sinks::credentials_file::profile_file::{self, FileKind, Properties, SectionName};
use rekey_sinks::credentials_file::CredentialsFile;
use rekey_sinks::credentials_file::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN};
use rekey_sinks::Sink;

use crate::config::manifest::default_sink;
use crate::config::paths::Paths;
use crate::config::profile::{Policy, ProfileSpec, Sinks};

/// A profile rekey will not rotate, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Skipped {
    /// The profile name.
    pub(crate) profile: String,
    /// Why it is not rotated.
    pub(crate) reason: String,
}

/// The profiles default mode rotates and the ones it skips.
pub(crate) struct Discovered {
    /// Profiles with long-lived keys in the credentials file.
    pub(crate) profiles: Vec<ProfileSpec>,
    /// Every other profile, with a reason.
    pub(crate) skipped: Vec<Skipped>,
}

/// A shared file could not be read or parsed.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", rekey_sinks::shown::path(path))]
pub(crate) struct DiscoveryError {
    /// The file.
    pub(crate) path: std::path::PathBuf,
    /// What went wrong (never a value from the file).
    pub(crate) message: String,
}

/// The MFA device the config file names for each profile (`mfa_serial` in its
/// `[profile NAME]` section, as the AWS CLI reads it). Not for a profile that assumes a
/// role: there the device belongs to the `AssumeRole` call, which the AWS SDK makes
/// while loading the profile, not to a session rekey opens.
pub(crate) fn configured_mfa_serials(
    paths: &Paths,
) -> Result<std::collections::HashMap<String, String>, DiscoveryError> {
    let text = read_optional(&paths.config_file)?;
    let config = parse(&paths.config_file, &text)?;
    let profiles = profile_file::merged_profiles(&[(FileKind::Config, &config)]);
    Ok(profiles
        .profiles
        .iter()
        .filter(|(_, p)| !p.contains_key("role_arn"))
        .filter_map(|(name, p)| Some((name.to_string(), p.get("mfa_serial")?.to_string())))
        .collect())
}

/// Lists the profiles of the shared credentials and config files.
pub(crate) fn discover(paths: &Paths, policy: Policy) -> Result<Discovered, DiscoveryError> {
    let credentials_missing = paths.credentials_file.symlink_metadata().is_err();
    let credentials_text = read_optional(&paths.credentials_file)?;
    let config_text = read_optional(&paths.config_file)?;
    let credentials = parse(&paths.credentials_file, &credentials_text)?;
    let config = parse(&paths.config_file, &config_text)?;
    let in_credentials = profile_file::merged_profiles(&[(FileKind::Credentials, &credentials)]);
    let merged = profile_file::merged_profiles(&[
        (FileKind::Config, &config),
        (FileKind::Credentials, &credentials),
    ]);

    // File order: credentials-file profiles first, then those only in the config file.
    let mut names: Vec<&str> = Vec::new();
    let sections = credentials
        .sections
        .iter()
        .map(|s| (s, FileKind::Credentials))
        .chain(config.sections.iter().map(|s| (s, FileKind::Config)));
    for (section, kind) in sections {
        if let SectionName::Profile(name) = profile_file::section_name(section.raw_name, kind) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }

    let mut found = Discovered {
        profiles: Vec::new(),
        skipped: Vec::new(),
    };
    let in_config = profile_file::merged_profiles(&[(FileKind::Config, &config)]);
    let both_keys = |p: Option<&Properties>| {
        p.is_some_and(|p| p.contains_key(ACCESS_KEY_ID) && p.contains_key(SECRET_ACCESS_KEY))
    };
    let any_key = |p: Option<&Properties>| {
        p.is_some_and(|p| p.contains_key(ACCESS_KEY_ID) || p.contains_key(SECRET_ACCESS_KEY))
    };
    for name in names {
        let all = &merged.profiles[name];
        let (own, configured) = (
            in_credentials.profiles.get(name),
            in_config.profiles.get(name),
        );
        // The SDK's precedence: a key in the credentials file wins over the config file's.
        let source = if both_keys(own) {
            Some(default_sink(paths, name))
        } else if both_keys(configured) && !any_key(own) {
            let sink = CredentialsFile::in_config_file(paths.config_file.clone(), name);
            Some(Arc::new(sink) as Arc<dyn Sink>)
        } else {
            None
        };
        let reason = if all.contains_key(SESSION_TOKEN) {
            Some("temporary credentials (aws_session_token)".to_owned())
        } else if source.is_some() {
            None
        } else if any_key(own) && any_key(configured) {
            Some(
                "its key is split between the credentials file and the config file; keep both values in one file"
                    .to_owned(),
            )
        } else if all.contains_key("sso_session") || all.contains_key("sso_start_url") {
            Some("SSO profile".to_owned())
        } else if all.contains_key("role_arn") {
            Some("assumes a role (role_arn)".to_owned())
        } else if all.contains_key("credential_process") {
            Some("credentials come from credential_process".to_owned())
        } else if all.contains_key(ACCESS_KEY_ID) {
            Some("it has an access key id but no secret access key".to_owned())
        } else {
            Some("no access keys".to_owned())
        };
        match (reason, source) {
            (None, Some(sink)) => {
                // The AWS CLI's own MFA setting for the profile applies to rekey too.
                let mut policy = policy.clone();
                policy.mfa_serial = all.get("mfa_serial").map(|serial| serial.to_string());
                found
                    .profiles
                    .push(ProfileSpec::new(name, Sinks::one(sink), policy))
            }
            (reason, _) => found.skipped.push(Skipped {
                profile: name.to_owned(),
                reason: reason.unwrap_or_else(|| "no access keys".to_owned()),
            }),
        }
    }
    // A missing credentials file with nothing to rotate in the config file either is
    // most likely a typo in AWS_SHARED_CREDENTIALS_FILE: an error, never "nothing to do".
    if credentials_missing && found.profiles.is_empty() {
        return Err(DiscoveryError {
            path: paths.credentials_file.clone(),
            message: "no such file: without a manifest rekey rotates the profiles of the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials) and the static keys of the config file, and found none. Check the path, or name a manifest with --manifest".to_owned(),
        });
    }
    Ok(found)
}

fn parse<'a>(path: &Path, text: &'a str) -> Result<profile_file::ProfileFile<'a>, DiscoveryError> {
    profile_file::parse(text).map_err(|e| DiscoveryError {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

fn read_optional(path: &Path) -> Result<zeroize::Zeroizing<String>, DiscoveryError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new().into()),
        Err(e) => Err(DiscoveryError {
            path: path.to_owned(),
            message: format!("cannot read: {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_static_keys_and_explains_every_skip() {
        let dir = tempfile::tempdir().unwrap();
        let credentials = dir.path().join("credentials");
        let config = dir.path().join("config");
        std::fs::write(
            &credentials,
            "[a]\naws_access_key_id = AKIAA\naws_secret_access_key = s\n\
             [session]\naws_access_key_id = ASIA\naws_secret_access_key = s\naws_session_token = t\n\
             [b]\naws_access_key_id = AKIAB\naws_secret_access_key = s\n\
             [empty]\nregion = x\n[split]\naws_secret_access_key = s\n",
        )
        .unwrap();
        std::fs::write(
            &config,
            "[profile sso]\nsso_session = corp\n[profile role]\nrole_arn = arn:aws:iam::1:role/r\n\
             [profile proc]\ncredential_process = x\n[profile cfgkeys]\naws_access_key_id = A\naws_secret_access_key = s\n\
             [profile b]\naws_access_key_id = AKIACFG\naws_secret_access_key = s\n\
             [profile split]\naws_access_key_id = AKIAS\n",
        )
        .unwrap();
        let paths = Paths {
            home: dir.path().into(),
            credentials_file: credentials,
            config_file: config,
            state_dir: dir.path().join("state"),
            manifest: None,
        };
        let found = discover(&paths, Policy::default()).unwrap();
        let names: Vec<_> = found.profiles.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "cfgkeys"]);
        // b has keys in both files: the credentials file's win, as in the SDK.
        let sink = |name: &str| {
            found
                .profiles
                .iter()
                .find(|p| p.name == name)
                .unwrap()
                .sinks
                .first()
                .describe()
        };
        assert!(sink("b").starts_with("credentials file"), "{}", sink("b"));
        assert!(
            sink("cfgkeys").starts_with("config file")
                && sink("cfgkeys").ends_with("[profile cfgkeys]"),
            "{}",
            sink("cfgkeys")
        );
        let skipped: Vec<_> = found
            .skipped
            .iter()
            .map(|s| (s.profile.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            skipped,
            [
                ("session", "temporary credentials (aws_session_token)"),
                ("empty", "no access keys"),
                (
                    "split",
                    "its key is split between the credentials file and the config file; keep both values in one file"
                ),
                ("sso", "SSO profile"),
                ("role", "assumes a role (role_arn)"),
                ("proc", "credentials come from credential_process"),
            ]
        );
    }
}
