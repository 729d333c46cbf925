//! `state: s3://BUCKET/PREFIX`: a lease per IAM user in S3 (conditional writes, which
//! moto's S3 honours) orders every machine's commands on that user (issue 17, defect
//! 5). Homes play machines; a lease another machine left is planted in the bucket as
//! that machine would have written it.

use std::time::{Duration, SystemTime};

use crate::proxy::FaultProxy;
use crate::support::*;

/// A bucket of its own for the test.
fn bucket(name: &str) -> String {
    let bucket = unique(&format!("rekey-{name}"));
    moto().create_bucket(&bucket);
    bucket
}

fn s3_manifest(bucket: &str, user: &str, settings: &[&str]) -> Manifest {
    s3_manifest_with_lease(bucket, user, settings, "3s")
}

fn s3_manifest_with_lease(bucket: &str, user: &str, settings: &[&str], lease: &str) -> Manifest {
    let mut manifest = Manifest::new()
        .top(&format!("state: s3://{bucket}/team"))
        .top(&format!("state_lease: {lease}"));
    for line in settings {
        manifest = manifest.defaults(line);
    }
    manifest.profile(Profile::new(user))
}

fn lease_key(user: &str) -> String {
    format!("team/locks/123456789012/{user}.json")
}

/// A lease as a rekey on another machine writes it, expiring at `expires`.
fn plant_lease(bucket: &str, user: &str, expires: SystemTime) {
    let body = format!(
        "{{\"holder\":\"ci-runner-7:4242:00ff\",\"host\":\"ci-runner-7\",\"pid\":4242,\"command\":\"apply\",\"expires\":\"{}\"}}",
        rfc3339(expires)
    );
    moto().put_object(bucket, &lease_key(user), &body);
}

#[test]
fn a_rotation_takes_the_lease_and_gives_it_back() {
    let bucket = bucket("lease");
    let home = Home::new();
    let (user, old) = home.user_in_credentials("leased");
    home.manifest(&s3_manifest(&bucket, &user, &["grace: 0"]));
    home.rekey(&["apply", "--yes"]).success();
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(new, old);
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
    assert_eq!(moto().object(&bucket, &lease_key(&user)), None, "released");
}

#[test]
fn a_live_lease_of_another_machine_makes_apply_wait_then_name_it() {
    let bucket = bucket("held");
    let home = Home::new();
    let (user, old) = home.user_in_credentials("heldlease");
    home.manifest(&s3_manifest(&bucket, &user, &[]));
    plant_lease(
        &bucket,
        &user,
        SystemTime::now() + Duration::from_secs(3600),
    );
    let json = home
        .rekey(&["apply", "--yes", "--lock-timeout", "1s", "--output", "json"])
        .code(1)
        .json();
    assert_eq!(json["results"][0]["error_kind"], "busy", "{json}");
    let error = json["results"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("locked by rekey apply on ci-runner-7 (pid 4242)"),
        "{error}"
    );
    assert_eq!(moto().keys(&user), key_set(&[(&old.id, true)]));
}

#[test]
fn the_lease_of_a_killed_machine_is_taken_over_once_it_expires() {
    let bucket = bucket("expired");
    let home = Home::new();
    let (user, old) = home.user_in_credentials("killedholder");
    home.manifest(&s3_manifest(&bucket, &user, &["grace: 0"]));
    // Its holder was killed; nobody renews it, and it expires in two seconds.
    plant_lease(&bucket, &user, SystemTime::now() + Duration::from_secs(2));
    home.rekey(&["apply", "--yes", "--lock-timeout", "30s"])
        .success();
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(new, old);
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
    // Given back expired: for two lease periods it still names the machine that may
    // only be paused, so no later run undoes that machine's rotation meanwhile.
    let left = moto()
        .object(&bucket, &lease_key(&user))
        .expect("left expired");
    let left: serde_json::Value = serde_json::from_str(&left).unwrap();
    assert_eq!(left["paused"]["host"], "ci-runner-7", "{left}");
    let expires = parse_rfc3339(left["expires"].as_str().unwrap());
    assert!(expires <= SystemTime::now(), "expired: {left}");
}

