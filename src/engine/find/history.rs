//! `rekey find --history`: a key committed once and removed later still sits in every
//! clone's history. Each blob reachable from any ref, the reflog or the stash is read
//! once, by its id (Nosey Parker's design: the object database, not `git log -p`, whose
//! cost grows with every change of every file): `git rev-list --objects` names them,
//! one `git cat-file --batch` streams them, one automaton pass scans each. Only for a
//! blob that holds a key is history asked which commits introduced it (one `git log
//! --raw`, no content diffs) and which remote-tracking refs contain those commits: a
//! pushed key must be treated as leaked. The `git` binary rather than a Rust git
//! library: it is on every machine with a repository, reads every object format and
//! pack version the repository uses, and the reading (not the parsing) is the cost.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::matcher::{Holds, Matcher};
use super::place::line_and_column;

/// Blobs larger than this are not read (as the tree walk's limit).
const MAX_BLOB: u64 = 16 * 1024 * 1024;

/// One key found in a blob of a repository's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HistoryHit {
    /// The repository (its top folder).
    pub(crate) repository: PathBuf,
    /// The known key's index, or `None` for an unknown id (then `unknown_id`).
    pub(crate) key: Option<usize>,
    /// An unknown id.
    pub(crate) unknown_id: Option<String>,
    /// Whether the blob holds the secret (else the id).
    pub(crate) secret: bool,
    /// Where in the blob (1-based).
    pub(crate) line: usize,
    /// The column (1-based, bytes).
    pub(crate) column: usize,
    /// The commits that introduced the blob, oldest first.
    pub(crate) commits: Vec<Introduced>,
    /// Whether the blob is in the index (the working tree's content, as staged).
    pub(crate) in_working_tree: bool,
}

/// A commit that introduced a blob holding a key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Introduced {
    /// The commit id.
    pub(crate) id: String,
    /// Its author date (ISO 8601, as git prints it).
    pub(crate) date: String,
    /// The first line of its message.
    pub(crate) subject: String,
    /// The blob's path at that commit.
    pub(crate) path: String,
    /// Whether a remote-tracking ref contains it: pushed, so leaked.
    pub(crate) pushed: bool,
}

/// Why a repository's history could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{repository}: {problem}")]
pub(crate) struct HistoryError {
    repository: String,
    problem: String,
}

/// The top folder of the repository holding `path`, if any.
pub(crate) fn repository_of(path: &Path) -> Option<PathBuf> {
    let out = git(path, &["rev-parse", "--show-toplevel"]).ok()?;
    let top = String::from_utf8_lossy(&out).trim().to_owned();
    (!top.is_empty()).then(|| PathBuf::from(top))
}

/// Every blob of `repository`'s history holding one of `matcher`'s keys (see the module
/// docs).
pub(crate) fn search(
    repository: &Path,
    matcher: &Matcher,
) -> Result<Vec<HistoryHit>, HistoryError> {
    let failed = |problem: String| HistoryError {
        repository: repository.display().to_string(),
        problem,
    };
    let listed =
        git(repository, &["rev-list", "--all", "--reflog", "--objects"]).map_err(failed)?;
    // Every object once; commits and trees are weeded out by cat-file's type.
    let mut seen = HashSet::new();
    let objects: Vec<&[u8]> = (listed.split(|b| *b == b'\n'))
        .filter_map(|line| line.split(|b| *b == b' ').next())
        .filter(|id| id.len() >= 40 && seen.insert(id.to_vec()))
        .collect();
    let mut found: BTreeMap<String, Vec<InBlob>> = BTreeMap::new();
    read_blobs(repository, &objects, |id, bytes| {
        for hit in matcher.scan(bytes) {
            let (line, column) = line_and_column(bytes, hit.offset);
            let secret = hit.holds == Holds::Secret;
            let entry = found.entry(id.to_owned()).or_default();
            let same = |e: &InBlob| {
                e.key == hit.key && e.unknown_id == hit.unknown_id && e.secret == secret
            };
            if !entry.iter().any(same) {
                entry.push(InBlob {
                    key: hit.key,
                    unknown_id: hit.unknown_id.clone(),
                    secret,
                    line,
                    column,
                });
            }
        }
    })
    .map_err(failed)?;
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let introduced = introductions(repository, &found).map_err(failed)?;
    let staged = index_blobs(repository).map_err(failed)?;
    let mut pushed: HashMap<String, bool> = HashMap::new();
    let mut hits = Vec::new();
    for (blob, keys) in found {
        let mut commits = introduced.get(&blob).cloned().unwrap_or_default();
        for commit in &mut commits {
            let known = pushed.entry(commit.id.clone()).or_insert_with(|| {
                let refs = git(repository, &["branch", "-r", "--contains", &commit.id]);
                refs.is_ok_and(|out| !out.trim_ascii().is_empty())
            });
            commit.pushed = *known;
        }
        for InBlob {
            key,
            unknown_id,
            secret,
            line,
            column,
        } in keys
        {
            hits.push(HistoryHit {
                repository: repository.to_owned(),
                key,
                unknown_id,
                secret,
                line,
                column,
                commits: commits.clone(),
                in_working_tree: staged.contains(&blob),
            });
        }
    }
    Ok(hits)
}

