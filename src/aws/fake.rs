//! An in-memory IAM and STS for the engine's unit tests (the recovery decision table,
//! the rules that need many IAM states to be shown): [`Caller`]'s seam, compiled only
//! for tests. It answers as AWS does where rekey's decisions depend on it: a call signed
//! with an unknown or inactive key is refused (`InvalidClientTokenId`), a third key is
//! `LimitExceeded`, a missing key `NoSuchEntity`, a denied action `AccessDenied`. Every
//! path these tests take also runs against the real IAM API (moto) in
//! `tests/integration`.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rekey_sinks::AccessKey;
use secrecy::SecretString;

use super::{AwsError, AwsErrorKind, Identity, KeyMeta, LastUsed};

/// The account every fake user lives in.
pub(crate) const ACCOUNT: &str = "123456789012";

/// One user's key.
struct Key {
    id: String,
    user: String,
    active: bool,
    created: SystemTime,
    last_used: Option<SystemTime>,
}

#[derive(Default)]
struct State {
    keys: Vec<Key>,
    tags: BTreeMap<String, BTreeMap<String, String>>,
    denied: HashSet<&'static str>,
    created: u32,
}

/// The fake IAM and STS of one account.
#[derive(Default)]
pub(crate) struct FakeIam {
    state: Mutex<State>,
}

