//! Issue 29, points 3 and 4: what the shared bucket holds (`state: s3://…`) is a claim.
//! Every S3 call names the bucket's owner; a journal copy is authenticated with the
//! fleet's key and, before it is acted on, checked against IAM; a copy holds only what
//! another machine could need; a copy left behind is an error, not a success.

use crate::proxy::FaultProxy;
use crate::support::*;

fn bucket(name: &str) -> String {
    let bucket = unique(&format!("rekey-{name}"));
    moto().create_bucket(&bucket);
    bucket
}

fn shared(bucket: &str, user: &str, top: &[&str]) -> Manifest {
    let mut manifest = Manifest::new()
        .top(&format!("state: s3://{bucket}/team"))
        .top("state_lease: 3s")
        .defaults("grace: 1h");
    for line in top {
        manifest = manifest.top(line);
    }
    manifest.profile(Profile::new(user))
}

fn journal_copy(user: &str) -> String {
    format!("team/state/journal/123456789012-{user}.json")
}

#[test]
fn every_s3_call_names_the_owner_and_another_accounts_bucket_gets_nothing() {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (user, old) = home.user_in_credentials("owned");
    let bucket = bucket("owner");
    home.manifest(&shared(&bucket, &user, &[]));
    home.rekey(&["apply", "--yes"]).success();
    assert!(proxy.count("S3:PUT") > 0, "the journal was copied");
    assert_eq!(proxy.s3_without_owner(), 0, "an S3 call named no owner");
    let rotated = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(rotated, old);

    // A bucket name that is not (or no longer) the account's: refused before anything.
    home.manifest(&shared(
        &bucket,
        &user,
        &["state_bucket_owner: '999999999999'"],
    ));
    let run = home
        .rekey(&["apply", "--yes", "--now", "--make-room"])
        .code(1);
    assert!(
        run.stdout.contains("AccessDenied") || run.stderr.contains("AccessDenied"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(key_in(&home.credentials(), &user).unwrap(), rotated);
    assert_eq!(moto().keys(&user).len(), 2, "no key was created");
    assert_eq!(moto().object(&bucket, &journal_copy(&user)), None);
}

#[test]
fn a_journal_copy_that_cannot_be_removed_is_an_error_naming_it() {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (user, old) = home.user_in_credentials("leftover");
    let bucket = bucket("leftover");
    home.manifest(&shared(&bucket, &user, &[]));
    proxy.set(|f| {
        f.deny.insert("S3:DELETE");
    });
    let run = home.rekey(&["apply", "--yes"]).code(1);
    let copy = format!("s3://{bucket}/{}", journal_copy(&user));
    assert!(run.stdout.contains(&copy), "{}", run.stdout);
    assert!(
        run.stdout.contains("the rotation itself is complete"),
        "{}",
        run.stdout
    );
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(new, old, "the rotation completed");
    assert!(moto().object(&bucket, &journal_copy(&user)).is_some());

    // Once S3 lets it, the next run finishes the clean-up.
    proxy.set(|f| {
        f.deny.clear();
    });
    home.rekey(&["recover"]).success();
    assert_eq!(moto().object(&bucket, &journal_copy(&user)), None);
    assert_eq!(key_in(&home.credentials(), &user).unwrap(), new);
}

/// Machine A rotates `user` and is killed right after writing its first place: its
/// journal copy (old key `old`, new key in A's credentials) is in the bucket, tagged
/// with A's fleet key (`fleet`). Machine B, a fresh state dir with the old key, is
/// returned with A's new key id.
fn killed_elsewhere(bucket: &str, name: &str, fleet: &str) -> (Home, String, TestKey, String) {
    let a = Home::new();
    let (user, old) = a.user_in_credentials(name);
    a.manifest(&shared(bucket, &user, &[]));
    let killed = a
        .run(&["apply", "--yes"])
        .envs(&[
            ("REKEY_CRASH_AT", "after-write-0"),
            ("REKEY_FLEET_KEY", fleet),
        ])
        .output();
    assert_eq!(
        killed.code, None,
        "build with --features rekey/crash-points"
    );
    assert!(moto().object(bucket, &journal_copy(&user)).is_some());
    let new = key_in(&a.credentials(), &user).unwrap().id;
    let b = Home::new();
    b.write_credentials(&section(&user, &old));
    b.manifest(&shared(bucket, &user, &[]));
    (b, user, old, new)
}

#[test]
fn a_journal_copy_another_fleet_wrote_is_reported_and_never_acted_on() {
    let bucket = bucket("otherfleet");
    let other = "another-fleet-entirely-0123456789abcdef";
    let (b, user, old, new) = killed_elsewhere(&bucket, "otherfleet", other);
    let run = b.rekey(&["recover", "--lock-timeout", "30s"]).success();
    assert!(
        run.stderr
            .contains("is not authenticated by this fleet's key"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&journal_copy(&user)), "{}", run.stderr);
    // Neither finished nor undone: both keys as the killed run left them.
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&old.id, true), (&new, true)])
    );
    assert_eq!(key_in(&b.credentials(), &user).unwrap(), old);
    assert!(
        !b.state_files().iter().any(|f| f.starts_with("journal")),
        "nothing imported: {:?}",
        b.state_files()
    );
}

