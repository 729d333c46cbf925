//! The manifest as written: serde types that mirror the YAML one to one.
//!
//! Every struct denies unknown fields, so a typo (`grcae:`) is an error with its line
//! and column rather than a silently ignored setting.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::duration::HumanDuration;
use crate::config::argv::Argv;

/// The manifest's `state:`, parsed while deserializing (a bad value is an error with its
/// line and column).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(try_from = "String")]
#[schemars(
    rename = "State",
    with = "String",
    description = "Where the state every machine must share lives: local (default), iam, or s3://BUCKET/PREFIX.",
    extend("pattern" = "^(local|iam|s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?)$")
)]
pub(crate) enum RawState {
    /// `local`.
    #[default]
    Local,
    /// `iam`.
    Iam,
    /// `s3://BUCKET/PREFIX`: the bucket and the prefix.
    S3(String, String),
}

impl TryFrom<String> for RawState {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        match value.as_str() {
            "local" => return Ok(RawState::Local),
            "iam" => return Ok(RawState::Iam),
            _ => {}
        }
        let location = value.strip_prefix("s3://").ok_or_else(|| {
            format!("`{value}` is not a state: use local, iam or s3://BUCKET/PREFIX")
        })?;
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        // S3's bucket naming rules, as far as a typo goes.
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !valid {
            return Err(format!("`{bucket}` is not an S3 bucket name"));
        }
        Ok(RawState::S3(
            bucket.to_owned(),
            prefix.trim_matches('/').to_owned(),
        ))
    }
}

/// The whole `rekey.yaml`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawManifest {
    /// Schema version; only `1` exists.
    #[schemars(with = "Version")]
    pub(crate) version: Spanned<u32>,
    /// Where the state every machine must share lives: `local` (default), `iam`
    /// (pending deletions as user tags too) or `s3://BUCKET/PREFIX` (and a lease per user).
    #[serde(default)]
    pub(crate) state: RawState,
    /// With `state: s3://…`: how long a lease lasts unless renewed (default 1m).
    #[schemars(with = "Option<HumanDuration>")]
    pub(crate) state_lease: Option<Spanned<HumanDuration>>,
    /// With `state: s3://…`: the KMS key that encrypts the journal copies (default: the
    /// account's `aws/s3` key).
    #[schemars(with = "Option<String>")]
    pub(crate) state_kms_key_id: Option<Spanned<String>>,
    /// With `state: s3://…`: the account that owns the bucket (default: the account of
    /// the users rotated). Every S3 call names it, so a mistyped or re-registered
    /// bucket of another account answers AccessDenied and receives nothing.
    #[schemars(with = "Option<AccountId>")]
    pub(crate) state_bucket_owner: Option<Spanned<AccountId>>,
    /// Settings every profile inherits.
    #[serde(default)]
    pub(crate) defaults: RawPolicy,
    /// Profiles to rotate, in the order written.
    pub(crate) profiles: IndexMap<String, RawProfile>,
    /// Where copies of the profiles' keys may be: `plan` and `apply` stop a profile whose
    /// key has a copy there that no sink writes (see `rekey find`). `scan: [~/code]` is
    /// short for `scan: { roots: [~/code] }`.
    #[schemars(with = "Option<ScanShapes>")]
    pub(crate) scan: Option<RawScan>,
    /// Whom to tell what an unattended run did: `- webhook: URL` (Slack, Mattermost and
    /// Teams incoming webhooks read its `text`) or `- command: [program, args...]` (the
    /// event as JSON on stdin). Never a secret in either.
    #[serde(default)]
    pub(crate) notify: Vec<Notify>,
}

/// A 12-digit AWS account id, checked while reading the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(try_from = "String")]
#[schemars(extend("pattern" = "^[0-9]{12}$"))]
pub(crate) struct AccountId(pub(crate) String);

impl TryFrom<String> for AccountId {
    type Error = &'static str;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        match id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
            true => Ok(Self(id)),
            false => Err("not an AWS account id (12 digits)"),
        }
    }
}

/// One notification target of `notify:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) enum Notify {
    /// A POST of `{"text": …, "rekey": EVENT}` to this URL.
    Webhook(WebhookUrl),
    /// A program, given the event as JSON on stdin.
    Command(crate::config::argv::Argv),
}

