//! The `keyring` sink: one entry of the OS credential store.
//!
//! The entry's value is the JSON that AWS's `credential_process` expects
//! (`{"Version":1,"AccessKeyId":…,"SecretAccessKey":…}`), so the AWS CLI and SDKs can use
//! it directly through `rekey credential-process`. The store is the platform's real
//! one (see the `keyring` dependency in Cargo.toml); there is no in-memory fallback.

mod config;

use async_trait::async_trait;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

pub use config::Config;

pub use crate::credential_process::{decode, encode};
use crate::{AccessKey, Checked, Sink, SinkError, Snapshot};

/// Default keyring service name.
pub const DEFAULT_SERVICE: &str = "rekey";

/// One keyring entry, named by service and account, as a [`Sink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyring {
    service: String,
    account: String,
}

impl Keyring {
    /// The entry `account` of keyring service `service`.
    pub fn new(service: impl Into<String>, account: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            account: account.into(),
        }
    }

    fn failure(&self, action: &str, error: keyring::Error) -> SinkError {
        // `BadEncoding` carries the stored bytes (a secret): never show them.
        let message = match error {
            keyring::Error::BadEncoding(_) => "the stored value is not UTF-8 text".to_owned(),
            keyring::Error::NoDefaultStore => {
                "no OS credential store is reachable (on Linux: a Secret Service such as gnome-keyring on the session D-Bus)".to_owned()
            }
            other => other.to_string(),
        };
        SinkError::Keyring {
            entry: self.describe(),
            message: format!("cannot {action}: {message}"),
        }
    }

    fn entry(&self) -> Result<keyring::Entry, SinkError> {
        keyring::Entry::new(&self.service, &self.account)
            .map_err(|e| self.failure("open the entry", e))
    }

    /// The raw stored JSON, or `None` if there is no entry.
    fn get(&self) -> Result<Option<Zeroizing<String>>, SinkError> {
        match self.entry()?.get_password() {
            Ok(value) => Ok(Some(Zeroizing::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(self.failure("read", e)),
        }
    }

    /// The stored value, checked to be `credential_process` JSON; `None` if no entry.
    pub fn read_json(&self) -> Result<Option<Zeroizing<String>>, SinkError> {
        let Some(value) = self.get()? else {
            return Ok(None);
        };
        decode(&value).map_err(|message| SinkError::Keyring {
            entry: self.describe(),
            message,
        })?;
        Ok(Some(value))
    }

    fn set(&self, value: &str) -> Result<(), SinkError> {
        self.entry()?
            .set_password(value)
            .map_err(|e| self.failure("write", e))
    }

    fn remove(&self) -> Result<(), SinkError> {
        match self.entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(self.failure("delete", e)),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Self) -> Result<T, SinkError> + Send + 'static,
    ) -> Result<T, SinkError> {
        let this = self.clone();
        crate::blocking::off_runtime(move || work(&this)).await
    }
}

#[async_trait]
impl Sink for Keyring {
    fn describe(&self) -> String {
        format!("keyring entry {}/{}", self.service, self.account)
    }

    fn id(&self) -> String {
        format!("keyring {}/{}", self.service, self.account)
    }

    fn machine_local(&self) -> bool {
        true
    }

    fn lock_key(&self) -> Option<String> {
        Some(self.describe())
    }

    async fn read(&self) -> Result<Option<AccessKey>, SinkError> {
        self.blocking(|this| match this.get()? {
            None => Ok(None),
            Some(value) => decode(&value)
                .map(Some)
                .map_err(|message| SinkError::Keyring {
                    entry: this.describe(),
                    message,
                }),
        })
        .await
    }

    async fn check(&self) -> Result<Checked, SinkError> {
        // Reaching the store and reading the entry (or learning it is absent) proves the
        // store is there and unlocked. An entry is one value of a store rekey writes
        // anyway: a missing one is not a new file to warn about.
        self.blocking(|this| this.get().map(|_| Checked::Ready))
            .await
    }

    async fn snapshot(&self) -> Result<Snapshot, SinkError> {
        self.blocking(|this| {
            Ok(match this.get()? {
                None => Snapshot::Absent,
                Some(value) => Snapshot::Bytes(value.as_bytes().to_vec().into()),
            })
        })
        .await
    }

    async fn write(&self, key: &AccessKey) -> Result<Option<Snapshot>, SinkError> {
        let json = encode(key);
        self.blocking(move |this| this.set(&json)).await?;
        Ok(None)
    }

    async fn restore(&self, snapshot: &Snapshot, _written: &AccessKey) -> Result<(), SinkError> {
        // The entry is one value that only rekey writes: putting it back whole undoes
        // exactly rekey's write.
        let previous = match snapshot {
            Snapshot::Absent => None,
            Snapshot::Bytes(bytes) => Some(Zeroizing::new(
                String::from_utf8_lossy(bytes.expose_secret()).into_owned(),
            )),
        };
        self.blocking(move |this| match previous {
            None => this.remove(),
            Some(value) => this.set(&value),
        })
        .await
    }
}
