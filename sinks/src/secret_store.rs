//! What the secret-store sinks (`secretsmanager`, `ssm`) share: the credentials they
//! sign with, and a [`Sink`] built on a small [`Store`] (get, check, put, remove one
//! value). The value is the `credential_process` JSON ([`crate::credential_process`]),
//! so a machine can use the store directly (`rekey credential-process --secret-id`).
//!
//! Who signs: the `via` profile for every call, when the sink names one. Otherwise a read
//! (plan, sync, prune, the snapshot before a write) is signed by the AWS profile of the
//! same name as rekey's profile, as the AWS SDK loads it (for a credentials-file
//! profile: the key it holds now), and a write by the key it writes: a new key that
//! rekey has already proven to STS and IAM. Undoing a write is signed by the key it
//! undoes, which still exists then. A new key may reach the store's service a few
//! seconds after STS and IAM (real AWS propagates keys per service), so a call signed
//! with it is retried while the service answers "unknown key", for at most
//! [`PROPAGATION_PATIENCE`].
//!
//! Every client is built on the engine's shared `SdkConfig`: one HTTP client, one retry
//! and timeout policy for IAM, STS and the stores.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::region::Region;
use aws_types::SdkConfig;
use secrecy::ExposeSecret;
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use crate::aws;
use crate::credential_process::{decode, encode};
use crate::sink::BuildContext;
use crate::{AccessKey, Checked, Sink, SinkError, Snapshot};

/// How long a call signed with a new key is retried while the service does not know it.
pub const PROPAGATION_PATIENCE: Duration = Duration::from_secs(30);

/// A store's answer to a failed call: "the signing key is unknown here (yet)", or any
/// other failure, as text that names no secret.
#[derive(Debug)]
pub enum StoreError {
    /// The service does not know the key that signed (`UnrecognizedClientException`,
    /// `InvalidSignatureException`, …): wrong, deleted, or not propagated yet.
    UnknownKey(String),
    /// AWS refused the call for lack of permission (`AccessDenied`, a key policy).
    Denied(String),
    /// Anything else.
    Other(String),
}

impl StoreError {
    /// Classifies a failed SDK call of `operation` (its code and AWS's message, or why
    /// there was no answer), as every AWS call of rekey is (see [`crate::aws`]).
    pub fn from_sdk<E>(operation: &str, error: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (kind, detail) = aws::classify(operation, error);
        let message = format!("{operation} failed: {detail}");
        match kind {
            aws::Kind::InvalidCredentials => StoreError::UnknownKey(message),
            aws::Kind::AccessDenied => StoreError::Denied(message),
            _ => StoreError::Other(message),
        }
    }

    fn message(self) -> String {
        match self {
            StoreError::UnknownKey(m) | StoreError::Denied(m) | StoreError::Other(m) => m,
        }
    }
}

/// One value in an AWS secret store, read and written with a given configuration.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `Secrets Manager secret app/aws (eu-west-1)`, for plans and errors.
    fn describe(&self) -> String;
    /// A stable identity from the configuration (see [`Sink::id`]).
    fn id(&self) -> String;
    /// The value, or `None` if the place does not exist.
    async fn get(&self, sdk: &SdkConfig) -> Result<Option<Zeroizing<String>>, StoreError>;
    /// Whether [`Store::put`] can succeed, checked without changing anything.
    async fn check(&self, sdk: &SdkConfig) -> Result<(), StoreError>;
    /// Stores `value`, creating the place if the configuration allows it.
    async fn put(&self, sdk: &SdkConfig, value: &str) -> Result<(), StoreError>;
    /// Removes the place (undoing its creation by rekey).
    async fn remove(&self, sdk: &SdkConfig) -> Result<(), StoreError>;

    /// Stores `value` where the store's readers do not see it yet (Secrets Manager's
    /// `AWSPENDING`); a place that does not exist yet is created holding it, as no
    /// reader had a key there to lose. `false` if the store keeps nothing pending: it is
    /// then written by [`Store::promote`] alone.
    async fn put_pending(&self, sdk: &SdkConfig, value: &str) -> Result<bool, StoreError>;
    /// The pending value, if there is one.
    async fn get_pending(&self, sdk: &SdkConfig) -> Result<Option<Zeroizing<String>>, StoreError>;
    /// Makes `value` the current value (the pending one if it holds `value`, else a
    /// new write) and marks it verified where the store can. Idempotent: `true` if it
    /// changed anything.
    async fn promote(&self, sdk: &SdkConfig, value: &str) -> Result<bool, StoreError>;
    /// Drops the pending value, if any; the current one stays.
    async fn drop_pending(&self, sdk: &SdkConfig) -> Result<(), StoreError>;
    /// The current value, if the store marks it verified.
    async fn get_verified(&self, sdk: &SdkConfig) -> Result<Option<Zeroizing<String>>, StoreError>;
}

