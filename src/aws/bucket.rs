//! The S3 bucket of a shared state (`state: s3://…`), as the lease and the journal copies
//! use it: conditional writes, and a list of signers tried in turn. It lives beside IAM
//! and STS: its calls are [`Caller`]'s, classified as every AWS call of rekey is
//! ([`AwsError`]), and answered by the in-memory fake in unit tests.
//!
//! Every call names the account expected to own the bucket (`x-amz-expected-bucket-owner`,
//! issue 29): a mistyped bucket name, or one deleted and registered again by someone
//! else, answers AccessDenied instead of receiving journals that hold secrets and
//! feeding planted ones back.
//!
//! Why a list: a rotation starts signed by the old key and ends after deactivating it,
//! so once the new key is proven it signs first ([`Bucket::sign_first_with`]), and the
//! others are tried only if AWS refuses it (unknown or inactive key). Signing with an
//! old key after its deactivation would also count as a use of it, which keeps prune
//! from deleting it.

use std::future::Future;
use std::sync::Mutex;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use zeroize::Zeroizing;

use super::{AwsError, AwsErrorKind, Caller};

/// A conditional write's condition.
#[derive(Clone, Copy)]
pub(crate) enum Condition<'a> {
    /// Only if the object does not exist (`If-None-Match: *`).
    Absent,
    /// Only if the object is this version (`If-Match: ETAG`).
    Is(&'a str),
    /// In any case, encrypted with KMS (`kms_key_id`; `None`: the account's `aws/s3`
    /// key), since it holds a secret, with its authentication `tag` as metadata.
    Secret {
        /// The KMS key.
        kms_key_id: Option<&'a str>,
        /// The fleet's tag of the object (see [`crate::state::FleetKey`]).
        tag: &'a str,
    },
}

/// The user metadata that carries a journal copy's tag (`x-amz-meta-rekey-tag`).
const TAG: &str = "rekey-tag";

/// An object as read: its bytes, its ETag and its tag, if it has one.
pub(crate) struct Object {
    /// The content (it may hold a secret).
    pub(crate) bytes: Zeroizing<Vec<u8>>,
    /// The version read.
    pub(crate) etag: String,
    /// The `rekey-tag` metadata.
    pub(crate) tag: Option<String>,
}

/// Why a write did not happen.
pub(crate) enum WriteError {
    /// The condition failed: someone else's version is there (`PreconditionFailed`,
    /// `ConditionalRequestConflict`), or the version to replace is gone (`NoSuchKey`
    /// on `If-Match`: taken over and released meanwhile).
    Taken,
    /// Anything else.
    Failed(AwsError),
}

/// Where an S3 call goes: the bucket, and the account that must own it.
#[derive(Clone, Copy)]
pub(crate) struct At<'a> {
    /// The bucket.
    pub(crate) bucket: &'a str,
    /// The account that must own it (12 digits).
    pub(crate) owner: &'a str,
}

impl Caller {
    /// `s3:PutObject` of `bytes` as `key` under `condition`: the new version's ETag.
    pub(crate) async fn put_object(
        &self,
        at: At<'_>,
        key: &str,
        bytes: &[u8],
        condition: Condition<'_>,
    ) -> Result<String, WriteError> {
        faked!(self, |iam, signer| iam
            .put_object(signer, at, key, bytes, condition));
        let request = self
            .s3
            .put_object()
            .bucket(at.bucket)
            .expected_bucket_owner(at.owner)
            .key(key)
            .body(ByteStream::from(bytes.to_vec()));
        let request = match condition {
            Condition::Absent => request.if_none_match("*"),
            Condition::Is(etag) => request.if_match(etag),
            Condition::Secret { kms_key_id, tag } => request
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .set_ssekms_key_id(kms_key_id.map(str::to_owned))
                .metadata(TAG, tag),
        };
        let replacing = matches!(condition, Condition::Is(_));
        match request.send().await {
            Ok(out) => Ok(out.e_tag.unwrap_or_default()),
            Err(e) if taken(e.code()) || (replacing && e.code() == Some("NoSuchKey")) => {
                Err(WriteError::Taken)
            }
            Err(e) => Err(WriteError::Failed(failed("s3:PutObject", at, key, e))),
        }
    }

    /// `s3:GetObject` of `key`, or `None` if there is none.
    pub(crate) async fn get_object(
        &self,
        at: At<'_>,
        key: &str,
    ) -> Result<Option<Object>, AwsError> {
        faked!(self, |iam, signer| iam.get_object(signer, at, key));
        let request = self
            .s3
            .get_object()
            .bucket(at.bucket)
            .expected_bucket_owner(at.owner)
            .key(key);
        let out = match request.send().await {
            Ok(out) => out,
            Err(e) if e.code() == Some("NoSuchKey") => return Ok(None),
            Err(e) => return Err(failed("s3:GetObject", at, key, e)),
        };
        let etag = out.e_tag.clone().unwrap_or_default();
        let tag = out.metadata().and_then(|m| m.get(TAG)).cloned();
        let body = out.body.collect().await.map_err(|_| AwsError {
            operation: "s3:GetObject",
            kind: AwsErrorKind::NoResponse,
            message: format!("s3://{}/{key}: unreadable response", at.bucket),
        })?;
        Ok(Some(Object {
            bytes: Zeroizing::new(body.into_bytes().to_vec()),
            etag,
            tag,
        }))
    }