/// An `http://` or `https://` URL, checked while reading the manifest. A credential:
/// its `Debug` shows the host alone.
#[derive(Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(try_from = "String")]
#[schemars(extend("pattern" = "^https?://"))]
pub(crate) struct WebhookUrl(pub(crate) String);

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookUrl({}/[REDACTED])", self.host())
    }
}

impl WebhookUrl {
    /// The host (and port, if given) alone: what may be shown. A webhook URL is a
    /// credential (Slack's and Teams' carry their token in the path, others put one in
    /// the userinfo or the query), so no message shows more.
    pub(crate) fn host(&self) -> String {
        let uri = self.0.parse::<hyper::Uri>().ok();
        let authority = uri.as_ref().and_then(|u| u.authority());
        match authority {
            Some(a) => match a.port() {
                Some(port) => format!("{}:{port}", a.host()),
                None => a.host().to_owned(),
            },
            None => "(a webhook)".to_owned(),
        }
    }
}

impl TryFrom<String> for WebhookUrl {
    type Error = &'static str;

    fn try_from(url: String) -> Result<Self, Self::Error> {
        match url.parse::<hyper::Uri>() {
            Ok(uri)
                if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() =>
            {
                Ok(Self(url))
            }
            _ => Err("not an http:// or https:// URL"),
        }
    }
}

/// `scan: { roots: [~/code], ignore: ["**/fixtures/**"] }`, or `scan: [~/code]`.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(rename = "Scan")]
pub(crate) struct RawScan {
    /// Folders to search (`~` and paths relative to the manifest resolved).
    #[schemars(extend("minItems" = 1))]
    pub(crate) roots: Vec<String>,
    /// Copies in files matching these globs (e.g. `**/fixtures/**`) do not stop a
    /// rotation.
    #[serde(default)]
    pub(crate) ignore: Vec<IgnoreGlob>,
}

/// `scan:`'s two shapes, for the JSON schema.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // a schema only
enum ScanShapes {
    /// `scan: [~/code]`: the roots alone.
    Roots(#[schemars(extend("minItems" = 1))] Vec<String>),
    /// `scan: { roots: [...], ignore: [...] }`.
    Full(RawScan),
}

/// `scan:` as a map, its fields checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanMap {
    roots: Vec<String>,
    #[serde(default)]
    ignore: Vec<IgnoreGlob>,
}

impl<'de> Deserialize<'de> for RawScan {
    /// A list (the roots) or a map; anything else names both shapes.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Shapes;
        impl<'de> serde::de::Visitor<'de> for Shapes {
            type Value = RawScan;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of folders (`scan: [~/code]`) or a map (`scan: { roots: [~/code], ignore: [\"**/fixtures/**\"] }`)")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<RawScan, A::Error> {
                let roots =
                    Vec::<String>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
                Ok(RawScan {
                    roots,
                    ignore: Vec::new(),
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawScan, A::Error> {
                let ScanMap { roots, ignore } =
                    ScanMap::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(RawScan { roots, ignore })
            }
        }
        d.deserialize_any(Shapes)
    }
}

/// A glob of `scan.ignore`, checked while reading the manifest.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "String")]
pub(crate) struct IgnoreGlob(pub(crate) String);

impl TryFrom<String> for IgnoreGlob {
    type Error = String;

