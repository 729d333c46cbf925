//! Deleting old keys after their grace period, and only when it is safe.

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
        .stdout_has("No old key is due yet: 1 waits")
        .stdout_has(&format!("the next is the deletion of {}", old.id))
        .stdout_has("rekey prune --now");
    assert!(moto().keys(&user).contains(&(old.id.clone(), false)));
}

/// Issue 31, point 2: apply says the old key no longer works and what deletes it when;
/// `prune --now` ends the grace period early, every other rule of prune still applying.
#[test]
fn prune_now_ends_the_grace_period_early() {
    let home = Home::new();
    let (user, old) = home.user_in_credentials("prunenow");
    home.rekey(&["apply", "--yes", "--grace", "7d"])
        .success()
        .stdout_has(&format!("old key {} no longer works (inactive)", old.id))
        .stdout_has("Next: `rekey prune` on or after ");
    let new = key_in(&home.credentials(), &user).unwrap();
    home.rekey(&["prune", "--yes", "--now"])
        .success()
        .stdout_has(&format!("deleted old key {}", old.id));
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
    home.rekey(&["prune", "--yes"])
        .success()
        .stdout_has("No old key waits for deletion.");
}

#[test]
fn the_old_key_is_deleted_after_the_grace_period() {
    let (home, user, old) = rotated_with_grace("1h");
    let new_key = key_in(&home.credentials(), &user).unwrap();
    let prune = ["prune", "--yes", "--output", "json"];
    // Before the deletion is due the list is empty; then it names the key.
    let json = home.rekey(&prune).success().json();
    assert_eq!(json["pruned"], serde_json::json!([]), "{json}");
    let json = home.rekey_later(1, &prune).success().json();
    assert_eq!(json["schema"], 1, "{json}");
    assert_eq!(json["pruned"][0]["key_id"], old.id.as_str(), "{json}");
    assert_eq!(json["pruned"][0]["outcome"], "deleted", "{json}");
    assert_eq!(json["pruned"][0]["profile"], user.as_str(), "{json}");
    assert_eq!(moto().keys(&user), vec![(new_key.id, true)]);
    assert!(home.state_files().is_empty(), "{:?}", home.state_files());
}

#[test]
fn apply_prunes_due_keys_first_and_plan_shows_them() {
    let (home, user, old) = rotated_with_grace("1h");
    let due = format!("{} of {}", old.id, moto().user_arn(&user));
    assert!(!home.rekey(&["plan"]).success().stdout.contains(&due));
    home.rekey_later(1, &["plan"]).success().stdout_has(&due);
    home.rekey_later(1, &["apply", "--yes", "--grace", "1h"])
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
    let (home, user, old) = rotated_with_grace("1h");
    moto().set_active(&user, &old.id, true);
    home.rekey_later(1, &["prune", "--yes"])
        .success()
        .stdout_has("Active again");
    assert!(
        moto().keys(&user).contains(&(old.id.clone(), true)),
        "an active key is never deleted"
    );
}

/// Issue 32, point 5: apply's prune signs as planning resolved the profile's user: STS
/// is asked whose the key is once per run, not again by prune.
#[test]
fn apply_asks_sts_whose_key_it_is_once_and_prune_reuses_it() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials("resolvedonce");
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\ndefaults:\n  grace: 1d\n  max_age: 30d\nprofiles:\n  {user}:\n    sinks: [{{type: credentials_file}}]\n"
        ),
    );
    home.rekey(&["apply", "--yes", "--now"]).success();
    // A day later the old key is due; the new key is young, so apply only prunes.
    let run = home.rekey_later(25, &["apply", "--yes", "-v"]).success();
    assert!(run.stdout.contains("deleted old key"), "{}", run.stdout);
    let asked = run.stderr.matches("sts:GetCallerIdentity").count();
    assert_eq!(asked, 1, "{}", run.stderr);
}
