//! Finding a value's byte range in JSON text.

use std::ops::Range;

use super::path::{KeyPath, Segment};
use super::{Found, LocateError, Quote};

/// Parses `text` as JSON (serde_json: the reader most programs use).
pub fn to_value(text: &str) -> Result<serde_json::Value, String> {
    // serde_json's message names line and column only, never the text.
    serde_json::from_str(text)
        .map_err(|e| format!("invalid JSON at line {}, column {}", e.line(), e.column()))
}

/// The byte range of the scalar at `path`.
pub fn locate(text: &str, path: &KeyPath) -> Result<Found, LocateError> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        pos: 0,
    };
    scanner.value(&path.0)?.ok_or(LocateError::Missing)
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn blank(&mut self) {
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, b: u8) -> Result<(), LocateError> {
        self.blank();
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(LocateError::Parse("unexpected JSON token".into()))
        }
    }

    /// Scans one value. With `rest` empty it is the target: its range is returned. Else
    /// the target is inside it (or nowhere: `None`).
    fn value(&mut self, rest: &[Segment]) -> Result<Option<Found>, LocateError> {
        self.blank();
        let start = self.pos;
        match (self.peek(), rest.first()) {
            (Some(b'{'), None) | (Some(b'['), None) => Err(LocateError::NotScalar),
            (Some(b'{'), next) => {
                self.pos += 1;
                self.blank();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(None);
                }
                loop {
                    self.blank();
                    let key_range = self.string()?;
                    let key: String = serde_json::from_slice(&self.bytes[key_range])
                        .map_err(|_| LocateError::Parse("invalid JSON key".into()))?;
                    self.expect(b':')?;
                    if next == Some(&Segment::Key(key)) {
                        return self.value(&rest[1..]);
                    }
                    self.value(&[Segment::Index(usize::MAX)])?; // skip
                    self.blank();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(None);
                        }
                        _ => return Err(LocateError::Parse("unexpected JSON token".into())),
                    }
                }
            }
            (Some(b'['), next) => {
                self.pos += 1;
                self.blank();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(None);
                }
                let mut index = 0;
                loop {
                    if next == Some(&Segment::Index(index)) {
                        return self.value(&rest[1..]);
                    }
                    self.value(&[Segment::Index(usize::MAX)])?; // skip
                    self.blank();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(None);
                        }
                        _ => return Err(LocateError::Parse("unexpected JSON token".into())),
                    }
                    index += 1;
                }
            }
            (Some(b'"'), rest) => {
                let span = self.string()?;
                Ok(rest.is_none().then_some(Found {
                    span,
                    quote: Quote::Double,
                }))
            }
            (Some(_), rest) => {
                while self
                    .peek()
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.pos += 1;
                }
                if self.pos == start {
                    return Err(LocateError::Parse("unexpected JSON token".into()));
                }
                Ok(rest.is_none().then_some(Found {
                    span: start..self.pos,
                    quote: Quote::None,
                }))
            }
            (None, _) => Err(LocateError::Parse("unexpected end of JSON".into())),
        }
    }

    /// Scans a string literal; returns its range, quotes included.
    fn string(&mut self) -> Result<Range<usize>, LocateError> {
        let start = self.pos;
        if self.peek() != Some(b'"') {
            return Err(LocateError::Parse("expected a JSON string".into()));
        }
        self.pos += 1;
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(start..self.pos);
                }
                Some(b'\\') => self.pos += 2,
                Some(_) => self.pos += 1,
                None => return Err(LocateError::Parse("unclosed JSON string".into())),
            }
        }
    }
}
