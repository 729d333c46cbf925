//! Many machines must never destroy a key in use (issue 17). What another machine wrote
//! (a tag, a record, a time) is a claim; before rekey deactivates or deletes a key,
//! IAM's own facts must agree. Each test here failed on the code before the fix it
//! names. Homes play machines: each has its own state dir and credentials file.

use std::time::{Duration, SystemTime};

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;

use crate::support::*;

const HOUR: Duration = Duration::from_secs(3600);

fn shared_state(user: &str, settings: &[&str]) -> Manifest {
    let mut manifest = Manifest::new().top("state: iam");
    for line in settings {
        manifest = manifest.defaults(line);
    }
    manifest.profile(Profile::new(user))
}

/// Defect 3: a forged `rekey:pending:` tag (anyone with iam:TagUser can write one) made
/// prune deactivate the user's newest key.
#[test]
fn a_forged_tag_never_deactivates_the_users_newest_key() {
    let c = Home::new();
    let (user, older) = c.user_in_credentials("forgednewest");
    c.manifest(&shared_state(&user, &[]));
    // Another machine made (and uses) the user's newest key.
    let newest = moto().create_key(&user);
    let now = SystemTime::now();
    moto().tag_user(
        &user,
        &format!("rekey:pending:{}", newest.id),
        &format!(
            "{}/{}/{}/{}",
            rfc3339(now - HOUR),
            rfc3339(now),
            rfc3339(now - 2 * HOUR),
            older.id
        ),
    );
    let outcome = prune_outcome(&c, &newest.id, &[]);
    assert_eq!(outcome["outcome"], "kept", "{outcome}");
    assert!(
        outcome["reason"].as_str().unwrap().contains("not acted on"),
        "{outcome}"
    );
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&older.id, true), (&newest.id, true)])
    );
}

/// Defect 3: a forged tag on a key a person deactivated made apply delete it without
/// --make-room.
#[test]
fn a_forged_tag_never_lets_apply_delete_a_key_a_person_deactivated() {
    let c = Home::new();
    let (user, current) = c.user_in_credentials("forgedroom");
    c.manifest(&shared_state(&user, &[]));
    let persons = moto().create_key(&user);
    moto().set_active(&user, &persons.id, false);
    let now = SystemTime::now();
    moto().tag_user(
        &user,
        &format!("rekey:pending:{}", persons.id),
        &format!("{}/{}", rfc3339(now - 2 * HOUR), rfc3339(now - HOUR)),
    );
    let json = c
        .rekey(&["apply", "--yes", "--output", "json"])
        .code(1)
        .json();
    assert_eq!(json["results"][0]["error_kind"], "no_room", "{json}");
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&current.id, true), (&persons.id, false)])
    );
}

/// Defect 4: make-room deleted an old key rekey deactivated while its grace period
/// still ran (and so ended the chance to roll back), or while IAM saw it used after its
/// deactivation.
#[test]
fn make_room_deletes_only_what_prune_would() {
    let home = Home::new();
    let (user, first) = home.user_in_credentials("roomgrace");
    home.rekey(&["apply", "--yes", "--grace", "1h"]).success();
    let second = key_in(&home.credentials(), &user).unwrap();
    let rotated_once = key_set(&[(&first.id, false), (&second.id, true)]);
    // Its grace period runs: nothing is wrong, and nothing is rotated.
    let json = home
        .rekey(&["apply", "--yes", "--output", "json"])
        .success()
        .json();
    assert_eq!(json["results"][0]["status"], "skipped", "{json}");
    let reason = json["results"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("can be rolled back to until") && reason.contains("--make-room"),
        "{reason}"
    );
    assert_eq!(moto().keys(&user), rotated_once);
    // Used after rekey deactivated it (something still holds it): no room, an error.
    moto().set_active(&user, &first.id, true);
    moto().use_key(&first, &user);
    moto().set_active(&user, &first.id, false);
    let json = home
        .rekey(&["apply", "--yes", "--output", "json"])
        .code(1)
        .json();
    assert_eq!(json["results"][0]["error_kind"], "no_room", "{json}");
    assert_eq!(moto().keys(&user), rotated_once);
    // The explicit override still works.
    home.rekey(&["apply", "--yes", "--make-room"])
        .success()
        .stdout_has(&format!("deleted inactive key {} to make room", first.id));
    assert!(!moto().keys(&user).iter().any(|(id, _)| *id == first.id));
}

