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
//! it.
//!
//! IAM honours no fencing token, so a holder that was paused (a closed laptop lid, a
//! stopped VM or runner) must fence itself (issue 30): it keeps the deadline its last
//! *confirmed* write bought (when that write began, by AWS's clock, plus the lease, less
//! a margin). Past it, [`Lease::check`] renews at once (`If-Match` on the version it
//! wrote) and goes on only if that write is confirmed: a lease taken over meanwhile was
//! replaced or deleted, and then the run stops. A renewal that finds the object gone or
//! replaced marks the lease lost; each renewal call is bounded by a sixth of the lease,
//! so a hanging one cannot outlive it. A pause that falls between a check and the IAM
//! call after it can still interleave with another machine: the check bounds the window
//! to that one call. So a run that takes over a lease whose holder may only be paused
//! (it expired less than two lifetimes ago, and its holder is not a process of this host
//! known to be gone) does not undo that holder's rotation until then, unless told the
//! holder is gone (`rekey recover --force`); the lease object carries that holder along
//! until then ([`Lease::paused_holder`]). The lease is signed like the user's IAM calls; a rotation adds its new key as a
//! signer once proven, since the old one is deactivated before the lease is released.

//!
//! The journal of a rotation in progress is copied to the same bucket, signed the same
//! way ([`Lease::replica`], see [`crate::engine::fleet::shared_journal`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::aws::bucket::{Bucket, Condition, WriteError};
use crate::aws::{Aws, Caller, Permit, ServerClock};
use crate::config::profile::{Policy, SharedState};
use crate::engine::error::{Cause, ErrorKind};
use crate::engine::fleet::shared_journal::{self, S3Replica};
use crate::state::{Copied, FleetKey, Owner, Replica, StateDir};
use crate::time;

/// How often a held lease is looked at again while waiting for it.
const POLL: Duration = Duration::from_millis(500);

/// The part of a lease's lifetime a holder does not count on (clock correction, the
/// time between a check and the call it guards): a sixth.
const MARGIN: u32 = 6;

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
    /// A run that held the lease before and may only be paused, carried from holder to
    /// holder until it no longer matters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    paused: Option<Paused>,
    /// Given back (left expired only to carry `paused`): this holder is done, not
    /// paused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    released: bool,
}

/// A run that stopped renewing the lease less than two lifetimes ago, and is not known
/// to be gone: until `until`, no later holder undoes its rotation unless told to (issue
/// 30). It is written into the lease object, so a run that gives the lease back before
/// then leaves the lease expired with this in it, rather than deleting it, and the next
/// run still knows.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Paused {
    command: String,
    host: String,
    pid: u32,
    /// When its lease expired (AWS's time, RFC 3339).
    expired: String,
    /// Until when it may resume (AWS's time, RFC 3339).
    until: String,
}

/// A held lease; renewed in the background until released (or dropped: then it simply
/// expires).
pub(crate) struct Lease {
    shared: Arc<Shared>,
    renewer: tokio::task::JoinHandle<()>,
}

/// What the lease and its renewal task share.
struct Shared {
    bucket: Arc<Bucket>,
    key: String,
    /// `PREFIX/state`: where journals are copied.
    root: String,
    /// The KMS key of the journal copies (`state_kms_key_id`).
    kms_key_id: Option<String>,
    /// What authenticates the journal copies.
    fleet_key: Arc<FleetKey>,
    ttl: Duration,
    clock: ServerClock,
    holder: Holder,
    /// The ETag of our current version of the object.
    etag: Mutex<String>,
    /// Set when a renewal found the lease taken over: this process no longer holds it.
    lost: AtomicBool,
    /// Until when the last confirmed write holds the lease, by AWS's clock, less
    /// [`MARGIN`] of it: past this, another machine may have taken it over.
    confirmed_until: Mutex<SystemTime>,
    /// One write of the lease at a time from this process (the renewal task and
    /// [`Lease::check`]), each with the version the last one wrote.
    writing: tokio::sync::Mutex<()>,
}

