//! `rekey find`: every file under some roots that holds a known key's id or secret,
//! and which of those copies a sink keeps current. A rotation updates the places its
//! sinks write; a copy no sink writes goes stale the moment the old key is deactivated.
//!
//! Known keys are the static keys of the profiles (the manifest's sinks, and the shared
//! credentials and config files), and the old keys rekey recorded. Any other id of
//! AWS's shape is reported as unknown. A secret is matched, never shown: a copy says
//! whether the place holds the key's id, its secret, or both.

pub(crate) mod account;
pub(crate) mod history;
pub(crate) mod matcher;
pub(crate) mod place;
mod read;
pub(crate) mod rekeyignore;
pub(crate) mod staged;
pub(crate) mod uncovered;
pub(crate) mod walk;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use secrecy::{ExposeSecret, SecretString};

use crate::config::profile::ProfileSpec;
use crate::state::{DeletedKey, KeyOwners, PendingDeletion};
use matcher::{Holds, Matcher};
use place::PlaceFormat;
pub(crate) use walk::{WalkOptions, Walked};

/// A key rekey knows, and where from.
pub(crate) struct KnownKey {
    /// Its id.
    pub(crate) id: String,
    /// Its secret, when a profile's place holds it (old keys: not kept).
    secret: Option<SecretString>,
    /// The profiles whose places hold it.
    pub(crate) profiles: Vec<String>,
    /// Whether it is a profile's current key (its first sink's).
    pub(crate) current: bool,
    /// rekey's record of it as an old key awaiting a step.
    pub(crate) pending: Option<PendingDeletion>,
    /// When rekey deleted it, if it did.
    pub(crate) deleted: Option<SystemTime>,
    /// Whose key it is, as rekey's record of a deleted key says.
    pub(crate) user_arn: Option<String>,
}

/// Whose each key with a secret is, by id, as STS says (`GetCallerIdentity` needs no
/// permission; an inactive key cannot ask): what it answered an earlier run
/// (`recorded`: an access key's owner never changes), else asked now. A few calls at a
/// time; run it beside the walk, which needs no answer. (A key without a secret is
/// named by rekey's record of it: see [`find`].)
pub(crate) async fn key_owners(
    aws: &crate::aws::Aws,
    known: &[KnownKey],
    recorded: &KeyOwners,
) -> KeyOwners {
    use futures_util::stream::{self, StreamExt};
    let answers: Vec<(String, Option<String>)> = stream::iter(known)
        .map(|k| async move {
            let arn = match (recorded.get(&k.id), k.secret.clone()) {
                (Some(arn), _) => Some(arn.clone()),
                (None, Some(secret)) => match rekey_sinks::AccessKey::new(k.id.clone(), secret) {
                    Ok(key) => aws.whose(&key).await.ok().map(|i| i.arn),
                    Err(_) => None,
                },
                (None, None) => None,
            };
            (k.id.clone(), arn)
        })
        .buffered(4)
        .collect()
        .await;
    answers
        .into_iter()
        .filter_map(|(id, arn)| Some((id, arn?)))
        .collect()
}

/// Where a key stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyState {
    /// A profile's current key.
    Current,
    /// An old key rekey replaced, awaiting deactivation or deletion.
    Old(Box<PendingDeletion>),
    /// A key rekey deleted, then.
    Deleted(SystemTime),
    /// A place of a profile holds it, but it is not the profile's current key and
    /// rekey has no record of it (a copy left behind).
    Stale,
    /// No profile holds it and rekey has no record of it.
    Unknown,
}

impl KeyState {
    /// For an old or deleted key: where it stands, for people ("inactive, deleted after
    /// …", "active until … (overlap)", "deleted on …").
    pub(crate) fn detail(&self) -> Option<String> {
        Some(match self {
            KeyState::Old(record) if record.in_overlap() => format!(
                "active until {} (overlap)",
                crate::time::rfc3339(record.next_step_at())
            ),
            KeyState::Old(record) => format!(
                "inactive, deleted after {}",
                crate::time::rfc3339(record.delete_after)
            ),
            KeyState::Deleted(at) => format!("deleted on {}", crate::time::date(*at)),
            _ => return None,
        })
    }
}