/// A key's first place in one blob.
struct InBlob {
    key: Option<usize>,
    unknown_id: Option<String>,
    secret: bool,
    line: usize,
    column: usize,
}

/// Streams every blob of `ids` (at most [`MAX_BLOB`] bytes) to `each`, through one
/// `git cat-file --batch`.
fn read_blobs(
    repository: &Path,
    ids: &[&[u8]],
    mut each: impl FnMut(&str, &[u8]),
) -> Result<(), String> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(repository)
        .args([
            "cat-file",
            "--batch=%(objectname) %(objecttype) %(objectsize)",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run git ({e})"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let list: Vec<u8> = ids.iter().flat_map(|id| [*id, b"\n"].concat()).collect();
    // Written beside the reading: a large list would fill the pipe otherwise.
    let writer = std::thread::spawn(move || stdin.write_all(&list));
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut header = String::new();
    let mut content = Vec::new();
    loop {
        header.clear();
        if out.read_line(&mut header).map_err(|e| e.to_string())? == 0 {
            break;
        }
        let mut parts = header.split_whitespace();
        let (Some(id), Some(kind), Some(size)) = (parts.next(), parts.next(), parts.next()) else {
            continue; // `<id> missing`
        };
        let size: u64 = size.parse().map_err(|_| format!("git said {header:?}"))?;
        content.clear();
        (&mut out)
            .take(size + 1)
            .read_to_end(&mut content)
            .map_err(|e| e.to_string())?;
        content.pop(); // the newline after the content
        if kind == "blob" && size <= MAX_BLOB {
            each(id, &content);
        }
    }
    let _ = writer.join();
    let _ = child.wait();
    Ok(())
}

/// For each blob of `found`, the commits whose changes added it, oldest first.
fn introductions<T>(
    repository: &Path,
    found: &BTreeMap<String, T>,
) -> Result<HashMap<String, Vec<Introduced>>, String> {
    let log = git(
        repository,
        &[
            "log",
            "--all",
            "--reflog",
            "--root",
            "--reverse",
            "--raw",
            "--no-abbrev",
            "--no-renames",
            "--diff-filter=AM",
            "--format=%x00%H %aI %s",
        ],
    )?;
    let mut introduced: HashMap<String, Vec<Introduced>> = HashMap::new();
    let mut commit: Option<(String, String, String)> = None;
    for line in String::from_utf8_lossy(&log).lines() {
        if let Some(header) = line.strip_prefix('\0') {
            let mut parts = header.splitn(3, ' ');
            let (id, date) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            commit = Some((
                id.to_owned(),
                date.to_owned(),
                parts.next().unwrap_or_default().to_owned(),
            ));
            continue;
        }
        // `:000000 100644 <old> <new> A\tpath`
        let (Some(raw), Some((_, path))) = (line.strip_prefix(':'), line.split_once('\t')) else {
            continue;
        };
        let Some(blob) = raw.split(' ').nth(3) else {
            continue;
        };
        if let (true, Some((id, date, subject))) = (found.contains_key(blob), &commit) {
            let list = introduced.entry(blob.to_owned()).or_default();
            if !list.iter().any(|c| c.id == *id) {
                list.push(Introduced {
                    id: id.clone(),
                    date: date.clone(),
                    subject: subject.clone(),
                    path: path.to_owned(),
                    pushed: false,
                });
            }
        }
    }
    Ok(introduced)
}

/// The blob ids in the index (what the working tree holds, as staged).
fn index_blobs(repository: &Path) -> Result<HashSet<String>, String> {
    let out = git(repository, &["ls-files", "--stage"])?;
    Ok(String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|line| line.split(' ').nth(1).map(str::to_owned))
        .collect())
}

/// `git -C dir ARGS`'s stdout, or what went wrong.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!("cannot run git ({e}): --history reads history with the git binary")
        })?;
    match out.status.success() {
        true => Ok(out.stdout),
        false => Err(format!(
            "git {} failed: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}
