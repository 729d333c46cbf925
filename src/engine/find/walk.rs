//! Walking the roots in parallel (the `ignore` crate, ripgrep's walker) and searching
//! each file once. Nothing found here is fatal: an unreadable file or folder is listed
//! with its reason, and what is skipped is counted.
//!
//! Not searched: `.git` internals, `node_modules`, `target`, the caches of
//! [`CACHES`], binary files (a NUL byte in the first 8 KiB), files over 16 MiB ([`read::MAX_FILE`]), and
//! anything that is not a regular file (symlinks are not followed, so nothing outside
//! a root is reached and a loop is harmless; FIFOs, sockets and devices are never
//! opened). `.gitignore` is not honoured unless asked: `.env` files are almost always
//! ignored by git, and they are what this looks for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::matcher::{Holds, Matcher};
use super::place::{self, PlaceFormat};
use super::read;

/// Folders that hold dependencies, build output or caches, never a project's settings.
pub(crate) const CACHES: &[&str] = &[
    ".cache",
    ".npm",
    ".pnpm-store",
    ".yarn",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".tox",
    ".venv",
    ".gradle",
    ".m2",
    ".cargo",
    ".rustup",
    ".terraform",
];

/// How much of a file is looked at for a NUL byte.
const BINARY_PROBE: usize = 8 * 1024;

/// How to walk.
#[derive(Debug, Clone, Default)]
pub(crate) struct WalkOptions {
    /// Skip what `.gitignore` files ignore (`--respect-gitignore`).
    pub(crate) respect_gitignore: bool,
    /// Stay on each root's file system (`--one-file-system`).
    pub(crate) one_file_system: bool,
    /// Folders not to enter, counted as "rekey state": the state dir, whose journal and
    /// backups hold keys by design.
    pub(crate) skip: Vec<PathBuf>,
    /// When to stop searching (what was not reached by then is not searched).
    pub(crate) deadline: Option<std::time::Instant>,
    /// Also search the history of every git repository met (`--history`).
    pub(crate) history: bool,
}

/// How a skipped state dir is counted.
pub(crate) const STATE_DIR: &str = "rekey state";

/// One match, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    /// The known key's index, or `None` for an unknown id.
    pub(crate) key: Option<usize>,
    /// An unknown key's id.
    pub(crate) unknown_id: Option<String>,
    /// What was found.
    pub(crate) holds: Holds,
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column (bytes).
    pub(crate) column: usize,
    /// In JSON, YAML or TOML: the key path of the value, found by parsing the file; in
    /// an INI file, the section; in a `.env` file, the variable.
    pub(crate) name: Option<String>,
}

/// A file with matches.
#[derive(Debug, Clone)]
pub(crate) struct FileHits {
    /// The file.
    pub(crate) path: PathBuf,
    /// Its kind.
    pub(crate) format: PlaceFormat,
    /// What was found, in order.
    pub(crate) hits: Vec<Located>,
}

/// What a walk found and passed by.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    /// Files holding something, sorted by path.
    pub(crate) files: Vec<FileHits>,
    /// Files searched.
    pub(crate) searched: u64,
    /// Folders skipped, by name (`.git`, `node_modules`, …).
    pub(crate) skipped_folders: BTreeMap<String, u64>,
    /// Binary files skipped.
    pub(crate) binary: u64,
    /// Files over [`read::MAX_FILE`] skipped.
    pub(crate) too_large: u64,
    /// Entries that are not regular files (symlinks, FIFOs, sockets, devices).
    pub(crate) not_files: u64,
    /// What could not be read, and why.
    pub(crate) unreadable: Vec<(PathBuf, String)>,
    /// Whether the deadline stopped the walk before it was done.
    pub(crate) cut_short: bool,
    /// The git repositories met (the folders holding a `.git` folder).
    pub(crate) repositories: Vec<PathBuf>,
}

