//! Planning and carrying out rotations: inspect a profile ([`planner`]) into a
//! [`plan::Plan`], rotate it as a journaled state machine ([`rotation`]), finish or undo
//! interrupted rotations ([`recovery`], [`rollback`]), delete old keys ([`prune`]).

pub(crate) mod action;
pub(crate) mod audit;
pub(crate) mod crash;
pub(crate) mod error;
pub(crate) mod exposure;
pub(crate) mod find;
pub(crate) mod interrupt;
pub(crate) mod lease;
pub(crate) mod orphan;
pub(crate) mod plan;
pub(crate) mod planner;
pub(crate) mod propagation;
pub(crate) mod prune;
pub(crate) mod recovery;
pub(crate) mod retire;
pub(crate) mod revocation;
pub(crate) mod rollback;
pub(crate) mod rotation;
pub(crate) mod shared_journal;
pub(crate) mod shared_key;
pub(crate) mod shared_pending;
pub(crate) mod signing;
pub(crate) mod status;
pub(crate) mod sync;
pub(crate) mod verify;
