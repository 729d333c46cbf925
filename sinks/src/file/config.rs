//! The manifest fields of a `file` sink.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::{Fields, Format, KeyPath, StructuredFile};
use crate::sink::{BuildContext, SinkConfig};
use crate::Sink;

/// `type: file` in the manifest, with its format known: given, or from the file's
/// extension (a path whose format cannot be told is a manifest error).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(try_from = "Written")]
pub struct Config {
    /// The file; `~` and paths relative to the manifest are resolved when building.
    pub path: String,
    /// The file's format.
    pub format: Format,
    /// Key path of the access key id, e.g. `aws.access_key_id`.
    pub access_key_id: KeyPath,
    /// Key path of the secret access key.
    pub secret_access_key: KeyPath,
}

/// The fields as the manifest writes them.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Written {
    path: String,
    /// `json`, `yaml` or `toml`; default from the file's extension.
    format: Option<Format>,
    access_key_id: KeyPath,
    secret_access_key: KeyPath,
}

impl TryFrom<Written> for Config {
    type Error = String;

    fn try_from(written: Written) -> Result<Self, String> {
        let format = written
            .format
            .or_else(|| Format::from_extension(Path::new(&written.path)))
            .ok_or_else(|| {
                format!(
                    "cannot tell the format of `{}` from its extension; add `format: json`, `yaml` or `toml`",
                    written.path
                )
            })?;
        Ok(Self {
            path: written.path,
            format,
            access_key_id: written.access_key_id,
            secret_access_key: written.secret_access_key,
        })
    }
}

impl SinkConfig for Config {
    fn build(&self, ctx: &BuildContext<'_>) -> Arc<dyn Sink> {
        let fields = Fields {
            format: self.format,
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
        };
        Arc::new(StructuredFile::new((ctx.expand)(&self.path), fields))
    }
}
