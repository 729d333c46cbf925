//! Issue 30, point 1: IAM honours no fencing token, so a lease holder that was paused
//! (a closed lid, a stopped VM; here SIGSTOP) fences itself: past what its last
//! confirmed write bought, it changes nothing more. The invariant under test: rekey
//! never leaves a user with no Active key that one of its places holds.

use std::time::Duration;

use crate::support::*;

/// Sends `signal` to `child` (rustix: no `kill` program needed).
fn signal(child: &std::process::Child, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("a live child");
    rustix::process::kill_process(pid, signal).expect("the child can be signalled");
}

/// Machine A is paused during its verify command, past its lease; machine B takes the
/// lease over and undoes A's rotation (its journal is in the bucket). A resumes: it
/// must not deactivate the old key, the user's only key now.
#[test]
fn a_holder_paused_past_its_lease_changes_nothing_when_it_resumes() {
    let bucket = unique("rekey-paused");
    moto().create_bucket(&bucket);
    let a = Home::new();
    let (user, old) = a.user_in_credentials("paused");
    let verifying = a.path("verifying");
    // The place both machines share: a Secrets Manager hub (each reads it as the AWS
    // profile of the same name, its old key).
    let hub = unique("fenced/aws");
    moto().put_secret(
        &hub,
        &format!(
            "{{\"Version\":1,\"AccessKeyId\":\"{}\",\"SecretAccessKey\":\"{}\"}}",
            old.id, old.secret
        ),
    );
    let manifest = |home: &Home| {
        home.manifest(
            &Manifest::new()
                .top(&format!("state: s3://{bucket}/team"))
                .top("state_lease: 3s")
                .defaults("grace: 0")
                .defaults(&format!(
                    "verify: {{ command: [sh, -c, 'touch {}; sleep 1'] }}",
                    verifying.display()
                ))
                .profile(
                    Profile::new(&user)
                        .sink(format!("{{ type: secretsmanager, secret_id: '{hub}' }}")),
                ),
        )
    };
    manifest(&a);
    let mut run = a.run(&["apply", "--yes"]).start(false);
    eventually(Duration::from_secs(60), "A verifies", || verifying.exists());
    signal(&run, rustix::process::Signal::STOP);

    // B, a fresh state dir with the old key, takes the expired lease. A stopped renewing
    // it moments ago and may only be paused (its process is alive): B does not undo A's
    // rotation until two lease periods have passed, unless told A is gone.
    let b = Home::new();
    b.write_credentials(&section(&user, &old));
    manifest(&b);
    let refused = b
        .rekey(&["recover", "--lock-timeout", "30s", "--output", "json"])
        .code(1)
        .json();
    let failure = &refused["recovered"][0]["result"];
    assert_eq!(failure["error_kind"], "busy", "{refused}");
    let message = failure["message"].as_str().unwrap();
    assert!(
        message.contains("may only be paused") && message.contains("rekey recover --force"),
        "{message}"
    );
    assert_eq!(moto().keys(&user).len(), 2, "nothing undone yet");
    // The lease says so to the next run too, though B gave it back.
    let again = b.rekey(&["recover", "--lock-timeout", "30s"]).code(1);
    assert!(
        again.stdout.contains("may only be paused"),
        "{}",
        again.stdout
    );
    let json = b
        .rekey(&[
            "recover",
            "--force",
            "--lock-timeout",
            "30s",
            "--output",
            "json",
        ])
        .success()
        .json();
    assert_eq!(
        json["recovered"][0]["result"]["outcome"], "rolled_back",
        "{json}"
    );
    assert_eq!(moto().keys(&user), key_set(&[(&old.id, true)]));

    signal(&run, rustix::process::Signal::CONT);
    let status = run.wait().unwrap();
    assert!(!status.success(), "A reports that it stopped");
    // The old key is the user's only key, and it is Active: A deactivated nothing, and
    // the place holds it.
    assert_eq!(moto().keys(&user), key_set(&[(&old.id, true)]));
    assert!(
        moto().secret(&hub).contains(&old.id),
        "the hub holds the Active key"
    );
}