/// Defect 5: prune on one machine and rollback on another, interleaved, left the user
/// with no key: prune read the old key Inactive, rollback reactivated it and deleted the
/// new key, prune deleted the old key. The lease orders them: the user keeps a key.
#[test]
fn prune_on_one_machine_and_rollback_on_another_leave_the_user_a_key() {
    let bucket = bucket("race");
    // Machine A rotates (grace 1d) and records the deletion of the old key.
    let a = Home::new();
    let (user, old) = a.user_in_credentials("pruneraces");
    a.manifest(&s3_manifest(&bucket, &user, &["grace: 1d"]));
    a.rekey(&["apply", "--yes"]).success();
    let new = key_in(&a.credentials(), &user).unwrap();
    // Machine B holds the new key; its prune's delete reaches IAM only after a while
    // (it has decided, and sent it).
    let proxy = FaultProxy::start();
    let b = Home::new().via(&proxy.endpoint);
    b.write_credentials(&section(&user, &new));
    b.manifest(&s3_manifest(&bucket, &user, &["grace: 1d"]));
    // A day later (the test clock, on both machines), the old key is due on B.
    let later = [("REKEY_TEST_CLOCK_OFFSET", "90000")];
    let plan = b
        .run(&["plan", "--output", "json"])
        .envs(&later)
        .output()
        .json();
    assert_eq!(plan["prune"][0]["key_id"], old.id.as_str(), "{plan}");
    proxy.set(|f| {
        f.slow.insert("DeleteAccessKey", Duration::from_secs(4));
    });
    let prune = b.run(&["prune", "--yes"]).envs(&later).start(true);
    eventually(Duration::from_secs(20), "B's prune is deleting", || {
        proxy.count("DeleteAccessKey") > 0
    });
    // A rolls back meanwhile (directly to AWS, not through B's slow path).
    let rollback = a
        .run(&["rollback", &user, "--yes", "--lock-timeout", "30s"])
        .envs(&later)
        .output();
    b.finish(prune, &["prune", "--yes"]).success();
    let keys = moto().keys(&user);
    assert!(
        keys.iter().any(|(_, active)| *active),
        "the user has a working key: {keys:?}\nrollback: {}{}",
        rollback.stdout,
        rollback.stderr
    );
    // B's prune went first and deleted the old key: the rollback finds it gone and
    // keeps the new key, which both machines' sinks hold.
    assert_eq!(keys, key_set(&[(&new.id, true)]), "{}", rollback.stderr);
    assert_eq!(key_in(&a.credentials(), &user).unwrap(), new);
}

/// A rekey killed in the middle of a rotation leaves its lease behind; nobody renews it,
/// so the run that recovers takes it over once it expires, and gives it back.
#[test]
fn recovery_after_a_kill_takes_over_the_killed_runs_lease() {
    let bucket = bucket("killed");
    let home = Home::new();
    let (user, old) = home.user_in_credentials("killedrun");
    // Long enough that the first, short wait below surely ends before it expires.
    home.manifest(&s3_manifest_with_lease(&bucket, &user, &["grace: 0"], "8s"));
    let crashed = home
        .run(&["apply", "--yes"])
        .envs(&[("REKEY_CRASH_AT", "after-write-0")])
        .output();
    assert_eq!(
        crashed.code, None,
        "killed (build with --features rekey/crash-points)"
    );
    let left = moto()
        .object(&bucket, &lease_key(&user))
        .expect("the lease is left");
    assert!(left.contains("\"command\":\"apply\""), "{left}");

    // Held, and nobody renews it: a short wait fails, naming the killed run.
    home.rekey(&["recover", "--lock-timeout", "1s"])
        .code(1)
        .stdout_has("is locked by rekey apply");
    let json = home
        .rekey(&["recover", "--lock-timeout", "30s", "--output", "json"])
        .success()
        .json();
    assert_eq!(
        json["recovered"][0]["result"]["outcome"], "rolled_forward",
        "{json}"
    );
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(new, old);
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
    assert_eq!(moto().object(&bucket, &lease_key(&user)), None, "released");
}

