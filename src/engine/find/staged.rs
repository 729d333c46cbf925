//! `rekey find --staged`: what a commit is about to add, searched before it is made (a
//! pre-commit hook's job). The staged changes (the index against HEAD) come from the
//! `git` binary as one zero-context diff of added lines, which a typical commit keeps
//! to a few kilobytes, so the search is one process and one pass: the `git` binary over
//! a git library because it is what the hook runs beside anyway, and reading the diff is
//! the whole cost. Every known key's id and secret, and any id of AWS's shape
//! (`AKIA…`, `ASIA…`), is reported by file and line; a secret never shown.

use std::path::Path;
use std::process::Command;

use secrecy::ExposeSecret;

use super::matcher::{Holds, Matcher};
use super::{account, rekeyignore, KnownKey};

/// One staged line that holds a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StagedHit {
    /// The file, as git names it (relative to the repository's top).
    pub(crate) path: String,
    /// The line in the staged file (1-based).
    pub(crate) line: usize,
    /// The key's id (for a secret: the id of the key it belongs to).
    pub(crate) key_id: String,
    /// Whether the line holds the secret (else the id).
    pub(crate) secret: bool,
    /// What the key is, for people: "the current key of profile dev", "an unknown key
    /// of account 123456789012".
    pub(crate) whose: String,
}

/// Why the staged changes could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StagedError {
    /// `git` could not be run.
    #[error("cannot run git ({0}): --staged reads the staged changes with the git binary")]
    NoGit(std::io::Error),
    /// `git` refused (not a repository, …).
    #[error("git diff --cached failed: {0}")]
    Git(String),
}

/// Every staged line in the repository at `dir` that holds one of `known` or an id of
/// AWS's shape (blocking: runs git).
pub(crate) fn search(known: &[KnownKey], dir: &Path) -> Result<Vec<StagedHit>, StagedError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "diff",
            "--cached",
            "--no-color",
            "--no-ext-diff",
            "--text",
            "-U0",
            "--diff-filter=ACMR",
        ])
        .output()
        .map_err(StagedError::NoGit)?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        return Err(StagedError::Git(said));
    }
    let matcher = Matcher::new(
        known
            .iter()
            .map(|k| (k.id.as_str(), k.secret.as_ref().map(|s| s.expose_secret()))),
    );
    // The repository's `.rekeyignore`: its paths, and its key ids.
    let top = super::history::repository_of(dir);
    let paths = top.as_deref().and_then(rekeyignore::path_patterns);
    let ids = rekeyignore::ignored_ids(&top.iter().cloned().collect::<Vec<_>>());
    let ignored_path = |path: &str| {
        let (Some(paths), Some(top)) = (&paths, &top) else {
            return false;
        };
        let file = top.join(path);
        path == rekeyignore::FILE_NAME
            || paths.matched_path_or_any_parents(&file, false).is_ignore()
    };
    let hits: Vec<StagedHit> = added_lines(&out.stdout)
        .filter(|(path, _, _)| !ignored_path(path))
        .flat_map(|(path, line, text)| {
            let matcher = &matcher;
            matcher.scan(text).into_iter().map(move |hit| {
                let (key_id, whose) = match (hit.key, &hit.unknown_id) {
                    (Some(index), _) => (known[index].id.clone(), describe(&known[index])),
                    (None, id) => {
                        let id = id.clone().unwrap_or_default();
                        let whose = unknown(&id);
                        (id, whose)
                    }
                };
                StagedHit {
                    path: path.clone(),
                    line,
                    key_id,
                    secret: hit.holds == Holds::Secret,
                    whose,
                }
            })
        })
        .collect();
    Ok(hits
        .into_iter()
        .filter(|h| !ids.contains(&h.key_id))
        .collect())
}

fn describe(key: &KnownKey) -> String {
    let profiles = key.profiles.join(", ");
    match (key.current, key.pending.is_some(), key.deleted.is_some()) {
        (true, _, _) => format!("the current key of profile {profiles}"),
        (false, true, _) => format!("a replaced key of profile {profiles}"),
        (false, false, true) => "a key rekey deleted".to_owned(),
        _ => format!("a key a place of profile {profiles} holds"),
    }
}

fn unknown(id: &str) -> String {
    let kind = match account::is_session(id) {
        true => "a session's temporary key",
        false => "an unknown key",
    };
    match account::account_of(id) {
        Some(account) => format!("{kind} of account {account}"),
        None => kind.to_owned(),
    }
}

/// The added lines of a zero-context unified diff: (file, line number, text).
fn added_lines(diff: &[u8]) -> impl Iterator<Item = (String, usize, &[u8])> {
    let mut path = String::new();
    let mut next = 0usize;
    // A file's header is `--- a/…` then `+++ b/…`; an added line that reads `++ …`
    // shows as `+++ …` too, but never right after a `--- ` line.
    let mut after_old_name = false;
    diff.split(|b| *b == b'\n').filter_map(move |line| {
        let header = after_old_name;
        after_old_name = line.starts_with(b"--- ");
        if let (true, Some(name)) = (header, line.strip_prefix(b"+++ ")) {
            let name = String::from_utf8_lossy(name);
            path = name.strip_prefix("b/").unwrap_or(&name).to_owned();
            return None;
        }
        if let Some(hunk) = line.strip_prefix(b"@@ ") {
            // `@@ -a,b +c,d @@`: added lines start at c.
            let text = String::from_utf8_lossy(hunk);
            let added = text.split(' ').find_map(|part| part.strip_prefix('+'));
            next = (added.and_then(|a| a.split(',').next()?.parse().ok())).unwrap_or(0);
            return None;
        }
        let text = line.strip_prefix(b"+")?;
        let at = next;
        next += 1;
        Some((path.clone(), at, text))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_lines_carry_their_file_and_line() {
        let diff = b"diff --git a/app/.env b/app/.env\nnew file mode 100644\n--- /dev/null\n+++ b/app/.env\n@@ -0,0 +1,3 @@\n+A=1\n+B=2\n+++ not a header\ndiff --git a/x.txt b/x.txt\n--- a/x.txt\n+++ b/x.txt\n@@ -3 +4,0 @@\n@@ -9,0 +10 @@\n+ten\n";
        let lines: Vec<(String, usize, String)> = added_lines(diff)
            .map(|(p, n, t)| (p, n, String::from_utf8_lossy(t).into_owned()))
            .collect();
        assert_eq!(
            lines,
            [
                ("app/.env".to_owned(), 1, "A=1".to_owned()),
                ("app/.env".to_owned(), 2, "B=2".to_owned()),
                ("app/.env".to_owned(), 3, "++ not a header".to_owned()),
                ("x.txt".to_owned(), 10, "ten".to_owned()),
            ]
        );
    }
}
