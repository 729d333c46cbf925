//! IAM and STS through the official AWS SDK, acting as one access key at a time.
//!
//! rekey works "self-service": every call is signed with the key of the profile being
//! rotated (old key for reads and creation, new key to deactivate the old one), so a user
//! needs only the policy in the README on its own keys. [`Aws`] loads the shared SDK
//! configuration once (region, endpoint URLs, retries); [`Caller`] is a pair of clients
//! signing with one key.

pub(crate) mod account;
mod clock;
mod error;
#[cfg(test)]
pub(crate) mod fake;
pub(crate) mod mfa;
pub(crate) mod pacing;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::environment::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sdk_iam::types::StatusType;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use rekey_sinks::AccessKey;
use secrecy::{ExposeSecret, SecretString};

pub(crate) use clock::ServerClock;
pub(crate) use error::{AwsError, AwsErrorKind};
use mfa::MfaCodes;
pub(crate) use mfa::{CodePrompt, MfaError};
use pacing::{Pacing, Service};

/// IAM is a global service, but the SDK will not sign without a region.
const FALLBACK_REGION: &str = "us-east-1";

/// The shared SDK configuration, loaded once per run.
#[derive(Clone)]
pub(crate) struct Aws {
    base: SdkConfig,
    /// Clients signing as another profile (`via:`), loaded once each.
    vias: Arc<tokio::sync::Mutex<HashMap<String, Caller>>>,
    /// Whose each key is, as STS answered once this run (see [`Aws::owner_of`]), by the
    /// key's id and its secret's SHA-256 (never the secret itself).
    owners: Arc<std::sync::Mutex<HashMap<(String, String), Identity>>>,
    /// MFA sessions by device serial, opened (or refused) once each per run.
    sessions: Arc<tokio::sync::Mutex<HashMap<String, Result<Caller, MfaError>>>>,
    /// Where MFA codes come from: `--mfa-code`, and whom to ask (see [`mfa`]).
    codes: Arc<MfaCodes>,
    /// AWS's time, as the answers of every client built here say it.
    clock: ServerClock,
    /// One rate limiter per service for every client of the run, and its time budget.
    pacing: Arc<Pacing>,
    /// Unit tests: every caller's IAM and STS calls go to this in-memory account.
    #[cfg(test)]
    fake: Option<Arc<fake::FakeIam>>,
}

impl Aws {
    /// Loads region, endpoint URLs (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_IAM`, `_STS`)
    /// and retry settings the way every AWS SDK does, without any credentials.
    ///
    /// The region comes from the environment or the profile, else [`FALLBACK_REGION`];
    /// never from the instance metadata service, which the SDK's default chain asks
    /// next: off EC2 nothing answers it, and a network that drops the packets (most
    /// do) made every rekey command wait out its one-second connect timeout.
    pub(crate) async fn load() -> Self {
        let region = RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
            .or_else(ProfileFileRegionProvider::new())
            .or_else(Region::from_static(FALLBACK_REGION));
        // One retry and timeout policy for every client (see `rekey_sinks::aws::policy`;
        // CreateAccessKey opts out of retries: see `create_key`).
        let (retry, timeouts) = rekey_sinks::aws::policy();
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(region)
            .no_credentials()
            .retry_config(retry)
            .timeout_config(timeouts)
            .load()
            .await;
        rekey_sinks::aws::note_endpoints(|name| std::env::var(name).ok(), base.endpoint_url());
        Self::from_config(base)
    }

    /// Uses an SDK configuration built elsewhere (e.g. with an explicit endpoint URL).
    /// Credentials in it are ignored: every client signs with the key it is given.
    pub(crate) fn from_config(base: SdkConfig) -> Self {
        // Without an HTTP client in the shared config, every IAM and STS client (two per
        // key) would build its own: its own connection pool and its own copy of the
        // system's root certificates. One client for all: connections are reused across
        // profiles, and memory no longer grows by ~0.3 MB per profile.
        let base = match base.http_client() {
            Some(_) => base,
            None => base
                .into_builder()
                .http_client(
                    aws_smithy_http_client::Builder::new()
                        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                        .build_https(),
                )
                .build(),
        };
        Self {
            base,
            vias: Arc::default(),
            owners: Arc::default(),
            sessions: Arc::default(),
            codes: Arc::default(),
            clock: ServerClock::default(),
            pacing: Arc::new(Pacing::new(pacing::DEFAULT_API_TIMEOUT)),
            #[cfg(test)]
            fake: None,
        }
    }

