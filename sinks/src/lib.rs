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