impl FakeIam {
    /// An empty account.
    pub(crate) fn new() -> Arc<Self> {
        Arc::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a key for `user` (the user exists once it has a key), as an admin would.
    pub(crate) fn add_key(&self, user: &str) -> AccessKey {
        let mut state = self.state();
        state.created += 1;
        let n = state.created;
        // `AKIAFAKE` and 12 characters of AWS's alphabet (A-Z, 2-7): `n` in base 32.
        let id: String = (0..12)
            .rev()
            .map(|i| {
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[((u64::from(n) >> (i * 5)) & 31) as usize]
                    as char
            })
            .collect();
        let id = format!("AKIAFAKE{id}");
        let secret = format!("fakeSecret{n:030}");
        state.keys.push(Key {
            id: id.clone(),
            user: user.to_owned(),
            active: true,
            created: SystemTime::now(),
            last_used: None,
        });
        AccessKey::new(id, SecretString::from(secret)).expect("a plausible key")
    }

    /// `user`'s keys as (id, active), in creation order.
    pub(crate) fn keys(&self, user: &str) -> Vec<(String, bool)> {
        let state = self.state();
        let keys = state.keys.iter().filter(|k| k.user == user);
        keys.map(|k| (k.id.clone(), k.active)).collect()
    }

    /// Makes `key_id` active or inactive, as an admin would.
    pub(crate) fn set_status(&self, key_id: &str, active: bool) {
        let mut state = self.state();
        if let Some(key) = state.keys.iter_mut().find(|k| k.id == key_id) {
            key.active = active;
        }
    }

    /// Refuses every call of `operation` (`iam:ListAccessKeys`) with `AccessDenied`.
    pub(crate) fn deny(&self, operation: &'static str) {
        self.state().denied.insert(operation);
    }

    /// The user a call signed with `key_id` acts as, if AWS accepts the key; the call
    /// counts as a use of the key.
    fn signed(&self, key_id: &str, operation: &'static str) -> Result<String, AwsError> {
        let mut state = self.state();
        if state.denied.contains(operation) {
            return Err(error(operation, AwsErrorKind::AccessDenied, "AccessDenied"));
        }
        match state.keys.iter_mut().find(|k| k.id == key_id && k.active) {
            Some(key) => {
                key.last_used = Some(SystemTime::now());
                Ok(key.user.clone())
            }
            None => Err(error(
                operation,
                AwsErrorKind::InvalidCredentials,
                "InvalidClientTokenId: The security token included in the request is invalid.",
            )),
        }
    }

    pub(super) fn identity(&self, signer: &str) -> Result<Identity, AwsError> {
        let user = self.signed(signer, "sts:GetCallerIdentity")?;
        Ok(Identity {
            account: ACCOUNT.to_owned(),
            arn: arn(&user),
            user_name: Some(user),
        })
    }

    pub(super) fn list_keys(&self, signer: &str, user: &str) -> Result<Vec<KeyMeta>, AwsError> {
        self.signed(signer, "iam:ListAccessKeys")?;
        let state = self.state();
        let keys = state.keys.iter().filter(|k| k.user == user);
        Ok(keys
            .map(|k| KeyMeta {
                id: k.id.clone(),
                active: k.active,
                created: k.created,
            })
            .collect())
    }

    pub(super) fn last_used(&self, signer: &str, key_id: &str) -> Result<LastUsed, AwsError> {
        self.signed(signer, "iam:GetAccessKeyLastUsed")?;
        let state = self.state();
        let key = state.keys.iter().find(|k| k.id == key_id);
        let key = key.ok_or_else(|| no_such("iam:GetAccessKeyLastUsed", key_id))?;
        Ok(LastUsed {
            date: key.last_used,
            service: key.last_used.map(|_| "sts".to_owned()),
            region: key.last_used.map(|_| "us-east-1".to_owned()),
            user_name: Some(key.user.clone()),
        })
    }

    pub(super) fn create_key(&self, signer: &str, user: &str) -> Result<AccessKey, AwsError> {
        self.signed(signer, "iam:CreateAccessKey")?;
        if self.keys(user).len() >= 2 {
            return Err(error(
                "iam:CreateAccessKey",
                AwsErrorKind::LimitExceeded,
                "LimitExceeded: Cannot exceed quota for AccessKeysPerUser: 2",
            ));
        }
        Ok(self.add_key(user))
    }

    pub(super) fn set_active(
        &self,
        signer: &str,
        user: &str,
        key_id: &str,
        active: bool,
    ) -> Result<(), AwsError> {
        self.signed(signer, "iam:UpdateAccessKey")?;
        let mut state = self.state();
        let key = state
            .keys
            .iter_mut()
            .find(|k| k.id == key_id && k.user == user);
        key.ok_or_else(|| no_such("iam:UpdateAccessKey", key_id))?
            .active = active;
        Ok(())
    }

    pub(super) fn delete_key(
        &self,
        signer: &str,
        user: &str,
        key_id: &str,
    ) -> Result<(), AwsError> {
        self.signed(signer, "iam:DeleteAccessKey")?;
        let mut state = self.state();
        let before = state.keys.len();
        state.keys.retain(|k| !(k.id == key_id && k.user == user));
        if state.keys.len() == before {
            return Err(no_such("iam:DeleteAccessKey", key_id));
        }
        Ok(())
    }

    pub(super) fn user_tags(
        &self,
        signer: &str,
        user: &str,
    ) -> Result<Vec<(String, String)>, AwsError> {
        self.signed(signer, "iam:ListUserTags")?;
        let state = self.state();
        let tags = state.tags.get(user).into_iter().flatten();
        Ok(tags.map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    pub(super) fn tag_user(
        &self,
        signer: &str,
        user: &str,
        key: &str,
        value: &str,
    ) -> Result<(), AwsError> {
        self.signed(signer, "iam:TagUser")?;
        let mut state = self.state();
        let tags = state.tags.entry(user.to_owned()).or_default();
        tags.insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    pub(super) fn put_user_policy(
        &self,
        signer: &str,
        user: &str,
        name: &str,
        document: &str,
    ) -> Result<(), AwsError> {
        // Policies are not evaluated here: the fault proxy does (integration tests).
        let _ = (user, name, document);
        self.signed(signer, "iam:PutUserPolicy").map(drop)
    }

    pub(super) fn untag_user(&self, signer: &str, user: &str, key: &str) -> Result<(), AwsError> {
        self.signed(signer, "iam:UntagUser")?;
        if let Some(tags) = self.state().tags.get_mut(user) {
            tags.remove(key);
        }
        Ok(())
    }
}

/// `user`'s ARN in the fake account.
pub(crate) fn arn(user: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{user}")
}

fn error(operation: &'static str, kind: AwsErrorKind, message: &str) -> AwsError {
    AwsError {
        operation,
        kind,
        message: message.to_owned(),
    }
}

fn no_such(operation: &'static str, key_id: &str) -> AwsError {
    error(
        operation,
        AwsErrorKind::NoSuchEntity,
        &format!("NoSuchEntity: The Access Key with id {key_id} cannot be found."),
    )
}