/// Issue 30, point 5: a run that finds the user's lease held by another (here killed)
/// run says so, naming the holder, rather than blaming the second key that run made.
#[test]
fn a_held_lease_is_the_cause_apply_names() {
    let bucket = unique("rekey-held");
    moto().create_bucket(&bucket);
    let a = Home::new();
    let (user, old) = a.user_in_credentials("heldlease");
    let manifest = Manifest::new()
        .top(&format!("state: s3://{bucket}/team"))
        .top("state_lease: 30s")
        .profile(Profile::new(&user));
    a.manifest(&manifest);
    let killed = a
        .run(&["apply", "--yes"])
        .envs(&[("REKEY_CRASH_AT", "after-write-0")])
        .output();
    assert_eq!(
        killed.code, None,
        "build with --features rekey/crash-points"
    );
    let keys = moto().keys(&user);
    assert_eq!(keys.len(), 2, "the killed run made its key: {keys:?}");

    let b = Home::new();
    b.write_credentials(&section(&user, &old));
    b.manifest(&manifest);
    let run = b.rekey(&["apply", "--yes", "--lock-timeout", "1s"]).code(1);
    let first_error = run
        .stdout
        .lines()
        .find(|l| l.contains("ERROR") || l.contains("failed"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(
        first_error.contains("is locked by rekey apply on"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("UNKNOWN KEY"), "{}", run.stdout);
    assert_eq!(moto().keys(&user), keys, "nothing changed");
}

/// Issue 30, point 5: a shared state that cannot be read stops the profiles it
/// concerns, naming the S3 error and the permissions it calls for; it is never
/// planned around (a journal there could decide the profile's next step).
#[test]
fn an_unreadable_shared_state_stops_its_profiles_and_names_the_permission() {
    let proxy = crate::proxy::FaultProxy::start();
    let bucket = unique("rekey-unreadable");
    moto().create_bucket(&bucket);
    let home = Home::new().via(&proxy.endpoint);
    let (user, old) = home.user_in_credentials("unreadable");
    home.manifest(
        &Manifest::new()
            .top(&format!("state: s3://{bucket}/team"))
            .profile(Profile::new(&user)),
    );
    proxy.set(|f| {
        f.deny.insert("S3:GET");
    });
    let run = home.rekey(&["apply", "--yes"]).code(1);
    assert!(
        run.stdout.contains("cannot read the shared state")
            && run.stdout.contains("AccessDenied")
            && run
                .stdout
                .contains(&format!("s3:ListBucket on arn:aws:s3:::{bucket}")),
        "{}",
        run.stdout
    );
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&old.id, true)]),
        "no key made"
    );
}

/// Issue 30, point 2: `rollback` with a shared state removes its journal copy (which
/// holds the live old secret) signed with a key that still works, and exits 0 after a
/// successful undo; the next run on the machine has nothing left to resolve.
#[test]
fn rollback_with_a_shared_state_cleans_up_its_copy_and_succeeds() {
    let bucket = unique("rekey-rollback");
    moto().create_bucket(&bucket);
    // AWS refuses a deleted or inactive key, S3 included (moto does not).
    let proxy = crate::proxy::FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (user, old) = home.user_in_credentials("rolledback");
    home.manifest(
        &Manifest::new()
            .top(&format!("state: s3://{bucket}/team"))
            .top("state_lease: 30s")
            .defaults("grace: 1d")
            .profile(Profile::new(&user)),
    );
    home.rekey(&["apply", "--yes"]).success();
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(new, old);
    let run = home.rekey(&["rollback", &user, "--yes"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(moto().keys(&user), key_set(&[(&old.id, true)]));
    assert_eq!(key_in(&home.credentials(), &user).unwrap(), old);
    let copy = format!("team/state/journal/123456789012-{user}.json");
    assert_eq!(moto().object(&bucket, &copy), None, "the copy is gone");
    home.rekey(&["recover"])
        .success()
        .stdout_has("No interrupted rotation to resolve.");
}

/// Issue 30, point 1: right before the old key's deactivation, IAM's keys are read
/// again. Another machine that undid this rotation meanwhile (here, as the verify
/// command runs, the new key is made Inactive behind rekey's back) stops it: the old
/// key is not deactivated, and the user keeps an Active key its place holds.
#[test]
fn the_old_key_is_not_deactivated_once_the_new_one_was_undone_elsewhere() {
    let home = Home::new();
    let (user, old) = home.user_in_credentials("undoneelsewhere");
    // What another machine's undo does to the new key, while this run verifies it.
    home.write(
        "undo.py",
        &format!(
            "import os, boto3\nboto3.client('iam', region_name='us-east-1').update_access_key(UserName='{user}', AccessKeyId=os.environ['AWS_ACCESS_KEY_ID'], Status='Inactive')\n"
        ),
    );
    home.manifest(
        &Manifest::new()
            .defaults("grace: 0")
            .defaults(&format!(
                "verify: {{ command: ['{}', '{}'] }}",
                python().display(),
                home.path("undo.py").display()
            ))
            .profile(Profile::new(&user)),
    );
    let run = home.rekey(&["apply", "--yes"]).code(1);
    assert!(
        run.stdout
            .contains(&format!("so the old key {} is not deactivated", old.id)),
        "{}",
        run.stdout
    );
    let active = moto().active_keys(&user);
    assert_eq!(active, [old.id.as_str()], "the old key is Active");
    assert_eq!(key_in(&home.credentials(), &user).unwrap(), old);
}

/// Issue 30, point 1: right after a call that deactivated or deleted a key, rekey checks
/// the user still has an Active key. Here another machine's rollback lands while prune's
/// DeleteAccessKey is on its way (made Active again the very key prune deletes, and
/// deleted the new one): the user is left with no key, and prune says so loudly and
/// exits non-zero rather than reporting a clean prune.
#[test]
fn a_deletion_that_took_the_users_last_key_is_said_loudly() {
    let proxy = crate::proxy::FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (user, old) = home.user_in_credentials("lastkey");
    home.manifest(
        &Manifest::new()
            .defaults("grace: 1h")
            .profile(Profile::new(&user)),
    );
    home.rekey(&["apply", "--yes"]).success();
    let new = key_in(&home.credentials(), &user).unwrap();
    proxy.set(|f| {
        f.slow.insert("DeleteAccessKey", Duration::from_secs(3));
    });
    let offset = (2 * 3600 + 1).to_string();
    let args = ["prune", "--yes"];
    let prune = home
        .run(&args)
        .envs(&[("REKEY_TEST_CLOCK_OFFSET", &offset)])
        .start(true);
    eventually(Duration::from_secs(60), "prune deletes the old key", || {
        proxy.count("DeleteAccessKey") > 0
    });
    // The rollback elsewhere, while prune's call is held.
    moto().set_active(&user, &old.id, true);
    moto().delete_key(&user, &new.id);
    let run = home.finish(prune, &args);
    assert_ne!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("KEY LOST"), "{said}");
    assert!(said.contains(&format!("--user-name {user}")), "{said}");
    assert!(
        moto().keys(&user).is_empty(),
        "the interleaving took both keys"
    );
}

/// Issue 30, point 1: `--make-room` deletes an inactive key; right after, the user's keys
/// are read again. Here another machine's rollback lands while that DeleteAccessKey is
/// held (it made the very key being deleted Active again, and deleted the key this run
/// signs with): the user is left with no key, and apply says so loudly, creates no key
/// on top, and exits non-zero.
#[test]
fn a_make_room_deletion_that_took_the_users_last_key_is_said_loudly() {
    let proxy = crate::proxy::FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (user, current) = home.user_in_credentials("makeroomlast");
    let stale = moto().create_key(&user);
    moto().set_active(&user, &stale.id, false);
    home.manifest(&Manifest::new().profile(Profile::new(&user)));
    proxy.set(|f| {
        f.slow.insert("DeleteAccessKey", Duration::from_secs(3));
    });
    let args = ["apply", "--yes", "--make-room"];
    let apply = home.run(&args).envs(&[]).start(true);
    eventually(Duration::from_secs(60), "apply makes room", || {
        proxy.count("DeleteAccessKey") > 0
    });
    // The rollback elsewhere, while the deletion is held.
    moto().set_active(&user, &stale.id, true);
    moto().delete_key(&user, &current.id);
    let run = home.finish(apply, &args);
    assert_ne!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("KEY LOST"), "{said}");
    assert_eq!(proxy.count("CreateAccessKey"), 0, "no key made: {said}");
}

