//! A profile to rotate, fully specified: its sinks and its rotation policy.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rekey_sinks::Sink;

use crate::config::argv::Argv;

/// One AWS profile and everything rekey needs to rotate its key.
///
/// Profiles that hold the same key are rotated as one (see [`crate::engine::rotation::shared_key`]): the
/// first is `name`, the others are listed in `also`, and `sinks` holds every sink of
/// all of them, each once. Cloning is cheap: the sinks are shared.
#[derive(Clone)]
pub(crate) struct ProfileSpec {
    /// The profile name (manifest key, or credentials-file section in default mode).
    pub(crate) name: String,
    /// Profiles holding the same key, rotated with this one (usually none).
    pub(crate) also: Vec<String>,
    /// Where the key lives. The first sink is where the current key is read from.
    pub(crate) sinks: Sinks,
    /// When and how to rotate.
    pub(crate) policy: Policy,
    /// The manifest that names the profile (absolute), or `None` in default mode: a key
    /// remembers it, so that its next rotation does not leave out places only that
    /// manifest names (see [`crate::state::RotatedBy`]).
    pub(crate) manifest: Option<PathBuf>,
    /// In manifest mode, what default mode knows of this profile name (an SSO or role
    /// profile, or the nearest name that holds a key), for a first sink holding no key.
    pub(crate) keyless_hint: Option<String>,
}

impl ProfileSpec {
    /// A profile of its own (not sharing its key with another).
    pub(crate) fn new(name: impl Into<String>, sinks: Sinks, policy: Policy) -> Self {
        Self {
            name: name.into(),
            also: Vec::new(),
            sinks,
            policy,
            manifest: None,
            keyless_hint: None,
        }
    }

    /// This profile and the ones rotated with it, in order.
    pub(crate) fn members(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.also.iter().map(String::as_str))
    }
}

/// Where a profile's key lives: at least one place, the first holding the current key
/// (the one to replace, and the one rekey signs with). A list that could be empty would
/// make every reader of "the current key" handle a case that cannot happen.
#[derive(Clone)]
pub(crate) struct Sinks(Vec<Arc<dyn Sink>>);

impl Sinks {
    /// `first`, then `rest`.
    pub(crate) fn new(first: Arc<dyn Sink>, rest: Vec<Arc<dyn Sink>>) -> Self {
        Self(std::iter::once(first).chain(rest).collect())
    }

    /// One place.
    pub(crate) fn one(sink: Arc<dyn Sink>) -> Self {
        Self(vec![sink])
    }

    /// The place the current key is read from.
    pub(crate) fn first(&self) -> &Arc<dyn Sink> {
        &self.0[0]
    }

    /// Adds a place at the end.
    pub(crate) fn push(&mut self, sink: Arc<dyn Sink>) {
        self.0.push(sink);
    }
}

impl std::ops::Deref for Sinks {
    type Target = [Arc<dyn Sink>];

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Sinks {
    type Item = &'a Arc<dyn Sink>;
    type IntoIter = std::slice::Iter<'a, Arc<dyn Sink>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A leak response's last steps, once the old key is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Leak {
    /// How long AWS may still accept the deleted key (`--revocation-timeout`).
    pub(crate) revocation_timeout: Duration,
    /// Deactivate a key of the user that this run did not create and no place holds
    /// (`--quarantine`): perhaps the attacker's, made while the old key still worked.
    pub(crate) quarantine: bool,
    /// Leave the user's sessions alone (`--keep-sessions`); by default every session
    /// issued before the response is revoked.
    pub(crate) keep_sessions: bool,
    /// Detach AWS's quarantine policy once the old key is replaced and refused
    /// (`--lift-quarantine`); by default it stays, named in the report.
    pub(crate) lift_quarantine: bool,
    /// Contain what CloudTrail shows the leaked key made (users, their keys and console
    /// passwords, roles): `respond` unless `--no-contain`, `apply` with `--quarantine`.
    pub(crate) contain: bool,
    /// `--fence`: a service control policy denying the user (and what it made)
    /// everything while the response runs.
    pub(crate) fence: Option<FenceChoice>,
    /// Where CloudTrail is read (`--regions`; empty: us-east-1 and the run's region).
    pub(crate) regions: Vec<String>,
}

/// How a leak response fences the user (`--fence`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FenceChoice {
    /// The profile that signs in the organization's management account (`--org-via`).
    pub(crate) org_via: String,
    /// Leave the fence standing after the response (`--keep-fence`).
    pub(crate) keep: bool,
}

/// When to rotate, how to prove the new key works, and how long to keep the old one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    /// The old key stays deactivated this long before it is deleted (zero: at once).
    pub(crate) grace: Duration,
    /// The old key stays active this long after the rotation, so every machine can pick
    /// up the new key (zero: deactivated at once, the default).
    pub(crate) overlap: Duration,
    /// Rotate only keys at least this old (`None`: always rotate).
    pub(crate) max_age: Option<Duration>,
    /// How the new key is proven to work.
    pub(crate) propagation: Propagation,
    /// The user's own check, run after every sink is written.
    pub(crate) verify: Option<Verify>,
    /// Admin rotation: the AWS profile whose credentials sign every IAM call (`via:`),
    /// for a user whose key lives only in sinks; `None`: the key signs for itself.
    pub(crate) via: Option<String>,
    /// The IAM user the key must belong to (`user:`); checked, never guessed.
    pub(crate) user: Option<String>,
    /// The MFA device (`mfa_serial`, from the manifest or the config file's profile):
    /// the IAM calls are then signed by a session opened with one of its codes.
    pub(crate) mfa_serial: Option<String>,
    /// A program printing a current code, for runs without a terminal (`mfa_command`).
    pub(crate) mfa_command: Option<Argv>,
    /// How long `mfa_command` may run (`mfa_timeout`): a password manager waiting to
    /// be unlocked must not hang an unattended run, and the locks it holds, forever.
    pub(crate) mfa_timeout: Duration,
    /// Where pending deletions are kept (the manifest's top-level `state:`).
    pub(crate) pending_store: PendingStore,
    /// The lease that orders every machine's commands on one user (`state: s3://…`);
    /// `None`: only this machine's processes are ordered (the state dir's locks).
    pub(crate) shared_state: Option<SharedState>,
    /// A leak response (`--compromised`): what to do once the old key is deleted.
    pub(crate) leaked: Option<Leak>,
}

