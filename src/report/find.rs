//! What `rekey find` prints: every copy of every key, grouped by key, the copies no sink
//! keeps current first in mind, with the sink to add where rekey can edit the place.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::config::init::{sink_yaml, SinkPlace};
use crate::config::paths::Paths;
use crate::engine::find::account;
use crate::engine::find::place::PlaceFormat;
use crate::engine::find::{Copy, CopyHolds, Found, KeyCopies, KeyState};
use crate::escape;

/// `rekey find --output json`.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct FindReport {
    /// Always 1.
    pub(crate) schema: u32,
    /// The folders searched.
    pub(crate) roots: Vec<String>,
    /// Every key rekey knows (a profile's, or an old key it recorded), with its copies.
    pub(crate) keys: Vec<KeyReport>,
    /// Ids of AWS's shape that are no known key's (no secret can be matched for them).
    pub(crate) unknown: Vec<KeyReport>,
    /// Files searched.
    pub(crate) searched: u64,
    /// What was passed by.
    pub(crate) skipped: SkippedReport,
    /// Files and folders that could not be read, and why (never fatal).
    pub(crate) unreadable: Vec<Unreadable>,
}

/// A key and where it was found.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct KeyReport {
    /// The access key id.
    pub(crate) key_id: String,
    /// `current`, `old` (replaced, awaiting deactivation or deletion), `deleted` (by
    /// rekey), `stale` (a profile's place holds it, but it is not the profile's current
    /// key and rekey has no record of it), or `unknown`.
    pub(crate) state: &'static str,
    /// For an old key: what rekey's record says is next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) detail: Option<String>,
    /// The profiles whose places hold it.
    pub(crate) profiles: Vec<String>,
    /// Whose key it is (STS's answer for a working key; rekey's record for an old one).
    pub(crate) user_arn: Option<String>,
    /// An unknown id: the account it encodes (decoded offline from the id itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) account: Option<String>,
    /// An unknown id: whether that account is one of the known keys' (`false`: a
    /// stranger's, or another account of yours rekey knows no key of).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ours: Option<bool>,
    /// A temporary (session) credential's id (`ASIA…`): not rotated, its session
    /// revoked with its user's; a copy in a file is still a leak.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) session: bool,
    /// Every file holding it.
    pub(crate) copies: Vec<CopyReport>,
    /// Every blob of a repository's history holding it (`--history`; omitted when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) history: Vec<HistoryReport>,
}

/// A key in a repository's history.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct HistoryReport {
    /// The repository.
    pub(crate) repository: String,
    /// The file, at the first commit that introduced it.
    pub(crate) path: String,
    /// 1-based line in that file.
    pub(crate) line: usize,
    /// 1-based column (bytes).
    pub(crate) column: usize,
    /// `id` or `secret` (a secret is never shown).
    pub(crate) holds: &'static str,
    /// Whether the file as staged still holds it (else: only history does).
    pub(crate) in_working_tree: bool,
    /// Whether a commit that introduced it was pushed (a remote-tracking ref contains
    /// it): the key must be treated as leaked.
    pub(crate) pushed: bool,
    /// The commits that introduced it, oldest first.
    pub(crate) commits: Vec<crate::engine::find::history::Introduced>,
}

/// One file's copy.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct CopyReport {
    /// The file.
    pub(crate) path: String,
    /// 1-based line of the first match.
    pub(crate) line: usize,
    /// 1-based column (bytes).
    pub(crate) column: usize,
    /// `credentials`, `config`, `dotenv`, `json`, `yaml`, `toml`, `shell_history`, `other`.
    pub(crate) format: PlaceFormat,
    /// `id`, `secret` or `both` (a secret is never shown).
    pub(crate) holds: &'static str,
    /// The sink that writes this place for one of the key's profiles; null: none does,
    /// so a rotation leaves it holding the old key.
    pub(crate) covered_by: Option<String>,
    /// For an uncovered copy of a current key in a format rekey can edit: the sink to
    /// add to the profile in rekey.yaml.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) add_sink: Option<String>,
}

/// What the walk passed by.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct SkippedReport {
    /// Folders not entered, by name (`.git`, `node_modules`, `target`, caches).
    pub(crate) folders: BTreeMap<String, u64>,
    /// Binary files (a NUL byte in the first 8 KiB).
    pub(crate) binary: u64,
    /// Files over 16 MiB.
    pub(crate) too_large: u64,
    /// Symlinks (never followed), FIFOs, sockets and devices (never opened).
    pub(crate) not_files: u64,
}

