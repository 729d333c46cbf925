//! A newcomer's first rotation cannot break their project (issue 18): the manifest is
//! found from a subfolder, a key a manifest rotated is not rotated elsewhere without its
//! places, a missing or unwritable file stops the plan before a key is made, and the
//! CLI's small promises (`--now`, `-o`, `rollback --profile`, a closed pipe) hold.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;

#[test]
fn a_run_from_a_subfolder_uses_the_projects_manifest() {
    let home = Home::new();
    let (user, key) = home.user_in_credentials_and_dotenv("sub");
    std::fs::create_dir_all(home.path("project/src/deep")).unwrap();
    let plan = home
        .run(&["plan"])
        .in_dir(&home.path("project/src/deep"))
        .output()
        .success();
    let first = plan.stdout.lines().next().unwrap_or_default();
    assert_eq!(
        first, "Profiles from ~/project/rekey.yaml",
        "{}",
        plan.stdout
    );
    home.run(&["apply", "--yes", "--grace", "0"])
        .in_dir(&home.path("project/src/deep"))
        .output()
        .success()
        .stdout_has("Profiles from ~/project/rekey.yaml")
        .stdout_has("Done: 1 rotated");
    let new_key = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(new_key, key);
    assert!(
        home.read("project/.env").contains(&new_key.id),
        "the .env file the manifest names got the new key too"
    );
}

#[test]
fn rekey_manifest_names_the_manifest_from_anywhere() {
    let home = Home::new();
    home.user_in_credentials_and_dotenv("envvar");
    let manifest = home.path("project/rekey.yaml");
    home.run(&["plan"])
        .envs(&[("REKEY_MANIFEST", manifest.to_str().unwrap())])
        .output()
        .success()
        .stdout_has("Profiles from ~/project/rekey.yaml")
        .stdout_has(".env file");
}

#[test]
fn a_key_a_manifest_rotated_is_not_rotated_elsewhere_without_its_places() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials_and_dotenv("elsewhere");
    home.rekey(&["apply", "--yes", "--grace", "0"]).success();
    let rotated = key_in(&home.credentials(), &user).unwrap();
    assert_eq!(home.rotated_by_records(), vec![rotated.id.clone()]);

    // From the home folder no manifest is found: default mode would write only the
    // credentials file and leave .env on a deactivated key.
    let plan = home.run(&["plan"]).in_dir(&home.path("")).output().code(1);
    assert!(
        plan.stdout.starts_with("Profiles from default mode"),
        "{}",
        plan.stdout
    );
    let apply = home
        .run(&["apply", "--yes"])
        .in_dir(&home.path(""))
        .output()
        .code(1);
    assert!(
        apply.stdout.contains("last rotated with")
            && apply.stdout.contains("project/rekey.yaml")
            && apply.stdout.contains("1 more place")
            && apply.stdout.contains(".env file")
            && apply.stdout.contains("--ignore-manifest"),
        "{}",
        apply.stdout
    );
    assert_eq!(
        moto().keys(&user),
        vec![(rotated.id.clone(), true)],
        "no key was created"
    );
    assert_eq!(key_in(&home.credentials(), &user).unwrap(), rotated);

    // Passing the manifest works from anywhere; --ignore-manifest is the way out (with
    // --allow-uncovered: default mode finds the .env copy too, issue 31).
    let manifest = home.path("project/rekey.yaml");
    home.run(&["plan", "--manifest", manifest.to_str().unwrap()])
        .in_dir(&home.path(""))
        .output()
        .success();
    home.run(&[
        "apply",
        "--yes",
        "--grace",
        "0",
        "--ignore-manifest",
        "--allow-uncovered",
    ])
    .in_dir(&home.path(""))
    .output()
    .success()
    .stdout_has("Done: 1 rotated");
    assert_ne!(key_in(&home.credentials(), &user).unwrap(), rotated);
}

