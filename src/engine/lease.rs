//! A lease per IAM user in S3 (`state: s3://BUCKET/PREFIX`): what orders two machines'
//! commands on one user.
//!
//! IAM has no compare-and-swap, so tags cannot order two machines (issue 17, defect 5:
//! prune on one machine and rollback on another left a user with no key). S3 can: an
//! object created with `If-None-Match: *` exists once, and one replaced with `If-Match:
//! ETAG` was not replaced meanwhile (Terraform's S3 backend locks the same way since
//! 1.10). So every command that changes a user's keys or rekey's records of them holds
//! the user's lease, `PREFIX/locks/ACCOUNT/USER.json`, besides this machine's own lock:
//!
//! - **taken** by creating the object (`If-None-Match: *`); it names its holder (host,
//!   pid, command) and when it expires, by AWS's clock;
//! - **renewed** every third of its lifetime (`If-Match` on the last ETag), so a long
//!   rotation keeps it, and a holder that was killed loses it when it expires;
//! - **taken over**, once expired, by replacing it with `If-Match` on the ETag read: of
//!   two machines taking over at once, one wins;
//! - **released** by deleting it (`If-Match`, so a lease taken over is not deleted).
//!
//! A machine that finds the lease held waits up to `--lock-timeout`, then says who holds
//! it. The lease is signed like the user's IAM calls; a rotation adds its new key as a
//! signer once proven, since the old one is deactivated before the lease is released.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};

use crate::aws::{Caller, ServerClock};
use crate::config::profile::SharedState;
use crate::engine::error::{Cause, ErrorKind};
use crate::state::{Copied, Owner, Replica};
use crate::time;

/// How often a held lease is looked at again while waiting for it.
const POLL: Duration = Duration::from_millis(500);

/// What the lease object says.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Holder {
    /// Unique per process: `host:pid:random`.
    holder: String,
    host: String,
    pid: u32,
    /// The command, for people (`apply`, `prune`, …).
    command: String,
    /// When it expires unless renewed (AWS's time, RFC 3339).
    expires: String,
}

/// A held lease; renewed in the background until released (or dropped: then it simply
/// expires).
pub(crate) struct Lease {
    shared: Arc<Shared>,
    renewer: tokio::task::JoinHandle<()>,
}

struct Shared {
    bucket: String,
    key: String,
    /// `PREFIX/state`: where journals are copied.
    root: String,
    ttl: Duration,
    clock: ServerClock,
    holder: Holder,
    /// The ETag of our current version of the object.
    etag: Mutex<String>,
    /// Clients to sign with, tried in order (the newest signer first).
    signers: Mutex<Vec<aws_sdk_s3::Client>>,
    /// Set when a renewal found the lease taken over: this process no longer holds it.
    lost: AtomicBool,
}

