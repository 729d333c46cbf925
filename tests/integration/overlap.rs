//! An overlap period (`overlap:`): the old key stays active after the rotation so every
//! machine can pick up the new key; prune deactivates it when the overlap ends, unless
//! something used it since, and deletes it a grace period later.

use crate::support::*;

fn with_overlap(home: &Home, user: &str, overlap: &str, grace: &str) {
    home.manifest(
        &Manifest::new()
            .defaults(&format!("overlap: {overlap}"))
            .defaults(&format!("grace: {grace}"))
            .profile(Profile::new(user)),
    );
}

#[test]
fn the_old_key_stays_active_through_the_overlap_then_is_deactivated_then_deleted() {
    let home = Home::new();
    let (user, old) = home.user_in_credentials("overlap");
    with_overlap(&home, &user, "2s", "1h");
    home.rekey(&["plan"])
        .success()
        .stdout_has("active for the overlap (2s)");
    home.rekey(&["apply", "--yes"])
        .success()
        .stdout_has(&format!("old key {} still works until", old.id));
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&old.id, true), (&new.id, true)]),
        "both keys work during the overlap"
    );
    home.rekey(&["status"])
        .success()
        .stdout_has(&format!("old   {} active in its overlap since", old.id));
    let plan = home.rekey(&["plan", "--output", "json"]).success().json();
    let reason = plan["profiles"][0]["decision"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("(overlap)"),
        "no second rotation meanwhile: {plan}"
    );

    let outcome = prune_outcome(&home, &old.id, &[]);
    assert_eq!(outcome["outcome"], "deactivated", "{outcome}");
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&old.id, false), (&new.id, true)])
    );
    // Deleted a grace period after the deactivation, not after the rotation.
    home.rekey(&["prune", "--yes"])
        .success()
        .stdout_has("No old key is due yet");
    let status = home.rekey(&["status", "--output", "json"]).success().json();
    let pending = &status["profiles"][0]["pending"][0];
    assert_eq!(pending["key_id"], old.id.as_str(), "{status}");
    assert!(
        pending.get("overlap_since").is_none(),
        "deactivated: {status}"
    );
}

#[test]
fn a_use_after_the_rotation_keeps_the_old_key_active_unless_forced() {
    let home = Home::new();
    let (user, old) = home.user_in_credentials("overlapused");
    with_overlap(&home, &user, "1s", "0");
    home.rekey(&["apply", "--yes"]).success();
    // A machine that has not picked up the new key yet.
    moto().use_key(&old, &user);
    let outcome = prune_outcome(&home, &old.id, &[]);
    assert_eq!(outcome["outcome"], "kept", "{outcome}");
    let reason = outcome["reason"].as_str().unwrap();
    assert!(
        reason.contains("after the rotation") && reason.contains("(iam, us-east-1)"),
        "names the use: {reason}"
    );
    assert!(moto().keys(&user).contains(&(old.id.clone(), true)));

    // --force deactivates it; grace 0 deletes it in the same run.
    let new = key_in(&home.credentials(), &user).unwrap();
    let outcome = prune_outcome(&home, &old.id, &["--force"]);
    assert_eq!(outcome["outcome"], "deleted", "{outcome}");
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
}

#[test]
fn a_rotation_in_its_overlap_can_be_rolled_back() {
    let home = Home::new();
    let (user, old) = home.user_in_credentials("overlaprollback");
    with_overlap(&home, &user, "1d", "1d");
    home.rekey(&["apply", "--yes"]).success();
    // rekey's own calls with the new key count as uses (IAM keeps one date): --force.
    home.rekey(&["rollback", &user, "--yes", "--force"])
        .success();
    assert_eq!(key_in(&home.credentials(), &user).unwrap(), old);
    assert_eq!(moto().keys(&user), key_set(&[(&old.id, true)]));
    assert!(home.state_files().is_empty(), "{:?}", home.state_files());
}

#[test]
fn compromised_ignores_the_overlap() {
    // Through the proxy, which refuses a deleted key as AWS does (the response waits
    // for that).
    let proxy = crate::proxy::FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (user, old) = home.user_in_credentials("overlapleak");
    with_overlap(&home, &user, "1d", "1d");
    home.rekey(&["apply", "--yes", "--compromised"]).success();
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(new, old);
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
}
