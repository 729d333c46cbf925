//! The `file` sink: two string values in a JSON, YAML or TOML file.
//!
//! Each value is found by its key path ([`path`]) and only its bytes are replaced,
//! so comments (YAML, TOML), key order, indentation and every other byte stay. The
//! replacement keeps the value's quoting where the format has a choice. Before the file
//! is replaced, old and new texts are parsed by each format's usual reader (serde_json,
//! serde-saphyr, toml_edit) and must be equal except for the two values. The paths must
//! already exist and hold scalars: rekey does not invent structure in someone's config.

mod config;
mod json;
pub mod path;
mod toml;
mod yaml;

/// Where a YAML node starts, for the manifest's errors (the manifest is YAML too).
pub use yaml::node_position as yaml_node_position;

use std::ops::Range;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

pub use config::Config;
pub use path::KeyPath;

use crate::text_file::{key_from_values, FileSink, TextFormat, Value};
use crate::{AccessKey, SinkError};

/// The structured formats the `file` sink edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `.json`
    Json,
    /// `.yaml`, `.yml`
    Yaml,
    /// `.toml`
    Toml,
}

impl Format {
    /// The format a file name's extension implies.
    pub fn from_extension(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "yaml" | "yml" => Some(Self::Yaml),
            "toml" => Some(Self::Toml),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Json => "JSON",
            Self::Yaml => "YAML",
            Self::Toml => "TOML",
        }
    }

    /// The file's values, read by the format's usual parser, as JSON values (what a
    /// write is verified against; `rekey find` looks for a key's path in them).
    pub fn to_value(self, text: &str) -> Result<serde_json::Value, String> {
        match self {
            Self::Json => json::to_value(text),
            Self::Yaml => yaml::to_value(text),
            Self::Toml => toml::to_value(text),
        }
    }

    fn locate(self, text: &str, path: &KeyPath) -> Result<Found, LocateError> {
        match self {
            Self::Json => json::locate(text, path),
            Self::Yaml => yaml::locate(text, path),
            Self::Toml => toml::locate(text, path),
        }
    }

    /// How `value` is written in place of a value quoted like `quote`.
    fn render(self, value: &str, quote: Quote) -> String {
        match (self, quote) {
            (Self::Json, _) => format!("\"{value}\""),
            (Self::Yaml, Quote::None)
                if yaml::to_value(&Zeroizing::new(format!("v: {value}"))).ok()
                    == Some(serde_json::json!({ "v": value })) =>
            {
                value.to_owned()
            }
            (_, Quote::Single) => format!("'{value}'"),
            _ => format!("\"{value}\""),
        }
    }
}

/// Where a value is written and how it is quoted.
pub(crate) struct Found {
    span: Range<usize>,
    quote: Quote,
}

/// How a located value is quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quote {
    /// Not at all (YAML plain scalar, TOML/JSON number or boolean).
    None,
    /// `'…'`
    Single,
    /// `"…"`
    Double,
}

/// Why a value could not be located for editing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LocateError {
    Missing,
    NotScalar,
    Unsupported(&'static str),
    Parse(String),
}

/// A structured file as a [`Sink`](crate::Sink).
pub type StructuredFile = FileSink<Fields>;

/// The format and the two key paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    /// The file's format.
    pub format: Format,
    /// Where the access key id is.
    pub access_key_id: KeyPath,
    /// Where the secret access key is.
    pub secret_access_key: KeyPath,
}

impl StructuredFile {
    /// The sink for `fields` in the file at `path`.
    pub fn new(path: impl Into<PathBuf>, fields: Fields) -> Self {
        Self::with_format(path, fields)
    }
}

impl Fields {
    fn parse(&self, path: &Path, text: &str) -> Result<serde_json::Value, SinkError> {
        self.format
            .to_value(text)
            .map_err(|message| SinkError::Unsupported {
                path: path.to_owned(),
                message,
            })
    }
}

impl TextFormat for Fields {
    fn describe(&self, path: &Path) -> String {
        format!(
            "{} file {} ({}, {})",
            self.format.name(),
            crate::shown::path(path),
            self.access_key_id,
            self.secret_access_key
        )
    }

    fn can_create(&self) -> bool {
        false
    }

    fn read_key(&self, path: &Path, text: &str) -> Result<Option<AccessKey>, SinkError> {
        let value = self.parse(path, text)?;
        let unsupported = |message: String| SinkError::Unsupported {
            path: path.to_owned(),
            message,
        };
        let string_at = |key_path: &KeyPath| match path::get(&value, key_path) {
            None => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(Zeroizing::new(s.clone()))),
            Some(serde_json::Value::Null) => Ok(None),
            Some(_) => Err(unsupported(format!("{key_path} does not hold a string"))),
        };
        // An empty string is a placeholder waiting for its first key.
        let id = string_at(&self.access_key_id)?.filter(|v| !v.is_empty());
        let secret = string_at(&self.secret_access_key)?.filter(|v| !v.is_empty());
        let (id_name, secret_name) = (
            self.access_key_id.to_string(),
            self.secret_access_key.to_string(),
        );
        key_from_values(
            path,
            "",
            || self.describe(path),
            Value {
                name: &id_name,
                value: id.as_deref().map(|v| v.as_str()),
            },
            Value {
                name: &secret_name,
                value: secret.as_deref().map(|v| v.as_str()),
            },
        )
    }

    fn set_key(
        &self,
        path: &Path,
        text: &str,
        key: &AccessKey,
    ) -> Result<Zeroizing<String>, SinkError> {
        let mut expected = self.parse(path, text)?;
        let values = [
            (&self.access_key_id, key.id()),
            (&self.secret_access_key, key.secret().expose_secret()),
        ];
        let mut edits = Vec::new();
        for (key_path, value) in values {
            let found = self
                .format
                .locate(text, key_path)
                .map_err(|e| SinkError::Unsupported {
                    path: path.to_owned(),
                    message: match e {
                        LocateError::Missing => format!(
                            "{key_path} does not exist; add it (any placeholder value) first"
                        ),
                        LocateError::NotScalar => {
                            format!("{key_path} holds a table, list or object, not a value")
                        }
                        LocateError::Unsupported(what) => {
                            format!("{key_path}: rekey does not rewrite {what}")
                        }
                        LocateError::Parse(message) => message,
                    },
                })?;
            edits.push((
                found.span,
                Zeroizing::new(self.format.render(value, found.quote)),
            ));
            if let Some(slot) = path::get_mut(&mut expected, key_path) {
                *slot = serde_json::Value::String(value.to_owned());
            }
        }
        if edits[0].0.start < edits[1].0.end && edits[1].0.start < edits[0].0.end {
            return Err(SinkError::Unsupported {
                path: path.to_owned(),
                message: "the two key paths name the same value".into(),
            });
        }
        let mut out = Zeroizing::new(text.to_owned());
        edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
        for (range, replacement) in edits {
            out.replace_range(range, &replacement);
        }
        let got = self
            .format
            .to_value(&out)
            .map_err(|e| SinkError::EditCheckFailed {
                path: path.to_owned(),
                detail: e,
            })?;
        if got != expected {
            return Err(SinkError::EditCheckFailed {
                path: path.to_owned(),
                detail: "other values would change".into(),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