#[test]
fn a_mistyped_path_stops_the_plan_and_creates_nothing() {
    let home = Home::new();
    let (user, key) = home.user_in_credentials("typo");
    home.write("project/.env", &env_text(&key));
    home.manifest(
        &Manifest::new().profile(
            Profile::new(&user)
                .sink(sink::credentials_file())
                .sink(sink::dotenv(".evn")),
        ),
    );
    home.rekey(&["plan"])
        .code(1)
        .stdout_has(".evn")
        .stdout_has("does not exist")
        .stdout_has("create: true");
    home.rekey(&["apply", "--yes"]).code(1);
    assert!(!home.path("project/.evn").exists(), "no new file");
    assert_eq!(
        moto().keys(&user),
        vec![(key.id.clone(), true)],
        "no new key"
    );

    // `create: true` says the file is to be made: plan says so, apply makes it 0600.
    home.manifest(
        &Manifest::new().profile(
            Profile::new(&user)
                .sink(sink::credentials_file())
                .sink("{ type: dotenv, path: '.evn', create: true }".to_owned()),
        ),
    );
    home.rekey(&["plan"])
        .success()
        .stdout_has("does not exist: will be created");
    home.rekey(&["apply", "--yes", "--grace", "0"]).success();
    let mode = std::fs::metadata(home.path("project/.evn"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn an_immutable_file_stops_the_plan_before_a_key_is_made() {
    let home = Home::new();
    let (user, key) = home.user_in_credentials_and_dotenv("immutable");
    let env = home.path("project/.env");
    let chattr = |flag: &str| {
        let status = Command::new("chattr").arg(flag).arg(&env).status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "chattr {flag} needs e2fsprogs and root (CI runs as root)"
        );
    };
    chattr("+i");
    let plan = home.rekey(&["plan"]).code(1);
    chattr("-i");
    assert!(
        plan.stdout.contains("UNWRITABLE") && plan.stdout.contains("immutable"),
        "{}",
        plan.stdout
    );
    chattr("+i");
    let apply = home.rekey(&["apply", "--yes"]);
    chattr("-i");
    apply.code(1);
    assert_eq!(
        moto().keys(&user),
        vec![(key.id.clone(), true)],
        "no new key"
    );
}

#[test]
fn a_read_only_file_system_stops_the_plan_before_a_key_is_made() {
    let home = Home::new();
    let (user, key) = home.user_in_credentials("rofs");
    let disk = TinyDisk::mount(home.path("project/ro"), "1m");
    home.write("project/ro/.env", &env_text(&key));
    disk.make_read_only();
    home.manifest(
        &Manifest::new().profile(
            Profile::new(&user)
                .sink(sink::credentials_file())
                .sink(sink::dotenv("ro/.env")),
        ),
    );
    let plan = home.rekey(&["plan"]).code(1);
    assert!(
        plan.stdout.contains("UNWRITABLE") && plan.stdout.contains("Read-only file system"),
        "{}",
        plan.stdout
    );
    home.rekey(&["apply", "--yes"]).code(1);
    assert_eq!(
        moto().keys(&user),
        vec![(key.id.clone(), true)],
        "no new key"
    );
}

#[test]
fn a_read_only_file_is_replaced_and_keeps_its_mode_as_the_plan_says() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials_and_dotenv("readonly");
    let env = home.path("project/.env");
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o444)).unwrap();
    home.rekey(&["plan"])
        .success()
        .stdout_has("read-only: will be replaced");
    let json = home.rekey(&["plan", "-o", "json"]).success().json();
    assert_eq!(json["profiles"][0]["sinks"][1]["read_only"], true);
    assert!(json["profiles"][0]["sinks"][0].get("read_only").is_none());
    home.rekey(&["apply", "--yes", "--grace", "0"]).success();
    let new_key = key_in(&home.credentials(), &user).unwrap();
    assert!(home.read("project/.env").contains(&new_key.id));
    let mode = std::fs::metadata(&env).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o444, "the mode is kept");
}

#[test]
fn now_rotates_a_young_key_and_keeps_its_grace() {
    let home = Home::new();
    let (user, key) = home.user_in_credentials("now");
    home.manifest(
        &Manifest::new()
            .defaults("max_age: 90d")
            .defaults("grace: 1d")
            .profile(Profile::new(&user)),
    );
    home.rekey(&["plan"])
        .success()
        .stdout_has("younger than max_age");
    home.rekey(&["plan", "--now", "--detailed-exitcode"])
        .code(2)
        .stdout_has("rotate");
    home.rekey(&["apply", "--yes", "--now"])
        .success()
        .stdout_has("Done: 1 rotated");
    let keys = moto().keys(&user);
    assert!(
        keys.contains(&(key.id.clone(), false)),
        "the old key is deactivated, not deleted: {keys:?}"
    );
}

#[test]
fn plan_shows_what_apply_grace_would_do() {
    let home = Home::new();
    home.user_in_credentials("plangrace");
    home.rekey(&["plan", "--grace", "0"])
        .success()
        .stdout_has("at once (grace 0)");
    home.rekey(&["plan", "--grace", "3d"])
        .success()
        .stdout_has("3d");
}

#[test]
fn rollback_takes_the_profile_as_an_option_and_speaks_json() {
    let home = Home::new();
    let (user, key) = home.user_in_credentials("rbjson");
    home.rekey(&["apply", "--yes", "--grace", "1h"]).success();
    let new_key = key_in(&home.credentials(), &user).unwrap();
    assert_eq!(home.rotated_by_records(), vec![new_key.id.clone()]);
    let json = home
        .rekey(&["rollback", "--profile", &user, "--yes", "-o", "json"])
        .success()
        .json();
    assert_eq!(json["result"]["outcome"], "rolled_back", "{json}");
    assert_eq!(key_in(&home.credentials(), &user).unwrap(), key);
    assert!(
        home.rotated_by_records().is_empty(),
        "the deleted key's record is gone"
    );
}

