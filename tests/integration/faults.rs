//! Faults from AWS, end to end through the fault proxy: each ends in a completed
//! rotation or a full rollback, never in between.

use std::time::Duration;

use crate::proxy::FaultProxy;
use crate::support::*;

/// A user with one key in ~/.aws/credentials, talking to AWS through a fresh proxy.
fn through_proxy(name: &str) -> (Home, FaultProxy, String, TestKey) {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let user = unique(name);
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    (home, proxy, user, key)
}

#[track_caller]
fn assert_rotated(home: &Home, user: &str, old: &TestKey) {
    let new_key = key_in(&home.credentials(), user).unwrap();
    assert_ne!(&new_key, old);
    let expected = key_set(&[(&old.id, false), (&new_key.id, true)]);
    assert_eq!(moto().keys(user), expected);
}

#[track_caller]
fn assert_unchanged(home: &Home, user: &str, old: &TestKey) {
    assert_eq!(home.credentials(), section(user, old));
    assert_eq!(
        moto().keys(user),
        vec![(old.id.clone(), true)],
        "old key Active, no other key"
    );
}

#[test]
fn throttling_bursts_and_server_errors_are_retried() {
    let (home, proxy, user, key) = through_proxy("throttled");
    proxy.set(|f| {
        f.throttle.insert("ListAccessKeys", 2);
        f.throttle.insert("GetCallerIdentity", 2);
        f.server_error.insert("UpdateAccessKey", (503, 2));
        f.server_error.insert("GetAccessKeyLastUsed", (500, 1));
    });
    home.rekey(&["apply", "--yes"])
        .success()
        .stdout_has("Done: 1 rotated");
    assert_rotated(&home, &user, &key);
    assert!(
        proxy.count("UpdateAccessKey") >= 3,
        "the deactivation was retried"
    );
}

#[test]
fn dropped_connections_are_retried() {
    let (home, proxy, user, key) = through_proxy("reset");
    proxy.set(|f| {
        f.reset.insert("GetCallerIdentity", 1);
        f.reset.insert("ListAccessKeys", 1);
    });
    home.rekey(&["apply", "--yes"]).success();
    assert_rotated(&home, &user, &key);
}

#[test]
fn a_lost_create_answer_leaves_no_orphan_key() {
    let (home, proxy, user, key) = through_proxy("ambiguous");
    // IAM creates the key, but its answer (and so the secret) never arrives.
    proxy.set(|f| {
        f.lose_answer.insert("CreateAccessKey", 1);
    });
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("whose secret never arrived")
        // A deletion is a change, and said so (issue 17, defect 6).
        .stdout_has("created without its secret was deleted; nothing else was changed");
    assert_unchanged(&home, &user, &key);
    assert_eq!(
        proxy.count("CreateAccessKey"),
        1,
        "never retried: a retry could create a second key"
    );
}

#[test]
fn propagation_delay_is_waited_out() {
    let (home, proxy, user, key) = through_proxy("propagating");
    proxy.propagation(Duration::from_secs(3));
    let run = home.rekey(&["apply", "--yes"]).success();
    assert_rotated(&home, &user, &key);
    // "new key … works (N calls, 3.4s)": the proof waited instead of failing.
    let seconds: f64 = run
        .stdout
        .split(" calls, ")
        .nth(1)
        .and_then(|rest| rest.split('s').next())
        .and_then(|s| s.parse().ok())
        .expect("the proof reports its duration");
    assert!(seconds >= 3.0, "{}", run.stdout);
}

#[test]
fn propagation_beyond_the_timeout_rolls_back() {
    let (home, proxy, user, key) = through_proxy("never-propagates");
    proxy.propagation(Duration::from_secs(60));
    home.write(
        "project/rekey.yaml",
        &format!("version: 1\nprofiles:\n  {user}:\n    propagation: {{ timeout: 2s }}\n"),
    );
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("InvalidClientTokenId")
        .stdout_has("rolled back")
        .stdout_has("deleted new key");
    assert_unchanged(&home, &user, &key);
}

#[test]
fn access_denied_names_the_missing_permission_and_changes_nothing() {
    let (home, proxy, user, key) = through_proxy("denied");
    proxy.set(|f| {
        f.deny.insert("CreateAccessKey");
    });
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("iam:CreateAccessKey failed: AccessDenied")
        .stdout_has("needs permission for iam:CreateAccessKey on its own user; see the IAM policy in rekey's docs/security.md");
    assert_unchanged(&home, &user, &key);

    proxy.set(|f| {
        f.deny.clear();
        f.deny.insert("ListAccessKeys");
    });
    home.rekey(&["plan"])
        .code(1)
        .stdout_has("needs permission for iam:ListAccessKeys");
}

#[test]
fn latency_only_slows_things_down() {
    let (home, proxy, user, key) = through_proxy("slow");
    proxy.set(|f| f.latency = Duration::from_millis(200));
    home.rekey(&["apply", "--yes"]).success();
    assert_rotated(&home, &user, &key);
}

#[test]
fn a_denied_deactivation_rolls_everything_back() {
    let (home, proxy, user, key) = through_proxy("no-deactivate");
    proxy.set(|f| {
        f.deny.insert("UpdateAccessKey");
    });
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("iam:UpdateAccessKey failed: AccessDenied")
        .stdout_has("rolled back")
        .stdout_has("restored credentials file")
        .stdout_has("deleted new key");
    assert_unchanged(&home, &user, &key);
    assert!(home.state_files().is_empty(), "{:?}", home.state_files());
}

/// Issue 17, defect 6: a definitive `LimitExceeded` ran the lost-answer cleanup, which
/// deleted the key another machine had created meanwhile, and said nothing changed.
#[test]
fn a_definitive_refusal_of_the_create_never_deletes_another_machines_key() {
    let (home, proxy, user, key) = through_proxy("limit-race");
    // Hold our CreateAccessKey long enough for "another machine" to create a key first;
    // IAM then refuses ours with LimitExceeded (two keys already).
    proxy.set(|f| {
        f.slow.insert("CreateAccessKey", Duration::from_secs(3));
    });
    let mut rekey = home.run(&["apply", "--yes"]).start(false);
    eventually(
        Duration::from_secs(30),
        "rekey sends CreateAccessKey",
        || proxy.count("CreateAccessKey") == 1,
    );
    let theirs = moto().create_key(&user);
    let status = rekey.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&key.id, true), (&theirs.id, true)]),
        "the other machine's key is kept"
    );
    assert_eq!(home.credentials(), section(&user, &key));
}
