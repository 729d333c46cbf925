//! Every failed or errored profile in the JSON output carries a stable `error_kind`
//! beside its message, so a program can tell the failures apart without reading prose.

use crate::proxy::FaultProxy;
use crate::state_dir::stuck_profile;
use crate::support::*;

/// `rekey apply --yes --output json` in `home`: the first result's status and kind.
fn apply_kind(home: &Home) -> (String, String) {
    apply_kind_with(home, &[])
}

/// [`apply_kind`] with more arguments.
fn apply_kind_with(home: &Home, more: &[&str]) -> (String, String) {
    let args = [&["apply", "--yes", "--output", "json"], more].concat();
    let run = home.rekey(&args).code(1);
    let json = run.json();
    let result = &json["results"][0];
    (
        result["status"].as_str().unwrap_or_default().to_owned(),
        result["error_kind"].as_str().unwrap_or_default().to_owned(),
    )
}

/// `rekey plan --output json` in `home`: the first profile's decision kind.
fn plan_kind(home: &Home) -> String {
    let json = home.rekey(&["plan", "--output", "json"]).code(1).json();
    let decision = &json["profiles"][0]["decision"];
    assert_eq!(decision["kind"], "error", "{json}");
    decision["error_kind"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn aws_refusals_keep_their_kind() {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    home.user_in_credentials("kind-denied");
    proxy.set(|f| {
        f.deny.insert("CreateAccessKey");
    });
    assert_eq!(apply_kind(&home), ("failed".into(), "access_denied".into()));
    proxy.set(|f| {
        f.deny.clear();
        // Throttling is retried while the run's budget lasts: with none, it is final.
        f.throttle.insert("CreateAccessKey", 1);
    });
    assert_eq!(
        apply_kind_with(&home, &["--api-timeout", "0s"]),
        ("failed".into(), "throttled".into())
    );
}

#[test]
fn a_key_that_never_works_is_not_propagated() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials("kind-propagation");
    home.manifest(
        &Manifest::new()
            .profile(Profile::new(&user).set("propagation: { timeout: 1s, consecutive: 1000 }")),
    );
    assert_eq!(
        apply_kind(&home),
        ("failed".into(), "not_propagated".into())
    );
}

#[test]
fn a_failing_check_is_verify_failed() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials("kind-verify");
    home.manifest(
        &Manifest::new().profile(Profile::new(&user).set("verify: { command: [\"false\"] }")),
    );
    assert_eq!(apply_kind(&home), ("failed".into(), "verify_failed".into()));
}

#[test]
fn planning_errors_say_their_kind() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials("kind-plan");
    // A second active key: no room for a new one.
    let other = moto().create_key(&user);
    assert_eq!(plan_kind(&home), "no_room");
    moto().delete_key(&user, &other.id);
    // A config file sink whose file does not exist: it cannot be written.
    home.manifest(
        &Manifest::new().profile(
            Profile::new(&user)
                .sink(sink::credentials_file())
                .sink(sink::file("missing.json", "a", "b")),
        ),
    );
    assert_eq!(plan_kind(&home), "sink_unwritable");
}

#[test]
fn profiles_sharing_a_key_with_different_settings_are_a_settings_conflict() {
    let home = Home::new();
    let user = unique("kind-clash");
    let old = moto().create_user(&user);
    home.write_credentials(&format!(
        "{}\n{}",
        section("one", &old),
        section("two", &old)
    ));
    home.manifest(
        &Manifest::new()
            .profile(Profile::new("one").set("grace: 1d"))
            .profile(Profile::new("two").set("grace: 2d")),
    );
    assert_eq!(plan_kind(&home), "settings_conflict");
}

/// A recovery failure has the kind of what stopped it (issue 20: it was always
/// `interrupted`); the profile it blocks is `interrupted` in the plan and the results.
#[test]
fn a_stuck_rotation_says_why_in_recovered_and_is_interrupted_in_the_plan() {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let user = unique("kind-stuck");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    let stuck = stuck_profile(&home, &user, &key);
    home.write(
        "project/rekey.yaml",
        &format!("version: 1\nprofiles:\n{}", stuck.yaml),
    );
    assert_eq!(apply_kind(&home), ("failed".into(), "verify_failed".into()));
    let recovered_kind = || {
        let json = home
            .rekey(&["apply", "--yes", "--output", "json"])
            .code(1)
            .json();
        assert_eq!(json["recovered"][0]["status"], "failed", "{json}");
        assert_eq!(json["results"][0]["error_kind"], "interrupted", "{json}");
        json["recovered"][0]["result"]["error_kind"].clone()
    };
    // IAM refuses to list the keys: a missing permission.
    proxy.set(|f| {
        f.deny.insert("ListAccessKeys");
    });
    assert_eq!(recovered_kind(), "access_denied");
    // The plugin still refuses to put the old key back: a sink.
    proxy.set(|f| f.deny.clear());
    assert_eq!(recovered_kind(), "sink_failed");
}

/// Issue 32, point 6: every failure with `--output json` is one JSON document with an
/// `error_kind`, the run's top-level one included: apply's own document when profiles
/// failed, rollback's `{status: failed}` when there is nothing to undo, and
/// `{schema, error, error_kind}` when a run stopped before its document (here, a
/// malformed manifest), each passing its committed schema.
#[test]
fn every_failure_is_one_document_with_its_kind() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials("failuredoc");

    let rollback = home
        .rekey(&["rollback", &user, "--yes", "--output", "json"])
        .code(1);
    let json = rollback.json();
    assert_eq!(json["status"], "failed", "{json}");
    assert_eq!(json["result"]["error_kind"], "no_rollback", "{json}");
    assert_eq!(json["result"]["profile"], user.as_str(), "{json}");
    crate::json_schemas::passes(&home, "rollback", &rollback);

    home.write(
        "project/rekey.yaml",
        "version: 1\nprofiles:\n  x:\n    grcae: 1d\n",
    );
    for command in ["plan", "status", "prune", "sync", "recover"] {
        let run = home.rekey(&[command, "--output", "json"]).code(1);
        let json = run.json();
        assert_eq!(json["error_kind"], "config", "{command}: {json}");
        assert!(
            json["error"].as_str().unwrap().contains("grcae"),
            "{command}: {json}"
        );
        crate::json_schemas::passes(&home, "failure", &run);
    }
    let apply = home.rekey(&["apply", "--yes", "--output", "json"]).code(1);
    let json = apply.json();
    assert_eq!(json["error_kind"], "config", "apply's own document: {json}");
    assert!(json.get("results").is_some(), "{json}");
    crate::json_schemas::passes(&home, "apply", &apply);
}

/// A run whose profiles failed says so at the top too: `profiles_failed`, each result
/// with its own kind.
#[test]
fn apply_whose_profiles_failed_has_a_top_level_kind() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials("failedtop");
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\ndefaults:\n  max_age: 0d\n  verify: {{ command: [\"false\"] }}\nprofiles:\n  {user}:\n    sinks: [{{type: credentials_file}}]\n"
        ),
    );
    let json = home
        .rekey(&["apply", "--yes", "--output", "json"])
        .code(1)
        .json();
    assert_eq!(json["error_kind"], "profiles_failed", "{json}");
    assert_eq!(json["results"][0]["error_kind"], "verify_failed", "{json}");
}
