//! What a rotation, an undo or a recovery did, step by step: events as data. The engine
//! records them; `report` tells them (`report::action`), in text and in the JSON
//! output's `actions`, so the engine writes no sentence for people.

use std::time::{Duration, SystemTime};

use crate::engine::leak::revocation::UnknownKey;

/// One thing done to a key or a place, in the order it was done.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// `CreateAccessKey` made the new key.
    CreatedKey {
        /// The new key.
        key_id: String,
    },
    /// STS and IAM accepted the new key.
    Proven {
        /// The new key.
        key_id: String,
        /// Calls it took.
        calls: u32,
        /// How long it took.
        took: Duration,
    },
    /// A place holds the new key.
    Wrote {
        /// The place, described.
        sink: String,
    },
    /// A place other machines read from hands out the new key now, marked verified
    /// (it was staged until every place held it and the verify command passed).
    Promoted {
        /// The place, described.
        sink: String,
    },
    /// The verification command passed.
    Verified {
        /// Its command line.
        command: String,
        /// How long it ran.
        took: Duration,
    },
    /// The old key was made inactive.
    Deactivated {
        /// The old key.
        key_id: String,
        /// Who signed the call.
        signer: Signer,
    },
    /// The old key was deleted at once (grace 0).
    DeletedOldKey {
        /// The old key.
        key_id: String,
    },
    /// The old key's deletion is recorded for prune.
    DeletionScheduled {
        /// The old key.
        key_id: String,
        /// When prune may delete it.
        after: SystemTime,
        /// A deletion tried first (grace 0) that failed, and why.
        not_yet: Option<String>,
        /// How the record was shared with other machines.
        shared: Shared,
    },
    /// The old key stays active for the overlap period; its deactivation is recorded.
    OverlapBegun {
        /// The old key.
        key_id: String,
        /// When prune deactivates it.
        until: SystemTime,
        /// When prune may delete it after that.
        delete_after: SystemTime,
        /// How the record was shared with other machines.
        shared: Shared,
    },
    /// The last rotation's old key, active in its overlap, was deactivated by a leak
    /// response to make room.
    EndedOverlap {
        /// That key.
        key_id: String,
    },
    /// An inactive key was deleted to make room for the new one.
    DeletedInactiveKey {
        /// That key.
        key_id: String,
    },
    /// Undoing: the old key was made active again.
    Reactivated {
        /// The old key.
        key_id: String,
    },
    /// Undoing: a place got its previous content back.
    Restored {
        /// The place, described.
        sink: String,
    },
    /// Undoing: a place whose undo data an interrupted run lost got the old key again.
    WroteOldKeyBack {
        /// The place, described.
        sink: String,
    },
    /// Undoing: the new key was deleted.
    DeletedNewKey {
        /// The new key.
        key_id: String,
    },
    /// After an unanswered create: a key whose secret never arrived was deleted.
    DeletedOrphan {
        /// That key.
        key_id: String,
    },
    /// After an unanswered create: a new key was kept, since it may be someone's.
    KeptStranger {
        /// That key.
        key_id: String,
        /// Why it may be someone's.
        reason: String,
    },
    /// Recovery: the inactive key an interrupted run was deleting is gone.
    StaleKeyGone {
        /// That key.
        key_id: String,
    },
    /// Rollback: the old key's pending deletion shared in IAM was removed.
    WithdrewShared {
        /// The old key.
        key_id: String,
    },
    /// A leak response: AWS refuses the deleted old key (three times in a row).
    OldKeyRefused {
        /// The old key.
        key_id: String,
        /// How long after its deletion.
        took: Duration,
    },
    /// A leak response: a key of the user this run did not create and no place holds
    /// (perhaps made with the leaked key while it still worked).
    UnknownKey(UnknownKey),
    /// A leak response: every session of `user` issued before `before` is denied
    /// everything (the inline policy `revocation::SESSIONS_POLICY`).
    SessionsRevoked {
        /// The IAM user.
        user: String,
        /// Sessions issued before this are revoked.
        before: SystemTime,
    },
    /// A leak response: AWS's quarantine of the user was detached (`--lift-quarantine`)
    /// and the new key then made a harmless read of the service the user last used.
    QuarantineLifted {
        /// The IAM user.
        user: String,
        /// The policies detached.
        policies: Vec<String>,
        /// When (AWS's time).
        at: SystemTime,
        /// The read the new key made (`s3:ListAllMyBuckets`).
        proof: String,
        /// How long until that read was allowed.
        took: Duration,
    },
    /// A leak response: what CloudTrail shows the leaked key did (the report has it in
    /// full).
    Traced {
        /// The leaked key.
        key_id: String,
        /// How many of its calls the history shows.
        calls: usize,
        /// How many of them changed something.
        writes: usize,
        /// The regions read.
        regions: Vec<String>,
        /// The regions that could not be read, with why.
        unread: Vec<String>,
    },
    /// A leak response: an IAM entity the leaked key made or changed, and what was done
    /// about it.
    LeftBehind(crate::engine::leak::activity::LeftBehind),
    /// A leak response: the fence stands (`--fence`): a service control policy denying
    /// everything to these principals in the account.
    Fenced {
        /// The SCP.
        policy_id: String,
        /// The account it is attached to.
        account: String,
        /// The principals it denies.
        principals: Vec<String>,
    },
    /// A leak response: the fence was taken down (detached and deleted).
    FenceLowered {
        /// The SCP.
        policy_id: String,
    },
    /// A leak response: the fence stays (`--keep-fence`, or the old key still accepted).
    FenceKept {
        /// Why it stays.
        why: String,
        /// What takes it down.
        removal: String,
    },
    /// A leak response: AWS's quarantine of the user stays (no `--lift-quarantine`).
    QuarantineKept {
        /// The IAM user.
        user: String,
        /// The policies attached.
        policies: Vec<String>,
        /// The commands that detach them.
        commands: Vec<String>,
    },
    /// Something that did not stop the work but needs the user's eye.
    Warning(String),
}

/// Who signed a deactivation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signer {
    /// The `via` profile (admin rotation).
    Via(String),
    /// An MFA session for this device.
    Mfa(String),
    /// The new key itself.
    NewKey,
}

impl Signer {
    /// Who signs a profile's IAM calls once its new key is in place: `via`, else an
    /// MFA session, else the key itself.
    pub(crate) fn of(policy: &crate::config::profile::Policy) -> Self {
        match (&policy.via, &policy.mfa_serial) {
            (Some(via), _) => Signer::Via(via.clone()),
            (None, Some(serial)) => Signer::Mfa(serial.clone()),
            (None, None) => Signer::NewKey,
        }
    }
}

/// How a pending deletion was shared with other machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shared {
    /// Not at all (`state: local`).
    No,
    /// As an IAM user tag every machine reads.
    InIam,
    /// It should have been, and was not: why.
    Failed(String),
}
