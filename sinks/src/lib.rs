//! The places rekey writes AWS access keys to.
//!
//! This crate knows how to read, check, write and restore one *sink* (a place that holds
//! an access key) and nothing about rotations: the engine in the `rekey` crate decides
//! what to write and when, and records every step before it takes it. Keeping the two
//! apart lets every sink be tested on its own, against a real filesystem.
//!
//! - [`Sink`] is the contract every sink implements.
//! - [`AccessKey`] carries a key id and its secret; the secret is redacted in `Debug`,
//!   has no `Display`, and is zeroized when dropped.
//! - [`atomic`] replaces files atomically, keeping their mode and owner.
//! - [`child`] runs a program that handles keys: own process group, a hard deadline,
//!   capped output, every known secret redacted.
//! - [`ownership`] refuses a file (a manifest, a program) someone else could have
//!   written.
//! - [`registry`] lists every sink type the manifest knows; each sink's folder owns its
//!   configuration and how it is built.
//! - One module per built-in sink: [`credentials_file`], [`config_file`], [`dotenv`],
//!   [`file`], [`keyring`], [`exec`], [`secretsmanager`], [`ssm`]; [`text_file`] holds
//!   what the file-based ones share, [`secret_store`] what the AWS secret stores share.

#![deny(missing_docs)]

pub mod atomic;
pub mod aws;
pub mod blocking;
pub mod call_log;
pub mod child;
pub mod config_file;
pub mod credential_process;
pub mod credentials_file;
pub mod dotenv;
pub mod duration;
mod error;
pub mod exec;
pub mod file;
mod key;
pub mod keyring;
pub mod ownership;
pub mod registry;
#[cfg(test)]
mod round_trip;
pub mod secret_store;
pub mod secretsmanager;
pub mod shown;
mod sink;
pub mod ssm;
pub mod text_file;

pub use error::SinkError;
pub use key::{AccessKey, InvalidKeyMaterial};
pub use sink::{Checked, Reach, Sink, Snapshot};
pub use text_file::{FileSink, TextFormat};

/// Issue 32: every type of this crate that carries a secret across a boundary (a key,
/// a plugin's answer, the `credential_process` JSON read back) shows none of it in
/// `Debug`. The types that write one out (the plugin request, the journal's stored key)
/// implement no `Debug` at all.
#[cfg(test)]
mod debug_shows_no_secret {
    use super::*;

    const ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn no_type_that_carries_a_secret_shows_it() {
        let key = AccessKey::new(ID, SECRET.into()).unwrap();
        let held: exec::protocol::Held = serde_json::from_str(&format!(
            r#"{{"access_key_id": "{ID}", "secret_access_key": "{SECRET}"}}"#
        ))
        .unwrap();
        let stored = credential_process::encode(&key);
        let decoded = credential_process::decode(&stored).unwrap();
        let raw: credential_process::Decoded = serde_json::from_str(&stored).unwrap();
        let invalid = credential_process::decode(&stored.replace(ID, "not a key id")).unwrap_err();
        for shown in [
            format!("{key:?}"),
            format!("{held:?}"),
            format!("{decoded:?}"),
            format!("{raw:?}"),
            invalid,
        ] {
            assert!(!shown.contains(&SECRET[..12]), "{shown}");
        }
        assert!(format!("{key:?}").contains(ID), "the id is not a secret");
    }
}
