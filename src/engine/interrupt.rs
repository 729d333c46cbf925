//! A stop the user asked for (Ctrl-C, SIGTERM) during a run that changes keys (issue 31:
//! Ctrl-C left both keys Active and every file on the new key, silently). The command
//! line notes the signal here ([`request`]); a rotation looks between its steps
//! ([`check`]) and, once asked, starts nothing new: one that has not made its key stops
//! as if it never began, one that has is undone like any failed rotation. A second
//! signal ends the process at once, and `rekey recover` resolves what it left.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::engine::error::{Cause, ErrorKind};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Notes that the user asked the run to stop.
pub(crate) fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether the user asked the run to stop.
pub(crate) fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// `Err` once the user asked the run to stop, naming the step not taken.
pub(crate) fn check(before: &str) -> Result<(), Cause> {
    match requested() {
        false => Ok(()),
        true => Err(Cause::new(
            ErrorKind::Interrupted,
            format!("stopped by a signal (Ctrl-C) before {before}"),
        )),
    }
}
