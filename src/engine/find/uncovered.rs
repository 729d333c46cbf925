//! A rotation that would leave a copy of its key behind stops before it creates a key:
//! with `scan:` in the manifest, or in default mode (the home folder, within a time
//! budget, unless `--no-scan`), the planned rotations' keys are looked for under its
//! roots, and a copy no sink of the profile writes (and no `scan.ignore` glob matches)
//! stops the profile, or, with an overlap period or `--allow-uncovered`, is a warning.
//! A search that fails stops them too: it proves nothing.

use std::path::Path;

use rekey_sinks::AccessKey;

use super::{covered_places, search, KnownKey};
use crate::config::manifest::Scan;
use crate::config::profile::ProfileSpec;
use crate::engine::error::{Cause, ErrorKind};
use crate::engine::rotation::plan::Decision;
use crate::engine::rotation::planner::{Next, Planned};

impl KnownKey {
    /// A profile's current key, held by `profiles`.
    fn current(key: &AccessKey, profiles: Vec<String>) -> Self {
        Self {
            id: key.id().to_owned(),
            secret: Some(key.secret().clone()),
            profiles,
            current: true,
            pending: None,
            deleted: None,
            user_arn: None,
        }
    }
}

/// Looks under `scan`'s roots for the keys of `planned`'s rotations; each one whose key
/// has a copy no sink of its profiles writes stops (or warns, with `allow` or an
/// overlap period). `specs` are every configured profile (their sinks cover places);
/// `state_dir` is not searched; `show` writes a path for people.
pub(crate) async fn check(
    planned: &mut [Planned],
    specs: &[ProfileSpec],
    scan: &Scan,
    state_dir: &Path,
    allow: bool,
    show: &dyn Fn(&Path) -> String,
) {
    let rotating: Vec<(usize, KnownKey)> = planned
        .iter()
        .enumerate()
        .filter_map(|(index, p)| match &p.next {
            Next::Rotate(r) => {
                let members = r.spec.members().map(str::to_owned).collect();
                Some((index, KnownKey::current(&r.input.old_key, members)))
            }
            _ => None,
        })
        .collect();
    if rotating.is_empty() {
        return;
    }
    let (indexes, known): (Vec<usize>, Vec<KnownKey>) = rotating.into_iter().unzip();
    let covered = covered_places(specs);
    let roots = scan.roots.clone();
    let Some(found) = search(known, covered, roots, state_dir, scan.budget).await else {
        // The search itself failed (its thread panicked): it proves nothing, so the
        // rotations it guards stop (issue 32: failing open let them go ahead).
        for index in indexes {
            stop(&mut planned[index], "the search for other copies of its key failed, so it is not known whether a rotation would leave one behind; run `rekey find` to see, or pass --allow-uncovered".to_owned(), allow);
        }
        return;
    };
    if found.walked.cut_short {
        let shown: Vec<String> = scan.roots.iter().map(|r| show(r)).collect();
        let budget = scan.budget.unwrap_or_default().as_secs();
        let note = format!(
            "the search for other copies of the key stopped after {budget}s ({} files searched under {}); files it did not reach may hold one: `rekey find {}` searches without a limit, --no-scan skips the search",
            found.walked.searched,
            shown.join(", "),
            shown.join(" ")
        );
        for &index in &indexes {
            planned[index].plan.warnings.push(note.clone());
        }
    }
    let fix = match scan.from_manifest {
        true => "add a sink for it: `rekey find` prints which; list it under scan.ignore; or pass --allow-uncovered",
        false => "`rekey init --scan` writes a manifest with a sink for each copy it can edit; or pass --allow-uncovered to rotate anyway, or --no-scan to skip the search",
    };
    for (index, key) in indexes.into_iter().zip(&found.keys) {
        let left: Vec<String> = key
            .copies
            .iter()
            .filter(|c| c.covered_by.is_none() && !scan.ignore.is_match(&c.path))
            .map(|c| format!("{}:{}", show(&c.path), c.line))
            .collect();
        if left.is_empty() {
            continue;
        }
        let message = format!(
            "{} is also in {}, which no sink writes: it would go stale when the old key is deactivated ({fix})",
            key.key_id,
            left.join(", ")
        );
        stop(&mut planned[index], message, allow);
    }
}

/// Stops `planned`'s rotation for `message`, or only warns with `allow` or an overlap
/// period (the old key keeps working meanwhile).
fn stop(planned: &mut Planned, message: String, allow: bool) {
    let overlap = match &planned.next {
        Next::Rotate(r) => !r.spec.policy.overlap.is_zero(),
        _ => false,
    };
    if allow || overlap {
        planned.plan.warnings.push(message);
        return;
    }
    planned.plan.decision = Decision::Error {
        message: message.clone(),
        error_kind: ErrorKind::UncoveredCopy,
    };
    planned.plan.steps.clear();
    planned.next = Next::Error(Cause::new(ErrorKind::UncoveredCopy, message));
}

/// The copies under `scan`'s roots of the old keys rekey recorded (`pending`, awaiting a
/// step) and deleted: files that still hold a key that stops (or stopped) working.
pub(crate) async fn stale_copies(
    scan: &Scan,
    pending: &[crate::state::PendingDeletion],
    deleted: &[crate::state::DeletedKey],
    state_dir: &Path,
) -> Vec<super::KeyCopies> {
    let known = super::known_keys(&[], pending, deleted).await;
    if known.is_empty() {
        return Vec::new();
    }
    let roots = scan.roots.clone();
    let searched = search(known, Default::default(), roots, state_dir, scan.budget);
    let Some(found) = searched.await else {
        return Vec::new();
    };
    let ignore = &scan.ignore;
    found
        .keys
        .into_iter()
        .map(|mut key| {
            key.copies.retain(|c| !ignore.is_match(&c.path));
            key
        })
        .filter(|key| !key.copies.is_empty())
        .collect()
}