impl Lease {
    /// Takes the lease of `owner`'s user in `state`, signed by `caller`, waiting up to
    /// `timeout` while another process holds it. `command` names what holds it.
    pub(crate) async fn acquire(
        state: &SharedState,
        caller: &Caller,
        clock: &ServerClock,
        owner: &Owner,
        command: &str,
        timeout: Duration,
    ) -> Result<Self, Cause> {
        let key = lease_key(state, owner);
        let client = caller.s3().clone();
        let host = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        let pid = std::process::id();
        let holder = Holder {
            holder: format!("{host}:{pid}:{:016x}", fastrand::u64(..)),
            host,
            pid,
            command: command.to_owned(),
            expires: String::new(),
        };
        let shared = Shared {
            bucket: state.bucket.clone(),
            key,
            root: state_root(state),
            ttl: state.lease,
            clock: clock.clone(),
            holder,
            etag: Mutex::new(String::new()),
            signers: Mutex::new(vec![client]),
            lost: AtomicBool::new(false),
        };
        let started = tokio::time::Instant::now();
        loop {
            match shared.create().await {
                Ok(etag) => break shared.set_etag(etag),
                Err(Put::Taken) => {}
                Err(Put::Failed(message)) => return Err(shared.failure(message)),
            }
            // Held, or being released: read it, take it over if it expired.
            match shared.read().await {
                Err(message) => return Err(shared.failure(message)),
                Ok(None) => continue,
                Ok(Some((other, etag))) => {
                    let expired = parse_time(&other.expires)
                        .is_none_or(|expires| expires < shared.clock.now());
                    if expired {
                        match shared.replace(&etag).await {
                            Ok(etag) => {
                                tracing::warn!(
                                    lease = %shared.key,
                                    holder = %other.holder,
                                    "took over an expired lease (its holder stopped renewing it)"
                                );
                                break shared.set_etag(etag);
                            }
                            Err(Put::Taken) => continue,
                            Err(Put::Failed(message)) => return Err(shared.failure(message)),
                        }
                    }
                    if started.elapsed() >= timeout {
                        return Err(Cause::new(
                            ErrorKind::Busy,
                            format!(
                                "user {} is locked by rekey {} on {} (pid {}) until {} (lease s3://{}/{}); waited {:?} (see --lock-timeout)",
                                owner.user_arn,
                                other.command,
                                other.host,
                                other.pid,
                                other.expires,
                                shared.bucket,
                                shared.key,
                                started.elapsed()
                            ),
                        ));
                    }
                    tokio::time::sleep(POLL).await; // poll interval, bounded by `timeout`
                }
            }
        }
        let shared = Arc::new(shared);
        let renewing = shared.clone();
        let renewer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(renewing.ttl / 3).await;
                let etag = renewing
                    .etag
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                match renewing.replace(&etag).await {
                    Ok(etag) => renewing.set_etag(etag),
                    Err(Put::Taken) => {
                        renewing.lost.store(true, Ordering::SeqCst);
                        tracing::warn!(lease = %renewing.key, "the lease was taken over: this run stalled past it");
                        return;
                    }
                    // Tried again at the next turn; it may still expire.
                    Err(Put::Failed(message)) => {
                        tracing::warn!(lease = %renewing.key, %message, "cannot renew the lease")
                    }
                }
            }
        });
        Ok(Self { shared, renewer })
    }

    /// Signs the lease's calls with `caller` from now on, and with the earlier signers
    /// only if AWS refuses it: a rotation's new key, once proven, since the old one is
    /// deactivated before the lease is released (and a call signed with it would count as
    /// a use of the old key after its deactivation, which keeps it from being deleted).
    pub(crate) fn sign_also_with(&self, caller: &Caller) {
        self.shared
            .signers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(0, caller.s3().clone());
    }

    /// The shared copy of journals ([`Replica`]), signed like the lease.
    pub(crate) fn replica(&self) -> Arc<dyn Replica> {
        Arc::new(S3Replica {
            shared: self.shared.clone(),
        })
    }

    /// Whether the shared state still holds the journal `name` (`<account>-<user>`).
    pub(crate) async fn holds_journal(&self, name: &str) -> Result<bool, Cause> {
        let key = format!("{}/journal/{name}.json", self.shared.root);
        self.shared
            .get(&key)
            .await
            .map(|object| object.is_some())
            .map_err(|message| self.shared.failure(message))
    }

    /// The journal `name` as the shared state holds it, if it does.
    pub(crate) async fn copied_journal(&self, name: &str) -> Result<Option<Copied>, Cause> {
        let shared = &self.shared;
        let fail = |message| shared.failure(message);
        let record_key = format!("{}/journal/{name}.json", shared.root);
        let Some(record) = shared.get(&record_key).await.map_err(fail)? else {
            return Ok(None);
        };
        let folder = format!("{}/backups/{name}/", shared.root);
        let mut backups = Vec::new();
        for key in shared.list(&folder).await.map_err(fail)? {
            if let Some(bytes) = shared.get(&key).await.map_err(fail)? {
                backups.push((key[folder.len()..].to_owned(), bytes));
            }
        }
        Ok(Some(Copied {
            name: name.to_owned(),
            record,
            backups,
        }))
    }

    /// Fails if the lease was taken over (this process stalled past its expiry): what it
    /// was about to do is no longer ordered with the other machines.
    pub(crate) fn check(&self) -> Result<(), Cause> {
        if self.shared.lost.load(Ordering::SeqCst) {
            return Err(self.shared.failure(
                "the lease expired and another machine took it over; stopped before changing anything more".into(),
            ));
        }
        Ok(())
    }

    /// Releases the lease (unless it was taken over). A failure is only a warning: the
    /// lease then expires.
    pub(crate) async fn release(self) {
        self.renewer.abort();
        let etag = self
            .shared
            .etag
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for client in self.shared.clients() {
            let deleted = client
                .delete_object()
                .bucket(&self.shared.bucket)
                .key(&self.shared.key)
                .if_match(&etag)
                .send()
                .await;
            match deleted {
                Ok(_) => return,
                Err(e) if signer_refused(e.code()) => continue,
                Err(e) => {
                    tracing::warn!(lease = %self.shared.key, code = ?e.code(), "cannot release the lease; it expires by itself");
                    return;
                }
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// Why a conditional write did not happen.
enum Put {
    /// Someone else's version is there (`PreconditionFailed`, `ConditionalRequestConflict`).
    Taken,
    /// Anything else, said.
    Failed(String),
}

/// The journals copied to the shared state, read as `caller`: their names
/// (`<account>-<user>`) and records, for a run that may have to finish one.
pub(crate) async fn shared_journals(
    state: &SharedState,
    caller: &Caller,
) -> Result<Vec<(String, crate::state::JournalRecord)>, String> {
    let client = caller.s3();
    let folder = format!("{}/journal/", state_root(state));
    let mut found = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(&state.bucket)
        .prefix(&folder)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| describe(e.code(), e.message()))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            let Some(name) = key
                .strip_prefix(&folder)
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            let got = client
                .get_object()
                .bucket(&state.bucket)
                .key(key)
                .send()
                .await;
            let Ok(out) = got else { continue };
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|_| "cannot read a shared journal".to_owned())?
                .into_bytes();
            let bytes = zeroize::Zeroizing::new(bytes.to_vec());
            if let Ok(record) = serde_json::from_slice(&bytes) {
                found.push((name.to_owned(), record));
            }
        }
    }
    Ok(found)
}

