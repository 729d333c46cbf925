//! The plugin protocol, version 1 (documented in `docs/plugin-protocol.md`).
//!
//! One process per request, newline-delimited JSON: the plugin says hello
//! (`{"v":[1]}`), rekey sends one request, the plugin answers once and exits.

use serde::{Deserialize, Serialize};

/// The protocol version this rekey speaks.
pub const VERSION: u32 = 1;

/// The plugin's first line: the protocol versions it speaks.
#[derive(Debug, Deserialize)]
pub struct Hello {
    /// Supported versions.
    pub v: Vec<u32>,
}

/// What rekey asks. Serialized with the version: `{"v":1,"op":"write",…}`.
#[derive(Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request<'a> {
    /// A one-line description for the plan.
    Describe,
    /// Which key the place holds.
    Read,
    /// Whether a write can succeed, changing nothing.
    Check,
    /// Store this key; answer with what undoes it.
    Write {
        /// The new access key id.
        access_key_id: &'a str,
        /// The new secret (this is why requests go over stdin only).
        secret_access_key: &'a str,
    },
    /// Undo a write with the data it returned (`null` if rekey never received it).
    Restore {
        /// The `undo` value the write answered.
        undo: &'a serde_json::Value,
    },
}

/// The envelope rekey writes: the version plus the request.
#[derive(Serialize)]
pub struct Envelope<'a> {
    /// Always [`VERSION`].
    pub v: u32,
    /// The request.
    #[serde(flatten)]
    pub request: Request<'a>,
}

/// The plugin's answer: `{"ok": {...}}` or `{"error": {"message": "..."}}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Response {
    /// Success, with the operation's fields.
    Ok(serde_json::Map<String, serde_json::Value>),
    /// Failure.
    Error(PluginError),
}

/// A failure the plugin reports.
#[derive(Debug, Deserialize)]
pub struct PluginError {
    /// What went wrong, for the user.
    pub message: String,
    /// `unsupported` when the plugin does not implement the operation.
    #[serde(default)]
    pub kind: Option<String>,
}
