//! Findings of a safety review, each reproduced here first: rekey never deletes a key
//! that is active or held by a sink, and never prints a secret it has seen.

use std::time::Duration;

use crate::proxy::FaultProxy;
use crate::state_dir::stuck_profile;
use crate::support::*;

#[test]
fn a_key_made_by_hand_after_an_interrupted_create_is_kept() {
    let home = Home::new();
    let user = unique("byhand");
    let k1 = moto().create_user(&user);
    home.write_credentials(&section(&user, &k1));
    // Killed after IAM created the key, before its secret reached the journal.
    let crashed = home
        .run(&["apply", "--yes"])
        .envs(&[("REKEY_CRASH_AT", "key-created")])
        .output();
    assert_eq!(
        crashed.code, None,
        "build with --features rekey/crash-points"
    );
    let keys = moto().keys(&user);
    let orphan = keys
        .iter()
        .find(|(id, _)| *id != k1.id)
        .expect("the create happened")
        .0
        .clone();
    // The user then rotates by hand: the old key deleted, a new one in the file.
    moto().delete_key(&user, &k1.id);
    let k2 = moto().create_key(&user);
    home.write_credentials(&section(&user, &k2));

    let run = home.rekey(&["apply", "--yes"]).success();
    assert!(
        run.stdout
            .contains(&format!("deleted key {orphan} whose secret never arrived")),
        "the orphan goes: {}",
        run.stdout
    );
    assert!(
        !run.stdout.contains(&format!("deleted key {}", k2.id)),
        "the key in the file stays: {}",
        run.stdout
    );
    let k3 = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(k3, k2, "then k2 is rotated as usual");
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&k2.id, false), (&k3.id, true)])
    );
}

#[test]
fn make_room_never_deletes_a_key_made_active_since_planning() {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let user = unique("makeroom");
    let k1 = moto().create_user(&user);
    let k0 = moto().create_key(&user);
    moto().set_active(&user, &k0.id, false);
    home.write_credentials(&section(&user, &k1));
    // Planning reads the other key's last use last: hold it, and meanwhile someone
    // makes that key active again.
    proxy.set(|f| {
        f.slow
            .insert("GetAccessKeyLastUsed", Duration::from_secs(3));
    });
    let mut apply = home.run(&["apply", "--yes", "--make-room"]).start(false);
    eventually(
        Duration::from_secs(20),
        "planning reached the other key",
        || proxy.count("GetAccessKeyLastUsed") >= 1,
    );
    moto().set_active(&user, &k0.id, true);
    let status = apply.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "the rotation stops: its plan is stale"
    );
    assert!(
        moto().keys(&user).contains(&(k0.id.clone(), true)),
        "the active key still exists: {:?}",
        moto().keys(&user)
    );
}

/// A user rotated with grace 1 s, whose old key's deletion is now due.
fn rotated_and_due(home: &Home, user: &str, old: &TestKey) {
    home.rekey(&["apply", "--yes", "--grace", "1s"]).success();
    eventually(Duration::from_secs(15), "deletion due", || {
        home.rekey(&["plan"]).success().stdout.contains(&format!(
            "{} of {}",
            old.id,
            moto().user_arn(user)
        ))
    });
}

#[test]
fn prune_waits_for_a_rollback_and_keeps_the_key_it_made_active() {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let user = unique("prunerace");
    let k1 = moto().create_user(&user);
    home.write_credentials(&section(&user, &k1));
    rotated_and_due(&home, &user, &k1);
    let deactivations = proxy.count("UpdateAccessKey");
    // The rollback's reactivation of k1 is held for a while; prune runs meanwhile.
    proxy.set(|f| {
        f.slow.insert("UpdateAccessKey", Duration::from_secs(3));
    });
    let mut rollback = home.run(&["rollback", &user, "--yes"]).start(false);
    eventually(
        Duration::from_secs(20),
        "the rollback is reactivating",
        || proxy.count("UpdateAccessKey") > deactivations,
    );
    let prune = home.rekey(&["prune", "--yes"]).success();
    assert!(rollback.wait().unwrap().success(), "the rollback completes");
    assert!(!prune.stdout.contains("deleted"), "{}", prune.stdout);
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&k1.id, true)]),
        "k1 active again, the new key deleted"
    );
    assert_eq!(home.credentials(), section(&user, &k1));
}