/// Issue 30, point 2: an undo that finished but could not remove its journal's copy
/// (here S3 refuses the deletion; an older rekey signed it with the key it had just
/// deleted) leaves the journal behind, whose "new" key is gone. The next run signs
/// with a key IAM still accepts and cleans it up, rather than failing every later run.
#[test]
fn a_copy_a_finished_undo_left_behind_is_cleaned_up_by_the_next_run() {
    let bucket = unique("rekey-leftcopy");
    moto().create_bucket(&bucket);
    // AWS refuses a deleted or inactive key, S3 included (moto does not).
    let proxy = crate::proxy::FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (user, old) = home.user_in_credentials("leftcopy");
    home.manifest(
        &Manifest::new()
            .top(&format!("state: s3://{bucket}/team"))
            .top("state_lease: 3s")
            .defaults("grace: 1d")
            .profile(Profile::new(&user)),
    );
    home.rekey(&["apply", "--yes"]).success();
    proxy.set(|f| {
        f.deny.insert("S3:DELETE");
    });
    let run = home.rekey(&["rollback", &user, "--yes"]);
    assert_ne!(run.code, Some(0), "the copy could not be removed");
    assert_eq!(moto().keys(&user), key_set(&[(&old.id, true)]), "undone");
    let copy = format!("team/state/journal/123456789012-{user}.json");
    assert!(moto().object(&bucket, &copy).is_some(), "the copy is left");

    proxy.set(|f| {
        f.deny.clear();
    });
    let json = home
        .rekey(&["recover", "--lock-timeout", "30s", "--output", "json"])
        .success()
        .json();
    assert_eq!(
        json["recovered"][0]["result"]["outcome"], "rolled_back",
        "{json}"
    );
    assert_eq!(moto().object(&bucket, &copy), None, "the copy is gone");
    assert_eq!(moto().keys(&user), key_set(&[(&old.id, true)]));
    assert_eq!(key_in(&home.credentials(), &user).unwrap(), old);
    home.rekey(&["apply", "--yes", "--lock-timeout", "30s"])
        .success();
}
