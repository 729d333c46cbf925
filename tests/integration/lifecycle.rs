//! status, init, completions, and the warning about keys in the environment.

use crate::support::*;

#[test]
fn status_shows_keys_copies_pending_deletions_and_overdue_keys() {
    let home = Home::new();
    let user = unique("status");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    home.write(
        "project/rekey.yaml",
        &format!("version: 1\ndefaults:\n  max_age: 0\nprofiles:\n  {user}: {{}}\n"),
    );
    home.rekey(&["status"])
        .success()
        .stdout_has(&format!("profile {user}"))
        .stdout_has(&format!("key   {}", key.id))
        .stdout_has(": in sync")
        .stdout_has("past max_age 0s");
    home.rekey(&["apply", "--yes"]).success();
    let new_key = key_in(&home.credentials(), &user).unwrap();
    let json = home.rekey(&["status", "--output", "json"]).success().json();
    let profile = &json["profiles"][0];
    assert_eq!(profile["current_key"]["id"], new_key.id.as_str());
    assert_eq!(profile["pending"][0]["key_id"], key.id.as_str());
    assert_eq!(profile["sinks"][0]["state"], "in_sync");
    assert_eq!(moto().keys(&user).len(), 2, "status changed nothing");
}

#[test]
fn status_detailed_exitcode_alerts_on_age_drift_and_overdue_deletions() {
    let home = Home::new();
    let (user, key) = home.user_in_credentials("alerts");
    let manifest = |max_age: &str| {
        Manifest::new()
            .defaults(&format!("max_age: {max_age}"))
            .profile(
                Profile::new(&user)
                    .sink(sink::credentials_file())
                    .sink(sink::dotenv("app.env")),
            )
    };
    home.write("project/app.env", &env_text(&key));
    home.manifest(&manifest("90d"));
    // (exit code, alerts)
    let args = ["status", "--detailed-exitcode", "--output", "json"];
    let alerts = |run: Run| (run.code, run.json()["profiles"][0]["alerts"].clone());
    let status = |home: &Home| alerts(home.rekey(&args));
    let status_later = |home: &Home, hours| alerts(home.rekey_later(hours, &args));
    assert_eq!(
        status(&home),
        (Some(0), serde_json::json!([])),
        "all is well"
    );

    home.manifest(&manifest("0"));
    assert_eq!(
        status(&home),
        (Some(2), serde_json::json!(["past_max_age"]))
    );
    home.rekey(&["status"]).success(); // without the flag: 0

    home.rekey(&["apply", "--yes", "--grace", "1h"]).success();
    home.manifest(&manifest("90d"));
    home.write("project/app.env", &env_text(&key)); // put back by hand: drift
    assert_eq!(status(&home), (Some(2), serde_json::json!(["drift"])));
    // Once the grace period is over, the deletion is overdue until prune runs.
    assert_eq!(
        status_later(&home, 1),
        (Some(2), serde_json::json!(["drift", "overdue"]))
    );
    home.rekey_later(1, &["status"])
        .success()
        .stdout_has("`rekey prune` does it");
}

/// Issue 18: with AWS unreachable, every profile errored and `status
/// --detailed-exitcode` still exited 0: a monitor read "all is well".
#[test]
fn status_and_plan_exit_1_when_aws_cannot_be_reached() {
    // A port nothing listens on (bound, then closed).
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let home = Home::new().via(&closed);
    let (_, _) = home.user_in_credentials("unreachable");
    let run = home.rekey(&["status", "--detailed-exitcode", "--output", "json"]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("could not be checked"),
        "{}",
        run.stderr
    );
    let json = run.json();
    assert_eq!(json["profiles"][0]["decision"]["kind"], "error", "{json}");
    // The connection error names the address and where it came from.
    home.rekey(&["plan", "--detailed-exitcode"])
        .code(1)
        .stdout_has(&format!("no answer from {closed} (AWS_ENDPOINT_URL)"));
}

#[test]
fn init_writes_a_starter_manifest_that_plan_reads() {
    let home = Home::new();
    let (a, b) = (unique("init-a"), unique("init-b"));
    let (ka, kb) = (moto().create_user(&a), moto().create_user(&b));
    home.write_credentials(&format!(
        "{}{}[temp]\naws_access_key_id = ASIA1\naws_secret_access_key = s\naws_session_token = t\n",
        section(&a, &ka),
        section(&b, &kb)
    ));
    home.rekey(&["init"])
        .success()
        .stdout_has("with 2 profiles;");
    let manifest = home.read("project/rekey.yaml");
    assert!(
        manifest.contains(&format!("  {a}:\n")) && manifest.contains(&format!("  {b}:\n")),
        "{manifest}"
    );
    assert!(
        manifest.contains("# temp: not rotated (temporary credentials"),
        "{manifest}"
    );
    home.rekey(&["plan"])
        .success()
        .stdout_has("Profiles from ~/project/rekey.yaml")
        .stdout_has("Plan: 0 to rotate, 2 unchanged")
        // After init nothing is due yet: the plan says how to rotate now.
        .stdout_has("--now rotates it anyway");
    home.rekey(&["init"])
        .code(1)
        .stderr_has("already exists; use --force");
    home.rekey(&["init", "--force"]).success();
}