/// `PREFIX/state` (or `state`).
fn state_root(state: &SharedState) -> String {
    if state.prefix.is_empty() {
        "state".to_owned()
    } else {
        format!("{}/state", state.prefix)
    }
}

/// Journals copied to S3, encrypted with KMS (the account's `aws/s3` key): they hold
/// the new key's secret.
struct S3Replica {
    shared: Arc<Shared>,
}

#[async_trait::async_trait]
impl Replica for S3Replica {
    async fn put(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        let key = format!("{}/{name}", self.shared.root);
        let mut last = String::new();
        for client in self.shared.clients() {
            let put = client
                .put_object()
                .bucket(&self.shared.bucket)
                .key(&key)
                .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
                .body(ByteStream::from(bytes.to_vec()))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(()),
                Err(e) if signer_refused(e.code()) => last = describe(e.code(), e.message()),
                Err(e) => {
                    return Err(format!(
                        "s3://{}/{key}: {}",
                        self.shared.bucket,
                        describe(e.code(), e.message())
                    ))
                }
            }
        }
        Err(last)
    }

    async fn remove_journal(&self, name: &str) -> Result<(), String> {
        let shared = &self.shared;
        // The record first: without it, backups left behind are never imported.
        shared
            .delete(&format!("{}/journal/{name}.json", shared.root))
            .await?;
        for key in shared
            .list(&format!("{}/backups/{name}/", shared.root))
            .await?
        {
            shared.delete(&key).await?;
        }
        Ok(())
    }
}

