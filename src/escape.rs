//! Text others chose (a file name, an alert's field, an IAM name or tag, a manifest's
//! command line), made safe to print on a terminal: control characters are shown
//! escaped, as `ls -b` and ripgrep do, so a file named with an escape sequence cannot
//! retitle the window, clear the screen or write the clipboard (OSC 52), and a newline
//! cannot forge a line of rekey's own output (issue 29). Bidirectional overrides are
//! escaped too: they reorder what a person reads. JSON output needs none of this (its
//! encoder escapes), so only text goes through here. A utility any layer may use.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character and bidirectional override escaped (`\n`,
/// `\u{1b}`); borrowed unchanged when there is none.
pub(crate) fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match needs_escape(c) {
            true => {
                let _ = write!(out, "{}", c.escape_debug());
            }
            false => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A path, [`shown`].
pub(crate) fn path(path: &std::path::Path) -> String {
    shown(&path.to_string_lossy()).into_owned()
}

/// A command line as people read it: each argument [`shown`], and quoted when it holds
/// a space or a quote, so `["my tool", "x"]` does not read as three words.
pub(crate) fn argv<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|arg| {
            let arg = shown(arg.as_ref());
            match arg.is_empty() || arg.contains([' ', '"', '\'']) {
                true => format!("\"{}\"", arg.replace('"', "\\\"")),
                false => arg.into_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_escaped() {
        assert!(matches!(shown("plain name.env"), Cow::Borrowed(_)));
        assert_eq!(shown("a\nb"), "a\\nb");
        // A window title, and an OSC 52 clipboard write.
        assert_eq!(shown("\u{1b}]0;pwned\u{7}"), "\\u{1b}]0;pwned\\u{7}");
        assert_eq!(shown("x\u{1b}]52;c;Zm9v\u{7}"), "x\\u{1b}]52;c;Zm9v\\u{7}");
        assert_eq!(shown("abc\u{202e}txt.exe"), "abc\\u{202e}txt.exe");
        assert_eq!(shown("naïve ünïcode"), "naïve ünïcode");
    }

    #[test]
    fn a_command_line_keeps_its_words_apart() {
        assert_eq!(argv(&["./plugin", "--x"]), "./plugin --x");
        assert_eq!(argv(&["my tool", "a\nb"]), "\"my tool\" a\\nb");
        assert_eq!(argv(&[""]), "\"\"");
    }
}
