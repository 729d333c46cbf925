//! rekey's integration tests: the real binary, a real filesystem, a real IAM emulator.
//!
//! Run them with `./scripts/test` (which installs moto first). Each module covers one
//! behaviour of the CLI contract; `support` holds the harness.

mod support;

mod admin;
mod audit;
mod bad_input;
mod compromised;
mod crash;
mod default_mode;
mod docs;
mod error_kinds;
mod eventual;
mod examples;
mod faults;
mod fence;
mod fencing;
mod find;
mod fleet;
mod forged_state;
mod json_schemas;
mod keyring;
mod layers;
mod lifecycle;
mod locking;
mod manifest_mode;
mod mfa;
mod newcomer;
mod notify;
mod overlap;
mod pacing;
mod proxy;
mod prune;
mod quarantine;
mod real_aws;
mod release;
mod respond;
mod rollback;
mod safety;
mod schedule;
mod secret_stores;
mod secrets;
mod shape;
mod shared_keys;
mod shared_state;
mod sinks;
mod state_dir;
mod sync;
mod team_state;
mod terminal;
mod trust;
mod two_key_rule;
mod verify;