/// Defect 7: `apply --compromised` during an overlap replaced nothing and exited 0,
/// leaving both possibly leaked keys active.
#[test]
fn a_leak_response_during_an_overlap_ends_it_and_replaces_the_key() {
    // Through the proxy, which refuses a deleted key as AWS does (the response waits
    // for that).
    let proxy = crate::proxy::FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (user, first) = home.user_in_credentials("leakoverlap");
    home.manifest(
        &Manifest::new()
            .defaults("overlap: 1d")
            .profile(Profile::new(&user)),
    );
    home.rekey(&["apply", "--yes"]).success();
    let second = key_in(&home.credentials(), &user).unwrap();
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&first.id, true), (&second.id, true)])
    );
    home.rekey(&["apply", "--yes", "--compromised"])
        .success()
        .stdout_has(&format!(
            "deactivated the last rotation's old key {}",
            first.id
        ));
    let third = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(third, second);
    assert_eq!(moto().keys(&user), key_set(&[(&third.id, true)]));
}

/// Defect 11: rollback during an overlap deleted the new key that another machine had
/// already picked up.
#[test]
fn rollback_during_an_overlap_keeps_a_new_key_another_machine_uses() {
    let a = Home::new();
    let (user, old) = a.user_in_credentials("rollbackused");
    a.manifest(
        &Manifest::new()
            .defaults("overlap: 1d")
            .profile(Profile::new(&user)),
    );
    a.rekey(&["apply", "--yes"]).success();
    let new = key_in(&a.credentials(), &user).unwrap();
    // Machine B picked up the new key and uses it.
    moto().use_key(&new, &user);
    let both = key_set(&[(&old.id, true), (&new.id, true)]);
    a.rekey(&["rollback", &user, "--yes"])
        .code(1)
        .stderr_has("after the rotation")
        .stderr_has("--force");
    assert_eq!(moto().keys(&user), both, "nothing changed");
    assert_eq!(key_in(&a.credentials(), &user).unwrap(), new);
    // Told that nothing else uses it, rollback goes ahead.
    a.rekey(&["rollback", &user, "--yes", "--force"]).success();
    assert_eq!(moto().keys(&user), key_set(&[(&old.id, true)]));
}

/// The environment that runs rekey with its clock `offset` ahead (libfaketime).
fn clock_ahead(offset: &str) -> Vec<(&'static str, String)> {
    let library = ["x86_64-linux-gnu", "aarch64-linux-gnu"]
        .iter()
        .map(|arch| format!("/usr/lib/{arch}/faketime/libfaketime.so.1"))
        .find(|path| std::path::Path::new(path).exists())
        .expect("libfaketime is missing: run ./scripts/setup-system (apt-get install faketime)");
    vec![
        ("LD_PRELOAD", library),
        ("FAKETIME", format!("+{offset}")),
        // Timeouts and backoff stay on the real monotonic clock.
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1".to_owned()),
    ]
}

/// Defect 2: a machine whose clock was 2 h ahead wrote its overlap mark in the future,
/// so a later use of the old key was ignored and the key deactivated.
#[test]
fn a_machine_whose_clock_is_ahead_does_not_hide_a_use_of_the_old_key() {
    let ahead = clock_ahead("2h");
    let ahead: Vec<(&str, &str)> = ahead.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = Home::new();
    let (user, old) = a.user_in_credentials("skewed");
    a.manifest(&shared_state(&user, &["overlap: 2s", "grace: 1h"]));
    a.run(&["apply", "--yes"]).envs(&ahead).output().success();
    // The shared record holds AWS's times, not the skewed clock's.
    let tags = moto().tags(&user);
    let since = tags[0].1.split('/').nth(2).unwrap().to_owned();
    let since = DateTime::from_str(&since, Format::DateTime).unwrap();
    let since = SystemTime::try_from(since).unwrap();
    assert!(
        since < SystemTime::now() + Duration::from_secs(60),
        "{tags:?}"
    );
    // Something still uses the old key after the rotation.
    moto().use_key(&old, &user);
    // Once the overlap is over by AWS's clock, prune names the use and keeps the key.
    eventually(Duration::from_secs(20), "prune names the use", || {
        let json = a
            .run(&["prune", "--yes", "--output", "json"])
            .envs(&ahead)
            .output()
            .success()
            .json();
        let outcome = &json["pruned"][0];
        assert_ne!(outcome["outcome"], "deactivated", "{json}");
        outcome["reason"]
            .as_str()
            .is_some_and(|r| r.contains("after the rotation"))
    });
    assert!(moto().keys(&user).contains(&(old.id.clone(), true)));
}