    /// `s3:ListBucket`: every object key under `prefix`.
    pub(crate) async fn list_objects(
        &self,
        at: At<'_>,
        prefix: &str,
    ) -> Result<Vec<String>, AwsError> {
        faked!(self, |iam, signer| iam.list_objects(signer, at, prefix));
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(at.bucket)
            .expected_bucket_owner(at.owner)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| failed("s3:ListBucket", at, prefix, e))?;
            let listed = page.contents().iter().filter_map(|o| o.key());
            keys.extend(listed.map(str::to_owned));
        }
        Ok(keys)
    }

    /// `s3:DeleteObject` of `key`, only if it is version `etag` when one is given.
    pub(crate) async fn delete_object(
        &self,
        at: At<'_>,
        key: &str,
        etag: Option<&str>,
    ) -> Result<(), AwsError> {
        faked!(self, |iam, signer| iam.delete_object(signer, at, key, etag));
        let request = self
            .s3
            .delete_object()
            .bucket(at.bucket)
            .expected_bucket_owner(at.owner)
            .key(key)
            .set_if_match(etag.map(str::to_owned));
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(failed("s3:DeleteObject", at, key, e)),
        }
    }
}

/// A failed S3 call, classified like every AWS call, naming the object.
fn failed<E>(
    operation: &'static str,
    at: At<'_>,
    key: &str,
    error: SdkError<E, HttpResponse>,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let error = AwsError::from_sdk(operation, error);
    AwsError {
        message: format!("s3://{}/{key}: {}", at.bucket, error.message),
        ..error
    }
}

/// A conditional write that lost: someone else's version is there.
pub(super) fn taken(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("PreconditionFailed" | "ConditionalRequestConflict")
    )
}

/// A bucket and who signs for it.
pub(crate) struct Bucket {
    name: String,
    /// The account that must own it (12 digits).
    owner: String,
    /// Who signs, tried in order (the newest signer first).
    signers: Mutex<Vec<Caller>>,
}

impl Bucket {
    /// The bucket `name`, owned by the account `owner`, signed by `caller`.
    pub(crate) fn new(name: &str, owner: &str, caller: Caller) -> Self {
        Self {
            name: name.to_owned(),
            owner: owner.to_owned(),
            signers: Mutex::new(vec![caller]),
        }
    }

    /// The bucket's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Signs with `caller` first from now on (see the module docs).
    pub(crate) fn sign_first_with(&self, caller: Caller) {
        self.signers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(0, caller);
    }

    fn at(&self) -> At<'_> {
        At {
            bucket: &self.name,
            owner: &self.owner,
        }
    }

    /// Runs `call` with each signer in turn while AWS refuses the signer (an unknown or
    /// inactive key); the first other answer is the answer.
    async fn signed<T, F, Fut>(&self, mut call: F) -> Result<T, AwsError>
    where
        F: FnMut(Caller) -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let signers = self
            .signers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut last = None;
        for caller in signers {
            match call(caller).await {
                Err(e) if e.kind == AwsErrorKind::InvalidCredentials => last = Some(e),
                answer => return answer,
            }
        }
        let refused = last.map_or("no signer".to_owned(), |e| e.message);
        Err(AwsError {
            operation: "s3",
            kind: AwsErrorKind::InvalidCredentials,
            message: format!(
                "s3://{}: every key rekey could sign with was refused: {refused}",
                self.name
            ),
        })
    }

    /// Writes `bytes` as `key` under `condition`; returns the new version's ETag.
    pub(crate) async fn put(
        &self,
        key: &str,
        bytes: &[u8],
        condition: Condition<'_>,
    ) -> Result<String, WriteError> {
        // A lost condition is an answer (`Ok(Err(Taken))`), not a refused signer.
        let done = self
            .signed(|caller| async move {
                match caller.put_object(self.at(), key, bytes, condition).await {
                    Ok(etag) => Ok(Ok(etag)),
                    Err(WriteError::Taken) => Ok(Err(WriteError::Taken)),
                    Err(WriteError::Failed(e)) => Err(e),
                }
            })
            .await;
        done.unwrap_or_else(|e| Err(WriteError::Failed(e)))
    }

    /// The object `key` and its ETag, or `None` if there is none.
    pub(crate) async fn get(
        &self,
        key: &str,
    ) -> Result<Option<(Zeroizing<Vec<u8>>, String)>, AwsError> {
        Ok(self.object(key).await?.map(|o| (o.bytes, o.etag)))
    }

    /// The object `key` with its tag, or `None` if there is none.
    pub(crate) async fn object(&self, key: &str) -> Result<Option<Object>, AwsError> {
        self.signed(|caller| async move { caller.get_object(self.at(), key).await })
            .await
    }

    /// Every object key under `prefix`.
    pub(crate) async fn list(&self, prefix: &str) -> Result<Vec<String>, AwsError> {
        self.signed(|caller| async move { caller.list_objects(self.at(), prefix).await })
            .await
    }

    /// Deletes `key`, only if it is version `etag` when one is given.
    pub(crate) async fn delete(&self, key: &str, etag: Option<&str>) -> Result<(), AwsError> {
        self.signed(|caller| async move { caller.delete_object(self.at(), key, etag).await })
            .await
    }
}
