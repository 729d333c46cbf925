//! Many machines, one user: the lease that orders their writes ([`lease`]), the journal
//! copied to the shared bucket ([`shared_journal`]), pending deletions shared as IAM
//! tags ([`shared_pending`]), and `rekey sync`, which brings a machine's copies up to a
//! rotation made elsewhere ([`sync`]).

pub(crate) mod lease;
pub(crate) mod shared_journal;
pub(crate) mod shared_pending;
pub(crate) mod sync;
