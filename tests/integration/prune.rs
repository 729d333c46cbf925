//! Deleting old keys after their grace period, and only when it is safe.

use std::time::Duration;

use crate::support::*;

fn rotated_with_grace(grace: &str) -> (Home, String, TestKey) {
    let home = Home::new();
    let user = unique("prune");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    home.rekey(&["apply", "--yes", "--grace", grace]).success();
    (home, user, key)
}

#[test]
fn nothing_is_deleted_before_the_grace_period_ends() {
    let (home, user, old) = rotated_with_grace("1h");
    home.rekey(&["prune", "--yes"])
        .success()
        .stdout_has("No old keys are due");
    assert!(moto().keys(&user).contains(&(old.id.clone(), false)));
}

#[test]
fn the_old_key_is_deleted_after_the_grace_period() {
    let (home, user, old) = rotated_with_grace("1s");
    let new_key = key_in(&home.credentials(), &user).unwrap();
    eventually(Duration::from_secs(15), "old key pruned", || {
        let json = home
            .rekey(&["prune", "--yes", "--output", "json"])
            .success()
            .json();
        assert_eq!(json["schema"], 1, "{json}");
        // Before the deletion is due the list is empty; then it names the key.
        json["pruned"].as_array().is_some_and(|pruned| {
            pruned.iter().any(|p| {
                p["key_id"] == old.id.as_str()
                    && p["outcome"] == "deleted"
                    && p["profile"] == user.as_str()
            })
        })
    });
    assert_eq!(moto().keys(&user), vec![(new_key.id, true)]);
    assert!(home.state_files().is_empty(), "{:?}", home.state_files());
}

#[test]
fn apply_prunes_due_keys_first_and_plan_shows_them() {
    let (home, user, old) = rotated_with_grace("1s");
    eventually(Duration::from_secs(15), "deletion due", || {
        home.rekey(&["plan"]).success().stdout.contains(&format!(
            "{} of {}",
            old.id,
            moto().user_arn(&user)
        ))
    });
    home.rekey(&["apply", "--yes", "--grace", "1h"])
        .success()
        .stdout_has(&format!("pruned: deleted old key {}", old.id));
    assert_eq!(
        moto().keys(&user).len(),
        2,
        "one pruned, one new, one inactive: {:?}",
        moto().keys(&user)
    );
    assert!(!moto().keys(&user).iter().any(|(id, _)| *id == old.id));
}

#[test]
fn a_reactivated_key_is_kept_with_a_warning() {
    let (home, user, old) = rotated_with_grace("1s");
    moto().set_active(&user, &old.id, true);
    eventually(Duration::from_secs(15), "prune warns", || {
        home.rekey(&["prune", "--yes"])
            .success()
            .stdout
            .contains("Active again")
    });
    assert!(
        moto().keys(&user).contains(&(old.id.clone(), true)),
        "an active key is never deleted"
    );
}
