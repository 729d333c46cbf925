//! `rekey respond --event FILE|-`: a leak alert in (an AWS Health event, a GitHub
//! secret-scanning alert), the leak response out, for exactly the profiles that hold an
//! exposed key: `apply --compromised --quarantine` (sessions revoked too, unless
//! `--keep-sessions`). An exposed key no profile holds is named, and with `--via ADMIN
//! --deactivate-unknown` deactivated in IAM, so the leak is contained even where rekey
//! cannot replace the key.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use rekey_sinks::AccessKey;
use secrecy::{ExposeSecret, SecretString};

use super::{apply, load_profiles, Choices, Context, Outcome, Profiles, Selection};
use crate::aws::Aws;
use crate::config::profile::ProfileSpec;
use crate::engine::leak::containment;
use crate::engine::leak::exposure::{self, Exposed, Exposure};
use crate::engine::{leak, recovery};
use crate::report::respond::{self as told, Containment, ExposedKey, RespondReport};
use crate::report::{ApplyOutcome, ApplyReport, Output};
use crate::state::{ResponseRecord, StateDir};

/// What `rekey respond` is asked.
pub(crate) struct Options {
    /// The alert: a file, or `-` for stdin.
    pub(crate) event: PathBuf,
    /// The manifest (default: as `apply` finds it).
    pub(crate) manifest: Option<PathBuf>,
    /// Signs the containment of keys no profile holds.
    pub(crate) via: Option<String>,
    /// Deactivate an exposed key no profile holds (needs `via`).
    pub(crate) deactivate_unknown: bool,
    /// The response's choices (`--compromised` and `--quarantine` always).
    pub(crate) choices: Choices,
    /// Text or JSON.
    pub(crate) output: Output,
}

/// Runs `rekey respond` (see the module docs). Exit 0 only when every exposed key is
/// replaced (or was deleted already); with `--output json`, one document on stdout.
pub(crate) async fn run(ctx: &Context, args: Options) -> Result<Outcome> {
    let mut report = RespondReport {
        schema: 1,
        source: String::new(),
        exposed: Vec::new(),
        apply: None,
        error: None,
        error_kind: None,
    };
    let result = read_and_respond(ctx, &args, &mut report).await;
    if let Err(e) = &result {
        report.error = Some(format!("{e:#}"));
        report.error_kind = Some(super::error_kind(e));
    }
    // The text was printed as the response went.
    crate::report::emit(args.output, &report, String::new)?;
    let selection = Selection {
        manifest: args.manifest.clone(),
        profiles: Vec::new(),
    };
    ctx.tell(
        // An untrusted manifest adds no target (and stops the response's rotation).
        &ctx.notify_targets(&selection).unwrap_or_default(),
        crate::notify::events::respond(&report),
    )
    .await;
    result
}

/// Reads the alert (a bad one changes nothing), then responds.
async fn read_and_respond(
    ctx: &Context,
    args: &Options,
    report: &mut RespondReport,
) -> Result<Outcome> {
    let exposure = exposure::parse(read_event(&args.event)?.expose_secret())?;
    report.source = exposure.source.clone();
    let aws = ctx.aws().await;
    let state = ctx.state()?;
    respond(ctx, &aws, state, args, &exposure, report).await
}

async fn respond(
    ctx: &Context,
    aws: &Aws,
    state: &StateDir,
    args: &Options,
    exposure: &Exposure,
    report: &mut RespondReport,
) -> Result<Outcome> {
    let for_people = args.output == Output::Text;
    let selection = Selection {
        manifest: args.manifest.clone(),
        profiles: Vec::new(),
    };
    let profiles = load_profiles(ctx, aws, &selection, &args.choices)?;
    // With `state: s3://…`, what a killed machine left too (its response's record).
    for stopped in recovery::import_shared(aws, state, &profiles.specs).await {
        tracing::warn!("{}", stopped.cause);
    }
    report.exposed = holders(&profiles.specs, state, &exposure.exposed).await?;
    finish_interrupted(aws, state, &profiles, &mut report.exposed).await?;
    if for_people {
        print!("{}", told::header(&report.source, &report.exposed));
    }
    retrace_deleted(aws, state, &profiles, args, &mut report.exposed, for_people).await?;

    let mut selected: Vec<String> = Vec::new();
    for key in &report.exposed {
        for profile in &key.profiles {
            if !selected.contains(profile) {
                selected.push(profile.clone());
            }
        }
    }
    let mut failure = None;
    if !selected.is_empty() {
        let options = apply::Options {
            selection: Selection {
                manifest: args.manifest.clone(),
                profiles: selected,
            },
            choices: args.choices.clone(),
            yes: true,
            output: args.output,
        };
        let mut applied = ApplyReport::new();
        if let Err(e) = apply::apply(ctx, aws, state, &options, &mut applied).await {
            failure = Some(e);
        }
        settle_held(&mut report.exposed, &applied);
        report.apply = Some(applied);
    }
    for key in report.exposed.iter_mut().filter(|k| k.profiles.is_empty()) {
        if key.status == Containment::NotHeld {
            contain(aws, args, key).await;
        }
    }
    if for_people {
        print!("{}", told::summary(&report.exposed));
    }
    let open: Vec<String> = report
        .exposed
        .iter()
        .filter(|k| !k.status.closed())
        .map(|k| k.key_id.clone().unwrap_or_else(|| "a secret".to_owned()))
        .collect();
    match (failure, open.is_empty()) {
        (None, true) => Ok(Outcome::Success),
        (Some(e), _) => Err(e),
        (None, false) => bail!(
            "not every exposed key is replaced: {} (see above)",
            open.join(", ")
        ),
    }
}