/// One file's copy of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Copy {
    /// The file.
    pub(crate) path: PathBuf,
    /// Its kind.
    pub(crate) format: PlaceFormat,
    /// Whether it holds the id, the secret, or both.
    pub(crate) holds: CopyHolds,
    /// Where the first of them is (1-based).
    pub(crate) line: usize,
    /// Its column (1-based, bytes).
    pub(crate) column: usize,
    /// Where the id sits: the INI section, the `.env` variable or the key path.
    pub(crate) id_at: Option<String>,
    /// Where the secret sits, likewise.
    pub(crate) secret_at: Option<String>,
    /// The sink that writes this place for one of the key's profiles, described.
    pub(crate) covered_by: Option<String>,
}

/// What a place holds of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CopyHolds {
    /// The id only.
    Id,
    /// The secret only.
    Secret,
    /// Both.
    Both,
}

/// A key and its copies.
#[derive(Debug, Clone)]
pub(crate) struct KeyCopies {
    /// The key.
    pub(crate) key_id: String,
    /// Where it stands.
    pub(crate) state: KeyState,
    /// The profiles whose places hold it.
    pub(crate) profiles: Vec<String>,
    /// Whose key it is (STS, or rekey's record of an old key).
    pub(crate) user_arn: Option<String>,
    /// Every file holding it, by path.
    pub(crate) copies: Vec<Copy>,
    /// Every blob of a repository's history holding it (`--history`).
    pub(crate) history: Vec<history::HistoryHit>,
}

impl KeyCopies {
    /// An id of AWS's shape no known key has, not found anywhere yet.
    fn unknown(key_id: String) -> Self {
        Self {
            key_id,
            state: KeyState::Unknown,
            profiles: Vec::new(),
            user_arn: None,
            copies: Vec::new(),
            history: Vec::new(),
        }
    }
}

/// What a search found.
#[derive(Debug)]
pub(crate) struct Found {
    /// Known keys, in the order they were learned, each with its copies.
    pub(crate) keys: Vec<KeyCopies>,
    /// Ids of AWS's shape that are no known key's, with their copies.
    pub(crate) unknown: Vec<KeyCopies>,
    /// What the walk searched and passed by.
    pub(crate) walked: Walked,
}

/// The keys `specs` hold (every place of each), then the old keys of `pending`, then
/// the keys rekey `deleted`.
pub(crate) async fn known_keys(
    specs: &[ProfileSpec],
    pending: &[PendingDeletion],
    deleted: &[DeletedKey],
) -> Vec<KnownKey> {
    let mut known: Vec<KnownKey> = Vec::new();
    for spec in specs {
        for (index, sink) in spec.sinks.iter().enumerate() {
            let Ok(Some(key)) = sink.read().await else {
                continue;
            };
            let entry = match known.iter_mut().position(|k| k.id == key.id()) {
                Some(at) => &mut known[at],
                None => {
                    known.push(KnownKey {
                        id: key.id().to_owned(),
                        secret: Some(key.secret().clone()),
                        profiles: Vec::new(),
                        current: false,
                        pending: None,
                        deleted: None,
                        user_arn: None,
                    });
                    known.last_mut().expect("just pushed")
                }
            };
            if !entry.profiles.contains(&spec.name) {
                entry.profiles.push(spec.name.clone());
            }
            entry.current |= index == 0;
        }
    }
    for record in pending {
        match known.iter_mut().find(|k| k.id == record.key_id) {
            Some(known) => known.pending = Some(record.clone()),
            None => known.push(KnownKey {
                id: record.key_id.clone(),
                secret: None,
                profiles: record.members(),
                current: false,
                pending: Some(record.clone()),
                deleted: None,
                user_arn: None,
            }),
        }
    }
    for gone in deleted {
        // A record of a key a profile holds again (rolled back, say) is outdated.
        if known.iter().any(|k| k.id == gone.key_id) {
            continue;
        }
        known.push(KnownKey {
            id: gone.key_id.clone(),
            secret: None,
            profiles: gone.owner.members(),
            current: false,
            pending: None,
            deleted: Some(gone.deleted_at),
            user_arn: Some(gone.owner.user_arn.clone()),
        });
    }
    known
}

