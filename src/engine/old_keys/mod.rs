//! After a rotation, the old key: deleted when safe ([`prune`]) by the rules IAM's own
//! facts must satisfy first ([`retire`]), or made current again by undoing the rotation
//! ([`rollback`]); and what `rekey status` raises about a profile ([`status`]).

pub(crate) mod prune;
pub(crate) mod retire;
pub(crate) mod rollback;
pub(crate) mod status;
