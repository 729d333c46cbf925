//! A profile to rotate, fully specified: its sinks and its rotation policy.

use std::time::Duration;

use rekey_sinks::Sink;

/// One AWS profile and everything rekey needs to rotate its key.
pub struct ProfileSpec {
    /// The profile name (manifest key, or credentials-file section in default mode).
    pub name: String,
    /// Where the key lives. The first sink is where the current key is read from.
    pub sinks: Vec<Box<dyn Sink>>,
    /// When and how to rotate.
    pub policy: Policy,
}

/// When to rotate, how to prove the new key works, and how long to keep the old one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The old key stays deactivated this long before it is deleted (zero: at once).
    pub grace: Duration,
    /// Rotate only keys at least this old (`None`: always rotate).
    pub max_age: Option<Duration>,
    /// How the new key is proven to work.
    pub propagation: Propagation,
    /// The user's own check, run after every sink is written.
    pub verify: Option<Verify>,
}

/// A command that checks the new key works for what it is used for (`verify:`). It runs
/// after every sink is written and before the old key is deactivated, with the new key
/// in `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`; a non-zero exit rolls back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verify {
    /// The program (resolved like a plugin's) and its arguments.
    pub command: Vec<String>,
    /// Stop it and roll back after this long.
    pub timeout: Duration,
}

impl Verify {
    /// Default limit for the verification command.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
}

/// The propagation proof: `consecutive` successful `GetCallerIdentity` calls in a row,
/// with the same user ARN, within `timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Propagation {
    /// Give up after this long.
    pub timeout: Duration,
    /// Successes in a row required.
    pub consecutive: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(7 * 86_400),
            max_age: None,
            propagation: Propagation {
                timeout: Duration::from_secs(60),
                consecutive: 3,
            },
            verify: None,
        }
    }
}