/// The places the profiles' sinks write, by file: which profiles, and how the sink is
/// described.
pub(crate) fn covered_places(specs: &[ProfileSpec]) -> BTreeMap<PathBuf, Vec<(String, String)>> {
    let mut places: BTreeMap<PathBuf, Vec<(String, String)>> = BTreeMap::new();
    for spec in specs {
        for sink in &spec.sinks {
            if let Some(file) = sink.file() {
                let entry = (spec.name.clone(), sink.describe());
                places.entry(file).or_default().push(entry);
            }
        }
    }
    places
}

/// [`find`] on tokio's blocking pool, never entering `state_dir` (its journal and
/// backups hold keys by design); `None` if the search panicked.
pub(crate) async fn search(
    known: Vec<KnownKey>,
    covered: BTreeMap<PathBuf, Vec<(String, String)>>,
    roots: Vec<PathBuf>,
    state_dir: &std::path::Path,
    budget: Option<std::time::Duration>,
) -> Option<Found> {
    let walk = WalkOptions {
        skip: vec![state_dir.to_owned()],
        deadline: budget.map(|b| std::time::Instant::now() + b),
        ..WalkOptions::default()
    };
    tokio::task::spawn_blocking(move || find(&known, &covered, &roots, &walk))
        .await
        .ok()
}

/// Searches `roots` for `known` (blocking: run it off the async runtime).
pub(crate) fn find(
    known: &[KnownKey],
    covered: &BTreeMap<PathBuf, Vec<(String, String)>>,
    roots: &[PathBuf],
    options: &WalkOptions,
) -> Found {
    let matcher = Matcher::new(
        known
            .iter()
            .map(|k| (k.id.as_str(), k.secret.as_ref().map(|s| s.expose_secret()))),
    );
    let matcher = Arc::new(matcher);
    // The repository each root is in (the walk meets only those below the roots): git
    // answers while the walk runs.
    let (mut walked, tops) = std::thread::scope(|scope| {
        let tops = scope.spawn(|| {
            (roots.iter())
                .filter_map(|r| history::repository_of(r))
                .collect::<Vec<PathBuf>>()
        });
        let walked = walk::walk(roots, options, matcher.clone());
        (walked, tops.join().unwrap_or_default())
    });
    let history = match options.history {
        true => search_history(&tops, &mut walked, &matcher),
        false => Vec::new(),
    };
    // The key ids `.rekeyignore` lists (at the roots and the repositories met).
    let mut folders = roots.to_vec();
    folders.extend(walked.repositories.iter().cloned());
    folders.extend(tops);
    let ignored = rekeyignore::ignored_ids(&folders);
    let mut keys: Vec<KeyCopies> = known
        .iter()
        .map(|k| KeyCopies {
            key_id: k.id.clone(),
            state: match (&k.pending, k.deleted, k.current) {
                (_, _, true) => KeyState::Current,
                (Some(record), _, false) => KeyState::Old(Box::new(record.clone())),
                (None, Some(at), false) => KeyState::Deleted(at),
                (None, None, false) => KeyState::Stale,
            },
            profiles: k.profiles.clone(),
            // rekey's record, until STS says (see [`key_owners`]).
            user_arn: (k.user_arn.clone())
                .or_else(|| k.pending.as_ref().map(|p| p.owner.user_arn.clone())),
            copies: Vec::new(),
            history: Vec::new(),
        })
        .collect();
    let mut unknown: BTreeMap<String, KeyCopies> = BTreeMap::new();
    for file in std::mem::take(&mut walked.files) {
        let resolved = std::fs::canonicalize(&file.path).unwrap_or_else(|_| file.path.clone());
        for (key, mut copy) in copies_in(&file, known, &ignored) {
            match key {
                KeyRef::Known(index) => {
                    let entry = &mut keys[index];
                    copy.covered_by = covered.get(&resolved).and_then(|sinks| {
                        sinks
                            .iter()
                            .find(|(profile, _)| entry.profiles.contains(profile))
                            .map(|(profile, sink)| format!("profile {profile}: {sink}"))
                    });
                    entry.copies.push(copy);
                }
                KeyRef::Unknown(id) => {
                    let entry = unknown.entry(id.clone());
                    entry
                        .or_insert_with(|| KeyCopies::unknown(id))
                        .copies
                        .push(copy);
                }
            }
        }
    }
    let history = history.into_iter().filter(|hit| {
        let id = hit.key.map(|i| &known[i].id).or(hit.unknown_id.as_ref());
        !id.is_some_and(|id| ignored.contains(id))
    });
    attach_history(history.collect(), &mut keys, &mut unknown);
    Found {
        keys,
        unknown: unknown.into_values().collect(),
        walked,
    }
}

