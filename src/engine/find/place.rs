//! What kind of place a file is, where in it a match is, and, for a place rekey can
//! edit, the sink that would keep it current.

use std::path::Path;

use rekey_sinks::file::Format;

/// The kind of file a copy was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PlaceFormat {
    /// The shared credentials file, or a file named like it.
    Credentials,
    /// The shared config file (`[profile NAME]` sections).
    Config,
    /// A `.env` file.
    Dotenv,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
    /// TOML.
    Toml,
    /// A shell's history (bash, zsh, fish): rekey cannot keep it current.
    ShellHistory,
    /// Anything else.
    Other,
}

impl PlaceFormat {
    /// The format of `path`, by its name (and its folder, for the AWS files).
    pub(crate) fn of(path: &Path) -> Self {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let in_aws = path
            .parent()
            .and_then(|p| p.file_name())
            .is_some_and(|p| p == ".aws");
        match name {
            "credentials" => return Self::Credentials,
            "config" if in_aws => return Self::Config,
            ".bash_history" | ".zsh_history" | ".sh_history" | "fish_history" | ".history" => {
                return Self::ShellHistory
            }
            _ => {}
        }
        if name == ".env" || name.starts_with(".env.") || name.ends_with(".env") {
            return Self::Dotenv;
        }
        match Format::from_extension(path) {
            Some(Format::Json) => Self::Json,
            Some(Format::Yaml) => Self::Yaml,
            Some(Format::Toml) => Self::Toml,
            None => Self::Other,
        }
    }

    /// Its name, as the JSON output writes it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Credentials => "credentials",
            Self::Config => "config",
            Self::Dotenv => "dotenv",
            Self::Json => "json",
            Self::Yaml => "yaml",
            Self::Toml => "toml",
            Self::ShellHistory => "shell history",
            Self::Other => "other",
        }
    }

    /// The structured format rekey's `file` sink edits, if this is one.
    pub(crate) fn structured(self) -> Option<Format> {
        match self {
            Self::Json => Some(Format::Json),
            Self::Yaml => Some(Format::Yaml),
            Self::Toml => Some(Format::Toml),
            _ => None,
        }
    }
}

/// 1-based line and column (in bytes) of `offset` in `bytes`.
pub(crate) fn line_and_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset];
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    (line, offset - start + 1)
}

/// In an INI file, the `[section]` the line at `offset` belongs to.
pub(crate) fn section(bytes: &[u8], offset: usize) -> Option<String> {
    let text = String::from_utf8_lossy(&bytes[..offset]);
    let header = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))?;
    Some(
        header
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim()
            .to_owned(),
    )
}

/// In a `.env` file, the variable the line at `offset` sets (`export` dropped).
pub(crate) fn variable(bytes: &[u8], offset: usize) -> Option<String> {
    let start = memchr::memrchr(b'\n', &bytes[..offset]).map_or(0, |i| i + 1);
    let line = String::from_utf8_lossy(&bytes[start..offset]);
    let (name, _) = line.split_once('=')?;
    let name = name.trim();
    let name = name.strip_prefix("export ").unwrap_or(name).trim();
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then(|| name.to_owned())
}

/// The key path (`aws.credentials.access_key_id`, `items[0].key`) of the string value
/// equal to `wanted` in `value`, as the `file` sink's `access_key_id` takes it.
pub(crate) fn key_path(value: &serde_json::Value, wanted: &str) -> Option<String> {
    match value {
        serde_json::Value::String(s) if s == wanted => Some(String::new()),
        serde_json::Value::Object(map) => map.iter().find_map(|(key, inner)| {
            let rest = key_path(inner, wanted)?;
            let plain = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            let key = if plain {
                key.clone()
            } else {
                format!("\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
            };
            Some(join(key, rest))
        }),
        serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(i, inner)| {
            let rest = key_path(inner, wanted)?;
            Some(format!("[{i}]{}", dotted(rest)))
        }),
        _ => None,
    }
}

fn join(key: String, rest: String) -> String {
    format!("{key}{}", dotted(rest))
}

/// `rest` after a key: `.a.b`, `[0]`, or nothing.
fn dotted(rest: String) -> String {
    if rest.is_empty() || rest.starts_with('[') {
        rest
    } else {
        format!(".{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_name() {
        for (path, format) in [
            ("/h/.aws/credentials", PlaceFormat::Credentials),
            ("/h/.aws/config", PlaceFormat::Config),
            ("/h/app/config", PlaceFormat::Other),
            ("/h/app/.env", PlaceFormat::Dotenv),
            ("/h/app/.env.local", PlaceFormat::Dotenv),
            ("/h/app/prod.env", PlaceFormat::Dotenv),
            ("/h/app/settings.JSON", PlaceFormat::Json),
            ("/h/app/a.yml", PlaceFormat::Yaml),
            ("/h/app/a.toml", PlaceFormat::Toml),
            ("/h/.zsh_history", PlaceFormat::ShellHistory),
            (
                "/h/.local/share/fish/fish_history",
                PlaceFormat::ShellHistory,
            ),
            ("/h/notes.txt", PlaceFormat::Other),
        ] {
            assert_eq!(PlaceFormat::of(Path::new(path)), format, "{path}");
        }
    }

    #[test]
    fn lines_and_columns_count_from_one() {
        let text = b"a\r\nbc KEY\nKEY";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 6), (2, 4));
        assert_eq!(line_and_column(text, 10), (3, 1));
    }

    #[test]
    fn sections_and_variables_name_the_place() {
        let ini = b"[default]\na = 1\n[profile dev]\naws_access_key_id = KEY\n";
        let at = ini.len() - 4;
        assert_eq!(section(ini, at).as_deref(), Some("profile dev"));
        let env = b"A=1\nexport APP_KEY_ID=\"KEY\"\n";
        let at = env.len() - 5;
        assert_eq!(variable(env, at).as_deref(), Some("APP_KEY_ID"));
        assert_eq!(variable(b"just KEY", 5), None);
    }

    #[test]
    fn key_paths_are_found_by_value() {
        let value = serde_json::json!({
            "aws": {"credentials": {"access_key_id": "ID", "other": 1}},
            "items": [{"key": "X"}, {"key": "SECRET"}],
            "my.app": {"id": "Q"}
        });
        assert_eq!(
            key_path(&value, "ID").as_deref(),
            Some("aws.credentials.access_key_id")
        );
        assert_eq!(key_path(&value, "SECRET").as_deref(), Some("items[1].key"));
        assert_eq!(key_path(&value, "Q").as_deref(), Some("\"my.app\".id"));
        assert_eq!(key_path(&value, "nope"), None);
    }
}
