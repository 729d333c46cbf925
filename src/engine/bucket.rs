//! The S3 bucket of a shared state (`state: s3://…`), as the lease and the journal copies
//! use it: conditional writes, and a list of signers tried in turn.
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
use zeroize::Zeroizing;

use crate::engine::error::{Cause, ErrorKind};

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
    /// `ConditionalRequestConflict`).
    Taken,
    /// Anything else.
    Failed(Cause),
}

/// One call's outcome with one signer.
enum Attempt<T> {
    Done(T),
    /// The signing key is unknown or inactive: the next signer is tried.
    Refused(String),
}

/// A bucket and who signs for it.
pub(crate) struct Bucket {
    name: String,
    /// The account that must own it (12 digits).
    owner: String,
    /// Clients to sign with, tried in order (the newest signer first).
    signers: Mutex<Vec<aws_sdk_s3::Client>>,
}

impl Bucket {
    /// The bucket `name`, owned by the account `owner`, signed by `client`.
    pub(crate) fn new(name: &str, owner: &str, client: aws_sdk_s3::Client) -> Self {
        Self {
            name: name.to_owned(),
            owner: owner.to_owned(),
            signers: Mutex::new(vec![client]),
        }
    }

    /// The bucket's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Signs with `client` first from now on (see the module docs).
    pub(crate) fn sign_first_with(&self, client: aws_sdk_s3::Client) {
        self.signers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(0, client);
    }

    /// Runs `call` with each signer in turn until one is not refused.
    async fn signed<T, F, Fut>(&self, mut call: F) -> Result<T, Cause>
    where
        F: FnMut(aws_sdk_s3::Client) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        let signers = self
            .signers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut refused = String::from("no signer");
        for client in signers {
            match call(client).await {
                Attempt::Done(result) => return Ok(result),
                Attempt::Refused(why) => refused = why,
            }
        }
        Err(Cause::new(
            ErrorKind::InvalidKey,
            format!(
                "s3://{}: every key rekey could sign with was refused: {refused}",
                self.name
            ),
        ))
    }

    /// Writes `bytes` as `key` under `condition`; returns the new version's ETag.
    pub(crate) async fn put(
        &self,
        key: &str,
        bytes: &[u8],
        condition: Condition<'_>,
    ) -> Result<String, WriteError> {
        let done = self
            .signed(|client| async move {
                let request = client
                    .put_object()
                    .bucket(&self.name)
                    .expected_bucket_owner(&self.owner)
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
                // A version we replace (`If-Match`) that is gone was taken over and
                // released meanwhile: taken too, not a failure to retry.
                let replacing = matches!(condition, Condition::Is(_));
                match request.send().await {
                    Ok(out) => Attempt::Done(Ok(out.e_tag.unwrap_or_default())),
                    Err(e) if taken(e.code()) || (replacing && e.code() == Some("NoSuchKey")) => {
                        Attempt::Done(Err(WriteError::Taken))
                    }
                    Err(e) => self.refused_or(e.code(), e.message(), WriteError::Failed),
                }
            })
            .await;
        done.unwrap_or_else(|refused| Err(WriteError::Failed(refused)))
    }

    /// The object `key` and its ETag, or `None` if there is none.
    pub(crate) async fn get(
        &self,
        key: &str,
    ) -> Result<Option<(Zeroizing<Vec<u8>>, String)>, Cause> {
        Ok(self.object(key).await?.map(|o| (o.bytes, o.etag)))
    }

    /// The object `key` with its tag, or `None` if there is none.
    pub(crate) async fn object(&self, key: &str) -> Result<Option<Object>, Cause> {
        self.signed(|client| async move {
            let request = client
                .get_object()
                .bucket(&self.name)
                .expected_bucket_owner(&self.owner)
                .key(key);
            match request.send().await {
                Ok(out) => {
                    let etag = out.e_tag.clone().unwrap_or_default();
                    let tag = out.metadata().and_then(|m| m.get(TAG)).cloned();
                    Attempt::Done(match out.body.collect().await {
                        Ok(body) => Ok(Some(Object {
                            bytes: Zeroizing::new(body.into_bytes().to_vec()),
                            etag,
                            tag,
                        })),
                        Err(_) => Err(Cause::new(
                            ErrorKind::Aws,
                            format!("cannot read s3://{}/{key}", self.name),
                        )),
                    })
                }
                Err(e) if e.code() == Some("NoSuchKey") => Attempt::Done(Ok(None)),
                Err(e) => self.refused_or(e.code(), e.message(), |m| m),
            }
        })
        .await?
    }

    /// Every object key under `prefix`.
    pub(crate) async fn list(&self, prefix: &str) -> Result<Vec<String>, Cause> {
        self.signed(|client| async move {
            let mut keys = Vec::new();
            let mut pages = client
                .list_objects_v2()
                .bucket(&self.name)
                .expected_bucket_owner(&self.owner)
                .prefix(prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                match page {
                    Ok(page) => keys.extend(
                        page.contents()
                            .iter()
                            .filter_map(|o| o.key().map(str::to_owned)),
                    ),
                    Err(e) => return self.refused_or(e.code(), e.message(), |m| m),
                }
            }
            Attempt::Done(Ok(keys))
        })
        .await?
    }

    /// Deletes `key`, only if it is version `etag` when one is given.
    pub(crate) async fn delete(&self, key: &str, etag: Option<&str>) -> Result<(), Cause> {
        self.signed(|client| async move {
            let request = client
                .delete_object()
                .bucket(&self.name)
                .expected_bucket_owner(&self.owner)
                .key(key);
            let request = match etag {
                Some(etag) => request.if_match(etag),
                None => request,
            };
            match request.send().await {
                Ok(_) => Attempt::Done(Ok(())),
                Err(e) => self.refused_or(e.code(), e.message(), |m| m),
            }
        })
        .await?
    }

    /// A refused signer (try the next), or the failure `as_error` makes of the cause.
    fn refused_or<T, E>(
        &self,
        code: Option<&str>,
        message: Option<&str>,
        as_error: impl FnOnce(Cause) -> E,
    ) -> Attempt<Result<T, E>> {
        let said = describe(code, message);
        if matches!(
            code,
            Some("InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidClientTokenId")
        ) {
            Attempt::Refused(said)
        } else {
            let kind = match code {
                Some("AccessDenied" | "AllAccessDisabled" | "KMS.AccessDeniedException") => {
                    ErrorKind::AccessDenied
                }
                Some("SlowDown" | "Throttling" | "ThrottlingException") => ErrorKind::Throttled,
                _ => ErrorKind::Aws,
            };
            let cause = Cause::new(kind, format!("s3://{}: {said}", self.name));
            Attempt::Done(Err(as_error(cause)))
        }
    }
}

fn taken(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("PreconditionFailed" | "ConditionalRequestConflict")
    )
}

fn describe(code: Option<&str>, message: Option<&str>) -> String {
    match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => "no answer from S3".to_owned(),
    }
}
