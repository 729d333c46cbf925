//! The engine, one folder per job, so that its folder list reads like the feature list:
//!
//! - [`rotation`]: planning a profile ([`rotation::planner`]) into a
//!   [`rotation::plan::Plan`] and rotating it as a journaled state machine: the proof
//!   that the new key works, verification, the keys an unanswered create may leave,
//!   profiles sharing a key, the two endings ([`rotation::settle`]);
//! - [`old_keys`]: after a rotation: deleting old keys when safe ([`old_keys::prune`]),
//!   the rules IAM's facts must satisfy first ([`old_keys::retire`]), undoing the last
//!   rotation ([`old_keys::rollback`]), what `status` raises;
//! - [`recovery`]: finishing or undoing an interrupted rotation;
//! - [`fleet`]: many machines, one user: the S3 lease, the shared journal, pending
//!   deletions in IAM tags, and `sync`;
//! - [`leak`]: a leak response: what an alert names, and closing the door (the response's
//!   steps after its rotation are `rotation/leak.rs`, beside the rotation they follow);
//! - [`find`]: copies of keys in files; [`audit`]: an organization's keys;
//! - shared by all: [`signing`] (who signs), [`error`] (failure kinds), [`action`] (what
//!   was done, as data), [`interrupt`] (Ctrl-C), [`crash`] (test crash points).

pub(crate) mod action;
pub(crate) mod audit;
pub(crate) mod crash;
pub(crate) mod error;
pub(crate) mod find;
pub(crate) mod fleet;
pub(crate) mod interrupt;
pub(crate) mod leak;
pub(crate) mod old_keys;
pub(crate) mod recovery;
pub(crate) mod rotation;
pub(crate) mod signing;
