//! Profiles that hold the same access key are rotated as one.
//!
//! Two profiles often hold one key: `[default]` copied to `[work]`, a `.env` and a
//! keyring entry listed under two names. Rotated separately, the first rotation would
//! deactivate the key the second profile still uses, and the second would find its key
//! "changed since planning". So before planning, profiles are grouped by the key id
//! their first sink holds, and each group becomes one rotation: one new key, written to
//! every sink of every member (a sink listed twice is written once).
//!
//! A profile that was not selected (`--profile`) but holds a selected profile's key
//! joins the group too: leaving it out would leave it holding a deactivated key.
//!
//! The journal and the pending deletion record the members, so recovery and
//! `rekey rollback` rebuild the same combined profile even when the sinks no longer
//! agree on a key (which is exactly the state a crash can leave).

use std::collections::HashMap;

use futures_util::future::join_all;

use crate::config::profile::ProfileSpec;
use crate::engine::error::{Cause, ErrorKind};

/// Selected profiles grouped by key.
pub(crate) struct Grouped {
    /// One spec per rotation, in manifest order of their first member.
    pub(crate) specs: Vec<ProfileSpec>,
    /// Groups that cannot be rotated as one, with the reason.
    pub(crate) conflicts: Vec<Conflict>,
}

/// Profiles that share a key but cannot be rotated together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Conflict {
    /// The profiles, in manifest order.
    pub(crate) profiles: Vec<String>,
    /// Why, and what to do.
    pub(crate) message: String,
}

/// Groups the `selected` profiles by the key id their first sink holds. Profiles in
/// `others` holding a selected profile's key join its group. A profile whose key cannot
/// be read stays on its own (planning reports why).
pub(crate) async fn group(selected: &[ProfileSpec], others: &[ProfileSpec]) -> Grouped {
    let selected_ids = join_all(selected.iter().map(key_id)).await;
    // Reading the others is only worth it when some selected key could be shared.
    let other_ids = if others.is_empty() || selected_ids.iter().all(Option::is_none) {
        vec![None; others.len()]
    } else {
        join_all(others.iter().map(key_id)).await
    };

    // Each group's members in manifest order; `by_key` finds a key's group.
    let mut groups: Vec<Vec<&ProfileSpec>> = Vec::new();
    let mut by_key: HashMap<&str, usize> = HashMap::new();
    for (spec, id) in selected.iter().zip(&selected_ids) {
        match id.as_deref().map(|id| (id, by_key.get(id).copied())) {
            Some((_, Some(group))) => groups[group].push(spec),
            Some((id, None)) => {
                by_key.insert(id, groups.len());
                groups.push(vec![spec]);
            }
            None => groups.push(vec![spec]),
        }
    }
    for (spec, id) in others.iter().zip(&other_ids) {
        if let Some(&group) = id.as_deref().and_then(|id| by_key.get(id)) {
            groups[group].push(spec);
        }
    }

    let mut grouped = Grouped {
        specs: Vec::new(),
        conflicts: Vec::new(),
    };
    for members in groups {
        match combine(&members) {
            Ok(spec) => grouped.specs.push(spec),
            Err(conflict) => grouped.conflicts.push(conflict),
        }
    }
    grouped
}

/// The combined profile of a rotation whose members were recorded (journal, pending
/// deletion), built from `profiles`.
pub(crate) fn rebuild<'a>(
    profiles: impl IntoIterator<Item = &'a ProfileSpec> + Clone,
    members: &[String],
) -> Result<ProfileSpec, Cause> {
    let found = members
        .iter()
        .map(|name| {
            profiles
                .clone()
                .into_iter()
                .find(|p| &p.name == name)
                .ok_or_else(|| {
                    Cause::new(ErrorKind::SettingsConflict, format!(
                        "profile `{name}` was rotated together with {} (they held the same key) but is no longer configured; configure it again to finish",
                        members.join(", ")
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    combine(&found).map_err(|conflict| Cause::new(ErrorKind::SettingsConflict, conflict.message))
}

/// One rotation for `members` (at least one), which hold the same key.
fn combine(members: &[&ProfileSpec]) -> Result<ProfileSpec, Conflict> {
    let (first, rest) = members.split_first().expect("a group has a member");
    if rest.is_empty() {
        return Ok((*first).clone());
    }
    let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
    if let Some(other) = rest.iter().find(|m| m.policy != first.policy) {
        return Err(Conflict {
            message: format!(
                "profiles {} hold the same key, so they are rotated as one, but `{}` and `{}` have different settings (grace, max_age, propagation or verify); give them the same settings",
                names.join(", "),
                first.name,
                other.name
            ),
            profiles: names,
        });
    }
    // One place, one write: by the sinks' identities (from their configuration), never
    // by their labels, which two different places may share.
    let mut sinks = first.sinks.clone();
    for sink in rest.iter().flat_map(|m| &m.sinks) {
        if !sinks.iter().any(|s| s.id() == sink.id()) {
            sinks.push(sink.clone());
        }
    }
    Ok(ProfileSpec {
        name: first.name.clone(),
        also: names[1..].to_vec(),
        sinks,
        policy: first.policy.clone(),
        manifest: first.manifest.clone(),
        keyless_hint: first.keyless_hint.clone(),
    })
}

/// `profile` and `also`, in order.
pub(crate) fn members(profile: &str, also: &[String]) -> Vec<String> {
    std::iter::once(profile.to_owned())
        .chain(also.iter().cloned())
        .collect()
}

async fn key_id(spec: &ProfileSpec) -> Option<String> {
    spec.sinks.first().read_id().await.ok().flatten()
}
