//! Asking a person for an MFA code on the terminal: the only place rekey reads one. The
//! engine gets a code from `--mfa-code`, its `mfa_command`, or this prompt, and never
//! touches the terminal itself.

use std::io::{BufRead, IsTerminal, Write};

use crate::aws::CodePrompt;

/// Asks on stderr and reads a line from stdin, when stdin is a terminal.
pub(super) struct Terminal;

impl CodePrompt for Terminal {
    fn ask(&self, serial: &str) -> Option<std::io::Result<String>> {
        if !std::io::stdin().is_terminal() {
            return None;
        }
        eprint!("MFA code for {serial}: ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        Some(std::io::stdin().lock().read_line(&mut line).map(|_| line))
    }
}
