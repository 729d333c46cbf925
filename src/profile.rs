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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The old key stays deactivated this long before it is deleted (zero: at once).
    pub grace: Duration,
    /// Rotate only keys at least this old (`None`: always rotate).
    pub max_age: Option<Duration>,
    /// How the new key is proven to work.
    pub propagation: Propagation,
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
        }
    }
}