impl Lease {
    /// Takes the lease of `owner`'s user in `state`, signed by `caller`, waiting up to
    /// `timeout` while another process holds it. `command` names what holds it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn acquire(
        state: &SharedState,
        caller: &Caller,
        clock: &ServerClock,
        owner: &Owner,
        command: &str,
        timeout: Duration,
        fleet_key: Arc<FleetKey>,
    ) -> Result<Self, Cause> {
        let host = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        let pid = std::process::id();
        let mut shared = Shared {
            bucket: Arc::new(Bucket::new(
                &state.bucket,
                state.expected_owner(&owner.account),
                caller.clone(),
            )),
            key: lease_key(state, owner),
            root: shared_journal::root(state),
            kms_key_id: state.kms_key_id.clone(),
            fleet_key,
            ttl: state.lease,
            clock: clock.clone(),
            holder: Holder {
                holder: format!("{host}:{pid}:{:016x}", fastrand::u64(..)),
                host,
                pid,
                command: command.to_owned(),
                expires: String::new(),
                paused: None,
                released: false,
            },
            etag: Mutex::new(String::new()),
            lost: AtomicBool::new(false),
            confirmed_until: Mutex::new(SystemTime::UNIX_EPOCH),
            writing: tokio::sync::Mutex::new(()),
        };
        let started = tokio::time::Instant::now();
        let mut said = false;
        loop {
            shared.holder.paused = None;
            let began = shared.clock.now();
            match shared.write(Condition::Absent).await {
                Ok(etag) => break shared.confirm(etag, began),
                Err(WriteError::Taken) => {}
                Err(WriteError::Failed(e)) => return Err(shared.failure(e.into())),
            }
            // Held, or being released: read it, take it over if it expired.
            let Some((other, etag)) = shared.read().await.map_err(|c| shared.failure(c))? else {
                continue;
            };
            let expires =
                crate::time::parse_rfc3339(&other.expires).unwrap_or(SystemTime::UNIX_EPOCH);
            if expires < shared.clock.now() {
                shared.holder.paused = shared.paused_after(&other, expires);
                let began = shared.clock.now();
                match shared.write(Condition::Is(&etag)).await {
                    Ok(etag) => {
                        tracing::warn!(
                            lease = %shared.key,
                            holder = %crate::escape::shown(&other.holder),
                            "took over an expired lease (its holder stopped renewing it)"
                        );
                        break shared.confirm(etag, began);
                    }
                    Err(WriteError::Taken) => continue,
                    Err(WriteError::Failed(e)) => return Err(shared.failure(e.into())),
                }
            }
            if started.elapsed() >= timeout {
                return Err(Cause::new(
                    ErrorKind::Busy,
                    format!(
                        "user {} is locked by rekey {} on {} (pid {}) until {} (lease s3://{}/{}); waited {:?} (see --lock-timeout)",
                        owner.user_arn,
                        // Another machine wrote these: shown escaped.
                        crate::escape::shown(&other.command),
                        crate::escape::shown(&other.host),
                        other.pid,
                        crate::escape::shown(&other.expires),
                        shared.bucket.name(),
                        shared.key,
                        started.elapsed()
                    ),
                ));
            }
            if !said && started.elapsed() >= Duration::from_secs(2) {
                tracing::warn!(
                    "waiting for the lease of {}, which rekey {} on {} (pid {}) holds until {} (up to {:?}, --lock-timeout)",
                    owner.user_arn,
                    crate::escape::shown(&other.command),
                    crate::escape::shown(&other.host),
                    other.pid,
                    crate::escape::shown(&other.expires),
                    timeout
                );
                said = true;
            }
            tokio::time::sleep(POLL).await; // poll interval, bounded by `timeout`
        }
        let shared = Arc::new(shared);
        let renewer = tokio::spawn(renew(shared.clone()));
        Ok(Self { shared, renewer })
    }

    /// Signs the lease's calls, and the journal copies', with `caller` from now on, and
    /// with the earlier signers only if AWS refuses it (see [`crate::aws::bucket`]).
    pub(crate) fn sign_also_with(&self, caller: &Caller) {
        self.shared.bucket.sign_first_with(caller.clone());
    }

    /// The shared copy of journals ([`Replica`]), signed like the lease.
    pub(crate) fn replica(&self) -> Arc<dyn Replica> {
        Arc::new(S3Replica::new(
            self.shared.bucket.clone(),
            self.shared.root.clone(),
            self.shared.kms_key_id.clone(),
            self.shared.fleet_key.clone(),
        ))
    }

    /// Whether the shared state still holds the journal `name` (`<account>-<user>`).
    pub(crate) async fn holds_journal(&self, name: &str) -> Result<bool, Cause> {
        let (bucket, root) = (&self.shared.bucket, &self.shared.root);
        shared_journal::holds(bucket, root, name)
            .await
            .map_err(|cause| self.shared.failure(cause))
    }

    /// The journal `name` as the shared state holds it, if it does.
    pub(crate) async fn copied_journal(&self, name: &str) -> Result<Option<Copied>, Cause> {
        let (bucket, root) = (&self.shared.bucket, &self.shared.root);
        shared_journal::copied(bucket, root, name, &self.shared.fleet_key)
            .await
            .map_err(|cause| self.shared.failure(cause))
    }

    /// Fails if the lease was taken over, or if no confirmed write holds it any more
    /// and renewing it now is not confirmed either (this process was paused, or S3 does
    /// not answer): what it was about to do is no longer ordered with the other
    /// machines.
    pub(crate) async fn check(&self) -> Result<(), Cause> {
        let lost = || {
            self.shared.failure(Cause::new(
                ErrorKind::State,
                "the lease expired and another machine took it over; stopped before changing anything more",
            ))
        };
        if self.shared.lost.load(Ordering::SeqCst) {
            return Err(lost());
        }
        let until = self.shared.confirmed_until();
        if self.shared.clock.now() < until {
            return Ok(());
        }
        match self.shared.renew_once().await {
            Renewal::Confirmed => Ok(()),
            Renewal::Lost => Err(lost()),
            Renewal::Unconfirmed(why) => Err(self.shared.failure(Cause::new(
                ErrorKind::State,
                format!(
                    "no renewal of the lease was confirmed in time (it held until {} by AWS's clock, and renewing it now failed: {why}); another machine may have taken it over, so this run stopped before changing anything more; `rekey recover` resolves what is left",
                    time::rfc3339(until)
                ),
            ))),
        }
    }

    /// The run this lease was taken over from, described, if it may only be paused
    /// rather than gone: its lease expired less than two lifetimes ago (by AWS's clock),
    /// and it is not a process of this host that no longer exists. Such a run, resumed,
    /// could make the one IAM call its last check let through (issue 30), so undoing
    /// its rotation now could interleave with it.
    pub(crate) fn paused_holder(&self) -> Option<String> {
        let paused = self.shared.paused()?;
        Some(format!(
            "the run that held its lease (rekey {} on {}, pid {}) stopped renewing it at {} and may only be paused; undoing its rotation before {} could interleave with it",
            // Another machine wrote these: shown escaped.
            crate::escape::shown(&paused.command),
            crate::escape::shown(&paused.host),
            paused.pid,
            crate::escape::shown(&paused.expired),
            crate::escape::shown(&paused.until),
        ))
    }

    /// Releases the lease (unless it was taken over). A failure is only a warning: the
    /// lease then expires.
    pub(crate) async fn release(self) {
        self.renewer.abort();
        let shared = &self.shared;
        let etag = shared.etag();
        // A paused run still matters: the lease is left expired, saying so.
        let released = match shared.paused() {
            Some(_) => {
                let expired = shared.write_as(Condition::Is(&etag), shared.clock.now(), true);
                expired.await.map(drop).map_err(|e| match e {
                    WriteError::Taken => Cause::new(ErrorKind::State, "taken over"),
                    WriteError::Failed(e) => e.into(),
                })
            }
            None => (shared.bucket.delete(&shared.key, Some(&etag)).await).map_err(Cause::from),
        };
        if let Err(cause) = released {
            tracing::warn!(lease = %self.shared.key, message = %cause, "cannot release the lease; it expires by itself");
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// Renews the lease every third of its lifetime, until it is released (the task is
/// aborted) or found taken over (replaced, or gone: a lease taken over and released).
/// Each attempt is bounded by a sixth of the lifetime, so one that hangs leaves time
/// for the next before the confirmed deadline passes.
async fn renew(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(shared.ttl / 3).await;
        match shared.renew_once().await {
            Renewal::Confirmed => {}
            Renewal::Lost => {
                tracing::warn!(lease = %shared.key, "the lease was taken over: this run stalled past it");
                return;
            }
            // Tried again at the next turn; past the confirmed deadline, `check` renews
            // itself and refuses if that fails too.
            Renewal::Unconfirmed(why) => {
                tracing::warn!(lease = %shared.key, message = %why, "cannot renew the lease")
            }
        }
    }
}

/// What one renewal came to.
enum Renewal {
    /// Written: the lease is ours for another lifetime.
    Confirmed,
    /// Replaced or gone: another machine took it over.
    Lost,
    /// No answer in time, or another failure: not known either way.
    Unconfirmed(String),
}

impl Shared {
    fn etag(&self) -> String {
        self.etag.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Renews the lease once (`If-Match` on the version this process wrote last),
    /// bounded by a sixth of its lifetime; a lease found lost is marked so.
    async fn renew_once(&self) -> Renewal {
        let _one_at_a_time = self.writing.lock().await;
        if self.lost.load(Ordering::SeqCst) {
            return Renewal::Lost;
        }
        let etag = self.etag();
        let began = self.clock.now();
        let attempt = self.write(Condition::Is(&etag));
        match tokio::time::timeout(self.ttl / MARGIN, attempt).await {
            Ok(Ok(etag)) => {
                self.confirm(etag, began);
                Renewal::Confirmed
            }
            Ok(Err(WriteError::Taken)) => {
                self.lost.store(true, Ordering::SeqCst);
                Renewal::Lost
            }
            Ok(Err(WriteError::Failed(cause))) => Renewal::Unconfirmed(cause.message),
            Err(_) => Renewal::Unconfirmed(format!("no answer within {:?}", self.ttl / MARGIN)),
        }
    }

    /// Records a confirmed write of version `etag`, begun at `began` (AWS's clock):
    /// the lease is ours until a lifetime after, less the margin.
    fn confirm(&self, etag: String, began: SystemTime) {
        *self.etag.lock().unwrap_or_else(|e| e.into_inner()) = etag;
        let until = began + self.ttl - self.ttl / MARGIN;
        *self
            .confirmed_until
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = until;
    }

    /// The paused run this holder carries, while it still matters.
    fn paused(&self) -> Option<&Paused> {
        let paused = self.holder.paused.as_ref()?;
        let until = crate::time::parse_rfc3339(&paused.until)?;
        (self.clock.now() < until).then_some(paused)
    }

    /// What a holder taking over from `other`, whose lease expired at `expired`, carries:
    /// `other` itself unless it is a process of this host that no longer exists (killed,
    /// not paused), or the run `other` carried, whichever may resume later.
    fn paused_after(&self, other: &Holder, expired: SystemTime) -> Option<Paused> {
        let this_host = rustix::system::uname().nodename().to_string_lossy() == other.host;
        let alive = i32::try_from(other.pid).is_ok_and(crate::state::process_is_alive);
        let until = expired + 2 * self.ttl;
        let itself = (!other.released && (!this_host || alive)).then(|| Paused {
            command: other.command.clone(),
            host: other.host.clone(),
            pid: other.pid,
            expired: time::rfc3339_exact(expired),
            until: time::rfc3339_exact(until),
        });
        let now = self.clock.now();
        let carried = (other.paused.clone())
            .filter(|c| crate::time::parse_rfc3339(&c.until).is_some_and(|at| at > now));
        match (carried, itself) {
            (Some(carried), Some(itself))
                if crate::time::parse_rfc3339(&carried.until) < Some(until) =>
            {
                Some(itself)
            }
            (carried, itself) => carried.or(itself),
        }
    }

    fn confirmed_until(&self) -> SystemTime {
        *self
            .confirmed_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The shared state failed: a refusal or throttling keeps its kind, anything else
    /// is the state's.
    fn failure(&self, cause: Cause) -> Cause {
        let kind = match cause.kind {
            ErrorKind::AccessDenied | ErrorKind::Throttled => cause.kind,
            _ => ErrorKind::State,
        };
        Cause::new(
            kind,
            format!(
                "lease s3://{}/{}: {}",
                self.bucket.name(),
                self.key,
                cause.message
            ),
        )
    }

    /// Writes the lease object, expiring one lifetime from AWS's now, under `condition`.
    async fn write(&self, condition: Condition<'_>) -> Result<String, WriteError> {
        self.write_as(condition, self.clock.now() + self.ttl, false)
            .await
    }

    /// Writes the lease object, expiring at `expires` (`released`: given back, see
    /// [`Holder::released`]), under `condition`.
    async fn write_as(
        &self,
        condition: Condition<'_>,
        expires: SystemTime,
        released: bool,
    ) -> Result<String, WriteError> {
        let holder = Holder {
            expires: time::rfc3339_exact(expires),
            released,
            ..self.holder.clone()
        };
        let body = serde_json::to_vec(&holder).expect("plain data");
        self.bucket.put(&self.key, &body, condition).await
    }

    /// The lease object and its ETag, or `None` if there is none. An unreadable one is
    /// treated as expired: it orders nothing.
    async fn read(&self) -> Result<Option<(Holder, String)>, Cause> {
        let Some((bytes, etag)) = self.bucket.get(&self.key).await? else {
            return Ok(None);
        };
        let holder = serde_json::from_slice(&bytes).unwrap_or(Holder {
            holder: "unreadable".into(),
            host: "?".into(),
            pid: 0,
            command: "?".into(),
            expires: String::new(),
            paused: None,
            released: false,
        });
        Ok(Some((holder, etag)))
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

/// Takes the lease of `owner`'s user when `policy` shares state in S3 (`None` otherwise),
/// signed by `caller`, waiting as long as for this machine's locks (`--lock-timeout`).
pub(crate) async fn hold(
    aws: &Aws,
    local: &StateDir,
    policy: &Policy,
    caller: &Caller,
    owner: &Owner,
    command: &str,
) -> Result<Option<Lease>, Cause> {
    let timeout = local.lock_timeout();
    let Some(state) = &policy.shared_state else {
        return Ok(None);
    };
    let fleet_key = local.fleet_key().map_err(Cause::from)?;
    Lease::acquire(
        state,
        caller,
        aws.clock(),
        owner,
        command,
        timeout,
        Arc::new(fleet_key),
    )
    .await
    .map(Some)
}

/// A permit to change the user's keys now (see [`Permit`]): the user's lease, when the
/// state is shared, confirmed held right now ([`Lease::check`]).
pub(crate) async fn permit(lease: Option<&Lease>) -> Result<Permit, Cause> {
    if let Some(lease) = lease {
        lease.check().await?;
    }
    Ok(Permit::issue())
}

/// A permit for an undo (a failed rotation's, recovery's, rollback's), which goes on
/// whatever became of the lease: each of its steps reads IAM's keys again first, and
/// it only ever makes the old key Active again and deletes the key it made once the old
/// one works again; a machine that took the lease over undoes the same journal the same
/// way.
pub(crate) fn undoing() -> Permit {
    Permit::issue()
}

/// A permit where no user's lease applies: `respond --deactivate-unknown` contains a
/// key no profile holds (so no manifest names its shared state), signed as an
/// administrator, and never a key of the signer's own user.
pub(crate) fn unleased() -> Permit {
    Permit::issue()
}

/// Releases `lease`, if one is held.
pub(crate) async fn release(lease: Option<Lease>) {
    if let Some(lease) = lease {
        lease.release().await;
    }
}

#[cfg(test)]
mod tests;
