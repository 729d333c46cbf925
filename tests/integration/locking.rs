//! Two rekey processes never rotate the same user (or write the same file) at once.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::support::*;

/// A user whose rotation holds its lock for `hold` seconds, inside the verification
/// command (which first creates `~/project/started`).
fn slow_rotation(name: &str, hold: u32) -> (Home, String, TestKey) {
    let home = Home::new();
    let user = unique(name);
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    home.write(
        "project/hold",
        &format!("#!/bin/sh\ntouch started\nexec sleep {hold}\n"),
    );
    std::fs::set_permissions(
        home.path("project/hold"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    home.write(
        "project/rekey.yaml",
        &format!("version: 1\nprofiles:\n  {user}:\n    verify: {{ command: [./hold] }}\n"),
    );
    (home, user, key)
}

#[test]
fn a_second_apply_for_the_same_user_gives_up_naming_the_holder() {
    let (home, user, key) = slow_rotation("locked", 3);
    let mut first = home.run(&["apply", "--yes"]).start(false);
    eventually(
        Duration::from_secs(20),
        "the first apply holds the lock",
        || home.path("project/started").exists(),
    );

    // The second finds the first one's journal, waits for its lock, and gives up.
    home.rekey(&["apply", "--yes", "--lock-timeout", "1s"])
        .code(1)
        .stdout_has(&format!(
            "is in use by another rekey process (pid {})",
            first.id()
        ));

    assert!(first.wait().unwrap().success(), "the first apply completes");
    let new_key = key_in(&home.credentials(), &user).unwrap();
    let expected = key_set(&[(&key.id, false), (&new_key.id, true)]);
    assert_eq!(
        moto().keys(&user),
        expected,
        "exactly one rotation happened"
    );
}

#[test]
fn a_second_apply_that_waits_rotates_after_the_first() {
    let (home, user, key) = slow_rotation("waiter", 1);
    let mut first = home.run(&["apply", "--yes"]).start(false);
    eventually(
        Duration::from_secs(20),
        "the first apply holds the lock",
        || home.path("project/started").exists(),
    );

    // It waits for the first rotation to end, then plans from what that left behind
    // (whose grace period runs: deleting it takes --make-room).
    let second = home
        .rekey(&["apply", "--yes", "--make-room", "--lock-timeout", "30s"])
        .success();
    assert!(first.wait().unwrap().success());
    second.stdout_has(&format!("deleted inactive key {} to make room", key.id));
    let keys = moto().keys(&user);
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(
        !keys.iter().any(|(id, _)| *id == key.id),
        "the first old key was deleted: {keys:?}"
    );
}
