//! `rekey find --output sarif`: SARIF 2.1.0, the format GitHub code scanning and most
//! CI dashboards take from every secret scanner. One rule per kind of finding, a result
//! per copy with its file, line and column, and a partial fingerprint per copy (the key,
//! the file, what it holds: not the line) so code scanning follows a copy across runs
//! and edits. A copy a sink of the key's profile keeps current (the credentials file
//! rekey rotates) is where the key belongs, not a finding. Never a secret: a result
//! names the key by its id.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::engine::find::history::HistoryHit;
use crate::engine::find::{account, Copy, CopyHolds, Found, KeyCopies, KeyState};

/// The rules: id, short description, level, help.
const RULES: &[(&str, &str, &str, &str)] = &[
    (
        "secret",
        "A secret access key in a file",
        "error",
        "Whoever reads the file can sign as the key's user. Remove it from the file (and from history), and if the file was ever shared or pushed, respond as to a leak: rekey respond, or rekey apply --compromised.",
    ),
    (
        "uncovered-current-key",
        "A current key's copy no rekey sink writes",
        "error",
        "The next rotation leaves this copy holding the old key. Add the sink rekey find suggests to the profile in rekey.yaml, or remove the copy.",
    ),
    (
        "old-key",
        "A replaced key still in a file",
        "warning",
        "rekey replaced this key and deactivates or deletes it on schedule; remove the copy.",
    ),
    (
        "deleted-key",
        "A deleted key still in a file",
        "note",
        "The key no longer works; remove the copy.",
    ),
    (
        "unknown-key",
        "An access key id rekey knows nothing of",
        "warning",
        "An id of AWS's shape that is no key rekey rotates: find whose it is (the account it encodes is in the message) and whether its secret is nearby.",
    ),
];

/// The SARIF log of `found`, whose copies' paths are made relative to the root (of
/// `roots`) holding them.
pub(crate) fn log(found: &Found, roots: &[PathBuf]) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|(id, short, level, help)| {
            json!({
                "id": id,
                "name": id,
                "shortDescription": {"text": short},
                "help": {"text": help},
                "defaultConfiguration": {"level": level},
            })
        })
        .collect();
    let keys = || found.keys.iter().chain(&found.unknown);
    let mut results: Vec<Value> = keys()
        .flat_map(|key| {
            key.copies
                .iter()
                .filter_map(move |copy| result(key, copy, roots))
        })
        .collect();
    results.extend(keys().flat_map(|key| {
        key.history
            .iter()
            .map(move |hit| in_history(key, hit, roots))
    }));
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "rekey",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/rekey-dev/rekey",
                "rules": rules,
            }},
            "originalUriBaseIds": base_ids(roots),
            "results": results,
        }],
    })
}

/// A key in a repository's history: a result at the file as the commit that added it
/// has it, with that commit (and whether it was pushed) in its properties.
fn in_history(key: &KeyCopies, hit: &HistoryHit, roots: &[PathBuf]) -> Value {
    let (rule, level) = rule(&key.state, hit.secret);
    let first = hit.commits.first();
    let path = hit.repository.join(first.map_or("", |c| c.path.as_str()));
    let (artifact, uri) = artifact(&path, roots);
    let commit = first.map_or("", |c| c.id.as_str());
    let what = match hit.secret {
        true => "its secret access key",
        false => "its id",
    };
    let pushed = hit.commits.iter().any(|c| c.pushed);
    let fingerprint =
        crate::digest::sha256_hex(format!("{}\0{uri}\0{what}\0{commit}", key.key_id).as_bytes());
    let leaked = match pushed {
        true => ", and was pushed: treat the key as leaked",
        false => "",
    };
    json!({
        "ruleId": rule,
        "level": level,
        "message": {"text": format!("{}: commit {commit} added {what} to this file{leaked}", key.key_id)},
        "locations": [{"physicalLocation": {
            "artifactLocation": artifact,
            "region": {"startLine": hit.line, "startColumn": hit.column},
        }}],
        "partialFingerprints": {"rekeyCopy/v1": fingerprint},
        "properties": {"commit": commit, "pushed": pushed, "inWorkingTree": hit.in_working_tree},
    })
}

