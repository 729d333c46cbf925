//! An in-memory IAM, STS and S3 for the engine's unit tests (the recovery decision
//! table, the lease's races, the rules that need many states to be shown): [`Caller`]'s
//! seam, compiled only for tests. It answers as AWS does where rekey's decisions depend
//! on it: a call signed with an unknown or inactive key is refused
//! (`InvalidClientTokenId`), a third key is `LimitExceeded`, a missing key
//! `NoSuchEntity`, a denied action `AccessDenied`, a conditional write whose condition
//! fails `PreconditionFailed`. Every path these tests take also runs against the real
//! APIs (moto) in `tests/integration`.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rekey_sinks::AccessKey;
use secrecy::SecretString;

use super::bucket::{At, Condition, Object, WriteError};
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

/// One S3 object.
struct StoredObject {
    bytes: Vec<u8>,
    etag: String,
    tag: Option<String>,
}

#[derive(Default)]
struct State {
    keys: Vec<Key>,
    /// S3 objects by (bucket, key): the shared state's conditional writes.
    objects: BTreeMap<(String, String), StoredObject>,
    versions: u32,
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

    /// A call the fake only checks the signature of (what it changes is not modelled:
    /// the integration tests run it against the emulator).
    pub(super) fn accepts(&self, signer: &str, operation: &'static str) -> Result<(), AwsError> {
        self.signed(signer, operation).map(drop)
    }

    /// No user of the fake is quarantined: the quarantine runs against the emulator,
    /// which has AWS's managed policies and evaluates them (integration tests).
    pub(super) fn attached_policies(
        &self,
        signer: &str,
        user: &str,
    ) -> Result<Vec<super::policies::AttachedPolicy>, AwsError> {
        let _ = user;
        self.signed(signer, "iam:ListAttachedUserPolicies")
            .map(|_| Vec::new())
    }

    pub(super) fn detach_user_policy(
        &self,
        signer: &str,
        user: &str,
        arn: &str,
    ) -> Result<(), AwsError> {
        let _ = (user, arn);
        self.signed(signer, "iam:DetachUserPolicy").map(drop)
    }

    pub(super) fn policy_denies(&self, signer: &str, arn: &str) -> Result<Vec<String>, AwsError> {
        let _ = arn;
        self.signed(signer, "iam:GetPolicyVersion")
            .map(|_| Vec::new())
    }

    pub(super) fn untag_user(&self, signer: &str, user: &str, key: &str) -> Result<(), AwsError> {
        self.signed(signer, "iam:UntagUser")?;
        if let Some(tags) = self.state().tags.get_mut(user) {
            tags.remove(key);
        }
        Ok(())
    }
}

/// S3 as the lease and the journal copies use it (see [`super::bucket`]): conditional
/// writes as AWS answers them, versions by ETag.
impl FakeIam {
    /// An object's content as stored, or `None` (the tests' view).
    pub(crate) fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let state = self.state();
        let object = state.objects.get(&(bucket.to_owned(), key.to_owned()));
        object.map(|o| o.bytes.clone())
    }

    /// Puts or removes an object as another machine would (no condition).
    pub(crate) fn set_object(&self, bucket: &str, key: &str, bytes: Option<&[u8]>) {
        let mut state = self.state();
        let at = (bucket.to_owned(), key.to_owned());
        match bytes {
            Some(bytes) => {
                state.versions += 1;
                let etag = format!("\"v{}\"", state.versions);
                let stored = StoredObject {
                    bytes: bytes.to_vec(),
                    etag,
                    tag: None,
                };
                state.objects.insert(at, stored);
            }
            None => {
                state.objects.remove(&at);
            }
        }
    }

    pub(super) fn put_object(
        &self,
        signer: &str,
        at: At<'_>,
        key: &str,
        bytes: &[u8],
        condition: Condition<'_>,
    ) -> Result<String, WriteError> {
        self.signed(signer, "s3:PutObject")
            .map_err(WriteError::Failed)?;
        let mut state = self.state();
        let place = (at.bucket.to_owned(), key.to_owned());
        let now = state.objects.get(&place).map(|o| o.etag.clone());
        let tag = match condition {
            Condition::Absent if now.is_some() => return Err(WriteError::Taken),
            Condition::Is(etag) if now.as_deref() != Some(etag) => return Err(WriteError::Taken),
            Condition::Secret { tag, .. } => Some(tag.to_owned()),
            _ => None,
        };
        state.versions += 1;
        let etag = format!("\"v{}\"", state.versions);
        let stored = StoredObject {
            bytes: bytes.to_vec(),
            etag: etag.clone(),
            tag,
        };
        state.objects.insert(place, stored);
        Ok(etag)
    }

    pub(super) fn get_object(
        &self,
        signer: &str,
        at: At<'_>,
        key: &str,
    ) -> Result<Option<Object>, AwsError> {
        self.signed(signer, "s3:GetObject")?;
        let state = self.state();
        let object = state.objects.get(&(at.bucket.to_owned(), key.to_owned()));
        Ok(object.map(|o| Object {
            bytes: o.bytes.clone().into(),
            etag: o.etag.clone(),
            tag: o.tag.clone(),
        }))
    }

    pub(super) fn list_objects(
        &self,
        signer: &str,
        at: At<'_>,
        prefix: &str,
    ) -> Result<Vec<String>, AwsError> {
        self.signed(signer, "s3:ListBucket")?;
        let state = self.state();
        let keys = state.objects.keys();
        let under = keys.filter(|(bucket, key)| bucket == at.bucket && key.starts_with(prefix));
        Ok(under.map(|(_, key)| key.clone()).collect())
    }

    pub(super) fn delete_object(
        &self,
        signer: &str,
        at: At<'_>,
        key: &str,
        etag: Option<&str>,
    ) -> Result<(), AwsError> {
        self.signed(signer, "s3:DeleteObject")?;
        let mut state = self.state();
        let place = (at.bucket.to_owned(), key.to_owned());
        let now = state.objects.get(&place).map(|o| o.etag.clone());
        if etag.is_some_and(|etag| now.as_deref() != Some(etag)) {
            return Err(error(
                "s3:DeleteObject",
                AwsErrorKind::Other,
                "PreconditionFailed: At least one of the pre-conditions you specified did not hold",
            ));
        }
        state.objects.remove(&place);
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
