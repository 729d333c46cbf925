//! Named crash points for the crash tests, compiled only with the `crash-points` feature.
//!
//! `REKEY_CRASH_AT=<name>` makes the process abort (no unwinding, no destructors, no
//! flushing: as close to `kill -9` as a process can do to itself) when it reaches the
//! point of that name. Without the feature, [`point`] is an empty function.

/// Aborts here if `REKEY_CRASH_AT` names this point (test builds only).
#[inline]
pub(crate) fn point(name: &str) {
    #[cfg(feature = "crash-points")]
    if std::env::var("REKEY_CRASH_AT").is_ok_and(|at| at == name) {
        std::process::abort();
    }
    #[cfg(not(feature = "crash-points"))]
    let _ = name;
}