/// A file or folder that could not be read.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Unreadable {
    /// Where.
    pub(crate) path: String,
    /// Why.
    pub(crate) reason: String,
}

impl FindReport {
    /// The report of `found` under `roots`, paths shown with `~`.
    pub(crate) fn new(found: &Found, roots: &[std::path::PathBuf], paths: &Paths) -> Self {
        let key = |k: &KeyCopies| key_report(k, paths);
        let walked = &found.walked;
        // The accounts of the keys rekey knows, as STS or its records named their users.
        let ours: Vec<&str> = (found.keys.iter())
            .filter_map(|k| k.user_arn.as_deref()?.split(':').nth(4))
            .collect();
        let unknown = found.unknown.iter().map(|k| {
            let mut report = key(k);
            report.account = account::account_of(&k.key_id);
            report.ours = (report.account.as_deref()).map(|a| ours.contains(&a));
            report.session = account::is_session(&k.key_id);
            report
        });
        Self {
            schema: 1,
            roots: roots.iter().map(|r| paths.show(r)).collect(),
            keys: found.keys.iter().map(key).collect(),
            unknown: unknown.collect(),
            searched: walked.searched,
            skipped: SkippedReport {
                folders: walked.skipped_folders.clone(),
                binary: walked.binary,
                too_large: walked.too_large,
                not_files: walked.not_files,
            },
            unreadable: walked
                .unreadable
                .iter()
                .map(|(path, reason)| Unreadable {
                    path: paths.show(path),
                    reason: reason.clone(),
                })
                .collect(),
        }
    }

    /// Whether a current key has a copy no sink keeps current.
    pub(crate) fn has_uncovered(&self) -> bool {
        self.keys
            .iter()
            .any(|k| k.state == "current" && k.copies.iter().any(|c| c.covered_by.is_none()))
    }
}

fn key_report(key: &KeyCopies, paths: &Paths) -> KeyReport {
    let state = match &key.state {
        KeyState::Current => "current",
        KeyState::Old(_) => "old",
        KeyState::Deleted(_) => "deleted",
        KeyState::Stale => "stale",
        KeyState::Unknown => "unknown",
    };
    let detail = key.state.detail();
    let current = key.state == KeyState::Current;
    let history = (key.history.iter())
        .map(|hit| HistoryReport {
            repository: paths.show(&hit.repository),
            path: hit
                .commits
                .first()
                .map(|c| c.path.clone())
                .unwrap_or_default(),
            line: hit.line,
            column: hit.column,
            holds: match hit.secret {
                true => "secret",
                false => "id",
            },
            in_working_tree: hit.in_working_tree,
            pushed: hit.commits.iter().any(|c| c.pushed),
            commits: hit.commits.clone(),
        })
        .collect();
    KeyReport {
        history,
        key_id: key.key_id.clone(),
        state,
        detail,
        profiles: key.profiles.clone(),
        user_arn: key.user_arn.clone(),
        account: None,
        ours: None,
        session: false,
        copies: key
            .copies
            .iter()
            .map(|copy| CopyReport {
                path: paths.show(&copy.path),
                line: copy.line,
                column: copy.column,
                format: copy.format,
                holds: match copy.holds {
                    CopyHolds::Id => "id",
                    CopyHolds::Secret => "secret",
                    CopyHolds::Both => "both",
                },
                covered_by: copy.covered_by.clone(),
                add_sink: (current && copy.covered_by.is_none())
                    .then(|| add_sink(copy, paths))
                    .flatten(),
            })
            .collect(),
    }
}

/// A key's places in repositories' history, one line each.
fn history_lines(out: &mut String, key: &KeyReport) {
    for hit in &key.history {
        let first = hit.commits.first();
        let commit = first.map_or_else(String::new, |c| {
            let short: String = c.id.chars().take(12).collect();
            format!(
                ", added in {short} ({}, \"{}\")",
                c.date,
                escape::shown(&c.subject)
            )
        });
        let pushed = match hit.pushed {
            true => "; PUSHED: treat the key as leaked",
            false => "",
        };
        let now = match hit.in_working_tree {
            true => "still in the working tree",
            false => "only in history",
        };
        let _ = writeln!(
            out,
            "  history of {}: {}:{}:{}  {}{commit}; {now}{pushed}",
            escape::shown(&hit.repository),
            escape::shown(&hit.path),
            hit.line,
            hit.column,
            hit.holds
        );
    }
}

