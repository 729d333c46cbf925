//! The verification command: the user's own check of the new key before the old one goes.

use std::os::unix::fs::PermissionsExt;

use crate::support::*;

/// A home with one user and a manifest whose profile runs `script` as its check.
fn with_check(name: &str, script: &str, timeout: &str) -> (Home, String, TestKey) {
    let home = Home::new();
    let user = unique(name);
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    home.write("project/check", &format!("#!/bin/sh\n{script}\n"));
    std::fs::set_permissions(
        home.path("project/check"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    home.write(
        "project/rekey.yaml",
        &format!("version: 1\ndefaults:\n  verify: {{ command: [./check, --fast], timeout: {timeout} }}\nprofiles:\n  {user}: {{}}\n"),
    );
    (home, user, key)
}

#[test]
fn a_passing_check_sees_the_new_key_and_the_rotation_completes() {
    // The check sees the new key in its environment and in the file, AWS_PROFILE set,
    // and no session token (rekey's own environment has one, below).
    let (home, user, key) = with_check(
        "verified",
        "set -e\n[ \"$1\" = --fast ]\n[ \"$AWS_PROFILE\" = \"$REKEY_TEST_USER\" ]\n[ -z \"${AWS_SESSION_TOKEN+x}\" ]\n\
         grep -q \"aws_access_key_id = $AWS_ACCESS_KEY_ID\" \"$AWS_SHARED_CREDENTIALS_FILE\"\n\
         grep -q \"aws_secret_access_key = $AWS_SECRET_ACCESS_KEY\" \"$AWS_SHARED_CREDENTIALS_FILE\"",
        "30s",
    );
    home.rekey(&["plan"])
        .success()
        .stdout_has("with the new key (at most 30s); roll back if it fails");
    home.run(&["apply", "--yes"])
        .envs(&[
            ("REKEY_TEST_USER", &user),
            ("AWS_SESSION_TOKEN", "stale-token"),
        ])
        .output()
        .success()
        .stdout_has("verification `")
        .stdout_has("passed");
    let new_key = key_in(&home.credentials(), &user).unwrap();
    let expected = key_set(&[(&key.id, false), (&new_key.id, true)]);
    assert_eq!(moto().keys(&user), expected);
}

#[test]
fn a_failing_check_rolls_back_and_its_output_is_redacted() {
    let (home, user, key) = with_check(
        "unverified",
        "echo \"app says no to $AWS_SECRET_ACCESS_KEY\"\nexit 3",
        "30s",
    );
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("failed (exit status: 3)")
        .stdout_has("app says no to [REDACTED]")
        .stdout_has("rolled back");
    assert_eq!(moto().keys(&user), vec![(key.id.clone(), true)]);
    assert_eq!(home.credentials(), section(&user, &key));
    assert!(home.state_files().is_empty(), "{:?}", home.state_files());
}

#[test]
fn a_check_that_hangs_is_stopped_and_rolled_back() {
    let (home, user, key) = with_check("hung", "exec sleep 600", "1s");
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("timed out after 1s")
        .stdout_has("rolled back");
    assert_eq!(moto().keys(&user), vec![(key.id.clone(), true)]);
    assert_eq!(home.credentials(), section(&user, &key));
}

/// How long `rekey ARGS` took, and its run.
fn timed(home: &Home, args: &[&str]) -> (std::time::Duration, Run) {
    let started = std::time::Instant::now();
    let run = home.rekey(args);
    (started.elapsed(), run)
}

#[test]
fn the_timeout_holds_for_a_script_whose_child_hangs() {
    // `sleep` is a child of the script: killing the script alone left it holding the
    // pipes, and rekey waited for it.
    let (home, user, key) = with_check("grandchild", "sleep 60\nexit 0", "2s");
    let (took, run) = timed(&home, &["apply", "--yes"]);
    run.code(1)
        .stdout_has("timed out after 2s")
        .stdout_has("rolled back");
    assert!(
        took < std::time::Duration::from_secs(30),
        "a 2 s timeout took {took:?}"
    );
    assert_eq!(moto().keys(&user), vec![(key.id.clone(), true)]);
}

#[test]
fn a_check_that_passes_but_leaves_a_job_running_is_not_waited_for() {
    let (home, user, key) = with_check("background", "sleep 60 &\nexit 0", "30s");
    let (took, run) = timed(&home, &["apply", "--yes"]);
    run.success().stdout_has("passed");
    assert!(
        took < std::time::Duration::from_secs(30),
        "apply waited for the background job: {took:?}"
    );
    let new_key = key_in(&home.credentials(), &user).unwrap();
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&key.id, false), (&new_key.id, true)])
    );
}

#[test]
fn a_flood_of_output_is_cut_to_what_a_person_can_read() {
    let (home, _, _) = with_check(
        "flood",
        "head -c 5000000 /dev/zero | tr '\\0' 'x'\nexit 1",
        "30s",
    );
    let run = home.rekey(&["apply", "--yes"]).code(1);
    run.stdout
        .contains("rolled back")
        .then_some(())
        .expect("rolled back");
    assert!(
        run.stdout.len() < 200_000,
        "5 MB of output was not cut: {} bytes",
        run.stdout.len()
    );
}
