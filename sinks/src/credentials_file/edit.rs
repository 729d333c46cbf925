//! Setting the two key values of one credentials-file section, keeping every other byte.
//!
//! The edit is a list of byte-range replacements computed from [`profile_file`] spans, so
//! comments, blank lines, key order, spacing around `=`, other keys and profiles, CRLF
//! line endings and a missing final newline are untouched by construction. Before the
//! result is returned it is parsed again and compared with the original: every profile
//! must read the same except the two values of the target section. A section written
//! twice, a key written twice in it, or a value continued over several lines is refused
//! rather than guessed at.

use std::ops::Range;

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::profile_file::{self, FileKind, ParseError, Section, SectionName};
use super::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN};
use crate::AccessKey;

/// Why a section could not be edited safely. No variant carries a value from the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// The file does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The section appears more than once; the SDK merges them, so which to edit is unclear.
    #[error("[{section}] appears more than once (lines {lines:?}); merge them into one section")]
    DuplicateSection {
        /// The section name.
        section: String,
        /// 1-based header lines.
        lines: Vec<usize>,
    },
    /// A key appears more than once in the section.
    #[error("{key} appears more than once in [{section}] (lines {lines:?}); keep only one")]
    DuplicateKey {
        /// The section name.
        section: String,
        /// The key.
        key: &'static str,
        /// 1-based lines.
        lines: Vec<usize>,
    },
    /// The key's value continues on following lines.
    #[error("{key} in [{section}] (line {line}) continues over several lines; put it on one line")]
    Multiline {
        /// The section name.
        section: String,
        /// The key.
        key: &'static str,
        /// 1-based line.
        line: usize,
    },
    /// The section holds a session token, so its keys are temporary and not rekey's to replace.
    #[error("[{section}] holds aws_session_token: temporary credentials are not rotated")]
    TemporaryCredentials {
        /// The section name.
        section: String,
    },
    /// Re-reading the edited text did not give exactly the intended change.
    #[error("the edited text does not read back as intended: {0}")]
    Verification(String),
}

/// The sections of `file` (a file of `kind`) that the SDK reads as profile `name`.
pub fn sections_named<'f, 'a>(
    file: &'f profile_file::ProfileFile<'a>,
    name: &str,
    kind: FileKind,
) -> Vec<&'f Section<'a>> {
    file.sections
        .iter()
        .filter(|s| profile_file::section_name(s.raw_name, kind) == SectionName::Profile(name))
        .collect()
}

/// The header of a new section for profile `name`: `[name]` in a credentials file,
/// `[profile name]` in a config file (but `[default]`), as the SDK reads them.
fn header(name: &str, kind: FileKind) -> String {
    match kind {
        FileKind::Config if name != "default" => format!("[profile {name}]"),
        _ => format!("[{name}]"),
    }
}

/// Returns `text` (a file of `kind`) with profile `section`'s `aws_access_key_id` and
/// `aws_secret_access_key` set to `key`, adding the keys or the section if missing.
pub fn set_key(
    text: &str,
    section: &str,
    key: &AccessKey,
    kind: FileKind,
) -> Result<Zeroizing<String>, EditError> {
    let file = profile_file::parse(text)?;
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let values = [
        (ACCESS_KEY_ID, key.id()),
        (SECRET_ACCESS_KEY, key.secret().expose_secret()),
    ];

    let mut edits: Vec<(Range<usize>, Zeroizing<String>)> = Vec::new();
    match sections_named(&file, section, kind).as_slice() {
        [] => {
            let mut block = Zeroizing::new(String::new());
            if !text.is_empty() {
                if !text.ends_with('\n') {
                    block.push_str(newline);
                }
                block.push_str(newline);
            }
            block.push_str(&header(section, kind));
            block.push_str(newline);
            for (name, value) in values {
                block.push_str(&format!("{name} = {value}{newline}"));
            }
            edits.push((text.len()..text.len(), block));
        }
        [found] => {
            if found.properties.iter().any(|p| p.key == SESSION_TOKEN) {
                return Err(EditError::TemporaryCredentials {
                    section: section.to_owned(),
                });
            }
            let mut appended = Zeroizing::new(String::new());
            for (name, value) in values {
                let matches: Vec<_> = found.properties.iter().filter(|p| p.key == name).collect();
                match matches.as_slice() {
                    [] => appended.push_str(&format!("{name} = {value}{newline}")),
                    [property] if property.continued => {
                        return Err(EditError::Multiline {
                            section: section.to_owned(),
                            key: name,
                            line: property.line,
                        })
                    }
                    [property] => {
                        let span = property.value_span.clone();
                        let mut replacement = Zeroizing::new(String::new());
                        if span.is_empty() && text[..span.start].ends_with('=') {
                            replacement.push(' ');
                        }
                        replacement.push_str(value);
                        edits.push((span, replacement));
                    }
                    many => {
                        return Err(EditError::DuplicateKey {
                            section: section.to_owned(),
                            key: name,
                            lines: many.iter().map(|p| p.line).collect(),
                        })
                    }
                }
            }
            if !appended.is_empty() {
                let at = found.properties.last().map_or(found.header_end, |p| p.end);
                if !text[..at].ends_with('\n') {
                    appended.insert_str(0, newline);
                }
                edits.push((at..at, appended));
            }
        }
        many => {
            return Err(EditError::DuplicateSection {
                section: section.to_owned(),
                lines: many.iter().map(|s| s.line).collect(),
            })
        }
    }

    let mut out = Zeroizing::new(text.to_owned());
    edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    for (range, replacement) in edits {
        out.replace_range(range, &replacement);
    }
    verify(text, &out, section, key, kind)?;
    Ok(out)
}

/// Checks that `after` reads exactly like `before` except for the two values of `section`.
fn verify(
    before: &str,
    after: &str,
    section: &str,
    key: &AccessKey,
    kind: FileKind,
) -> Result<(), EditError> {
    let read = |text| -> Result<_, EditError> {
        let file = profile_file::parse(text)
            .map_err(|e| EditError::Verification(format!("it no longer parses ({e})")))?;
        Ok(profile_file::merged_profiles(&[(kind, &file)]))
    };
    let mut expected = read(before)?;
    let got = read(after)?;
    let target = expected.profiles.entry(section.to_owned()).or_default();
    target.insert(ACCESS_KEY_ID.into(), Zeroizing::new(key.id().to_owned()));
    target.insert(
        SECRET_ACCESS_KEY.into(),
        Zeroizing::new(key.secret().expose_secret().to_owned()),
    );
    if got == expected {
        Ok(())
    } else {
        // Name the profiles that differ, never their values.
        let differing: Vec<_> = got
            .profiles
            .keys()
            .chain(expected.profiles.keys())
            .filter(|name| got.profiles.get(*name) != expected.profiles.get(*name))
            .collect();
        Err(EditError::Verification(format!(
            "profiles {differing:?} differ"
        )))
    }
}

#[cfg(test)]
mod tests;