/// Walks `roots` and searches every file with `matcher`.
pub(crate) fn walk(roots: &[PathBuf], options: &WalkOptions, matcher: Arc<Matcher>) -> Walked {
    let walked = Arc::new(Mutex::new(Walked::default()));
    let Some((first, rest)) = roots.split_first() else {
        return Walked::default();
    };
    let mut builder = ignore::WalkBuilder::new(first);
    for root in rest {
        builder.add(root);
    }
    let respect = options.respect_gitignore;
    let counted = walked.clone();
    let state_dirs = options.skip.clone();
    // `.rekeyignore` files are honoured wherever they are, gitignore or not.
    builder.add_custom_ignore_filename(super::rekeyignore::FILE_NAME);
    builder
        .hidden(false)
        .ignore(false)
        .git_ignore(respect)
        .git_global(respect)
        .git_exclude(respect)
        .parents(respect)
        .require_git(false)
        .follow_links(false)
        .same_file_system(options.one_file_system)
        .filter_entry(move |entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            let mut name = entry.file_name().to_string_lossy();
            if is_dir && state_dirs.iter().any(|d| d == entry.path()) {
                name = STATE_DIR.into();
            }
            let skipped = is_dir
                && entry.depth() > 0
                && (name == ".git"
                    || name == "node_modules"
                    || name == "target"
                    || name == STATE_DIR
                    || CACHES.contains(&name.as_ref()));
            if skipped {
                let mut walked = counted.lock().unwrap_or_else(|e| e.into_inner());
                if name == ".git" {
                    let repository = entry.path().parent().map(Path::to_path_buf);
                    walked.repositories.extend(repository);
                }
                *walked.skipped_folders.entry(name.into_owned()).or_default() += 1;
            }
            !skipped
        });
    let deadline = options.deadline;
    builder.build_parallel().run(|| {
        let (matcher, walked) = (matcher.clone(), walked.clone());
        Box::new(move |entry| {
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                walked.lock().unwrap_or_else(|e| e.into_inner()).cut_short = true;
                return ignore::WalkState::Quit;
            }
            let outcome = match entry {
                Ok(entry) => search(&entry, &matcher),
                Err(e) => Outcome::Unreadable(error_path(&e), e.to_string()),
            };
            let mut walked = walked.lock().unwrap_or_else(|e| e.into_inner());
            match outcome {
                Outcome::Folder => {}
                Outcome::NotAFile => walked.not_files += 1,
                Outcome::TooLarge => walked.too_large += 1,
                Outcome::Binary => walked.binary += 1,
                Outcome::Unreadable(path, why) => walked.unreadable.push((path, why)),
                Outcome::Searched(found) => {
                    walked.searched += 1;
                    walked.files.extend(found);
                }
            }
            ignore::WalkState::Continue
        })
    });
    let mut walked = std::mem::take(&mut *walked.lock().unwrap_or_else(|e| e.into_inner()));
    walked.files.sort_by(|a, b| a.path.cmp(&b.path));
    walked.unreadable.sort();
    walked
}

/// What became of one entry.
enum Outcome {
    Folder,
    NotAFile,
    TooLarge,
    Binary,
    Unreadable(PathBuf, String),
    Searched(Option<FileHits>),
}

fn search(entry: &ignore::DirEntry, matcher: &Matcher) -> Outcome {
    let Some(kind) = entry.file_type() else {
        return Outcome::NotAFile;
    };
    if kind.is_dir() {
        return Outcome::Folder;
    }
    // Symlinks (not followed), FIFOs, sockets and devices are never opened.
    if !kind.is_file() {
        return Outcome::NotAFile;
    }
    // It names keys on purpose (see `rekeyignore`).
    if entry.file_name() == super::rekeyignore::FILE_NAME {
        return Outcome::Searched(None);
    }
    let path = entry.path();
    let searched = read::search_file(
        path,
        |bytes| search_bytes(path, bytes, matcher),
        |outcome| matches!(outcome, Outcome::Searched(Some(_))),
    );
    match searched {
        Ok(Some(outcome)) => outcome,
        Ok(None) => Outcome::TooLarge,
        Err(e) => Outcome::Unreadable(path.to_owned(), e.to_string()),
    }
}

fn search_bytes(path: &Path, bytes: &[u8], matcher: &Matcher) -> Outcome {
    if memchr::memchr(0, &bytes[..bytes.len().min(BINARY_PROBE)]).is_some() {
        return Outcome::Binary;
    }
    let hits = matcher.scan(bytes);
    if hits.is_empty() {
        return Outcome::Searched(None);
    }
    let format = PlaceFormat::of(path);
    // In a structured file, where the value sits, so a suggested sink is right.
    let parsed = format
        .structured()
        .and_then(|f| f.to_value(&String::from_utf8_lossy(bytes)).ok());
    let hits = hits
        .into_iter()
        .map(|hit| {
            let (line, column) = place::line_and_column(bytes, hit.offset);
            let name = match format {
                PlaceFormat::Credentials | PlaceFormat::Config => place::section(bytes, hit.offset),
                PlaceFormat::Dotenv => place::variable(bytes, hit.offset),
                _ => {
                    let matched = zeroize::Zeroizing::new(
                        String::from_utf8_lossy(&bytes[hit.offset..hit.offset + hit.len])
                            .into_owned(),
                    );
                    parsed.as_ref().and_then(|v| place::key_path(v, &matched))
                }
            };
            Located {
                key: hit.key,
                unknown_id: hit.unknown_id,
                holds: hit.holds,
                line,
                column,
                name,
            }
        })
        .collect();
    Outcome::Searched(Some(FileHits {
        path: path.to_owned(),
        format,
        hits,
    }))
}

/// The path an error of the walk names (a folder that cannot be listed).
fn error_path(error: &ignore::Error) -> PathBuf {
    match error {
        ignore::Error::WithPath { path, .. } => path.clone(),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => Path::new("?").to_owned(),
    }
}
