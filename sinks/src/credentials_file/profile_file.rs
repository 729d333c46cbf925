//! A span-aware reader for the AWS shared `config` and `credentials` files.
//!
//! Why not `rust-ini` or `aws-config`'s loader: the first drops comments and reorders keys
//! when writing, and the second yields values but not *where* they are. rekey must change
//! two values and keep every other byte, so it needs both the SDK's reading semantics and
//! the byte range of each value. This module gives both: [`parse`] follows the same rules
//! as `aws-runtime`'s parser (comments, continuations, sub-properties, case-insensitive
//! keys), and [`merged_profiles`] applies its normalization (the `profile ` prefix,
//! `[default]` precedence, name validation, later-wins merging). The SDK's own
//! conformance suite (`profile-parser-tests.json`) runs against it in the tests.

use std::borrow::Cow;
use std::collections::BTreeMap;

use std::ops::Range;
use zeroize::Zeroizing;

const WHITESPACE: &[char] = &[' ', '\t'];
const COMMENT: &[char] = &['#', ';'];

/// Which of the two shared files a text came from; they name sections differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `~/.aws/config`: `[profile NAME]`, `[default]`, `[sso-session NAME]`.
    Config,
    /// `~/.aws/credentials`: `[NAME]`.
    Credentials,
}

/// A file's sections in the order they are written.
#[derive(Debug)]
pub struct ProfileFile<'a> {
    /// Every `[…]` header and the properties under it.
    pub sections: Vec<Section<'a>>,
}

/// One `[…]` header and the properties written under it (until the next header).
#[derive(Debug)]
pub struct Section<'a> {
    /// The text between the brackets, trimmed, comments removed (`profile dev`, `dev`).
    pub raw_name: &'a str,
    /// 1-based line of the header.
    pub line: usize,
    /// Byte offset just past the header line, including its line break.
    pub header_end: usize,
    /// The properties, in file order.
    pub properties: Vec<Property<'a>>,
}

/// One `key = value` line, with its continuation lines.
pub struct Property<'a> {
    /// The key, lowercased (keys are case-insensitive).
    pub key: Cow<'a, str>,
    /// The value as the SDK reads it: trimmed, inline comment removed, continuation lines
    /// joined with `\n`.
    pub value: Cow<'a, str>,
    /// 1-based line of the key.
    pub line: usize,
    /// Byte range of the value's first line in the text (empty for an empty value).
    pub value_span: Range<usize>,
    /// Whether continuation lines follow.
    pub continued: bool,
    /// Byte offset just past the property's last line, including its line break.
    pub end: usize,
}

// Values may be secrets: Debug shows where they are, never what they are.
impl std::fmt::Debug for Property<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Property")
            .field("key", &self.key)
            .field("line", &self.line)
            .field("value_span", &self.value_span)
            .finish_non_exhaustive()
    }
}

/// A line the SDK would refuse to read. The message never quotes the line (it may hold a
/// secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// The SDK's wording of the problem.
    pub message: String,
}

/// Parses a shared config or credentials file, keeping the byte position of every value.
pub fn parse(text: &str) -> Result<ProfileFile<'_>, ParseError> {
    let mut sections: Vec<Section<'_>> = Vec::new();
    // Whether the last property's value was empty, which makes continuations sub-properties.
    let mut in_property = false;
    let mut offset = 0;
    for (index, raw_line) in text.split_inclusive('\n').enumerate() {
        let number = index + 1;
        let start = offset;
        offset += raw_line.len();
        let line = raw_line
            .strip_suffix('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .unwrap_or(raw_line);
        let error = |message: &str| ParseError {
            line: number,
            message: message.to_owned(),
        };
        if line.trim_matches(WHITESPACE).is_empty() || line.starts_with(COMMENT) {
            continue;
        }
        if line.starts_with('[') {
            let name = strip_comment(line, false)
                .strip_suffix(']')
                .ok_or_else(|| error("Profile definition must end with ']'"))?;
            sections.push(Section {
                raw_name: name[1..].trim_matches(WHITESPACE),
                line: number,
                header_end: offset,
                properties: Vec::new(),
            });
            in_property = false;
            continue;
        }
        let Some(section) = sections.last_mut() else {
            return Err(error("Expected a profile definition"));
        };
        if line.starts_with(WHITESPACE) {
            let property = match section.properties.last_mut() {
                Some(p) if in_property => p,
                _ => return Err(error("Expected a property definition, found continuation")),
            };
            if property.value.is_empty() || property.value.starts_with('\n') {
                // A sub-property block (`s3 =` then indented `key = value` lines).
                let inner = line.trim_matches(WHITESPACE);
                if !inner.is_empty() {
                    split_property(inner).map_err(|e| error(&e.message("sub-property")))?;
                }
            }
            let joined = property.value.to_mut();
            joined.push('\n');
            joined.push_str(line.trim_matches(WHITESPACE));
            property.continued = true;
            property.end = offset;
            continue;
        }
        let (key, value) = split_property(line).map_err(|e| error(&e.message("property")))?;
        let value_start = start + (value.as_ptr() as usize - line.as_ptr() as usize);
        section.properties.push(Property {
            key: lowercase(key),
            value: Cow::Borrowed(value),
            line: number,
            value_span: value_start..value_start + value.len(),
            continued: false,
            end: offset,
        });
        in_property = true;
    }
    Ok(ProfileFile { sections })
}

