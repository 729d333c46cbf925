//! The `dotenv` sink: two variables of a `.env` file.
//!
//! The file is edited in place: the two values change and every other byte stays (the
//! `export ` prefixes, quoting style, comments, blank lines, order, CRLF, other
//! variables). A missing variable is appended, single-quoted, which dotenvy,
//! python-dotenv and docker compose all read literally. dotenvy has no writer, so the
//! edit is rekey's own ([`scan`] finds the values, [`edit`] replaces them), and before
//! the file is replaced dotenvy reads both texts back: only the two variables may differ.

mod config;
pub mod edit;
pub mod scan;

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

pub use config::Config;

use crate::text_file::{key_from_values, FileSink, TextFormat, Value};
use crate::{AccessKey, SinkError};

/// Default name of the variable holding the access key id.
pub const DEFAULT_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// Default name of the variable holding the secret access key.
pub const DEFAULT_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";

/// A `.env` file as a [`Sink`](crate::Sink).
pub type DotEnv = FileSink<Variables>;

/// The names of the two variables that hold the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variables {
    /// Holds the access key id.
    pub access_key_id: String,
    /// Holds the secret access key.
    pub secret_access_key: String,
}

impl Default for Variables {
    fn default() -> Self {
        Self {
            access_key_id: DEFAULT_ACCESS_KEY_ID.into(),
            secret_access_key: DEFAULT_SECRET_ACCESS_KEY.into(),
        }
    }
}

impl DotEnv {
    /// The sink for `variables` in the `.env` file at `path`.
    pub fn new(path: impl Into<PathBuf>, variables: Variables) -> Self {
        Self::with_format(path, variables)
    }
}

impl TextFormat for Variables {
    fn describe(&self, path: &Path) -> String {
        format!(
            ".env file {} ({}, {})",
            crate::shown::path(path),
            self.access_key_id,
            self.secret_access_key
        )
    }

    fn read_key(&self, path: &Path, text: &str) -> Result<Option<AccessKey>, SinkError> {
        let values = edit::read_back(text).map_err(|message| SinkError::Parse {
            path: path.to_owned(),
            line: message.0,
            message: message.1,
        })?;
        key_from_values(
            path,
            "",
            || self.describe(path),
            Value {
                name: &self.access_key_id,
                value: values.get(&self.access_key_id).map(|v| v.as_str()),
            },
            Value {
                name: &self.secret_access_key,
                value: values.get(&self.secret_access_key).map(|v| v.as_str()),
            },
        )
    }

    fn set_key(
        &self,
        path: &Path,
        text: &str,
        key: &AccessKey,
    ) -> Result<Zeroizing<String>, SinkError> {
        edit::set_key(text, self, key).map_err(|e| match e {
            edit::EditError::Parse { line, message } => SinkError::Parse {
                path: path.to_owned(),
                line,
                message,
            },
            edit::EditError::Verification(detail) => SinkError::EditCheckFailed {
                path: path.to_owned(),
                detail,
            },
            other => SinkError::Unsupported {
                path: path.to_owned(),
                message: other.to_string(),
            },
        })
    }
}

#[cfg(test)]
mod tests;