/// An earlier response to this leak that was killed after the key's deletion (its
/// record is still open) is finished first (issue 30): the key is replaced only once the
/// door behind it is closed, never "already deleted" over undone steps.
async fn finish_interrupted(
    aws: &Aws,
    state: &StateDir,
    profiles: &Profiles,
    keys: &mut [ExposedKey],
) -> Result<()> {
    let open = state.open_responses().map_err(|e| anyhow!(e))?;
    let profile_of = |key: &ExposedKey| {
        let record = open
            .iter()
            .find(|r| key.key_id.as_deref() == Some(&r.leaked_key.id))?;
        Some(record.owner.profile.clone())
    };
    let unheld = keys.iter().filter(|k| k.profiles.is_empty());
    let ids: Vec<&str> = unheld.filter_map(|k| k.key_id.as_deref()).collect();
    let concerns = |r: &ResponseRecord| ids.contains(&r.leaked_key.id.as_str());
    let (selected, others) = (&profiles.specs, &profiles.others);
    let results = recovery::finish_responses(aws, state, selected, others, concerns).await;
    let results = results.map_err(|e| anyhow!(e))?;
    for key in keys.iter_mut().filter(|k| k.profiles.is_empty()) {
        let Some(profile) = profile_of(key) else {
            continue;
        };
        let result = results.iter().find(|r| match r {
            Ok(done) => done.profile == profile,
            Err(failure) => failure.profile == profile,
        });
        (key.status, key.detail) = match result {
            Some(Ok(_)) => (
                Containment::Replaced,
                format!("an earlier response of profile {profile} replaced and deleted it and was interrupted; this one closed the door behind it"),
            ),
            Some(Err(failure)) => (Containment::Failed, failure.message.clone()),
            None => continue,
        };
    }
    Ok(())
}

/// An exposed key rekey had already deleted: CloudTrail is read again for it (its
/// history arrives up to about 15 minutes late, so the same alert again reads what
/// arrived since the response), and what it left behind contained as the response does
/// (`--no-contain`: reported only). Signed as the key's profile signs now (`--via`, the
/// manifest's `via`, or its current key).
async fn retrace_deleted(
    aws: &Aws,
    state: &StateDir,
    profiles: &Profiles,
    args: &Options,
    keys: &mut [ExposedKey],
    for_people: bool,
) -> Result<()> {
    let deleted = state.all_deleted().map_err(|e| anyhow!(e))?;
    let all = profiles.specs.iter().chain(&profiles.others);
    let specs: Vec<&ProfileSpec> = all.collect();
    let contain = !args.choices.no_contain;
    for key in keys
        .iter_mut()
        .filter(|k| k.status == Containment::AlreadyDeleted)
    {
        let Some(record) = deleted
            .iter()
            .find(|d| key.key_id.as_deref() == Some(&d.key_id))
        else {
            continue;
        };
        let Some(spec) = specs.iter().find(|s| s.name == record.owner.profile) else {
            continue;
        };
        let mut spec = (*spec).clone();
        if let Some(via) = args.via.as_ref().filter(|v| **v != spec.name) {
            spec.policy.via = Some(via.clone());
        }
        // CloudTrail keeps 90 days; the key's creation is not recorded once deleted.
        let since = record.deleted_at - RETRACE_WINDOW;
        let leaked = (record.key_id.as_str(), record.owner.user_name.as_str());
        let (activity, told) = leak::response::retrace(aws, &spec, leaked, since, contain).await;
        if for_people {
            for action in &told {
                println!("  - {}", crate::report::action::told(action));
            }
        }
        key.activity = activity.map(Box::new);
    }
    Ok(())
}

/// How far back a key rekey had deleted is read again: CloudTrail's event history
/// keeps 90 days.
const RETRACE_WINDOW: std::time::Duration = std::time::Duration::from_secs(90 * 86_400);

/// The alert's text; it may hold a secret access key, so it is kept as a secret.
fn read_event(path: &Path) -> Result<SecretString> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the event from stdin")?;
    } else {
        text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the event {}", rekey_sinks::shown::path(path)))?;
    }
    Ok(SecretString::from(text))
}

