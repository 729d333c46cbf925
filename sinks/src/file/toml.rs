//! Finding a value's byte range in TOML text, with toml_edit's spans.

use toml_edit::{ImDocument, Item, Value};

use super::path::{KeyPath, Segment};
use super::{Found, LocateError, Quote};

/// Parses `text` as TOML (toml_edit).
pub fn to_value(text: &str) -> Result<serde_json::Value, String> {
    toml_edit::de::from_str(text).map_err(|e| match e.span() {
        Some(span) => format!(
            "invalid TOML at line {}",
            text[..span.start.min(text.len())].matches('\n').count() + 1
        ),
        None => "invalid TOML".to_owned(),
    })
}

/// The byte range of the value at `path`.
pub fn locate(text: &str, path: &KeyPath) -> Result<Found, LocateError> {
    let doc = ImDocument::parse(text).map_err(|_| LocateError::Parse("invalid TOML".into()))?;
    let mut item: &Item = doc.as_item();
    let mut value: Option<&Value> = None;
    for segment in &path.0 {
        let next = match (value, segment) {
            (None, Segment::Key(k)) => item.get(k.as_str()),
            (None, Segment::Index(i)) => item.get(*i),
            (Some(Value::InlineTable(t)), Segment::Key(k)) => {
                value = Some(t.get(k).ok_or(LocateError::Missing)?);
                continue;
            }
            (Some(Value::Array(a)), Segment::Index(i)) => {
                value = Some(a.get(*i).ok_or(LocateError::Missing)?);
                continue;
            }
            (Some(_), _) => return Err(LocateError::Missing),
        };
        item = next.ok_or(LocateError::Missing)?;
        if let Item::Value(v) = item {
            value = Some(v);
        }
    }
    let value = value.ok_or(LocateError::NotScalar)?;
    if matches!(value, Value::Array(_) | Value::InlineTable(_)) {
        return Err(LocateError::NotScalar);
    }
    let span = value
        .span()
        .ok_or(LocateError::Parse("no position for the value".into()))?;
    let written = &text[span.clone()];
    let quote = if written.starts_with("\"\"\"") || written.starts_with("'''") {
        return Err(LocateError::Unsupported("multi-line strings"));
    } else if written.starts_with('\'') {
        Quote::Single
    } else {
        Quote::Double
    };
    Ok(Found { span, quote })
}