/// The credentials and region a store sink signs with (see the module docs).
#[derive(Clone)]
pub struct Access {
    base: SdkConfig,
    region: Option<String>,
    via: Option<String>,
    profile: String,
    /// The named profile's credentials, loaded once (a sink is read several times a run).
    loaded: Arc<OnceCell<SharedCredentialsProvider>>,
}

impl Access {
    /// For a sink of `ctx`'s profile, in `region` (default: the run's), signed as `via`
    /// when given.
    pub fn new(ctx: &BuildContext<'_>, region: Option<String>, via: Option<String>) -> Self {
        Self {
            base: ctx.sdk.clone(),
            region,
            via,
            profile: ctx.profile.to_owned(),
            loaded: Arc::default(),
        }
    }

    /// `(via PROFILE)` when a profile signs, else nothing.
    fn describe(&self) -> String {
        match &self.via {
            Some(via) => format!(" (via {via})"),
            None => String::new(),
        }
    }

    /// The configuration to read with: `via`, else the profile's own AWS profile.
    async fn reading(&self) -> Result<SdkConfig, String> {
        self.as_named_profile().await
    }

    /// The configuration to write `key` with (or undo its write): `via`, else `key`.
    async fn writing(&self, key: &AccessKey) -> Result<SdkConfig, String> {
        if self.via.is_some() {
            return self.as_named_profile().await;
        }
        let credentials =
            Credentials::new(key.id(), key.secret().expose_secret(), None, None, "rekey");
        Ok(self.with(SharedCredentialsProvider::new(credentials)))
    }

    /// Signed as `via`, else as the AWS profile named like rekey's profile, whatever its
    /// kind, loaded as every AWS tool loads it (rekey never reads its keys itself), once.
    async fn as_named_profile(&self) -> Result<SdkConfig, String> {
        let profile = self.via.as_deref().unwrap_or(&self.profile);
        let provider = self
            .loaded
            .get_or_try_init(|| async {
                aws::load_profile(&self.base, profile)
                    .await
                    .map_err(|e| format!("AWS profile `{profile}` {e} (set `via:` on the sink)"))
            })
            .await?;
        Ok(self.with(provider.clone()))
    }

    fn with(&self, credentials: SharedCredentialsProvider) -> SdkConfig {
        let mut builder = self.base.to_builder().credentials_provider(credentials);
        if let Some(region) = &self.region {
            builder = builder.region(Region::new(region.clone()));
        }
        builder.build()
    }
}