/// Issue 17, defect 12: a CI runner killed mid-rotation took its state dir with it, and
/// with it the new key's secret and the sinks' backups: the next run could neither
/// finish nor undo the rotation. With `state: s3://…` the journal is copied to the
/// bucket (encrypted with KMS), and a fresh state dir finishes it.
#[test]
fn a_fresh_state_dir_finishes_a_rotation_a_killed_runner_left_in_s3() {
    let bucket = bucket("journal");
    let hub = unique("ci/aws");
    let manifest = |user: &str| {
        Manifest::new()
            .top(&format!("state: s3://{bucket}/team"))
            .top("state_lease: 3s")
            .top("state_kms_key_id: alias/rekey-state")
            .defaults("grace: 0")
            .profile(Profile::new(user).sink(format!(
                "{{ type: secretsmanager, secret_id: '{hub}', create: true }}"
            )))
    };
    // Runner A reads the hub as the AWS profile of the same name (the old key).
    let a = Home::new();
    let (user, old) = a.user_in_credentials("runner");
    moto().put_secret(
        &hub,
        &format!(
            "{{\"Version\":1,\"AccessKeyId\":\"{}\",\"SecretAccessKey\":\"{}\"}}",
            old.id, old.secret
        ),
    );
    a.manifest(&manifest(&user));
    let killed = a
        .run(&["apply", "--yes"])
        .envs(&[("REKEY_CRASH_AT", "after-write-0")])
        .output();
    assert_eq!(
        killed.code, None,
        "killed (build with --features rekey/crash-points)"
    );
    let copy = format!("team/state/journal/123456789012-{user}.json");
    let (how, key) = moto()
        .object_encryption(&bucket, &copy)
        .expect("the journal (it holds the new secret) is in the bucket");
    assert_eq!(how, "aws:kms", "encrypted with KMS");
    assert!(
        key.is_some_and(|k| k.contains("alias/rekey-state")),
        "with the key named"
    );

    // Runner B: a fresh state dir, the same manifest.
    let b = Home::new();
    b.write_credentials(&section(&user, &old));
    b.manifest(&manifest(&user));
    let json = b
        .rekey(&["recover", "--lock-timeout", "30s", "--output", "json"])
        .success()
        .json();
    assert_eq!(
        json["recovered"][0]["result"]["outcome"], "rolled_forward",
        "{json}"
    );
    let keys = moto().keys(&user);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        keys[0].1 && keys[0].0 != old.id,
        "the new key, active: {keys:?}"
    );
    assert!(moto().secret(&hub).contains(&keys[0].0), "the hub holds it");
    assert_eq!(
        moto().object(&bucket, &copy),
        None,
        "the shared copy is gone"
    );

    // A (had it survived) finds the rotation resolved elsewhere and drops its copy.
    a.rekey(&["recover"]).success();
    assert!(
        !a.state_files().iter().any(|f| f.starts_with("journal")),
        "{:?}",
        a.state_files()
    );
}