    /// Unit tests: clients whose IAM and STS calls go to `iam` (see [`fake`]).
    #[cfg(test)]
    pub(crate) fn fake(iam: Arc<fake::FakeIam>) -> Self {
        let base = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::from_static(FALLBACK_REGION))
            .build();
        Self {
            fake: Some(iam),
            ..Self::from_config(base)
        }
    }

    /// The same configuration, retrying throttled calls for at most `budget` from now
    /// (`--api-timeout`).
    pub(crate) fn with_api_timeout(mut self, budget: Duration) -> Self {
        self.pacing = Arc::new(Pacing::new(budget));
        self
    }

    /// The run's pacing: throttled answers so far, and what the progress line says.
    pub(crate) fn pacing(&self) -> &Pacing {
        &self.pacing
    }

    /// AWS's time (see [`ServerClock`]): what decides due dates and whether a use came
    /// after a record's time.
    pub(crate) fn clock(&self) -> &ServerClock {
        &self.clock
    }

    /// IAM and STS clients signing with `credentials`, noting AWS's time.
    fn clients(
        &self,
        credentials: impl aws_credential_types::provider::ProvideCredentials + Clone + 'static,
    ) -> Caller {
        self.clients_paced(credentials, self.pacing.clone())
    }

    /// [`Aws::clients`] paced by `pacing` (another account's: see [`Pacing::for_account`]).
    fn clients_paced(
        &self,
        credentials: impl aws_credential_types::provider::ProvideCredentials + Clone + 'static,
        pacing: Arc<Pacing>,
    ) -> Caller {
        // Every client of a service shares the run's limiter for it (see `pacing`).
        let pacing = &pacing;
        let iam = aws_sdk_iam::config::Builder::from(&self.base)
            .credentials_provider(credentials.clone())
            .interceptor(self.clock.clone())
            .interceptor(rekey_sinks::call_log::CallLog)
            .retry_partition(pacing.partition(Service::Iam))
            .interceptor(pacing.counter(Service::Iam))
            .build();
        let sts = self.sts(credentials.clone());
        // An endpoint URL (an emulator, a proxy) has no per-bucket host names.
        let path_style = self.base.endpoint_url().is_some();
        let s3 = aws_sdk_s3::config::Builder::from(&self.base)
            .credentials_provider(credentials.clone())
            .interceptor(self.clock.clone())
            .interceptor(rekey_sinks::call_log::CallLog)
            .retry_partition(pacing.partition(Service::S3))
            .interceptor(pacing.counter(Service::S3))
            .force_path_style(path_style)
            .build();
        Caller {
            iam: aws_sdk_iam::Client::from_conf(iam),
            sts,
            s3: aws_sdk_s3::Client::from_conf(s3),
            credentials: SharedCredentialsProvider::new(credentials),
            pacing: pacing.clone(),
            #[cfg(test)]
            fake: None,
        }
    }

    /// An STS client signing with `credentials`, noting AWS's time, paced.
    fn sts(
        &self,
        credentials: impl aws_credential_types::provider::ProvideCredentials + 'static,
    ) -> aws_sdk_sts::Client {
        let pacing = &self.pacing;
        let config = aws_sdk_sts::config::Builder::from(&self.base)
            .credentials_provider(credentials)
            .interceptor(self.clock.clone())
            .interceptor(rekey_sinks::call_log::CallLog)
            .retry_partition(pacing.partition(Service::Sts))
            .interceptor(pacing.counter(Service::Sts))
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    /// Whose `key` is (`sts:GetCallerIdentity`, which needs no permission), asked with
    /// an STS client alone: a run that asks only this for many keys (`rekey find`)
    /// builds no IAM or S3 client for them.
    pub(crate) async fn whose(&self, key: &AccessKey) -> Result<Identity, AwsError> {
        #[cfg(test)]
        if self.fake.is_some() {
            return self.caller(key).identity().await;
        }
        let credentials =
            Credentials::new(key.id(), key.secret().expose_secret(), None, None, "rekey");
        identity(&self.sts(credentials), &self.pacing).await
    }

    /// Whose `key` is, asked of STS once per run ([`Aws::whose`]) and then remembered: a
    /// key's user never changes, so the shared state's import, planning, prune and
    /// rollback share one answer. Not a probe: a key deleted since still has its answer
    /// here; what must learn whether a key works now asks [`Caller::identity`].
    pub(crate) async fn owner_of(&self, key: &AccessKey) -> Result<Identity, AwsError> {
        let memo = (
            key.id().to_owned(),
            crate::digest::sha256_hex(key.secret().expose_secret().as_bytes()),
        );
        if let Some(known) = self.owners.lock().expect("not poisoned").get(&memo) {
            return Ok(known.clone());
        }
        let identity = self.whose(key).await?;
        let mut owners = self.owners.lock().expect("not poisoned");
        owners.insert(memo, identity.clone());
        Ok(identity)
    }

    /// The shared configuration (HTTP client, region, retries; no credentials), for
    /// the clients of other services (the secret-store sinks).
    pub(crate) fn sdk_config(&self) -> &SdkConfig {
        &self.base
    }

    /// Clients that sign as the AWS profile `profile`, whatever its kind: static keys,
    /// SSO, a role with `source_profile`, web identity (as CI runners with OIDC use),
    /// `credential_process`. Its credentials come from aws-config's provider chain, as
    /// every AWS tool resolves them, never read by rekey itself; loaded once per run.
    pub(crate) async fn via(&self, profile: &str) -> Result<Caller, AwsError> {
        let mut vias = self.vias.lock().await;
        if let Some(caller) = vias.get(profile) {
            return Ok(caller.clone());
        }
        // The run's HTTP client and region, as for every client (`rekey_sinks::aws`).
        let provider = rekey_sinks::aws::load_profile(&self.base, profile)
            .await
            .map_err(|message| AwsError {
                operation: "load credentials",
                kind: AwsErrorKind::InvalidCredentials,
                message: format!("profile `{profile}` (via) {message}"),
            })?;
        let caller = self.clients(provider);
        vias.insert(profile.to_owned(), caller.clone());
        Ok(caller)
    }

    /// Clients that sign every request with `key`.
    pub(crate) fn caller(&self, key: &AccessKey) -> Caller {
        // `Credentials` keeps the secret in a zeroizing, redacted field of its own.
        let credentials =
            Credentials::new(key.id(), key.secret().expose_secret(), None, None, "rekey");
        #[cfg(test)]
        if let Some(iam) = &self.fake {
            return Caller {
                fake: Some((iam.clone(), key.id().to_owned())),
                ..self.clients(credentials)
            };
        }
        self.clients(credentials)
    }
}

