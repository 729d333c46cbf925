//! rekey: rotate AWS IAM access keys everywhere they are stored, safely, in one command.
//!
//! The layers, each importing only the ones below it (ARCHITECTURE.md states the rule):
//!
//! ```text
//! cli        clap arguments, dispatch, exit codes (the only place clap types live)
//! commands   one module per command: select profiles, plan, confirm, carry out, report
//! notify     telling a person: a run's events sent to webhooks and commands
//! report     what commands print: the versioned JSON types, text, live progress
//! engine     planning, rotating, undoing, recovering, pruning (IAM, sinks, the journal)
//! state      the state directory: journal, pending deletions, history, locks
//! config     the manifest, default mode's discovery, paths, profiles and policies
//! aws        IAM and STS through the AWS SDK, errors classified
//! ```
//!
//! `time`, `digest` and `escape` are utilities any layer may use.
//!
//! The sinks themselves live in the `rekey-sinks` crate, which knows nothing of this one.

#![deny(missing_docs)]

pub(crate) mod aws;
pub mod cli;
pub(crate) mod commands;
pub(crate) mod config;
pub(crate) mod digest;
pub(crate) mod engine;
pub(crate) mod escape;
pub(crate) mod notify;
pub(crate) mod report;
pub(crate) mod state;
pub(crate) mod time;

/// What `rekey --version` prints after the name: the version, the commit and the build
/// date (stamped by `build.rs`).
pub(crate) const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("REKEY_COMMIT"),
    " ",
    env!("REKEY_BUILD_DATE"),
    ")"
);