/// `state: s3://BUCKET/PREFIX`: where the lease per IAM user lives, so two machines
/// never change one user's keys or records at once (S3 conditional writes, as
/// Terraform's S3 backend locks). Pending deletions are then also IAM tags (as with
/// `state: iam`), a visible mirror every machine reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharedState {
    /// The bucket.
    pub(crate) bucket: String,
    /// The folder in it (no leading or trailing `/`; may be empty).
    pub(crate) prefix: String,
    /// How long a lease lasts unless renewed: how long a killed rekey blocks the others.
    pub(crate) lease: Duration,
    /// The KMS key that encrypts the journal copies; `None`: the account's `aws/s3` key.
    pub(crate) kms_key_id: Option<String>,
    /// The account that must own the bucket (`state_bucket_owner`); `None`: the
    /// account of the users rotated.
    pub(crate) bucket_owner: Option<String>,
}

impl SharedState {
    /// The account every S3 call names as the bucket's owner: `state_bucket_owner`, else
    /// the account of the users rotated (`users_account`).
    pub(crate) fn expected_owner<'a>(&'a self, users_account: &'a str) -> &'a str {
        self.bucket_owner.as_deref().unwrap_or(users_account)
    }

    /// Default lease: long enough that a renewal every third of it survives a slow
    /// network, short enough that a killed run does not block a team for long.
    pub(crate) const DEFAULT_LEASE: Duration = Duration::from_secs(60);
}

/// Where pending deletions (old keys awaiting deletion) are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum PendingStore {
    /// In this machine's state dir only (`state: local`, the default).
    #[default]
    Local,
    /// Also as tags on the IAM user (`state: iam`), so every machine rotating the user
    /// sees them; IAM is the shared truth when the two disagree.
    Iam,
}

/// A command that checks the new key works for what it is used for (`verify:`). It runs
/// after every sink is written and before the old key is deactivated, with the new key
/// in `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`; a non-zero exit rolls back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verify {
    /// The program (resolved like a plugin's) and its arguments.
    pub(crate) command: Argv,
    /// Stop it and roll back after this long.
    pub(crate) timeout: Duration,
}

impl Verify {
    /// Default limit for the verification command.
    pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
}

/// The propagation proof: `consecutive` successful `GetCallerIdentity` calls in a row,
/// with the same user ARN, within `timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Propagation {
    /// Give up after this long.
    pub(crate) timeout: Duration,
    /// Successes in a row required.
    pub(crate) consecutive: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(7 * 86_400),
            overlap: Duration::ZERO,
            max_age: None,
            propagation: Propagation {
                timeout: Duration::from_secs(60),
                consecutive: 3,
            },
            verify: None,
            via: None,
            user: None,
            mfa_serial: None,
            mfa_command: None,
            mfa_timeout: Duration::from_secs(60),
            pending_store: PendingStore::Local,
            shared_state: None,
            leaked: None,
        }
    }
}
