//! Finding where each assignment's value is in a `.env` text.
//!
//! Follows dotenvy's reading rules for what matters here: `[export ]KEY=VALUE` with
//! optional blanks around `=`, `#` comments (whole line, or after a blank outside
//! quotes), single and double quotes that may span lines, and backslash escapes.

use std::ops::Range;

/// How a value is written, which decides how its replacement is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// `KEY=value`: no quotes, no escapes.
    Plain,
    /// `KEY='value'`.
    Single,
    /// `KEY="value"` (no escapes inside).
    Double,
    /// Anything else: escapes, several quoted parts, a value spanning lines.
    Complex,
}

/// One `KEY=VALUE` assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The variable name.
    pub key: String,
    /// 1-based line where it starts.
    pub line: usize,
    /// Whether it is written `export KEY=…`.
    pub export: bool,
    /// Byte range of the value as written (quotes included, comment excluded).
    pub value: Range<usize>,
    /// How the value is written.
    pub quoting: Quoting,
}

/// A line that is not an assignment, comment or blank. Never carries the line's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ScanError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: &'static str,
}

/// Every assignment in `text`, in order.
pub fn assignments(text: &str) -> Result<Vec<Assignment>, ScanError> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut pos = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut line = 1;
    let blank = |b: u8| b == b' ' || b == b'\t';
    while pos < bytes.len() {
        while pos < bytes.len() && blank(bytes[pos]) {
            pos += 1;
        }
        if pos >= bytes.len() || matches!(bytes[pos], b'\n' | b'\r' | b'#') {
            pos = next_line(bytes, pos);
            line += 1;
            continue;
        }
        let error = |message| ScanError { line, message };
        let start_line = line;
        let mut key = take_key(bytes, &mut pos).ok_or_else(|| error("expected a variable name"))?;
        let mut export = false;
        while pos < bytes.len() && blank(bytes[pos]) {
            pos += 1;
        }
        if key == "export" && bytes.get(pos) != Some(&b'=') {
            export = true;
            key = take_key(bytes, &mut pos)
                .ok_or_else(|| error("expected a variable name after `export`"))?;
            while pos < bytes.len() && blank(bytes[pos]) {
                pos += 1;
            }
        }
        if bytes.get(pos) != Some(&b'=') {
            return Err(error("expected `=` after the variable name"));
        }
        pos += 1;
        let after_equals = pos;
        while pos < bytes.len() && blank(bytes[pos]) {
            pos += 1;
        }
        let value_start = pos;
        let (value_end, lines) =
            value_end(bytes, &mut pos).ok_or_else(|| error("a quote is never closed"))?;
        // An empty value is placed right after `=`, so that filling it in keeps the
        // blank before a following comment.
        let value = if value_end == value_start {
            after_equals..after_equals
        } else {
            value_start..value_end
        };
        let quoting = if lines > 0 {
            Quoting::Complex
        } else {
            quoting(&text[value.clone()])
        };
        line += lines;
        found.push(Assignment {
            key: key.to_owned(),
            line: start_line,
            export,
            value,
            quoting,
        });
        pos = next_line(bytes, pos);
        line += 1;
    }
    Ok(found)
}

fn take_key<'a>(bytes: &'a [u8], pos: &mut usize) -> Option<&'a str> {
    let start = *pos;
    if !bytes
        .get(start)
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return None;
    }
    while bytes
        .get(*pos)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')
    {
        *pos += 1;
    }
    std::str::from_utf8(&bytes[start..*pos]).ok()
}

/// Scans a value from `pos`; returns where it ends (before trailing blanks or a comment)
/// and how many line breaks it contains. Leaves `pos` at the end of its last line's text.
fn value_end(bytes: &[u8], pos: &mut usize) -> Option<(usize, usize)> {
    let (mut end, mut lines) = (*pos, 0);
    if bytes.get(*pos) == Some(&b'#') {
        // dotenvy reads `KEY=#…` as an empty value followed by a comment.
        return Some((end, 0));
    }
    let mut quote: Option<u8> = None;
    while let Some(&b) = bytes.get(*pos) {
        match quote {
            Some(q) => {
                if b == b'\\' && q == b'"' {
                    *pos += 1;
                } else if b == q {
                    quote = None;
                } else if b == b'\n' {
                    lines += 1;
                }
            }
            None => match b {
                b'\n' | b'\r' => break,
                b'#' if *pos > 0 && matches!(bytes[*pos - 1], b' ' | b'\t') => break,
                b'\'' | b'"' => quote = Some(b),
                b'\\' => *pos += 1,
                _ => {}
            },
        }
        *pos += 1;
        if quote.is_some() || !matches!(b, b' ' | b'\t') {
            end = (*pos).min(bytes.len());
        }
    }
    quote.is_none().then_some((end, lines))
}

fn quoting(value: &str) -> Quoting {
    let inner = |q: char| {
        value.len() >= 2
            && value.starts_with(q)
            && value.ends_with(q)
            && !value[1..value.len() - 1].contains([q, '\\', '\'', '"'])
    };
    if !value.contains(['\'', '"', '\\']) {
        Quoting::Plain
    } else if inner('\'') {
        Quoting::Single
    } else if inner('"') {
        Quoting::Double
    } else {
        Quoting::Complex
    }
}

fn next_line(bytes: &[u8], mut pos: usize) -> usize {
    while pos < bytes.len() && bytes[pos] != b'\n' {
        pos += 1;
    }
    pos + 1
}
