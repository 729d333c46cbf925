//! A leak response: what an alert names ([`exposure`]) and how the door is closed once
//! the leaked key is replaced ([`revocation`]). The response's steps after its rotation
//! are `rotation/leak.rs`, beside the rotation they follow; `commands/respond.rs` reads
//! the alert and drives them.

pub(crate) mod activity;
pub(crate) mod exposure;
pub(crate) mod quarantine;
pub(crate) mod revocation;