/// Who a key belongs to, according to `sts:GetCallerIdentity`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Identity {
    /// The 12-digit account id.
    pub(crate) account: String,
    /// The caller's ARN.
    pub(crate) arn: String,
    /// The IAM user name when the ARN is an IAM user's; `None` for roles, root, etc.
    pub(crate) user_name: Option<String>,
}

/// One of a user's access keys as `ListAccessKeys` reports it (no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyMeta {
    /// The access key id.
    pub(crate) id: String,
    /// Whether the key is `Active` (else `Inactive`).
    pub(crate) active: bool,
    /// When the key was created.
    pub(crate) created: SystemTime,
}

/// When and where a key was last used (`GetAccessKeyLastUsed`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LastUsed {
    /// `None` if the key was never used (or IAM has not recorded it yet).
    pub(crate) date: Option<SystemTime>,
    /// The service, e.g. `s3`.
    pub(crate) service: Option<String>,
    /// The region, e.g. `eu-west-1`.
    pub(crate) region: Option<String>,
    /// The user the key belongs to (IAM answers it with the last use): how a key id
    /// alone leads to its user.
    pub(crate) user_name: Option<String>,
}

/// Leave to change a user's keys: every call that creates, (de)activates or deletes one
/// takes a permit, and only [`crate::engine::fleet::lease`] issues them
/// (`tests/integration/layers.rs` checks): right after confirming the user's lease with
/// `state: s3://…` (or where no state is shared), or for an undo, which reads IAM again
/// before each step. So no path that changes keys can skip the lease (issue 30): the
/// rule is a type, not a convention.
#[derive(Debug)]
pub(crate) struct Permit(());

impl Permit {
    /// Issued by [`crate::engine::fleet::lease`] alone (see the type's docs).
    pub(crate) fn issue() -> Self {
        Self(())
    }
}

/// IAM, STS and S3 clients signing with one access key (or profile, or session).
#[derive(Clone)]
pub(crate) struct Caller {
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    s3: aws_sdk_s3::Client,
    /// What signs them (for a client of another service: Organizations).
    credentials: SharedCredentialsProvider,
    pacing: Arc<Pacing>,
    /// Unit tests: the in-memory account the calls go to, and the signing key's id.
    #[cfg(test)]
    fake: Option<(Arc<fake::FakeIam>, String)>,
}