#[test]
fn prune_keeps_an_old_key_that_any_sink_still_holds() {
    let home = Home::new();
    let user = unique("prunedrift");
    let k1 = moto().create_user(&user);
    home.write_credentials(&section(&user, &k1));
    let env = env_text(&k1);
    home.write("project/.env", &env);
    home.manifest(
        &Manifest::new().profile(
            Profile::new(&user)
                .sink(sink::credentials_file())
                .sink(sink::dotenv(".env")),
        ),
    );
    rotated_and_due(&home, &user, &k1);
    // Someone puts the .env back to the old key.
    home.write("project/.env", &env);
    home.rekey(&["prune", "--yes"])
        .success()
        .stdout_has(".env file")
        .stdout_has("still holds this key");
    assert!(
        moto().keys(&user).iter().any(|(id, _)| *id == k1.id),
        "k1 is kept"
    );
}

#[test]
fn a_secret_in_the_key_id_field_is_never_printed() {
    let home = Home::new();
    let user = unique("swapped");
    let key = moto().create_user(&user);
    home.write_credentials(&format!(
        "[{user}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        key.secret, key.id
    ));
    for args in [
        &["plan"][..],
        &["plan", "--output", "json"],
        &["status"],
        &["status", "--output", "json"],
        &["apply", "--yes"],
    ] {
        let run = home.rekey(args);
        for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            assert!(
                !text.contains(&key.secret),
                "rekey {args:?} printed the secret on {stream}:\n{text}"
            );
        }
        assert!(
            format!("{}{}", run.stdout, run.stderr).contains("access key id is not of the form"),
            "rekey {args:?} says what is wrong:\n{}{}",
            run.stdout,
            run.stderr
        );
    }
}

#[test]
fn one_stuck_rotation_does_not_stop_the_others() {
    let home = Home::new();
    let (stuck, other) = (unique("stuck"), unique("free"));
    let stuck_key = moto().create_user(&stuck);
    let other_key = moto().create_user(&other);
    home.write_credentials(&(section(&stuck, &stuck_key) + &section(&other, &other_key)));
    // `stuck`'s check fails and its plugin refuses to restore: its journal stays.
    let stuck_yaml = stuck_profile(&home, &stuck, &stuck_key).yaml;
    home.write(
        "project/rekey.yaml",
        &format!("version: 1\nprofiles:\n{stuck_yaml}  {other}: {{}}\n"),
    );
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("rollback incomplete");
    let rotated_once = key_in(&home.credentials(), &other).unwrap();
    assert_ne!(rotated_once, other_key);

    // --make-room: the other profile's last old key is still in its grace period.
    let run = home.rekey(&["apply", "--yes", "--make-room"]).code(1);
    assert!(
        run.stderr.contains("could not be resolved") && run.stderr.contains(&stuck),
        "names the stuck rotation: {}",
        run.stderr
    );
    let rotated_twice = key_in(&home.credentials(), &other).unwrap();
    assert_ne!(
        rotated_twice, rotated_once,
        "the other profile still rotates"
    );
}

#[test]
fn rolling_back_one_profile_keeps_another_rotated_in_the_same_file() {
    let home = Home::new();
    let (a, b) = (unique("samefile-a"), unique("samefile-b"));
    let (a_old, b_old) = (moto().create_user(&a), moto().create_user(&b));
    home.write_credentials(&format!(
        "# both here\n{}\n{}",
        section(&a, &a_old),
        section(&b, &b_old)
    ));
    // a first, then b: a's backup holds b's old key.
    home.rekey(&["apply", "--yes", "--grace", "1h", "--profile", &a])
        .success();
    home.rekey(&["apply", "--yes", "--grace", "1h", "--profile", &b])
        .success();
    let b_new = key_in(&home.credentials(), &b).unwrap();
    assert_ne!(b_new, b_old);

    home.rekey(&["rollback", &a, "--yes"])
        .success()
        .stdout_has("rolled back");
    assert_eq!(key_in(&home.credentials(), &a).unwrap(), a_old);
    assert_eq!(
        key_in(&home.credentials(), &b).unwrap(),
        b_new,
        "b keeps its new key: its old one is inactive"
    );
    assert_eq!(
        home.credentials(),
        format!(
            "# both here\n{}\n{}",
            section(&a, &a_old),
            section(&b, &b_new)
        )
    );
    assert!(moto().keys(&b).contains(&(b_new.id.clone(), true)));
}