/// One copy's result (`None`: it is where the key belongs).
fn result(key: &KeyCopies, copy: &Copy, roots: &[PathBuf]) -> Option<Value> {
    let holds_secret = matches!(copy.holds, CopyHolds::Secret | CopyHolds::Both);
    let covered = copy.covered_by.is_some();
    let whose = match (&key.state, key.profiles.as_slice()) {
        (KeyState::Unknown, _) => match account::account_of(&key.key_id) {
            Some(account) => format!("an unknown key of account {account}"),
            None => "an unknown key".to_owned(),
        },
        (KeyState::Current, [first, ..]) => format!("the current key of profile {first}"),
        (KeyState::Current, []) => "a current key".to_owned(),
        (KeyState::Old(_) | KeyState::Stale, _) => "a replaced key".to_owned(),
        (KeyState::Deleted(_), _) => "a deleted key".to_owned(),
    };
    if key.state == KeyState::Current && covered {
        return None;
    }
    let (rule, level) = rule(&key.state, holds_secret);
    let what = match copy.holds {
        CopyHolds::Id => "its id",
        CopyHolds::Secret => "its secret access key",
        CopyHolds::Both => "its id and secret access key",
    };
    let (artifact, uri) = artifact(&copy.path, roots);
    let fingerprint =
        crate::digest::sha256_hex(format!("{}\0{uri}\0{what}", key.key_id).as_bytes());
    Some(json!({
        "ruleId": rule,
        "level": level,
        "message": {"text": format!("{} ({whose}): this file holds {what}", key.key_id)},
        "locations": [{"physicalLocation": {
            "artifactLocation": artifact,
            "region": {"startLine": copy.line, "startColumn": copy.column},
        }}],
        "partialFingerprints": {"rekeyCopy/v1": fingerprint},
    }))
}

/// The rule (and its level) of a copy of a key in `state`, holding the secret or not.
fn rule(state: &KeyState, secret: bool) -> (&'static str, &'static str) {
    let rule = match (state, secret) {
        (_, true) => "secret",
        (KeyState::Current, false) => "uncovered-current-key",
        (KeyState::Old(_) | KeyState::Stale, false) => "old-key",
        (KeyState::Deleted(_), false) => "deleted-key",
        (KeyState::Unknown, false) => "unknown-key",
    };
    let level = RULES
        .iter()
        .find(|r| r.0 == rule)
        .map_or("warning", |r| r.2);
    (rule, level)
}

/// The artifact location of `path` (relative to its root's base id where it has one),
/// and its URI.
fn artifact(path: &Path, roots: &[PathBuf]) -> (Value, String) {
    let (uri, base) = location(path, roots);
    let mut artifact = json!({ "uri": uri });
    if let Some(base) = base {
        artifact["uriBaseId"] = json!(base);
    }
    (artifact, uri)
}

/// `path` relative to the root holding it (`ROOT0`, `ROOT1`, …), else absolute.
fn location(path: &Path, roots: &[PathBuf]) -> (String, Option<String>) {
    for (n, root) in roots.iter().enumerate() {
        if let Ok(relative) = path.strip_prefix(root) {
            let parts: Vec<String> = (relative.components())
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            return (escape_uri(&parts.join("/")), Some(format!("ROOT{n}")));
        }
    }
    (
        format!("file://{}", escape_uri(&path.to_string_lossy())),
        None,
    )
}

/// Each root as a base URI (`file:///…/`).
fn base_ids(roots: &[PathBuf]) -> Value {
    let mut bases = serde_json::Map::new();
    for (n, root) in roots.iter().enumerate() {
        let uri = format!(
            "file://{}/",
            escape_uri(root.to_string_lossy().trim_end_matches('/'))
        );
        bases.insert(format!("ROOT{n}"), json!({ "uri": uri }));
    }
    Value::Object(bases)
}

/// A path as a URI path: what is not unreserved (RFC 3986) or `/` percent-encoded.
fn escape_uri(path: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(path, KEEP).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_become_uris_relative_to_their_root() {
        let roots = [std::path::PathBuf::from("/home/me/app")];
        let (uri, base) = super::location(std::path::Path::new("/home/me/app/my dir/.env"), &roots);
        assert_eq!(
            (uri.as_str(), base.as_deref()),
            ("my%20dir/.env", Some("ROOT0"))
        );
        let (uri, base) = super::location(std::path::Path::new("/etc/creds"), &roots);
        assert_eq!((uri.as_str(), base), ("file:///etc/creds", None));
    }
}