enum PropertyError {
    NoEquals,
    NoName,
}

impl PropertyError {
    fn message(&self, what: &str) -> String {
        match self {
            PropertyError::NoEquals => format!("Expected an '=' sign defining a {what}"),
            PropertyError::NoName => {
                let mut upper = what.to_owned();
                upper[..1].make_ascii_uppercase();
                format!("{upper} did not have a name")
            }
        }
    }
}

/// Splits `key = value # comment` into its trimmed key and value (slices of `line`).
fn split_property(line: &str) -> Result<(&str, &str), PropertyError> {
    let line = strip_comment(line, true);
    let (key, value) = line.split_once('=').ok_or(PropertyError::NoEquals)?;
    let key = key.trim_matches(WHITESPACE);
    if key.is_empty() {
        return Err(PropertyError::NoName);
    }
    Ok((key, value.trim_matches(WHITESPACE)))
}

/// Trims the line and cuts it at the first `#` or `;`. In property lines the comment
/// sign must follow whitespace (`value#x` is a value); in headers it need not.
fn strip_comment(line: &str, needs_whitespace: bool) -> &str {
    let line = line.trim_matches(WHITESPACE);
    let mut after_whitespace = false;
    for (index, c) in line.char_indices() {
        if COMMENT.contains(&c) && (after_whitespace || !needs_whitespace) {
            return line[..index].trim_matches(WHITESPACE);
        }
        after_whitespace = c.is_whitespace();
    }
    line
}

fn lowercase(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Whether the SDK accepts `name` as a profile or property name.
pub fn is_valid_identifier(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-/.%@:+".contains(c))
}

/// What a section header means once its prefix is understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionName<'a> {
    /// A profile, with the name the SDK gives it.
    Profile(&'a str),
    /// `[sso-session NAME]` (config file only).
    SsoSession(&'a str),
    /// Anything the SDK ignores for profiles (other prefixes, invalid names), with why.
    Ignored(String),
}

/// Interprets a header the way the SDK does for the given file kind.
pub fn section_name(raw_name: &str, kind: FileKind) -> SectionName<'_> {
    let (prefix, name) = match raw_name.split_once(WHITESPACE) {
        Some((prefix, name)) => (Some(prefix.trim()), name.trim()),
        None => (None, raw_name.trim()),
    };
    let invalid = || SectionName::Ignored(format!("`{name}` is not a valid profile name"));
    match (kind, prefix) {
        (FileKind::Credentials, None) | (FileKind::Config, Some("profile")) => {
            if is_valid_identifier(name) {
                SectionName::Profile(name)
            } else {
                invalid()
            }
        }
        (FileKind::Config, None) if name == "default" => SectionName::Profile(name),
        (FileKind::Config, None) => SectionName::Ignored(format!(
            "[{name}] needs the `profile ` prefix in the config file"
        )),
        (FileKind::Config, Some("sso-session")) if is_valid_identifier(name) => {
            SectionName::SsoSession(name)
        }
        (FileKind::Credentials, Some("profile")) => SectionName::Ignored(format!(
            "[profile {name}] is ignored: credentials-file sections have no `profile ` prefix"
        )),
        (_, Some(prefix)) => SectionName::Ignored(format!("[{prefix} {name}] is not a profile")),
    }
}

/// Properties by lowercased key. The values include every secret of the file, so they
/// are zeroized when the map is dropped.
pub type Properties = BTreeMap<String, Zeroizing<String>>;

/// What the SDK would see after reading several files (config first, then credentials).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Merged {
    /// Profiles by name.
    pub profiles: BTreeMap<String, Properties>,
    /// `[sso-session …]` sections by name.
    pub sso_sessions: BTreeMap<String, Properties>,
}

/// Merges files in the order given, later values winning, with the SDK's rules.
pub fn merged_profiles(files: &[(FileKind, &ProfileFile<'_>)]) -> Merged {
    let mut merged = Merged::default();
    for (kind, file) in files {
        // `[profile default]` in the config file hides a plain `[default]` there.
        let prefixed_default = *kind == FileKind::Config
            && file.sections.iter().any(|s| {
                s.raw_name
                    .split_once(WHITESPACE)
                    .map(|(p, n)| (p, n.trim()))
                    == Some(("profile", "default"))
            });
        for section in &file.sections {
            let target = match section_name(section.raw_name, *kind) {
                SectionName::Profile("default")
                    if prefixed_default && section.raw_name == "default" =>
                {
                    continue
                }
                SectionName::Profile(name) => merged.profiles.entry(name.to_owned()),
                SectionName::SsoSession(name) => merged.sso_sessions.entry(name.to_owned()),
                SectionName::Ignored(_) => continue,
            };
            let properties = target.or_default();
            for property in &section.properties {
                if is_valid_identifier(&property.key) {
                    let value = Zeroizing::new(property.value.to_string());
                    properties.insert(property.key.to_string(), value);
                }
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests;
