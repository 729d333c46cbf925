//! Setting the two variables of a `.env` text, keeping every other byte.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::scan::{self, Quoting};
use super::Variables;
use crate::AccessKey;

/// Why the text could not be edited safely. No variant carries a value from the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// The text is not a `.env` file dotenvy can read.
    #[error("line {line}: {message}")]
    Parse {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The variable is assigned more than once.
    #[error("{name} is set more than once (lines {lines:?}); keep only one")]
    Duplicate {
        /// The variable.
        name: String,
        /// 1-based lines.
        lines: Vec<usize>,
    },
    /// The value is written in a way rekey does not rewrite (escapes, several quoted
    /// parts, several lines).
    #[error("{name} (line {line}) is quoted or escaped in a way rekey does not rewrite; write it as NAME=value or NAME='value'")]
    Complex {
        /// The variable.
        name: String,
        /// 1-based line.
        line: usize,
    },
    /// dotenvy does not read the edited text as intended.
    #[error("the edited text does not read back as intended: {0}")]
    Verification(String),
}

/// Every variable dotenvy reads from `text` (the last assignment wins), or the line it
/// cannot read (line number and a message without the line's text).
pub fn read_back(text: &str) -> Result<BTreeMap<String, Zeroizing<String>>, (usize, String)> {
    let mut values = BTreeMap::new();
    // dotenvy's `load` skips a byte-order mark; its iterator (used here) does not.
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    for item in dotenvy::from_read_iter(body.as_bytes()) {
        match item {
            Ok((name, value)) => {
                values.insert(name, Zeroizing::new(value));
            }
            Err(dotenvy::Error::LineParse(line, index)) => {
                // dotenvy's message quotes the line, which may hold a secret: find its
                // number instead.
                let number = text
                    .find(line.as_str())
                    .map_or(0, |at| text[..at].matches('\n').count() + 1);
                drop(Zeroizing::new(line));
                return Err((
                    number,
                    format!("dotenvy cannot parse this line (at character {index})"),
                ));
            }
            Err(_) => return Err((0, "dotenvy cannot read it".to_owned())),
        }
    }
    Ok(values)
}

/// Returns `text` with the two variables set to `key`, appending any that is missing.
pub fn set_key(
    text: &str,
    vars: &Variables,
    key: &AccessKey,
) -> Result<Zeroizing<String>, EditError> {
    let found = scan::assignments(text).map_err(|e| EditError::Parse {
        line: e.line,
        message: e.message.to_owned(),
    })?;
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let export = if found.iter().any(|a| a.export) {
        "export "
    } else {
        ""
    };
    let values = [
        (vars.access_key_id.as_str(), key.id()),
        (
            vars.secret_access_key.as_str(),
            key.secret().expose_secret(),
        ),
    ];

    let mut edits: Vec<(Range<usize>, Zeroizing<String>)> = Vec::new();
    let mut appended = Zeroizing::new(String::new());
    for (name, value) in values {
        let matches: Vec<_> = found.iter().filter(|a| a.key == name).collect();
        match matches.as_slice() {
            // Written straight into the zeroized buffer: no temporary holds the secret.
            [] => {
                let _ = write!(*appended, "{export}{name}='{value}'{newline}");
            }
            [one] => {
                let written = match one.quoting {
                    Quoting::Plain => value.to_owned(),
                    Quoting::Single => format!("'{value}'"),
                    Quoting::Double => format!("\"{value}\""),
                    Quoting::Complex => {
                        return Err(EditError::Complex {
                            name: name.to_owned(),
                            line: one.line,
                        })
                    }
                };
                edits.push((one.value.clone(), Zeroizing::new(written)));
            }
            many => {
                return Err(EditError::Duplicate {
                    name: name.to_owned(),
                    lines: many.iter().map(|a| a.line).collect(),
                })
            }
        }
    }
    if !appended.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            appended.insert_str(0, newline);
        }
        edits.push((text.len()..text.len(), appended));
    }

    let mut out = Zeroizing::new(text.to_owned());
    edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    for (range, replacement) in edits {
        out.replace_range(range, &replacement);
    }
    verify(text, &out, &values)?;
    Ok(out)
}

/// dotenvy must read `after` exactly like `before` except for the two new values.
fn verify(before: &str, after: &str, values: &[(&str, &str); 2]) -> Result<(), EditError> {
    let mut expected =
        read_back(before).map_err(|(line, message)| EditError::Parse { line, message })?;
    let got = read_back(after).map_err(|(line, message)| {
        EditError::Verification(format!("dotenvy cannot read line {line}: {message}"))
    })?;
    for (name, value) in values {
        expected.insert((*name).to_owned(), Zeroizing::new((*value).to_owned()));
    }
    let differing: Vec<&String> = got
        .keys()
        .chain(expected.keys())
        .filter(|name| got.get(*name) != expected.get(*name))
        .collect();
    if differing.is_empty() {
        Ok(())
    } else {
        Err(EditError::Verification(format!(
            "variables {differing:?} differ"
        )))
    }
}