/// Unit tests: answers `$call` from the fake account when the caller has one.
macro_rules! faked {
    ($self:ident, |$iam:ident, $signer:ident| $call:expr) => {
        #[cfg(test)]
        if let Some(($iam, $signer)) = &$self.fake {
            return $call;
        }
    };
}

pub(crate) mod bucket;
pub(crate) mod policies;
pub(crate) mod scp;
pub(crate) mod securityhub;
pub(crate) mod trail;

impl Caller {
    /// `call`, made again while throttled and the run's budget lasts (see [`Pacing`]).
    async fn paced<T, F, Fut>(&self, call: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        self.pacing.patiently(call).await
    }

    /// `sts:GetCallerIdentity`: which account and principal the key belongs to.
    pub(crate) async fn identity(&self) -> Result<Identity, AwsError> {
        faked!(self, |iam, signer| iam.identity(signer));
        identity(&self.sts, &self.pacing).await
    }

    /// `iam:ListAccessKeys` for `user`.
    pub(crate) async fn list_keys(&self, user: &str) -> Result<Vec<KeyMeta>, AwsError> {
        faked!(self, |iam, signer| iam.list_keys(signer, user));
        let out = self
            .paced(|| async {
                self.iam
                    .list_access_keys()
                    .user_name(user)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:ListAccessKeys", e))
            })
            .await?;
        Ok(out
            .access_key_metadata
            .into_iter()
            .filter_map(|k| {
                Some(KeyMeta {
                    id: k.access_key_id?,
                    active: k.status == Some(StatusType::Active),
                    created: k.create_date.and_then(|d| SystemTime::try_from(d).ok())?,
                })
            })
            .collect())
    }

    /// `iam:GetAccessKeyLastUsed` for `key_id`.
    pub(crate) async fn last_used(&self, key_id: &str) -> Result<LastUsed, AwsError> {
        faked!(self, |iam, signer| iam.last_used(signer, key_id));
        let out = self
            .paced(|| async {
                self.iam
                    .get_access_key_last_used()
                    .access_key_id(key_id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:GetAccessKeyLastUsed", e))
            })
            .await?;
        // IAM answers "N/A" for the service and region of a key never used.
        let known = |s: String| (s != "N/A" && !s.is_empty()).then_some(s);
        let mut used = out
            .access_key_last_used
            .map(|u| LastUsed {
                date: u.last_used_date.and_then(|d| SystemTime::try_from(d).ok()),
                service: known(u.service_name),
                region: known(u.region),
                user_name: None,
            })
            .unwrap_or_default();
        used.user_name = out.user_name;
        Ok(used)
    }

    /// `iam:PutUserPolicy`: adds, or replaces, the user's inline policy `name`.
    pub(crate) async fn put_user_policy(
        &self,
        user: &str,
        name: &str,
        document: &str,
    ) -> Result<(), AwsError> {
        faked!(self, |iam, signer| iam
            .put_user_policy(signer, user, name, document));
        self.paced(|| async {
            self.iam
                .put_user_policy()
                .user_name(user)
                .policy_name(name)
                .policy_document(document)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:PutUserPolicy", e))
        })
        .await?;
        Ok(())
    }

    /// `iam:CreateAccessKey` for `user`. The only moment the secret is ever visible.
    pub(crate) async fn create_key(&self, user: &str, _: &Permit) -> Result<AccessKey, AwsError> {
        faked!(self, |iam, signer| iam.create_key(signer, user));
        // Never retried by the SDK: a retry after a lost answer would create a second
        // key. The caller reconciles instead (lists the keys and deletes strangers). One
        // attempt, still paced by the shared limiter; a throttled answer is definitive
        // (no key was made), so that alone is tried again.
        let out = self
            .paced(|| async {
                self.iam
                    .create_access_key()
                    .user_name(user)
                    .customize()
                    .config_override(
                        aws_sdk_iam::config::Builder::default()
                            .retry_config(RetryConfig::adaptive().with_max_attempts(1)),
                    )
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("iam:CreateAccessKey", e))
            })
            .await?;
        let created = out
            .access_key
            .ok_or_else(|| AwsError::malformed("iam:CreateAccessKey"))?;
        AccessKey::new(
            created.access_key_id,
            SecretString::from(created.secret_access_key),
        )
        .map_err(|_| AwsError::malformed("iam:CreateAccessKey"))
    }

