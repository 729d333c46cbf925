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

/// The plugin's answer to one request: `{"ok":{…}}` with that operation's fields, or
/// `{"error":{"message":"…"}}` (with `"kind":"unsupported"` for an operation it does
/// not implement). `T` is the operation's answer type below.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Answer<T> {
    /// Success, with the operation's fields.
    Ok(T),
    /// Failure.
    Error(PluginError),
}

/// A failure the plugin reports.
#[derive(Debug, Deserialize)]
pub struct PluginError {
    /// What went wrong, for the user.
    pub message: String,
    /// What kind of failure; absent for an ordinary one.
    #[serde(default)]
    pub kind: Option<ErrorKind>,
}

/// The kinds of failure a plugin may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The plugin does not implement the operation.
    Unsupported,
    /// A kind this rekey does not know: treated as an ordinary failure.
    #[serde(other)]
    Other,
}

/// The answer to `describe`: `{"description":"…"}`.
#[derive(Debug, Deserialize)]
pub struct Described {
    /// A one-line description for the plan (only the first line is used).
    #[serde(default)]
    pub description: Option<String>,
}

/// The answer to `read`: the key the place holds (`null`s or nothing if none). A
/// plugin that cannot hand out the secret gives the id only; it then cannot be a
/// profile's first sink.
#[derive(Debug, Deserialize)]
pub struct Held {
    /// The access key id.
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// The secret: a `SecretString` from the moment it is read (redacted in `Debug`,
    /// zeroized on drop; issue 32: a plain `String` under a derived `Debug`).
    #[serde(default, deserialize_with = "crate::key::deserialize_optional_secret")]
    pub secret_access_key: Option<secrecy::SecretString>,
}

/// The answer to `check` and `restore`: `{}` (fields are ignored).
#[derive(Debug, Deserialize)]
pub struct Done {}

/// The answer to `write`: `{"undo":…}`, any JSON that `restore` gets back.
#[derive(Debug, Deserialize)]
pub struct Written {
    /// What undoes the write (`null` if the plugin keeps nothing).
    #[serde(default)]
    pub undo: serde_json::Value,
}