    fn try_from(pattern: String) -> Result<Self, String> {
        globset::Glob::new(&pattern).map_err(|e| format!("not a glob: {}", e.kind()))?;
        Ok(Self(pattern))
    }
}

/// Rotation settings; each is optional and inherits from `defaults`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Policy")]
pub(crate) struct RawPolicy {
    /// How long the old key stays deactivated before it is deleted.
    pub(crate) grace: Option<HumanDuration>,
    /// How long the old key stays active after the rotation.
    pub(crate) overlap: Option<HumanDuration>,
    /// Rotate only keys at least this old.
    pub(crate) max_age: Option<HumanDuration>,
    /// How the new key is proven to work before anything else changes.
    pub(crate) propagation: Option<RawPropagation>,
    /// A command that checks the new key before the old one is deactivated.
    pub(crate) verify: Option<RawVerify>,
    /// The MFA device whose code opens a session for the IAM calls.
    pub(crate) mfa_serial: Option<String>,
    /// A program that prints a current MFA code (for unattended runs).
    pub(crate) mfa_command: Option<Argv>,
    /// Stop `mfa_command` after this long (default 60s).
    pub(crate) mfa_timeout: Option<HumanDuration>,
}

/// `verify: { command: [prog, args...], timeout: 2m }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Verify")]
pub(crate) struct RawVerify {
    /// The program and its arguments.
    pub(crate) command: Argv,
    /// Roll back if it runs longer (default 2m).
    pub(crate) timeout: Option<HumanDuration>,
}

/// `propagation: { timeout: 60s, consecutive: 3 }`.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Propagation")]
pub(crate) struct RawPropagation {
    /// Give up (and delete the new key) after this long.
    pub(crate) timeout: Option<HumanDuration>,
    /// Successful `GetCallerIdentity` calls in a row that count as proof.
    pub(crate) consecutive: Option<Consecutive>,
}

/// `propagation.consecutive`: at least 1, checked while reading the manifest.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(try_from = "u32")]
#[schemars(extend("minimum" = 1))]
pub(crate) struct Consecutive(pub(crate) u32);

impl TryFrom<u32> for Consecutive {
    type Error = &'static str;

    fn try_from(n: u32) -> Result<Self, Self::Error> {
        match n {
            0 => Err("must be at least 1"),
            n => Ok(Self(n)),
        }
    }
}

/// One entry under `profiles:`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Profile")]
pub(crate) struct RawProfile {
    /// Overrides `defaults.grace`.
    pub(crate) grace: Option<HumanDuration>,
    /// Overrides `defaults.overlap`.
    pub(crate) overlap: Option<HumanDuration>,
    /// Overrides `defaults.max_age`.
    pub(crate) max_age: Option<HumanDuration>,
    /// Overrides fields of `defaults.propagation`.
    pub(crate) propagation: Option<RawPropagation>,
    /// Overrides `defaults.verify`.
    pub(crate) verify: Option<RawVerify>,
    /// Where the key lives; the first sink is where the current key is read from.
    pub(crate) sinks: Option<RawSinks>,
    /// Admin rotation: the AWS profile that signs every IAM call.
    pub(crate) via: Option<String>,
    /// The IAM user whose key this is (checked against the key's identity).
    pub(crate) user: Option<String>,
    /// Overrides `defaults.mfa_serial`.
    pub(crate) mfa_serial: Option<String>,
    /// Overrides `defaults.mfa_command`.
    pub(crate) mfa_command: Option<Argv>,
    /// Overrides `defaults.mfa_timeout`.
    pub(crate) mfa_timeout: Option<HumanDuration>,
}

/// One sink entry, selected by its `type:` field: the list of sink types is
/// [`rekey_sinks::registry`]'s.
pub(crate) use rekey_sinks::registry::Config as RawSink;

/// The manifest's version: `1`, the only one (a newer rekey may read others).
#[derive(JsonSchema)]
#[schemars(extend("const" = 1))]
#[allow(dead_code)]
struct Version(u32);

/// `sinks:`: at least one place (checked while reading the manifest); the first is
/// where the current key is read from.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(try_from = "Vec<RawSink>")]
#[schemars(rename = "Sinks", extend("minItems" = 1))]
pub(crate) struct RawSinks(Vec<RawSink>);

impl RawSinks {
    /// The first place, and the others.
    pub(crate) fn split_first(&self) -> (&RawSink, &[RawSink]) {
        self.0.split_first().expect("never empty")
    }

    /// Every place, in order.
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, RawSink> {
        self.0.iter()
    }
}

impl TryFrom<Vec<RawSink>> for RawSinks {
    type Error = &'static str;

    fn try_from(sinks: Vec<RawSink>) -> Result<Self, Self::Error> {
        match sinks.is_empty() {
            true => Err("an empty sink list: remove `sinks:` to use the credentials file"),
            false => Ok(Self(sinks)),
        }
    }
}
