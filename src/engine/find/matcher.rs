//! One pass over a file's bytes finds every known key id, every known secret and every
//! key id of AWS's shape at once: an Aho-Corasick automaton, as ripgrep does for many
//! fixed strings. The automaton holds the secrets it looks for (in memory only, for the
//! run); a match reports which key and what it found, never the bytes.

use aho_corasick::{AhoCorasick, MatchKind};

/// What a place holds of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Holds {
    /// The access key id.
    Id,
    /// The secret access key.
    Secret,
}

/// One match in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    /// Byte offset of the match.
    pub(crate) offset: usize,
    /// Its length in bytes.
    pub(crate) len: usize,
    /// The known key (its index in the key list), or `None` for an id of AWS's shape
    /// that is no known key's.
    pub(crate) key: Option<usize>,
    /// For an unknown key: its id.
    pub(crate) unknown_id: Option<String>,
    /// What was found.
    pub(crate) holds: Holds,
}

/// The patterns of one search.
pub(crate) struct Matcher {
    automaton: AhoCorasick,
    /// Per pattern: the key it belongs to and what it is (`None`: the `AKIA` or `ASIA`
    /// prefix).
    patterns: Vec<Option<(usize, Holds)>>,
}

/// Long-lived access key ids start with this; 16 characters of AWS's base-32 alphabet
/// follow.
const PREFIX: &[u8] = b"AKIA";
/// Temporary (session) credentials' ids: not rotated, but a copy in a file is reported.
const SESSION_PREFIX: &[u8] = b"ASIA";
const ID_LEN: usize = 20;

impl Matcher {
    /// A matcher for `keys`: per key its id and, if known, its secret.
    pub(crate) fn new<'a>(keys: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Self {
        let mut needles: Vec<&[u8]> = vec![PREFIX, SESSION_PREFIX];
        let mut patterns = vec![None, None];
        for (index, (id, secret)) in keys.into_iter().enumerate() {
            needles.push(id.as_bytes());
            patterns.push(Some((index, Holds::Id)));
            if let Some(secret) = secret.filter(|s| !s.is_empty()) {
                needles.push(secret.as_bytes());
                patterns.push(Some((index, Holds::Secret)));
            }
        }
        // Leftmost-longest: a known id wins over the bare prefix at the same place.
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&needles)
            .expect("fixed strings always build");
        Self {
            automaton,
            patterns,
        }
    }

    /// Every match in `bytes`, in order.
    pub(crate) fn scan(&self, bytes: &[u8]) -> Vec<Hit> {
        let mut hits = Vec::new();
        for found in self.automaton.find_iter(bytes) {
            let offset = found.start();
            match self.patterns[found.pattern().as_usize()] {
                Some((key, holds)) => {
                    // A known id inside a longer token is not that id.
                    if holds == Holds::Id && !bounded(bytes, offset, found.end()) {
                        continue;
                    }
                    hits.push(Hit {
                        offset,
                        len: found.len(),
                        key: Some(key),
                        unknown_id: None,
                        holds,
                    });
                }
                None => {
                    if let Some(id) = unknown_id(bytes, offset) {
                        hits.push(Hit {
                            offset,
                            len: ID_LEN,
                            key: None,
                            unknown_id: Some(id),
                            holds: Holds::Id,
                        });
                    }
                }
            }
        }
        hits
    }
}

/// The key id of AWS's shape at `offset` (where `AKIA` starts), if there is one.
fn unknown_id(bytes: &[u8], offset: usize) -> Option<String> {
    let end = offset + ID_LEN;
    let id = bytes.get(offset..end)?;
    let alphabet = |b: &u8| b.is_ascii_uppercase() || (b'2'..=b'7').contains(b);
    (id[PREFIX.len()..].iter().all(alphabet) && bounded(bytes, offset, end))
        .then(|| String::from_utf8_lossy(id).into_owned())
}

/// Whether `bytes[start..end]` stands alone: no letter or digit right before or after.
fn bounded(bytes: &[u8], start: usize, end: usize) -> bool {
    let word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    !word(start.checked_sub(1).and_then(|i| bytes.get(i))) && !word(bytes.get(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn finds_known_ids_and_secrets_and_unknown_ids_in_one_pass() {
        let matcher = Matcher::new([(ID, Some(SECRET))]);
        let text = format!(
            "id={ID}\nsecret: \"{SECRET}\"\nother AKIAZZZZZZZZZZZZZZZZ\ntemp ASIAZZZZZZZZZZZZZZZZ\n"
        );
        let hits = matcher.scan(text.as_bytes());
        let found: Vec<_> = hits
            .iter()
            .map(|h| (h.key, h.unknown_id.as_deref(), h.holds))
            .collect();
        assert_eq!(
            found,
            vec![
                (Some(0), None, Holds::Id),
                (Some(0), None, Holds::Secret),
                (None, Some("AKIAZZZZZZZZZZZZZZZZ"), Holds::Id),
                (None, Some("ASIAZZZZZZZZZZZZZZZZ"), Holds::Id),
            ]
        );
        assert_eq!(hits[0].offset, 3);
    }

    #[test]
    fn ids_inside_longer_tokens_are_not_ids() {
        let matcher = Matcher::new([(ID, None)]);
        for text in [
            format!("X{ID}"),
            format!("{ID}9"),
            "AKIAZZZZZZZZZZZZZZZZZ".to_owned(),
            "AKIAZZZZ".to_owned(),
            "AKIAzzzzzzzzzzzzzzzz".to_owned(),
        ] {
            assert_eq!(matcher.scan(text.as_bytes()), vec![], "{text}");
        }
        // Quotes, `=`, line ends and the file's ends are boundaries.
        for text in [ID.to_owned(), format!("'{ID}'"), format!("K={ID}\r\n")] {
            assert_eq!(matcher.scan(text.as_bytes()).len(), 1, "{text}");
        }
    }
}
