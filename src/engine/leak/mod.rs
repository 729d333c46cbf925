//! A leak response, in one room: what an alert names ([`exposure`]); AWS's quarantine of
//! the user ([`quarantine`]); the response's steps around its rotation, recorded so a
//! killed one is finished ([`response`]); how the door is closed once the leaked key is
//! replaced ([`revocation`]); what the key did ([`activity`]) and containing what it left
//! behind ([`containment`]). `commands/respond.rs` reads the alert and drives them; the
//! rotation itself is `rotation/`'s.

pub(crate) mod activity;
pub(crate) mod containment;
pub(crate) mod exposure;
pub(crate) mod fence;
pub(crate) mod quarantine;
pub(crate) mod response;
pub(crate) mod revocation;