    /// `iam:UpdateAccessKey`: makes `key_id` of `user` Active or Inactive.
    pub(crate) async fn set_active(
        &self,
        user: &str,
        key_id: &str,
        active: bool,
        _: &Permit,
    ) -> Result<(), AwsError> {
        faked!(self, |iam, signer| iam
            .set_active(signer, user, key_id, active));
        let status = if active {
            StatusType::Active
        } else {
            StatusType::Inactive
        };
        self.paced(|| async {
            self.iam
                .update_access_key()
                .user_name(user)
                .access_key_id(key_id)
                .status(status.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:UpdateAccessKey", e))
        })
        .await?;
        Ok(())
    }

    /// `iam:DeleteAccessKey`.
    pub(crate) async fn delete_key(
        &self,
        user: &str,
        key_id: &str,
        _: &Permit,
    ) -> Result<(), AwsError> {
        faked!(self, |iam, signer| iam.delete_key(signer, user, key_id));
        self.paced(|| async {
            self.iam
                .delete_access_key()
                .user_name(user)
                .access_key_id(key_id)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:DeleteAccessKey", e))
        })
        .await?;
        Ok(())
    }

    /// The user's tags (`iam:ListUserTags`), every page, as (key, value) pairs.
    pub(crate) async fn user_tags(&self, user: &str) -> Result<Vec<(String, String)>, AwsError> {
        faked!(self, |iam, signer| iam.user_tags(signer, user));
        let mut tags = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .paced(|| async {
                    self.iam
                        .list_user_tags()
                        .user_name(user)
                        .set_marker(marker.clone())
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("iam:ListUserTags", e))
                })
                .await?;
            tags.extend(
                page.tags()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned())),
            );
            match page.marker() {
                Some(next) if page.is_truncated() => marker = Some(next.to_owned()),
                _ => return Ok(tags),
            }
        }
    }

    /// Adds or replaces one tag on the user (`iam:TagUser`).
    pub(crate) async fn tag_user(
        &self,
        user: &str,
        key: &str,
        value: &str,
    ) -> Result<(), AwsError> {
        faked!(self, |iam, signer| iam.tag_user(signer, user, key, value));
        let tag = aws_sdk_iam::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .expect("key and value are set");
        self.paced(|| async {
            self.iam
                .tag_user()
                .user_name(user)
                .tags(tag.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:TagUser", e))
        })
        .await?;
        Ok(())
    }

    /// Removes one tag from the user (`iam:UntagUser`; no error if it is absent).
    pub(crate) async fn untag_user(&self, user: &str, key: &str) -> Result<(), AwsError> {
        faked!(self, |iam, signer| iam.untag_user(signer, user, key));
        self.paced(|| async {
            self.iam
                .untag_user()
                .user_name(user)
                .tag_keys(key)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam:UntagUser", e))
        })
        .await?;
        Ok(())
    }
}

/// `sts:GetCallerIdentity` with `sts`: which account and principal its key is.
async fn identity(sts: &aws_sdk_sts::Client, pacing: &Pacing) -> Result<Identity, AwsError> {
    let out = pacing
        .patiently(|| async {
            sts.get_caller_identity()
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("sts:GetCallerIdentity", e))
        })
        .await?;
    let arn = out.arn.unwrap_or_default();
    Ok(Identity {
        account: out.account.unwrap_or_default(),
        user_name: user_name_from_arn(&arn).map(str::to_owned),
        arn,
    })
}

/// The user name in `arn:PARTITION:iam::ACCOUNT:user/PATH/NAME`, or `None` for any other
/// principal (assumed roles, federated users, the root user).
pub(crate) fn user_name_from_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("iam"), Some(""), Some(_account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let path_and_name = resource.strip_prefix("user/")?;
    path_and_name.rsplit('/').next().filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_user_name_only_in_user_arns() {
        assert_eq!(
            user_name_from_arn("arn:aws:iam::123456789012:user/alice"),
            Some("alice")
        );
        assert_eq!(
            user_name_from_arn("arn:aws-cn:iam::123456789012:user/ci/deploy/bob"),
            Some("bob")
        );
        assert_eq!(
            user_name_from_arn("arn:aws:sts::123456789012:assumed-role/r/s"),
            None
        );
        assert_eq!(user_name_from_arn("arn:aws:iam::123456789012:root"), None);
        assert_eq!(user_name_from_arn("arn:aws:iam::123456789012:user/"), None);
        assert_eq!(user_name_from_arn("nonsense"), None);
    }
}
