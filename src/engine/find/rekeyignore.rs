//! `.rekeyignore`: what `find`, a manifest's `scan:` and `find --staged` pass by, kept
//! with the code like `.gitignore` (gitleaks' `.gitleaksignore`, ggshield's
//! `.gitguardian.yaml`). Gitignore syntax, one pattern a line, the reason as a comment
//! above it; a line that is an access key id (`AKIA…`, `ASIA…`) ignores that key
//! wherever it is found instead of a path:
//!
//! ```text
//! # AWS's documentation example, in the README
//! AKIAIOSFODNN7EXAMPLE
//! # fake keys of the tests
//! tests/fixtures/*.env
//! ```
//!
//! Path patterns apply below the file's folder, as git's do (the walker reads every
//! `.rekeyignore` it meets); key ids apply to the whole search. The file itself is
//! never reported: it names keys on purpose.

use std::path::{Path, PathBuf};

/// The file's name.
pub(crate) const FILE_NAME: &str = ".rekeyignore";

/// Whether `line` (trimmed) is an access key id rather than a path pattern.
fn is_key_id(line: &str) -> bool {
    line.len() == 20
        && (line.starts_with("AKIA") || line.starts_with("ASIA"))
        && line[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
}

/// The key ids the `.rekeyignore` of each of `folders` lists.
pub(crate) fn ignored_ids(folders: &[PathBuf]) -> Vec<String> {
    let mut ids = Vec::new();
    for folder in folders {
        let Ok(text) = std::fs::read_to_string(folder.join(FILE_NAME)) else {
            continue;
        };
        for line in text.lines().map(str::trim) {
            if is_key_id(line) && !ids.iter().any(|id| id == line) {
                ids.push(line.to_owned());
            }
        }
    }
    ids
}

/// The path patterns of `top`'s `.rekeyignore` (for `--staged`, whose paths are the
/// repository's); `None` when there is none.
pub(crate) fn path_patterns(top: &Path) -> Option<ignore::gitignore::Gitignore> {
    let file = top.join(FILE_NAME);
    if !file.exists() {
        return None;
    }
    let mut builder = ignore::gitignore::GitignoreBuilder::new(top);
    let text = std::fs::read_to_string(&file).ok()?;
    for line in text.lines().filter(|l| !is_key_id(l.trim())) {
        let _ = builder.add_line(Some(file.clone()), line);
    }
    builder.build().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_paths_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            "# the docs' example\nAKIAIOSFODNN7EXAMPLE\n# fixtures\ntests/*.env\n",
        )
        .unwrap();
        assert_eq!(
            ignored_ids(&[dir.path().to_owned()]),
            ["AKIAIOSFODNN7EXAMPLE"]
        );
        let paths = path_patterns(dir.path()).unwrap();
        assert!(paths
            .matched(dir.path().join("tests/a.env"), false)
            .is_ignore());
        assert!(!paths
            .matched(dir.path().join("src/a.env"), false)
            .is_ignore());
    }
}