/// Two machines applying to one user at once: the second waits for the first (its
/// journal is in the bucket, so the second takes the lease to see whether it must
/// finish it), then plans from what the first left, finds its own copy stale and
/// changes nothing. Without the lease it raced the first to CreateAccessKey, where only
/// IAM's two-key quota, which AWS enforces eventually, stood between them.
#[test]
fn a_second_machines_apply_waits_for_the_first_and_changes_nothing() {
    let bucket = bucket("twoapplies");
    let proxy = FaultProxy::start();
    let a = Home::new().via(&proxy.endpoint);
    let (user, old) = a.user_in_credentials("twoapplies");
    a.manifest(&s3_manifest(&bucket, &user, &[]));
    let b = Home::new();
    b.write_credentials(&section(&user, &old));
    b.manifest(&s3_manifest(&bucket, &user, &[]));
    // A holds the lease while its CreateAccessKey is on its way.
    proxy.set(|f| {
        f.slow.insert("CreateAccessKey", Duration::from_secs(3));
    });
    let mut first = a.run(&["apply", "--yes"]).start(false);
    eventually(Duration::from_secs(30), "A is creating its key", || {
        proxy.count("CreateAccessKey") == 1
    });
    let json = b
        .rekey(&[
            "apply",
            "--yes",
            "--lock-timeout",
            "30s",
            "--output",
            "json",
        ])
        .code(1)
        .json();
    let error = json["results"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("rotated elsewhere") && error.contains("rekey sync"),
        "planned after the first finished: {error}"
    );
    assert!(first.wait().unwrap().success());
    let new = key_in(&a.credentials(), &user).unwrap();
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&old.id, false), (&new.id, true)]),
        "exactly one rotation"
    );
    assert_eq!(b.credentials(), section(&user, &old), "B changed nothing");
}

/// sync on one machine and rollback on another: sync decided the rotation's new key is
/// current, then the rollback deleted it, then sync wrote it: the machine was left with
/// a dead key. Under the lease, sync checks the key again before it writes.
#[test]
fn sync_on_one_machine_and_rollback_on_another_never_leave_a_dead_key() {
    let bucket = bucket("syncrollback");
    let hub = unique("syncrollback/aws");
    let manifest = |user: &str| {
        Manifest::new()
            .top(&format!("state: s3://{bucket}/team"))
            .top("state_lease: 3s")
            .defaults("overlap: 1d")
            .profile(
                Profile::new(user)
                    .sink(sink::credentials_file())
                    .sink(format!(
                        "{{ type: secretsmanager, secret_id: '{hub}', create: true }}"
                    )),
            )
    };
    let a = Home::new();
    let (user, old) = a.user_in_credentials("syncrollback");
    a.manifest(&manifest(&user));
    a.rekey(&["sync", "--yes"]).success();
    a.rekey(&["apply", "--yes"]).success();

    // B holds the old key; its request for the lease is slow to reach S3.
    let proxy = FaultProxy::start();
    let b = Home::new().via(&proxy.endpoint);
    let before = section(&user, &old);
    b.write_credentials(&before);
    b.manifest(&manifest(&user));
    proxy.set(|f| {
        f.slow.insert("S3:PUT", Duration::from_secs(3));
    });
    let mut sync = b
        .run(&["sync", "--yes", "--lock-timeout", "30s"])
        .start(false);
    eventually(
        Duration::from_secs(30),
        "B has decided and asks for the lease",
        || proxy.count("S3:PUT") > 0,
    );
    // Meanwhile A rolls back: the new key B decided on is deleted.
    a.rekey(&["rollback", &user, "--yes", "--force"]).success();
    assert!(!sync.wait().unwrap().success(), "B's sync stops");
    assert_eq!(b.credentials(), before, "B keeps the key that works");
    assert_eq!(moto().keys(&user), key_set(&[(&old.id, true)]));
}

/// Issue 32, point 5: with a shared state, the import (before planning) and planning
/// both need whose the profile's key is: STS is asked once per run.
#[test]
fn apply_with_a_shared_state_asks_sts_whose_key_it_is_once() {
    let bucket = bucket("whose");
    let home = Home::new();
    let (user, old) = home.user_in_credentials("whoseonce");
    home.manifest(&s3_manifest(&bucket, &user, &["max_age: 30d"]));
    // A young key: nothing to rotate, so no propagation probe asks STS either.
    let run = home.rekey(&["apply", "--yes", "-v"]).success();
    assert_eq!(key_in(&home.credentials(), &user), Some(old));
    let asked = run.stderr.matches("sts:GetCallerIdentity").count();
    assert_eq!(asked, 1, "{}", run.stderr);
}
