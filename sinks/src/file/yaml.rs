//! Finding a scalar's byte range in YAML text, from the parser's events.

use saphyr_parser_bw::{Event, Parser, ScalarStyle};

use super::path::{KeyPath, Segment};
use super::{Found, LocateError, Quote};

/// Parses `text` as YAML (with serde-saphyr, as the manifest is).
pub fn to_value(text: &str) -> Result<serde_json::Value, String> {
    let options = serde_saphyr::Options {
        with_snippet: false,
        ..Default::default()
    };
    serde_saphyr::from_str_with_options(text, options).map_err(|e| match e.location() {
        Some(at) => format!("invalid YAML at line {}, column {}", at.line(), at.column()),
        None => "invalid YAML".to_owned(),
    })
}

/// Where the parser is: inside which mappings (and their current key) and sequences.
enum Frame {
    Mapping { key: Option<String> },
    Sequence { index: usize },
}

/// The byte range of the scalar at `path`.
pub fn locate(text: &str, path: &KeyPath) -> Result<Found, LocateError> {
    // The event parser does not skip a byte-order mark (serde-saphyr does).
    let bom = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let found = locate_in(&text[bom..], path)?;
    Ok(Found {
        span: found.span.start + bom..found.span.end + bom,
        quote: found.quote,
    })
}

fn locate_in(text: &str, path: &KeyPath) -> Result<Found, LocateError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut documents = 0;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|_| LocateError::Parse("invalid YAML".into()))?;
        if let Event::DocumentStart(_) = event {
            documents += 1;
            if documents > 1 {
                return Err(LocateError::Unsupported(
                    "files with several YAML documents",
                ));
            }
        }
        if at(&stack, &path.0) {
            match &event {
                Event::Scalar(_, style, anchor, tag) => {
                    if *anchor != 0 || tag.is_some() {
                        return Err(LocateError::Unsupported("values with an anchor or a tag"));
                    }
                    let quote = match style {
                        ScalarStyle::Plain => Quote::None,
                        ScalarStyle::SingleQuoted => Quote::Single,
                        ScalarStyle::DoubleQuoted => Quote::Double,
                        _ => return Err(LocateError::Unsupported("block scalars (| or >)")),
                    };
                    let span =
                        byte_offset(text, span.start.index())..byte_offset(text, span.end.index());
                    return Ok(Found { span, quote });
                }
                Event::Alias(_) => return Err(LocateError::Unsupported("aliases (*name)")),
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    return Err(LocateError::NotScalar)
                }
                _ => {}
            }
        }
        follow(&mut stack, event);
    }
    Err(LocateError::Missing)
}

/// Where the node at `path` (a mapping, a sequence or a scalar) starts in `text`, as a
/// 1-based line and column: for an error that knows the field but not the position.
pub fn node_position(text: &str, path: &KeyPath) -> Option<(u64, u64)> {
    let mut stack: Vec<Frame> = Vec::new();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.ok()?;
        let starts_node = matches!(
            event,
            Event::Scalar(..) | Event::MappingStart(..) | Event::SequenceStart(..)
        );
        if starts_node && at(&stack, &path.0) {
            let line = u64::try_from(span.start.line()).ok()?;
            let column = u64::try_from(span.start.col()).ok()? + 1;
            return Some((line, column));
        }
        follow(&mut stack, event);
    }
    None
}

/// Whether the next node is the value at `path` (not a mapping key naming one).
fn at(stack: &[Frame], path: &[Segment]) -> bool {
    let is_key = matches!(stack.last(), Some(Frame::Mapping { key: None }));
    !is_key && stack_path_is(stack, path)
}

/// Moves the position past `event`: a key names the next value, a value moves the
/// enclosing mapping or sequence on, and collections open and close frames.
fn follow(stack: &mut Vec<Frame>, event: Event<'_>) {
    let is_key = matches!(stack.last(), Some(Frame::Mapping { key: None }));
    match event {
        Event::Scalar(value, ..) if is_key => {
            if let Some(Frame::Mapping { key }) = stack.last_mut() {
                *key = Some(value.into_owned());
            }
        }
        Event::Scalar(..) | Event::Alias(_) => advance(stack),
        Event::MappingStart(..) => stack.push(Frame::Mapping { key: None }),
        Event::SequenceStart(..) => stack.push(Frame::Sequence { index: 0 }),
        Event::MappingEnd | Event::SequenceEnd => {
            stack.pop();
            advance(stack);
        }
        _ => {}
    }
}

/// After a value: a mapping waits for its next key, a sequence moves to its next item.
fn advance(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Mapping { key }) => *key = None,
        Some(Frame::Sequence { index }) => *index += 1,
        None => {}
    }
}

fn stack_path_is(stack: &[Frame], path: &[Segment]) -> bool {
    stack.len() == path.len()
        && stack
            .iter()
            .zip(path)
            .all(|(frame, segment)| match (frame, segment) {
                (Frame::Mapping { key: Some(k) }, Segment::Key(want)) => k == want,
                (Frame::Sequence { index }, Segment::Index(want)) => index == want,
                _ => false,
            })
}

/// The parser counts characters; edits need bytes.
fn byte_offset(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(at, _)| at)
}