/// The sink (YAML, as a list item under a profile's `sinks:`) that would keep `copy`
/// current, if rekey can edit its format.
pub(crate) fn add_sink(copy: &Copy, paths: &Paths) -> Option<String> {
    sink_yaml(&sink_place(copy, paths)?)
}

/// `copy` as a place a sink could write, if rekey edits its format.
pub(crate) fn sink_place(copy: &Copy, paths: &Paths) -> Option<SinkPlace> {
    let path = paths.show(&copy.path);
    let (id, secret) = (copy.id_at.clone(), copy.secret_at.clone());
    Some(match copy.format {
        PlaceFormat::Credentials => SinkPlace::Credentials {
            path,
            section: id.or(secret),
        },
        PlaceFormat::Config => SinkPlace::Config {
            path,
            profile: id
                .or(secret)
                .map(|s| s.strip_prefix("profile ").unwrap_or(&s).trim().to_owned()),
        },
        PlaceFormat::Dotenv => SinkPlace::Dotenv { path, id, secret },
        PlaceFormat::Json | PlaceFormat::Yaml | PlaceFormat::Toml => {
            SinkPlace::File { path, id, secret }
        }
        PlaceFormat::ShellHistory | PlaceFormat::Other => return None,
    })
}

/// For people: each key with copies, its uncovered copies marked, then what was
/// skipped.
pub(crate) fn text(report: &FindReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Searched {} in {}",
        super::count(
            usize::try_from(report.searched).unwrap_or(usize::MAX),
            "file"
        ),
        escape::shown(&report.roots.join(", "))
    );
    let with_copies = report
        .keys
        .iter()
        .chain(&report.unknown)
        .filter(|k| !k.copies.is_empty() || !k.history.is_empty());
    for key in with_copies {
        let mut who = match key.profiles.as_slice() {
            [] => String::new(),
            profiles => format!(" (profile {})", profiles.join(", ")),
        };
        if let Some(arn) = &key.user_arn {
            who.push_str(&format!(" of {arn}"));
        }
        if key.session {
            who.push_str(" (a session's temporary credentials)");
        }
        match (&key.account, key.ours) {
            (Some(account), Some(true)) => {
                who.push_str(&format!(": a key of account {account}, one of yours"))
            }
            (Some(account), _) => who.push_str(&format!(
                ": a key of account {account} (not one rekey knows a key of: another account of yours, or a stranger's)"
            )),
            (None, _) => {}
        }
        let detail = key
            .detail
            .as_deref()
            .map_or_else(String::new, |d| format!(": {d}"));
        let _ = writeln!(out, "\n{} {}{who}{detail}", key.key_id, key.state);
        for copy in &key.copies {
            let covered = match &copy.covered_by {
                Some(sink) => format!("written by {sink}"),
                None if key.state == "current" => {
                    "NO SINK WRITES IT: it goes stale at the next rotation".to_owned()
                }
                None => "no sink writes it".to_owned(),
            };
            let _ = writeln!(
                out,
                "  {}:{}:{}  {} ({})  {covered}",
                escape::shown(&copy.path),
                copy.line,
                copy.column,
                copy.holds,
                copy.format.name()
            );
            if let Some(sink) = &copy.add_sink {
                let _ = writeln!(out, "    add to the profile's sinks:");
                for line in sink.lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
        history_lines(&mut out, key);
    }
    let skipped = &report.skipped;
    let folders: Vec<String> = skipped
        .folders
        .iter()
        .map(|(name, n)| format!("{n} {name}"))
        .collect();
    let _ = writeln!(
        out,
        "\nSkipped: {} binary, {} over 16 MiB, {} not regular files{}.",
        skipped.binary,
        skipped.too_large,
        skipped.not_files,
        if folders.is_empty() {
            String::new()
        } else {
            format!(", folders: {}", folders.join(", "))
        }
    );
    for unreadable in &report.unreadable {
        let _ = writeln!(
            out,
            "Could not read {}: {}",
            escape::shown(&unreadable.path),
            escape::shown(&unreadable.reason)
        );
    }
    out
}
