//! Errors a sink reports: each names the place (file, section) and what to do.

use std::io;
use std::path::PathBuf;

/// A sink could not be read, checked, written or restored.
///
/// Messages never contain secret material: parse errors name lines, not their text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// An I/O operation on a file failed.
    #[error("cannot {action} {}: {source}", crate::shown::path(path))]
    Io {
        /// What rekey was doing, e.g. `read`, `replace`.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The file does not parse as its format requires.
    #[error("{}:{line}: {message}", crate::shown::path(path))]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong (never the line's text, which may hold a secret).
        message: String,
    },
    /// The place cannot be edited safely as it stands; the message says why and what to do.
    #[error("{}: {message}", crate::shown::path(path))]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// Why, and what the user can do about it.
        message: String,
    },
    /// The place holds temporary credentials (a session token), which are not rotated.
    #[error("{}: [{section}] holds temporary credentials (aws_session_token); rekey rotates long-lived keys only", crate::shown::path(path))]
    TemporaryCredentials {
        /// The file.
        path: PathBuf,
        /// The section holding `aws_session_token`.
        section: String,
    },
    /// The place holds text that is not a valid access key.
    #[error("{place}: {source}")]
    InvalidKey {
        /// The file and section, or other description of the place.
        place: String,
        /// What is wrong with the material.
        #[source]
        source: crate::InvalidKeyMaterial,
    },
    /// The OS credential store failed or holds something unexpected.
    #[error("{entry}: {message}")]
    Keyring {
        /// The entry, described.
        entry: String,
        /// What went wrong (never the stored value).
        message: String,
    },
    /// An AWS secret store (Secrets Manager, SSM Parameter Store) failed or holds
    /// something unexpected.
    #[error("{place}: {message}")]
    Store {
        /// The secret or parameter, described.
        place: String,
        /// What went wrong (AWS's error code and message; never the stored value).
        message: String,
    },
    /// AWS refused a secret store's call for lack of permission: a missing grant, not a
    /// broken place.
    #[error("{place}: {message}")]
    AccessDenied {
        /// The secret or parameter, described.
        place: String,
        /// AWS's error code and message (never the stored value).
        message: String,
    },
    /// A plugin failed, timed out or answered outside the protocol.
    #[error("plugin `{command}`: {message}")]
    Plugin {
        /// The plugin's command line (from the manifest; never holds a secret).
        command: String,
        /// What went wrong, with the plugin's stderr (secrets redacted).
        message: String,
    },
    /// After an edit, re-reading the new text did not show exactly the intended change.
    /// Nothing was written.
    #[error("{}: refusing to write: the edited file would not read back as intended ({detail}); the file is unchanged", crate::shown::path(path))]
    EditCheckFailed {
        /// The file.
        path: PathBuf,
        /// Which check failed (never a value).
        detail: String,
    },
}

impl SinkError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
