//! The `credentials_file` sink: one section of an AWS shared credentials file.
//!
//! - [`profile_file`] reads the file with the SDK's semantics and keeps byte positions.
//! - [`edit`] changes the two key values of one section and nothing else.
//! - [`CredentialsFile`] is the [`Sink`](crate::Sink) that puts them together.

mod config;
pub mod edit;
pub mod profile_file;
mod sink;

pub use config::Config;
pub use sink::{CredentialsFile, Section};

/// The key holding the access key id.
pub const ACCESS_KEY_ID: &str = "aws_access_key_id";
/// The key holding the secret access key.
pub const SECRET_ACCESS_KEY: &str = "aws_secret_access_key";
/// The key whose presence marks temporary credentials.
pub const SESSION_TOKEN: &str = "aws_session_token";