#[test]
fn a_closed_pipe_is_not_a_panic() {
    let home = Home::new();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_rekey"))
        .args(["completions", "zsh"])
        .current_dir(home.path("project"))
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.status.success(), "{stderr}");
}

#[test]
fn version_names_the_commit_and_build_date() {
    let home = Home::new();
    let run = home.rekey(&["--version"]).success();
    let line = run.stdout.trim();
    let inner = line
        .strip_prefix(&format!("rekey {} (", env!("CARGO_PKG_VERSION")))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line}"));
    let (commit, date) = inner.split_once(' ').unwrap();
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
    assert!(
        date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-',
        "{line}"
    );
}

#[test]
fn manifest_mode_says_why_a_profile_has_no_key_as_default_mode_would() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials("precise");
    home.write(
        ".aws/config",
        "[profile corp]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = r\n",
    );
    let typo = format!("{user}x");
    home.manifest(
        &Manifest::new()
            .profile(Profile::new(&typo))
            .profile(Profile::new("corp"))
            .profile(
                Profile::new(&user)
                    .sink("{ type: credentials_file, path: 'nowhere/credentials' }".to_owned()),
            ),
    );
    let plan = home.rekey(&["plan"]).code(1);
    let line = |profile: &str| {
        plan.stdout
            .lines()
            .find(|l| l.starts_with(&format!("profile {profile}:")))
            .unwrap_or_else(|| panic!("{profile}: {}", plan.stdout))
            .to_owned()
    };
    assert!(
        line(&typo).contains(&format!("did you mean `{user}`?")),
        "{}",
        plan.stdout
    );
    assert!(line("corp").contains("SSO profile"), "{}", plan.stdout);
    assert!(line(&user).contains("does not exist"), "{}", plan.stdout);
}

/// Issue 31, point 5: a typo in a place's path is an error on every run, not only on
/// rotation day: with a young key (not due under max_age), plan counts the profile
/// among the errors and exits 1, and `status --detailed-exitcode` exits 2.
#[test]
fn a_mistyped_path_is_an_error_even_when_the_key_is_not_due() {
    let home = Home::new();
    let (user, key) = home.user_in_credentials("youngtypo");
    home.write("project/.env", &env_text(&key));
    home.manifest(
        &Manifest::new().defaults("max_age: 90d").profile(
            Profile::new(&user)
                .sink(sink::credentials_file())
                .sink(sink::dotenv(".evn")),
        ),
    );
    home.rekey(&["plan"])
        .code(1)
        .stdout_has(".evn")
        .stdout_has("1 with errors");
    let status = home.rekey(&["status", "--detailed-exitcode"]);
    assert_eq!(status.code, Some(2), "{}\n{}", status.stdout, status.stderr);
    assert_eq!(moto().keys(&user), vec![(key.id.clone(), true)]);
}

/// Issue 31, point 4: `-v` shows the work: each AWS call with its outcome, time,
/// attempts and the id of the key that signed it, and each place read. Never a secret.
#[test]
fn verbose_plan_names_each_call_and_place() {
    let home = Home::new();
    let (_, key) = home.user_in_credentials("verbose");
    let run = home.rekey(&["plan", "-v"]).success();
    for said in [
        "sts:GetCallerIdentity: HTTP 200 in ",
        "iam:ListAccessKeys: HTTP 200 in ",
        &format!("signed by {}", key.id),
        "1 attempt",
        "read credentials file",
    ] {
        assert!(run.stderr.contains(said), "{said}: {}", run.stderr);
    }
    assert!(!run.stderr.contains(&key.secret));
    let quiet = home.rekey(&["plan"]).success();
    assert!(
        !quiet.stderr.contains("iam:ListAccessKeys"),
        "{}",
        quiet.stderr
    );
}

/// Issue 31, point 4: `-vv` adds the SDK's own debug lines (its attempts), redacted
/// like every other line; `-v` does not.
#[test]
fn very_verbose_adds_the_sdks_own_lines() {
    let home = Home::new();
    let (_, key) = home.user_in_credentials("veryverbose");
    let run = home.rekey(&["plan", "-vv"]).success();
    assert!(
        run.stderr.contains("beginning attempt #1"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(&key.secret));
    let verbose = home.rekey(&["plan", "-v"]).success();
    assert!(
        !verbose.stderr.contains("beginning attempt"),
        "{}",
        verbose.stderr
    );
}

/// Issue 31, point 4: a wait is never silent for long. An AWS call still unanswered
/// after a moment is said without -v (here STS answers after 6 s).
#[test]
fn a_slow_answer_is_said_without_verbose() {
    let proxy = crate::proxy::FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    home.user_in_credentials("slowanswer");
    proxy.set(|f| {
        f.slow.insert("GetCallerIdentity", Duration::from_secs(6));
    });
    home.rekey(&["plan"])
        .success()
        .stderr_has("still waiting for sts:GetCallerIdentity after 3 s");
}
