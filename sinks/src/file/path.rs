//! Key paths: where in a structured file a value is.
//!
//! `aws.credentials.access_key_id` walks nested tables/objects/mappings by key; `[N]`
//! selects item N (from 0) of an array: `profiles[0].key`; a key that contains dots,
//! brackets or spaces is written in double quotes: `"my.app".key` (with `\"` and `\\`
//! for a quote or backslash inside).

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A key of a table, object or mapping.
    Key(String),
    /// An item of an array (from 0).
    Index(usize),
}

/// A parsed key path; see the module docs for the syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Segment>);

/// A key path that does not follow the syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid key path `{text}`: {reason} (write keys separated by dots, `[N]` for array items, and \"quoted.keys\" for keys with dots)")]
pub struct InvalidKeyPath {
    text: String,
    reason: &'static str,
}

impl FromStr for KeyPath {
    type Err = InvalidKeyPath;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| InvalidKeyPath {
            text: text.to_owned(),
            reason,
        };
        let mut segments = Vec::new();
        let mut chars = text.chars().peekable();
        let mut expect_key = true;
        while let Some(&c) = chars.peek() {
            match c {
                '[' => {
                    chars.next();
                    let mut digits = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == ']' {
                            closed = true;
                            break;
                        }
                        digits.push(c);
                    }
                    let index = digits.parse().ok().filter(|_| closed).ok_or_else(|| {
                        invalid("`[` must hold an index, e.g. [0], and be closed")
                    })?;
                    segments.push(Segment::Index(index));
                    expect_key = false;
                }
                '.' if !expect_key => {
                    chars.next();
                    expect_key = true;
                }
                '"' if expect_key => {
                    chars.next();
                    let mut key = String::new();
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some('\\') => {
                                key.push(chars.next().ok_or_else(|| invalid("unfinished escape"))?)
                            }
                            Some(c) => key.push(c),
                            None => return Err(invalid("unclosed quote")),
                        }
                    }
                    segments.push(Segment::Key(key));
                    expect_key = false;
                }
                _ if expect_key => {
                    let mut key = String::new();
                    while let Some(&c) = chars.peek() {
                        if matches!(c, '.' | '[' | '"') {
                            break;
                        }
                        key.push(c);
                        chars.next();
                    }
                    if key.is_empty() {
                        return Err(invalid("empty key"));
                    }
                    segments.push(Segment::Key(key));
                    expect_key = false;
                }
                _ => return Err(invalid("expected `.` or `[` between keys")),
            }
        }
        if segments.is_empty() || expect_key {
            return Err(invalid("empty key"));
        }
        Ok(Self(segments))
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(i) => write!(f, "[{i}]")?,
                Segment::Key(k) => {
                    if n > 0 {
                        f.write_str(".")?;
                    }
                    if k.is_empty() || k.contains(['.', '[', ']', '"', '\\']) {
                        write!(f, "\"{}\"", k.replace('\\', "\\\\").replace('"', "\\\""))?;
                    } else {
                        f.write_str(k)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// In the manifest's schema: a string.
impl schemars::JsonSchema for KeyPath {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "KeyPath".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A key path such as aws.credentials.access_key_id, items[0].key or \"my.app\".key.",
            "type": "string",
            "minLength": 1
        })
    }
}

impl<'de> Deserialize<'de> for KeyPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PathVisitor;
        impl Visitor<'_> for PathVisitor {
            type Value = KeyPath;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key path such as aws.credentials.access_key_id, items[0].key or \"my.app\".key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyPath, E> {
                v.parse()
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_str(PathVisitor)
    }
}

/// Follows `path` in a JSON-like value.
pub fn get<'v>(value: &'v serde_json::Value, path: &KeyPath) -> Option<&'v serde_json::Value> {
    path.0.iter().try_fold(value, |v, segment| match segment {
        Segment::Key(k) => v.get(k),
        Segment::Index(i) => v.get(i),
    })
}

/// Follows `path` in a JSON-like value, mutably.
pub fn get_mut<'v>(
    value: &'v mut serde_json::Value,
    path: &KeyPath,
) -> Option<&'v mut serde_json::Value> {
    path.0.iter().try_fold(value, |v, segment| match segment {
        Segment::Key(k) => v.get_mut(k),
        Segment::Index(i) => v.get_mut(i),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Segment {
        Segment::Key(k.into())
    }

    #[test]
    fn parses_keys_indexes_and_quoted_keys() {
        let cases = [
            ("aws.access_key_id", vec![key("aws"), key("access_key_id")]),
            (
                "profiles[0].key",
                vec![key("profiles"), Segment::Index(0), key("key")],
            ),
            ("\"my.app\".key", vec![key("my.app"), key("key")]),
            (
                "a.\"say \\\"hi\\\"\"[2][3]",
                vec![
                    key("a"),
                    key("say \"hi\""),
                    Segment::Index(2),
                    Segment::Index(3),
                ],
            ),
            ("key with spaces", vec![key("key with spaces")]),
        ];
        for (text, segments) in cases {
            let path: KeyPath = text.parse().unwrap();
            assert_eq!(path.0, segments, "{text}");
            assert_eq!(
                path.to_string().parse::<KeyPath>().unwrap(),
                path,
                "{text} round-trips"
            );
        }
    }

    #[test]
    fn refuses_malformed_paths() {
        for text in [
            "", ".a", "a.", "a..b", "a[x]", "a[0", "\"a", "a\"b\"", "a[0]b",
        ] {
            assert!(text.parse::<KeyPath>().is_err(), "{text:?}");
        }
    }
}