/// Who holds each exposed credential: profiles whose first sink holds it, profiles
/// whose old key (pending deletion, or in its overlap) it is; and what rekey deleted
/// already.
async fn holders(
    specs: &[ProfileSpec],
    state: &StateDir,
    exposed: &[Exposed],
) -> Result<Vec<ExposedKey>> {
    let mut keys: Vec<ExposedKey> = exposed
        .iter()
        .map(|e| ExposedKey {
            key_id: match e {
                Exposed::KeyId(id) => Some(id.clone()),
                Exposed::Secret(_) => None,
            },
            by_secret: matches!(e, Exposed::Secret(_)),
            profiles: Vec::new(),
            user: None,
            status: Containment::NotHeld,
            detail: "no profile holds it and rekey keeps no record of it".to_owned(),
            activity: None,
        })
        .collect();
    for spec in specs {
        let Ok(Some(current)) = spec.sinks.first().read().await else {
            continue;
        };
        for (key, exposed) in keys.iter_mut().zip(exposed) {
            if is(exposed, &current) {
                key.key_id = Some(current.id().to_owned());
                key.profiles.push(spec.name.clone());
            }
        }
    }
    let known = |profile: &str| specs.iter().any(|s| s.name == profile);
    for pending in state.all_pending().map_err(|e| anyhow!(e))? {
        for key in keys.iter_mut() {
            let profile = &pending.owner.profile;
            if key.key_id.as_deref() == Some(&pending.key_id)
                && known(profile)
                && !key.profiles.contains(profile)
            {
                key.profiles.push(profile.clone());
            }
        }
    }
    for deleted in state.all_deleted().map_err(|e| anyhow!(e))? {
        for key in keys.iter_mut().filter(|k| k.profiles.is_empty()) {
            if key.key_id.as_deref() == Some(&deleted.key_id) {
                key.status = Containment::AlreadyDeleted;
                key.user = Some(deleted.owner.user_name.clone());
                key.detail = told::deleted_on(deleted.deleted_at);
            }
        }
    }
    Ok(keys)
}

/// Whether `current` is the exposed credential.
fn is(exposed: &Exposed, current: &AccessKey) -> bool {
    match exposed {
        Exposed::KeyId(id) => current.id() == id,
        Exposed::Secret(secret) => {
            current.secret().expose_secret().as_bytes() == secret.expose_secret().as_bytes()
        }
    }
}

/// Each held key's status from the response: replaced, or failed with the error; and
/// whether AWS had quarantined its user, as planning found it.
fn settle_held(keys: &mut [ExposedKey], applied: &ApplyReport) {
    let planned = applied.plan.iter().flat_map(|plan| &plan.profiles);
    for key in keys.iter_mut().filter(|k| !k.profiles.is_empty()) {
        let quarantine = (planned.clone())
            .filter(|p| key.profiles.contains(&p.profile))
            .find_map(|p| p.quarantine.as_ref());
        let replaced = applied
            .replaced
            .iter()
            .find(|r| key.key_id.as_deref() == Some(&r.key_id));
        let failed = applied.results.iter().find_map(|r| match &r.outcome {
            ApplyOutcome::Failed { error, .. } if key.profiles.contains(&r.profile) => {
                Some(error.clone())
            }
            _ => None,
        });
        (key.status, key.detail) = match (replaced, failed) {
            (_, Some(error)) => (Containment::Failed, error),
            (Some(r), None) => (
                Containment::Replaced,
                format!("replaced by {} and deleted", r.replaced_by),
            ),
            (None, None) => (
                Containment::Failed,
                "its profile was not rotated (see the plan above)".to_owned(),
            ),
        };
        if let Some(quarantine) = quarantine {
            key.detail.push_str(&format!(
                "; AWS had quarantined its user ({})",
                quarantine.names()
            ));
        }
    }
}

/// A key no profile holds: with `--deactivate-unknown`, its user is found through IAM
/// (signed as `--via`), the key deactivated and the user's older sessions revoked
/// (unless `--keep-sessions`). Otherwise it is named with what would contain it.
async fn contain(aws: &Aws, args: &Options, key: &mut ExposedKey) {
    let Some(id) = key.key_id.clone() else {
        key.detail = "the alert names a secret access key that no profile holds; find its key (`rekey find` searches files for it) and deactivate it in IAM".to_owned();
        return;
    };
    let (Some(via), true) = (&args.via, args.deactivate_unknown) else {
        key.detail = format!(
            "no profile holds it, so rekey cannot replace it: contain it with `rekey respond --via ADMIN --deactivate-unknown` (or `aws iam update-access-key --access-key-id {id} --status Inactive --user-name USER`), then replace it where it is used"
        );
        return;
    };
    match containment::deactivate_unknown(aws, via, &id, args.choices.keep_sessions).await {
        Ok((user, sessions)) => {
            key.status = Containment::Deactivated;
            key.detail = format!(
                "deactivated in IAM (user {user}){sessions}; whatever uses it stops working: replace it there, then delete it"
            );
            key.user = Some(user);
        }
        Err(e) => key.detail = format!("could not deactivate it: {e:#}"),
    }
}
