//! Planning and carrying out rotations: inspect a profile ([`planner`]) into a
//! [`plan::Plan`], rotate it as a journaled state machine ([`rotation`]), finish or undo
//! interrupted rotations ([`recovery`], [`rollback`]), delete old keys ([`prune`]).

pub(crate) mod bucket;
pub mod crash;
pub mod error;
pub(crate) mod lease;
pub(crate) mod orphan;
pub mod plan;
pub mod planner;
pub mod propagation;
pub mod prune;
pub mod recovery;
pub(crate) mod retire;
pub mod rollback;
pub mod rotation;
pub(crate) mod shared_journal;
pub mod shared_key;
pub mod shared_pending;
pub mod signing;
pub mod sync;
pub mod verify;