/// A store's place as the trust review shows it: `KIND NAME (region R, signed as
/// via PROFILE)`; a name may be another account's ARN, which is why it is shown whole.
pub fn place(kind: &str, name: &str, region: Option<&str>, via: Option<&str>) -> String {
    let mut out = format!("{kind} {name}");
    let details: Vec<String> = [
        region.map(|r| format!("region {r}")),
        via.map(|v| format!("signed as profile {v}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !details.is_empty() {
        out.push_str(&format!(" ({})", details.join(", ")));
    }
    out
}

/// The id of the key a store's value holds, if it holds one.
fn held_id(value: Option<&String>) -> Option<String> {
    decode(value?).ok().map(|key| key.id().to_owned())
}

/// A [`Store`] as a [`Sink`].
pub struct StoreSink<S> {
    store: S,
    access: Access,
}

impl<S: Store> StoreSink<S> {
    /// `store`, signed as `access` says.
    pub fn new(store: S, access: Access) -> Self {
        Self { store, access }
    }

    fn error(&self, message: impl std::fmt::Display) -> SinkError {
        SinkError::Store {
            place: self.describe(),
            message: message.to_string(),
        }
    }

    /// A failed call of the store, `doing` what: a refusal keeps its kind, so the engine
    /// reports a missing permission as one.
    fn failed(&self, doing: &str, error: StoreError) -> SinkError {
        let denied = matches!(error, StoreError::Denied(_));
        let message = match doing {
            "" => error.message(),
            doing => format!("{doing}: {}", error.message()),
        };
        match denied {
            true => SinkError::AccessDenied {
                place: self.describe(),
                message,
            },
            false => self.error(message),
        }
    }

    async fn get(&self, sdk: &SdkConfig) -> Result<Option<Zeroizing<String>>, SinkError> {
        self.store
            .get(sdk)
            .await
            .map_err(|e| self.failed("cannot read", e))
    }

    /// Runs `call` signed with a new key, again while the service does not know the key
    /// yet, within [`PROPAGATION_PATIENCE`] (see [`aws::patiently`]).
    async fn patiently<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let not_yet = |e: &StoreError| matches!(e, StoreError::UnknownKey(_));
        aws::patiently(PROPAGATION_PATIENCE, not_yet, call).await
    }
}

#[async_trait]
impl<S: Store> Sink for StoreSink<S> {
    fn describe(&self) -> String {
        format!("{}{}", self.store.describe(), self.access.describe())
    }

    fn id(&self) -> String {
        self.store.id()
    }

    fn lock_key(&self) -> Option<String> {
        Some(self.store.id())
    }

    async fn read(&self) -> Result<Option<AccessKey>, SinkError> {
        let sdk = self.access.reading().await.map_err(|e| self.error(e))?;
        match self.get(&sdk).await? {
            None => Ok(None),
            Some(json) => decode(&json).map(Some).map_err(|e| self.error(e)),
        }
    }

    async fn check(&self) -> Result<Checked, SinkError> {
        let sdk = self.access.reading().await.map_err(|e| self.error(e))?;
        self.store
            .check(&sdk)
            .await
            .map(|()| Checked::Ready)
            .map_err(|e| self.failed("", e))
    }

    async fn snapshot(&self) -> Result<Snapshot, SinkError> {
        let sdk = self.access.reading().await.map_err(|e| self.error(e))?;
        Ok(match self.get(&sdk).await? {
            None => Snapshot::Absent,
            Some(value) => Snapshot::Bytes(value.as_bytes().to_vec().into()),
        })
    }

    /// A key written outside a rotation (sync, the old key put back) is one AWS has
    /// shown to be the user's current key: promoted at once.
    async fn write(&self, key: &AccessKey) -> Result<Option<Snapshot>, SinkError> {
        self.promote(key).await?;
        Ok(None)
    }

    async fn stage(&self, key: &AccessKey) -> Result<Option<Snapshot>, SinkError> {
        let sdk = self.access.writing(key).await.map_err(|e| self.error(e))?;
        let json = encode(key);
        self.patiently(|| self.store.put_pending(&sdk, &json))
            .await
            .map_err(|e| self.failed("cannot write", e))?;
        Ok(None)
    }

    async fn promote(&self, key: &AccessKey) -> Result<bool, SinkError> {
        let sdk = self.access.writing(key).await.map_err(|e| self.error(e))?;
        let json = encode(key);
        self.patiently(|| self.store.promote(&sdk, &json))
            .await
            .map_err(|e| self.failed("cannot write", e))
    }

    async fn holds(&self, key_id: &str) -> Result<bool, SinkError> {
        if self.read_id().await?.as_deref() == Some(key_id) {
            return Ok(true);
        }
        let sdk = self.access.reading().await.map_err(|e| self.error(e))?;
        let pending = self.store.get_pending(&sdk).await;
        let pending = pending.map_err(|e| self.failed("cannot read", e))?;
        Ok(held_id(pending.as_deref()).as_deref() == Some(key_id))
    }

    async fn verified(&self, key_id: &str) -> Result<bool, SinkError> {
        let sdk = self.access.reading().await.map_err(|e| self.error(e))?;
        let verified = self.store.get_verified(&sdk).await;
        let verified = verified.map_err(|e| self.failed("cannot read", e))?;
        Ok(held_id(verified.as_deref()).as_deref() == Some(key_id))
    }

    async fn restore(&self, snapshot: &Snapshot, written: &AccessKey) -> Result<(), SinkError> {
        let sdk = self
            .access
            .writing(written)
            .await
            .map_err(|e| self.error(e))?;
        // Staged and never promoted: its readers never saw it; only the stage goes.
        let pending = self.patiently(|| self.store.get_pending(&sdk)).await;
        let pending = pending.map_err(|e| self.failed("cannot read", e))?;
        if held_id(pending.as_deref()).as_deref() == Some(written.id()) {
            self.patiently(|| self.store.drop_pending(&sdk))
                .await
                .map_err(|e| self.failed("cannot restore", e))?;
        }
        let now = self
            .patiently(|| self.store.get(&sdk))
            .await
            .map_err(|e| self.failed("cannot read", e))?;
        let previous = match snapshot {
            Snapshot::Absent => None,
            Snapshot::Bytes(bytes) => Some(Zeroizing::new(
                String::from_utf8_lossy(bytes.expose_secret()).into_owned(),
            )),
        };
        // Already as before: nothing to undo. Holding another key than rekey wrote:
        // someone changed it since, and rekey does not overwrite their change.
        if now.as_deref().map(String::as_str) == previous.as_deref().map(String::as_str) {
            return Ok(());
        }
        let holds_written = held_id(now.as_deref()).as_deref() == Some(written.id());
        if !holds_written {
            return Err(self.error(
                "it changed since rekey wrote it; rekey does not overwrite that change: put the old key back by hand",
            ));
        }
        let undone = match &previous {
            Some(value) => self.patiently(|| self.store.put(&sdk, value)).await,
            None => self.patiently(|| self.store.remove(&sdk)).await,
        };
        undone.map_err(|e| self.failed("cannot restore", e))
    }
}

#[cfg(test)]
mod tests {
    //! The undo rules, on an in-memory store (the real stores run them against moto in
    //! the integration tests).

    use std::path::PathBuf;
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Memory(Mutex<Option<String>>);

    #[async_trait]
    impl Store for Memory {
        fn describe(&self) -> String {
            "memory".into()
        }
        fn id(&self) -> String {
            "memory".into()
        }
        async fn get(&self, _: &SdkConfig) -> Result<Option<Zeroizing<String>>, StoreError> {
            Ok(self.0.lock().unwrap().clone().map(Zeroizing::new))
        }
        async fn check(&self, _: &SdkConfig) -> Result<(), StoreError> {
            Ok(())
        }
        async fn put(&self, _: &SdkConfig, value: &str) -> Result<(), StoreError> {
            *self.0.lock().unwrap() = Some(value.to_owned());
            Ok(())
        }
        async fn remove(&self, _: &SdkConfig) -> Result<(), StoreError> {
            *self.0.lock().unwrap() = None;
            Ok(())
        }
        // Keeps nothing pending, as SSM: written once promoted.
        async fn put_pending(&self, _: &SdkConfig, _: &str) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn get_pending(
            &self,
            _: &SdkConfig,
        ) -> Result<Option<Zeroizing<String>>, StoreError> {
            Ok(None)
        }
        async fn promote(&self, sdk: &SdkConfig, value: &str) -> Result<bool, StoreError> {
            self.put(sdk, value).await.map(|()| true)
        }
        async fn drop_pending(&self, _: &SdkConfig) -> Result<(), StoreError> {
            Ok(())
        }
        async fn get_verified(
            &self,
            _: &SdkConfig,
        ) -> Result<Option<Zeroizing<String>>, StoreError> {
            Ok(None)
        }
    }

    fn key(n: u8) -> AccessKey {
        AccessKey::new(
            format!("AKIASTORE00000000{n:03}"),
            format!("secret/{n}").into(),
        )
        .unwrap()
    }

    fn sink() -> StoreSink<Memory> {
        let expand = |p: &str| PathBuf::from(p);
        let sdk = SdkConfig::builder().build();
        let ctx = BuildContext {
            profile: "dev",
            credentials_file: &PathBuf::from("/nonexistent/credentials"),
            config_file: &PathBuf::from("/nonexistent/config"),
            expand: &expand,
            sdk: &sdk,
        };
        StoreSink::new(Memory::default(), Access::new(&ctx, None, None))
    }

    fn held(sink: &StoreSink<Memory>) -> Option<String> {
        let value = sink.store.0.lock().unwrap().clone();
        value.map(|json| decode(&json).unwrap().id().to_owned())
    }

    #[tokio::test]
    async fn undoing_a_write_puts_the_previous_key_back() {
        let sink = sink();
        sink.store
            .put(&SdkConfig::builder().build(), &encode(&key(1)))
            .await
            .unwrap();
        let before = Snapshot::Bytes(encode(&key(1)).as_bytes().to_vec().into());
        sink.write(&key(2)).await.unwrap();
        assert_eq!(held(&sink).as_deref(), Some(key(2).id()));
        sink.restore(&before, &key(2)).await.unwrap();
        assert_eq!(held(&sink).as_deref(), Some(key(1).id()));
        // Again: already as before, nothing to do.
        sink.restore(&before, &key(2)).await.unwrap();
        assert_eq!(held(&sink).as_deref(), Some(key(1).id()));
    }

    #[tokio::test]
    async fn a_staged_key_reaches_a_store_without_a_pending_version_only_once_promoted() {
        let sink = sink();
        let before = Snapshot::Bytes(encode(&key(1)).as_bytes().to_vec().into());
        sink.write(&key(1)).await.unwrap();
        sink.stage(&key(2)).await.unwrap();
        assert_eq!(held(&sink).as_deref(), Some(key(1).id()), "not yet");
        // Undone before the promotion: nothing to put back.
        sink.restore(&before, &key(2)).await.unwrap();
        assert_eq!(held(&sink).as_deref(), Some(key(1).id()));
        sink.stage(&key(2)).await.unwrap();
        assert!(sink.promote(&key(2)).await.unwrap());
        assert_eq!(held(&sink).as_deref(), Some(key(2).id()));
    }

    #[tokio::test]
    async fn undoing_the_creation_removes_the_value() {
        let sink = sink();
        sink.write(&key(2)).await.unwrap();
        sink.restore(&Snapshot::Absent, &key(2)).await.unwrap();
        assert_eq!(held(&sink), None);
    }

    #[tokio::test]
    async fn a_value_changed_since_the_write_is_not_overwritten() {
        let sink = sink();
        let before = Snapshot::Bytes(encode(&key(1)).as_bytes().to_vec().into());
        sink.write(&key(2)).await.unwrap();
        sink.write(&key(3)).await.unwrap(); // someone else's write
        let err = sink.restore(&before, &key(2)).await.unwrap_err();
        assert!(
            err.to_string().contains("changed since rekey wrote it"),
            "{err}"
        );
        assert_eq!(held(&sink).as_deref(), Some(key(3).id()));
    }
}