#[test]
fn a_tampered_copy_or_one_iam_contradicts_is_never_acted_on() {
    let bucket = bucket("tampered");
    let (b, user, old, new) = killed_elsewhere(&bucket, "tampered", FLEET_KEY);
    let key = journal_copy(&user);
    let genuine = moto().object(&bucket, &key).unwrap();
    let tag = moto()
        .object_tag(&bucket, &key)
        .expect("the copy is tagged");
    // The copy with "old" and "new" swapped: it would deactivate the newer key.
    let swapped = genuine
        .replace(&old.id, "\u{0}")
        .replace(&new, &old.id)
        .replace('\u{0}', &new);

    // Under the genuine copy's tag: not authenticated.
    moto().put_tagged_object(&bucket, &key, &swapped, Some(&tag));
    let run = b.rekey(&["recover", "--lock-timeout", "30s"]).success();
    assert!(
        run.stderr.contains("is not authenticated"),
        "{}",
        run.stderr
    );

    // Tagged with the fleet's key (a fleet machine gone wrong): IAM contradicts it.
    let name = format!("journal/123456789012-{user}.json");
    let retagged = fleet_tag(FLEET_KEY, &name, &swapped);
    moto().put_tagged_object(&bucket, &key, &swapped, Some(&retagged));
    let run = b.rekey(&["recover", "--lock-timeout", "30s"]).success();
    assert!(
        run.stderr.contains("would deactivate the newer key"),
        "{}",
        run.stderr
    );
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&old.id, true), (&new, true)])
    );
    assert_eq!(key_in(&b.credentials(), &user).unwrap(), old);
}

/// A journal copy holds what another machine could use, no more: the credentials
/// file's previous content (every other profile's secret) never leaves the machine; its
/// place is marked `.elsewhere`. The machine itself, its state dir lost, still resolves
/// the rotation from the copy, and its file ends on a key IAM has active.
#[test]
fn a_copy_holds_no_byte_of_a_place_of_this_machine() {
    let bucket = bucket("least");
    let home = Home::new();
    let user = unique("least");
    let old = moto().create_user(&user);
    let other_secret = "otherProfileSecretValue0000000000000000";
    home.write_credentials(&format!(
        "[other]\naws_access_key_id = AKIAOTHER0000000000\naws_secret_access_key = {other_secret}\n\n{}",
        section(&user, &old)
    ));
    home.manifest(&shared(&bucket, &user, &[]));
    let killed = home
        .run(&["apply", "--yes"])
        .envs(&[("REKEY_CRASH_AT", "after-write-0")])
        .output();
    assert_eq!(
        killed.code, None,
        "build with --features rekey/crash-points"
    );
    let backups = format!("team/state/backups/123456789012-{user}");
    assert_eq!(moto().object(&bucket, &format!("{backups}/0")), None);
    assert_eq!(
        moto().object(&bucket, &format!("{backups}/0.elsewhere")),
        Some(String::new())
    );
    let journal = moto().object(&bucket, &journal_copy(&user)).unwrap();
    assert!(!journal.contains(other_secret) && !journal.contains("AKIAOTHER"));

    // The state dir is lost; the copy in the bucket resolves the rotation.
    std::fs::remove_dir_all(home.state_dir()).unwrap();
    home.rekey(&["trust"]).success();
    home.rekey(&["recover", "--lock-timeout", "30s"]).success();
    assert_eq!(moto().object(&bucket, &journal_copy(&user)), None);
    let held = key_in(&home.credentials(), &user).unwrap();
    let active = moto().active_keys(&user);
    assert_eq!(
        active,
        [held.id.as_str()],
        "the file's key, and it alone, is active"
    );
    assert!(
        home.credentials().contains(other_secret),
        "the other profile is untouched"
    );
}

/// Issue 29, point 6: a lease is written by another machine, and its holder's name is
/// shown when it blocks a run: escaped, so it cannot drive the terminal.
#[test]
fn a_planted_lease_holder_is_shown_escaped() {
    let bucket = bucket("holder");
    let home = Home::new();
    let (user, _) = home.user_in_credentials("holder");
    home.manifest(&shared(&bucket, &user, &[]));
    let expires = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    let lease = serde_json::json!({
        "holder": "x",
        "host": "runner\u{1b}]0;pwned\u{7}\nfake: line",
        "pid": 1,
        "command": "apply",
        "expires": rfc3339(expires),
    });
    let key = format!("team/locks/123456789012/{user}.json");
    moto().put_object(&bucket, &key, &lease.to_string());
    let run = home
        .rekey(&["apply", "--yes", "--lock-timeout", "1s"])
        .code(1);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains("runner\\u{1b}]0;pwned\\u{7}\\nfake: line"),
        "{said}"
    );
    assert!(!said.contains('\u{1b}'), "{said:?}");
}