impl Shared {
    /// The object `key`'s bytes, or `None` if there is none.
    async fn get(&self, key: &str) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, String> {
        let mut last = String::new();
        for client in self.clients() {
            match client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => {
                    let bytes = out
                        .body
                        .collect()
                        .await
                        .map_err(|_| format!("cannot read s3://{}/{key}", self.bucket))?
                        .into_bytes();
                    return Ok(Some(zeroize::Zeroizing::new(bytes.to_vec())));
                }
                Err(e) if e.code() == Some("NoSuchKey") => return Ok(None),
                Err(e) if signer_refused(e.code()) => last = describe(e.code(), e.message()),
                Err(e) => return Err(describe(e.code(), e.message())),
            }
        }
        Err(last)
    }

    /// Every object key under `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, String> {
        let mut last = String::new();
        for client in self.clients() {
            let mut keys = Vec::new();
            let mut pages = client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .into_paginator()
                .send();
            let mut refused = false;
            while let Some(page) = pages.next().await {
                match page {
                    Ok(page) => keys.extend(
                        page.contents()
                            .iter()
                            .filter_map(|o| o.key().map(str::to_owned)),
                    ),
                    Err(e) if signer_refused(e.code()) => {
                        last = describe(e.code(), e.message());
                        refused = true;
                        break;
                    }
                    Err(e) => return Err(describe(e.code(), e.message())),
                }
            }
            if !refused {
                return Ok(keys);
            }
        }
        Err(last)
    }

    async fn delete(&self, key: &str) -> Result<(), String> {
        let mut last = String::new();
        for client in self.clients() {
            match client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if signer_refused(e.code()) => last = describe(e.code(), e.message()),
                Err(e) => return Err(describe(e.code(), e.message())),
            }
        }
        Err(last)
    }

    fn clients(&self) -> Vec<aws_sdk_s3::Client> {
        self.signers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_etag(&self, etag: String) {
        *self.etag.lock().unwrap_or_else(|e| e.into_inner()) = etag;
    }

    fn failure(&self, message: String) -> Cause {
        Cause::new(
            ErrorKind::State,
            format!("lease s3://{}/{}: {message}", self.bucket, self.key),
        )
    }

    fn body(&self) -> Vec<u8> {
        let holder = Holder {
            expires: time::rfc3339_exact(self.clock.now() + self.ttl),
            ..self.holder.clone()
        };
        serde_json::to_vec(&holder).expect("plain data")
    }

    /// Creates the object if it does not exist.
    async fn create(&self) -> Result<String, Put> {
        self.put(None).await
    }

    /// Replaces our (or an expired) version `etag`.
    async fn replace(&self, etag: &str) -> Result<String, Put> {
        self.put(Some(etag)).await
    }

    async fn put(&self, etag: Option<&str>) -> Result<String, Put> {
        let mut last = String::new();
        for client in self.clients() {
            let request = client
                .put_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .content_type("application/json")
                .body(ByteStream::from(self.body()));
            let request = match etag {
                Some(etag) => request.if_match(etag),
                None => request.if_none_match("*"),
            };
            match request.send().await {
                Ok(out) => return Ok(out.e_tag.unwrap_or_default()),
                Err(e) if taken(e.code()) => return Err(Put::Taken),
                Err(e) if signer_refused(e.code()) => last = describe(e.code(), e.message()),
                Err(e) => return Err(Put::Failed(describe(e.code(), e.message()))),
            }
        }
        Err(Put::Failed(last))
    }

    /// The object and its ETag, or `None` if there is none.
    async fn read(&self) -> Result<Option<(Holder, String)>, String> {
        let mut last = String::new();
        for client in self.clients() {
            let got = client
                .get_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .send()
                .await;
            match got {
                Ok(out) => {
                    let etag = out.e_tag.clone().unwrap_or_default();
                    let bytes = out
                        .body
                        .collect()
                        .await
                        .map_err(|_| "cannot read the lease object".to_owned())?
                        .into_bytes();
                    // An unreadable lease is treated as expired: it orders nothing.
                    let holder = serde_json::from_slice(&bytes).unwrap_or(Holder {
                        holder: "unreadable".into(),
                        host: "?".into(),
                        pid: 0,
                        command: "?".into(),
                        expires: String::new(),
                    });
                    return Ok(Some((holder, etag)));
                }
                Err(e) if e.code() == Some("NoSuchKey") => return Ok(None),
                Err(e) if signer_refused(e.code()) => last = describe(e.code(), e.message()),
                Err(e) => return Err(describe(e.code(), e.message())),
            }
        }
        Err(last)
    }
}

/// `PREFIX/locks/ACCOUNT/USER.json`.
fn lease_key(state: &SharedState, owner: &Owner) -> String {
    let name = format!("locks/{}/{}.json", owner.account, owner.user_name);
    if state.prefix.is_empty() {
        name
    } else {
        format!("{}/{name}", state.prefix)
    }
}

fn taken(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("PreconditionFailed" | "ConditionalRequestConflict")
    )
}

/// The signing key is unknown or inactive: try the next signer.
fn signer_refused(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidClientTokenId")
    )
}

fn describe(code: Option<&str>, message: Option<&str>) -> String {
    match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => "no answer from S3".to_owned(),
    }
}

fn parse_time(text: &str) -> Option<SystemTime> {
    use aws_smithy_types::date_time::{DateTime, Format};
    SystemTime::try_from(DateTime::from_str(text, Format::DateTime).ok()?).ok()
}

/// Takes the lease of `owner`'s user when `policy` shares state in S3 (`None` otherwise),
/// signed by `caller`, waiting up to `timeout`.
pub(crate) async fn hold(
    aws: &crate::aws::Aws,
    policy: &crate::config::profile::Policy,
    caller: &Caller,
    owner: &Owner,
    command: &str,
    timeout: Duration,
) -> Result<Option<Lease>, Cause> {
    match &policy.shared_state {
        Some(state) => Lease::acquire(state, caller, aws.clock(), owner, command, timeout)
            .await
            .map(Some),
        None => Ok(None),
    }
}

/// Releases `lease`, if one is held.
pub(crate) async fn release(lease: Option<Lease>) {
    if let Some(lease) = lease {
        lease.release().await;
    }
}
