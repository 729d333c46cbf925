//! rekey: rotate AWS IAM access keys everywhere they are stored, safely, in one command.
//!
//! The engine. Reading order: [`manifest`] and [`discovery`] say *which* profiles and
//! sinks; [`planner`] inspects IAM and the sinks and produces a [`plan::Plan`] (read-only);
//! [`rotation`] carries one profile's plan out as a journaled state machine; [`prune`]
//! deletes old keys whose grace period has ended. [`cli`] wires it to the command line.
//! The sinks themselves live in the `rekey-sinks` crate, which knows nothing of this one.

#![deny(missing_docs)]

pub mod app;
pub(crate) mod apply;
pub mod aws;
pub mod cli;
pub mod crash;
pub mod discovery;
pub mod init;
pub mod lock;
pub mod manifest;
mod orphan;
pub mod paths;
pub mod plan;
pub mod planner;
pub mod profile;
pub mod progress;
pub mod propagation;
pub mod prune;
pub mod recovery;
pub mod render;
pub mod rollback;
pub mod rotation;
mod settle;
pub mod shared_key;
pub mod state;
pub mod time;
pub mod verify;