/// Issue 31, point 3: Ctrl-C (SIGINT) during an apply is told, not silent. Here it comes
/// while the first profile's verify command runs: that rotation is undone once its step
/// ends (the old key Active and back in its place, the new key deleted), the second
/// profile never starts, and the run says what happened and what comes next (exit 130).
#[test]
fn ctrl_c_during_apply_undoes_the_step_in_progress_and_says_what_comes_next() {
    let home = Home::new();
    let users = home.users_in_credentials(&["sigint", "notstarted"]);
    let verifying = home.path("verifying");
    let release = home.path("release");
    home.manifest(
        &Manifest::new()
            .defaults(&format!(
                "verify: {{ command: [sh, -c, 'touch {}; while [ ! -e {} ]; do sleep 0.1; done'], timeout: 60s }}",
                verifying.display(),
                release.display()
            ))
            .profile(Profile::new(&users[0].0))
            .profile(Profile::new(&users[1].0)),
    );
    let args = ["apply", "--yes", "--jobs", "1"];
    let run = home.run(&args).envs(&[]).start(true);
    eventually(
        Duration::from_secs(60),
        "the first profile verifies",
        || verifying.exists(),
    );
    let done = interrupt(&home, run, &args, || std::fs::write(&release, "").unwrap());
    assert_eq!(done.code, Some(130), "{}\n{}", done.stdout, done.stderr);
    assert!(done.stderr.contains("Stopping:"), "{}", done.stderr);
    assert!(
        done.stderr.contains("Interrupted:") && done.stderr.contains("rekey recover"),
        "{}",
        done.stderr
    );
    assert!(
        done.stdout.contains("stopped by a signal"),
        "{}",
        done.stdout
    );
    for (user, old) in &users {
        assert_eq!(moto().keys(user), key_set(&[(&old.id, true)]), "{user}");
        assert_eq!(key_in(&home.credentials(), user).as_ref(), Some(old));
    }
    home.rekey(&["recover"])
        .success()
        .stdout_has("No interrupted rotation to resolve.");
}

/// Sends SIGINT to `run` (`rekey ARGS`), waits until it says it is stopping, then runs
/// `then` (what lets the step in progress end) and waits for the run.
fn interrupt(home: &Home, mut run: std::process::Child, args: &[&str], then: impl FnOnce()) -> Run {
    // The run's stderr, read as it comes.
    let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let (said, mut stderr) = (said.clone(), run.stderr.take().unwrap());
        std::thread::spawn(move || {
            use std::io::Read;
            let mut chunk = [0u8; 256];
            while let Ok(n @ 1..) = stderr.read(&mut chunk) {
                said.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        })
    };
    let pid = rustix::process::Pid::from_raw(run.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    eventually(Duration::from_secs(30), "rekey says it stops", || {
        said.lock().unwrap().contains("Stopping:")
    });
    then();
    let output = run.wait_with_output().unwrap();
    reader.join().unwrap();
    let stderr = said.lock().unwrap().clone().into_bytes();
    home.finish_output(std::process::Output { stderr, ..output }, args)
}

/// Issue 31, point 3, at another step: Ctrl-C while the new key propagates (STS slow
/// to accept it): once proven, the rotation does not write its places; the new key is
/// deleted and the old one stays in use (exit 130).
#[test]
fn ctrl_c_while_the_new_key_propagates_undoes_the_rotation() {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (user, old) = home.user_in_credentials("sigintpropagating");
    proxy.set(|f| {
        f.slow.insert("GetCallerIdentity", Duration::from_secs(2));
    });
    let args = ["apply", "--yes"];
    let run = home.run(&args).envs(&[]).start(true);
    eventually(Duration::from_secs(60), "the new key is made", || {
        proxy.count("CreateAccessKey") > 0
    });
    let done = interrupt(&home, run, &args, || {});
    assert_eq!(done.code, Some(130), "{}\n{}", done.stdout, done.stderr);
    assert!(
        done.stdout
            .contains("stopped by a signal (Ctrl-C) before writing"),
        "{}",
        done.stdout
    );
    assert_eq!(moto().keys(&user), key_set(&[(&old.id, true)]));
    assert_eq!(key_in(&home.credentials(), &user), Some(old));
}
