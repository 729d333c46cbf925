//! IAM allows two keys per user; rekey makes room only when it is safe.

use crate::support::*;

#[test]
fn another_active_key_stops_the_profile_and_changes_nothing() {
    let home = Home::new();
    let user = unique("twoactive");
    let key = moto().create_user(&user);
    let spare = moto().create_key(&user);
    home.write_credentials(&section(&user, &key));
    home.rekey(&["plan"])
        .code(1)
        .stdout_has(&format!("another active key {}", spare.id))
        .stdout_has("never used");
    let apply = home
        .rekey(&["apply", "--yes", "--make-room"])
        .code(1)
        .stdout_has(&format!("profile {user}: ERROR"))
        .stdout_has(&spare.id);
    // Nothing rotates, so apply shows the plan; the failure is said once.
    assert_eq!(
        apply.stdout.matches("another active key").count(),
        1,
        "{}",
        apply.stdout
    );
    let expected = key_set(&[(&key.id, true), (&spare.id, true)]);
    assert_eq!(moto().keys(&user), expected, "never delete an active key");
    assert_eq!(home.credentials(), section(&user, &key));
}

#[test]
fn an_unknown_inactive_key_is_deleted_only_with_make_room() {
    let home = Home::new();
    let user = unique("makeroom");
    let key = moto().create_user(&user);
    let stale = moto().create_key(&user);
    moto().set_active(&user, &stale.id, false);
    home.write_credentials(&section(&user, &key));

    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("--make-room");
    assert_eq!(
        moto().keys(&user).len(),
        2,
        "nothing deleted without --make-room"
    );

    home.rekey(&["apply", "--yes", "--make-room"])
        .success()
        .stdout_has(&format!("deleted inactive key {} to make room", stale.id));
    let new_key = key_in(&home.credentials(), &user).unwrap();
    let expected = key_set(&[(&key.id, false), (&new_key.id, true)]);
    assert_eq!(moto().keys(&user), expected);
}

#[test]
fn a_key_rekey_deactivated_earlier_is_deleted_first() {
    let home = Home::new();
    let user = unique("twice");
    let first = moto().create_user(&user);
    home.write_credentials(&section(&user, &first));
    home.rekey(&["apply", "--yes", "--grace", "1h"]).success();
    let second = key_in(&home.credentials(), &user).unwrap();

    // Once its grace period is over (make-room deletes only what prune would).
    let step = format!(
        "delete inactive key {} to make room (deactivated by rekey in an earlier rotation)",
        first.id
    );
    assert!(!home.rekey(&["plan"]).stdout.contains(&step), "not before");
    home.rekey_later(1, &["plan"]).stdout_has(&step);
    home.rekey_later(1, &["apply", "--yes"])
        .success()
        .stdout_has("Done: 1 rotated");
    let third = key_in(&home.credentials(), &user).unwrap();
    let expected = key_set(&[(&second.id, false), (&third.id, true)]);
    assert_eq!(moto().keys(&user), expected);
    // The first old key and its history are gone; the second awaits deletion.
    assert_eq!(
        home.state_files(),
        vec![
            format!("history/{}/0", second.id),
            format!("pending/{}.json", second.id)
        ]
    );
}