#[test]
fn completions_are_printed_for_each_shell() {
    let home = Home::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = home.rekey(&["completions", shell]).success();
        // The script hands each completion back to rekey.
        assert!(run.stdout.contains("REKEY_COMPLETE"), "{shell}");
        // Issue 31, point 7: where to put it, said in the script itself.
        assert!(
            run.stdout
                .contains(&format!("# Install: rekey completions {shell}")),
            "{shell}"
        );
    }
    let zsh = home.rekey(&["completions", "zsh"]).success();
    assert!(
        zsh.stdout.starts_with("#compdef rekey"),
        "zsh reads the first line"
    );
}

/// Issue 31, point 7: in a real bash with the installed script, a subcommand completes,
/// and a profile completes to the manifest's names (a manifest is found as `plan` finds
/// it), else to the static-key profiles of the shared credentials file.
#[test]
fn bash_completes_subcommands_and_profile_names() {
    let home = Home::new();
    home.write_credentials(
        "[dev]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\
         [sso]\nsso_session = corp\n",
    );
    let complete = |words: &str| {
        let script = format!(
            "source <(rekey completions bash)\n\
             COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n\
             _clap_complete_rekey rekey \"${{COMP_WORDS[COMP_CWORD]}}\"\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let run = home.bash(&script).success();
        let mut words: Vec<String> = run.stdout.lines().map(str::to_owned).collect();
        words.sort();
        words
    };
    assert_eq!(complete("rekey app"), ["apply"]);
    assert_eq!(complete("rekey plan --profile ''"), ["dev"]);
    home.write(
        "project/rekey.yaml",
        "version: 1\nprofiles:\n  web:\n    sinks: [{type: credentials_file}]\n  \
         worker:\n    sinks: [{type: credentials_file}]\n",
    );
    assert_eq!(complete("rekey apply --profile w"), ["web", "worker"]);
    assert_eq!(complete("rekey rollback w"), ["web", "worker"]);
}

#[test]
fn keys_in_the_environment_are_warned_about() {
    let home = Home::new();
    let user = unique("envkey");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    home.run(&["plan"])
        .envs(&[("AWS_ACCESS_KEY_ID", "AKIAFROMENV")])
        .output()
        .success()
        .stderr_has("warning: AWS_ACCESS_KEY_ID is set in the environment");
}

#[test]
fn rollback_undoes_the_last_rotation_byte_for_byte() {
    let home = Home::new();
    let user = unique("undo");
    let key = moto().create_user(&user);
    let credentials = format!("# mine\n{}region = eu-west-1\n", section(&user, &key));
    home.write_credentials(&credentials);
    let env = format!(
        "export AWS_ACCESS_KEY_ID=\"{}\"\nAWS_SECRET_ACCESS_KEY='{}'\n",
        key.id, key.secret
    );
    home.write("project/.env", &env);
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\nprofiles:\n  {user}:\n    sinks:\n      - type: credentials_file\n\
             \x20     - type: dotenv\n        path: .env\n"
        ),
    );
    home.rekey(&["apply", "--yes"]).success();
    let new_key = key_in(&home.credentials(), &user).unwrap();

    home.rekey(&["rollback", &user])
        .code(1)
        .stderr_has("without --yes");
    home.rekey(&["rollback", &user, "--yes"])
        .success()
        .stdout_has("rolled back: the old key is in use again")
        .stdout_has(&format!("reactivated old key {}", key.id))
        .stdout_has(&format!("deleted new key {}", new_key.id));
    assert_eq!(home.credentials(), credentials);
    assert_eq!(home.read("project/.env"), env);
    assert_eq!(moto().keys(&user), vec![(key.id.clone(), true)]);
    assert!(home.state_files().is_empty(), "{:?}", home.state_files());

    home.rekey(&["rollback", &user, "--yes"])
        .code(1)
        .stderr_has("has no old key of it awaiting deletion");
}

#[test]
fn rollback_refuses_when_the_old_key_is_gone() {
    let home = Home::new();
    let user = unique("undo-gone");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    home.rekey(&["apply", "--yes", "--grace", "0"]).success();
    home.rekey(&["rollback", &user, "--yes"])
        .code(1)
        .stderr_has("grace period");

    let (home2, user2) = (Home::new(), unique("undo-deleted"));
    let key2 = moto().create_user(&user2);
    home2.write_credentials(&section(&user2, &key2));
    home2.rekey(&["apply", "--yes"]).success();
    block_on(admin_delete(&user2, &key2.id));
    home2
        .rekey(&["rollback", &user2, "--yes"])
        .code(1)
        .stderr_has(&format!(
            "old key {} was deleted; there is nothing to roll back to",
            key2.id
        ));
}

async fn admin_delete(user: &str, key_id: &str) {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&moto().endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIAADMIN0000000000",
            "admin",
            None,
            None,
            "test",
        ))
        .load()
        .await;
    aws_sdk_iam::Client::new(&config)
        .delete_access_key()
        .user_name(user)
        .access_key_id(key_id)
        .send()
        .await
        .unwrap();
}