/// The copies `file` holds, one per key not `ignored`: the first hit places it; id and
/// secret merge.
fn copies_in(
    file: &walk::FileHits,
    known: &[KnownKey],
    ignored: &[String],
) -> BTreeMap<KeyRef, Copy> {
    let mut per_key: BTreeMap<KeyRef, Copy> = BTreeMap::new();
    for hit in &file.hits {
        let key = match (hit.key, &hit.unknown_id) {
            (Some(index), _) if ignored.contains(&known[index].id) => continue,
            (Some(index), _) => KeyRef::Known(index),
            (None, Some(id)) if ignored.contains(id) => continue,
            (None, Some(id)) => KeyRef::Unknown(id.clone()),
            (None, None) => continue,
        };
        let copy = per_key.entry(key).or_insert_with(|| Copy {
            path: file.path.clone(),
            format: file.format,
            holds: match hit.holds {
                Holds::Id => CopyHolds::Id,
                Holds::Secret => CopyHolds::Secret,
            },
            line: hit.line,
            column: hit.column,
            id_at: None,
            secret_at: None,
            covered_by: None,
        });
        match hit.holds {
            Holds::Id => {
                copy.id_at = copy.id_at.take().or(hit.name.clone());
                if copy.holds == CopyHolds::Secret {
                    copy.holds = CopyHolds::Both;
                }
            }
            Holds::Secret => {
                copy.secret_at = copy.secret_at.take().or(hit.name.clone());
                if copy.holds == CopyHolds::Id {
                    copy.holds = CopyHolds::Both;
                }
            }
        }
    }
    per_key
}

/// Each history hit to its key's entry (an unknown id's made if needed).
fn attach_history(
    history: Vec<history::HistoryHit>,
    keys: &mut [KeyCopies],
    unknown: &mut BTreeMap<String, KeyCopies>,
) {
    for hit in history {
        let entry = match (hit.key, &hit.unknown_id) {
            (Some(index), _) => &mut keys[index],
            (None, id) => {
                let id = id.clone().unwrap_or_default();
                unknown
                    .entry(id.clone())
                    .or_insert_with(|| KeyCopies::unknown(id))
            }
        };
        entry.history.push(hit);
    }
}

/// Searches the history of every repository the walk met, and of `tops` (the roots'
/// own); one that cannot be read is said among what could not be read.
fn search_history(
    tops: &[PathBuf],
    walked: &mut walk::Walked,
    matcher: &Matcher,
) -> Vec<history::HistoryHit> {
    let mut repositories: Vec<PathBuf> = tops.to_vec();
    for met in std::mem::take(&mut walked.repositories) {
        let met = std::fs::canonicalize(&met).unwrap_or(met);
        if !repositories
            .iter()
            .any(|r| std::fs::canonicalize(r).is_ok_and(|r| r == met))
        {
            repositories.push(met);
        }
    }
    let mut hits = Vec::new();
    for repository in &repositories {
        match history::search(repository, matcher) {
            Ok(found) => hits.extend(found),
            Err(e) => walked.unreadable.push((repository.clone(), e.to_string())),
        }
    }
    walked.repositories = repositories;
    hits
}

/// A match's key: a known one (by index) or an unknown id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum KeyRef {
    Known(usize),
    Unknown(String),
}
