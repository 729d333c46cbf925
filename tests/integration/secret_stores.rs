//! The secret-store sinks (`secretsmanager`, `ssm`) against moto, which serves both: the
//! hub a rotation writes and other machines read (`rekey sync`), read back with boto3.
//! Two homes (two state dirs, two credentials files) play two machines.

use std::time::Duration;

use crate::proxy::FaultProxy;
use crate::support::*;

/// The value boto3 reads from Secrets Manager (`stage`: AWSCURRENT, AWSPREVIOUS) or, with
/// `ssm`, from Parameter Store.
fn boto3_read(service: &str, name: &str, stage: &str) -> String {
    let script = match service {
        "secretsmanager" => format!(
            "import boto3; print(boto3.client('secretsmanager').get_secret_value(SecretId='{name}', VersionStage='{stage}')['SecretString'])"
        ),
        _ => format!(
            "import boto3; print(boto3.client('ssm').get_parameter(Name='{name}', WithDecryption=True)['Parameter']['Value'])"
        ),
    };
    run_python(&script, &[], &moto().boto3_env())
        .trim()
        .to_owned()
}

/// The key id in `credential_process` JSON.
fn key_id_of(json: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(value["Version"], 1, "{json}");
    value["AccessKeyId"].as_str().unwrap().to_owned()
}

fn hub_manifest(user: &str, hub: String) -> Manifest {
    Manifest::new()
        .top("state: iam")
        .defaults("overlap: 1d")
        .profile(Profile::new(user).sink(sink::credentials_file()).sink(hub))
}

fn secretsmanager(secret_id: &str) -> String {
    format!("{{ type: secretsmanager, secret_id: '{secret_id}', create: true }}")
}

fn ssm(name: &str) -> String {
    format!("{{ type: ssm, name: '{name}' }}")
}

/// Machine A rotates into the hub; machine B, whose credentials file still holds the old
/// key, syncs from it. `service` and `read_name` say how boto3 reads the hub.
fn two_machines_share_one_key(service: &str, hub: &str, read_name: &str) {
    let a = Home::new();
    let (user, old) = a.user_in_credentials(&format!("hub{service}"));
    a.manifest(&hub_manifest(&user, hub.to_owned()));
    // The hub starts with the current key (sync writes a sink that holds none).
    a.rekey(&["sync", "--yes"])
        .success()
        .stdout_has("wrote the current key");
    assert_eq!(
        key_id_of(&boto3_read(service, read_name, "AWSCURRENT")),
        old.id
    );

    a.rekey(&["apply", "--yes"]).success();
    let new = key_in(&a.credentials(), &user).unwrap();
    let keys = key_set(&[(&old.id, true), (&new.id, true)]);
    assert_eq!(
        moto().keys(&user),
        keys,
        "the old key stays active (overlap)"
    );
    assert_eq!(
        key_id_of(&boto3_read(service, read_name, "AWSCURRENT")),
        new.id
    );
    if service == "secretsmanager" {
        assert_eq!(
            key_id_of(&boto3_read(service, read_name, "AWSPREVIOUS")),
            old.id
        );
    }

    let b = Home::new();
    let b_text = format!("# B\n{}", section(&user, &old));
    b.write_credentials(&b_text);
    b.manifest(&hub_manifest(&user, hub.to_owned()));
    b.rekey(&["sync", "--yes"])
        .success()
        .stdout_has(&format!("current key {}", new.id));
    assert_eq!(
        b.credentials(),
        b_text
            .replace(&old.id, &new.id)
            .replace(&old.secret, &new.secret),
        "every other byte kept"
    );
    assert_eq!(moto().keys(&user), keys, "no key created or deleted");
}

#[test]
fn secrets_manager_carries_the_new_key_from_one_machine_to_another() {
    let secret = unique("app/aws");
    two_machines_share_one_key("secretsmanager", &secretsmanager(&secret), &secret);
}

#[test]
fn ssm_carries_the_new_key_from_one_machine_to_another() {
    let name = format!("/{}", unique("app-aws"));
    two_machines_share_one_key("ssm", &ssm(&name), &name);
}

#[test]
fn credential_process_prints_the_key_a_secret_holds() {
    let home = Home::new();
    let (user, key) = home.user_in_credentials("hubcp");
    let secret = unique("cp/aws");
    home.manifest(&hub_manifest(&user, secretsmanager(&secret)));
    home.rekey(&["sync", "--yes"]).success();
    let run = home.rekey_revealing(&["credential-process", "--secret-id", &secret, "--via", &user]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(key_id_of(&run.stdout), key.id);
}

/// A user behind the proxy whose profile writes to a Secrets Manager secret holding its
/// current key.
fn behind_proxy(name: &str) -> (Home, FaultProxy, String, TestKey, String) {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (user, key) = home.user_in_credentials(name);
    let secret = unique("denied/aws");
    home.manifest(
        &Manifest::new().profile(
            Profile::new(&user)
                .sink(sink::credentials_file())
                .sink(secretsmanager(&secret)),
        ),
    );
    home.rekey(&["sync", "--yes"]).success();
    (home, proxy, user, key, secret)
}

#[test]
fn a_secret_the_key_may_not_use_stops_the_profile_in_plan() {
    let (home, proxy, user, key, _) = behind_proxy("hubdenied");
    proxy.set(|f| {
        f.deny.insert("DescribeSecret");
    });
    let json = home.rekey(&["plan", "--output", "json"]).code(1).json();
    let decision = &json["profiles"][0]["decision"];
    // Issue 20: a refusal is a missing permission (it was sink_unwritable).
    assert_eq!(decision["error_kind"], "access_denied", "{json}");
    assert!(
        decision["message"]
            .as_str()
            .unwrap()
            .contains("AccessDeniedException"),
        "{json}"
    );
    assert_eq!(moto().keys(&user), key_set(&[(&key.id, true)]));
}

#[test]
fn a_failed_secret_write_rolls_everything_back() {
    let (home, proxy, user, key, secret) = behind_proxy("hubfail");
    let before = home.credentials();
    proxy.set(|f| {
        f.deny.insert("PutSecretValue");
    });
    let json = home
        .rekey(&["apply", "--yes", "--output", "json"])
        .code(1)
        .json();
    // Issue 20: a refusal is a missing permission (it was sink_failed).
    assert_eq!(json["results"][0]["error_kind"], "access_denied", "{json}");
    assert_eq!(home.credentials(), before, "credentials file restored");
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&key.id, true)]),
        "new key deleted"
    );
    assert_eq!(
        key_id_of(&boto3_read("secretsmanager", &secret, "AWSCURRENT")),
        key.id
    );
}

/// `rekey prune` as if `hours` had passed (the test clock): it reports `outcome` for
/// `key_id`.
fn prune_later(home: &Home, hours: u64, key_id: &str, outcome: &str) {
    let json = home
        .rekey_later(hours, &["prune", "--yes", "--output", "json"])
        .success()
        .json();
    let reported = json["pruned"].as_array().is_some_and(|all| {
        all.iter()
            .any(|p| p["key_id"] == key_id && p["outcome"] == outcome)
    });
    assert!(
        reported,
        "prune {hours}h later reports {outcome} for {key_id}: {json}"
    );
}

/// Issue 17, defect 1: sync moved the overlap's "used since" mark to its own time, so a
/// use of the old key by another machine before that sync stopped counting and prune
/// deactivated a key in use. IAM keeps one last-used date and cannot tell whose use it
/// was: the mark never moves, prune keeps the key and says why, `--force` decides.
#[test]
fn after_the_overlap_a_use_sync_may_hide_keeps_the_old_key_until_forced() {
    let secret = unique("fleet/aws");
    let manifest = |user: &str| {
        Manifest::new()
            .top("state: iam")
            .defaults("overlap: 1d")
            .defaults("grace: 1d")
            .profile(
                Profile::new(user)
                    .sink(sink::credentials_file())
                    .sink(secretsmanager(&secret)),
            )
    };
    let a = Home::new();
    let (user, old) = a.user_in_credentials("fleet");
    a.manifest(&manifest(&user));
    a.rekey(&["sync", "--yes"]).success();
    a.rekey(&["apply", "--yes"]).success();
    let new = key_in(&a.credentials(), &user).unwrap();

    // Machine C still uses the old key; then B, which holds it too, syncs (reading the
    // hub with it) and moves to the new key.
    moto().use_key(&old, &user);
    let b = Home::new();
    b.write_credentials(&section(&user, &old));
    b.manifest(&manifest(&user));
    b.rekey(&["sync", "--yes"])
        .success()
        .stdout_has(&format!("old key {} is in its overlap", old.id))
        .stdout_has("prune --force");
    assert_eq!(key_in(&b.credentials(), &user).unwrap(), new);

    // After the overlap the old key stays active: C's use may be behind B's.
    prune_later(&b, 25, &old.id, "kept");
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&old.id, true), (&new.id, true)])
    );
    // Told that every machine has moved, prune deactivates it, then deletes it.
    let forced = b
        .rekey_later(25, &["prune", "--yes", "--force", "--output", "json"])
        .success()
        .json();
    assert_eq!(forced["pruned"][0]["outcome"], "deactivated", "{forced}");
    prune_later(&b, 50, &old.id, "deleted");
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
    assert!(moto().tags(&user).is_empty(), "{:?}", moto().tags(&user));
    // A's own record goes with its next prune.
    a.rekey_later(50, &["prune", "--yes"])
        .success()
        .stdout_has("was already deleted");
    // (What A's first sync replaced stays for `sync --undo`.)
    let left = a.state_files();
    assert!(left.iter().all(|f| f.starts_with("synced/")), "{left:?}");
}

#[test]
fn a_store_that_learns_of_the_new_key_late_is_asked_again() {
    // STS and IAM accept the new key at once; Secrets Manager only 3 s later (real AWS
    // propagates keys per service).
    let (home, proxy, user, old, secret) = behind_proxy("hublate");
    proxy.set(|f| f.store_propagation = Duration::from_secs(3));
    home.rekey(&["apply", "--yes", "--grace", "0"]).success();
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(new, old);
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
    assert_eq!(
        key_id_of(&boto3_read("secretsmanager", &secret, "AWSCURRENT")),
        new.id
    );
}

/// Issue 17, defect 9: an answer the SDK could not parse was shown with its raw HTTP
/// body, which for GetSecretValue is the current secret.
#[test]
fn an_unreadable_secret_store_answer_is_reported_without_its_body() {
    let (home, proxy, _, key, _) = behind_proxy("hubgarbled");
    proxy.set(|f| {
        f.garble.insert("GetSecretValue");
    });
    for args in [
        &["plan"][..],
        &["sync", "--yes"],
        &["status"],
        &["plan", "-vv", "--output", "json"],
    ] {
        let run = home.rekey(args);
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(
            !all.contains(&key.secret),
            "rekey {args:?} showed the secret"
        );
        assert!(
            all.contains("unreadable response"),
            "rekey {args:?} says why: {all}"
        );
    }
}

/// Machine A's rotation verifies its new key (its check waits for the test, then fails)
/// while machine B syncs. `hub` is the sink both read.
fn a_sync_during_a_verification_that_fails(name: &str, hub: &str) -> (Home, Home, Run, String) {
    let manifest = |user: &str, verify: Option<&str>| {
        let mut manifest = Manifest::new().top("state: iam").defaults("overlap: 1d");
        if let Some(verify) = verify {
            manifest = manifest.defaults(verify);
        }
        manifest.profile(
            Profile::new(user)
                .sink(sink::credentials_file())
                .sink(hub.to_owned()),
        )
    };
    let a = Home::new();
    let (user, old) = a.user_in_credentials(name);
    let check = "verify: { command: [sh, -c, 'touch started; while [ ! -e release ]; do sleep 0.1; done; exit 1'], timeout: 60s }";
    a.manifest(&manifest(&user, Some(check)));
    a.rekey(&["sync", "--yes"]).success();
    let mut rotation = a.run(&["apply", "--yes"]).start(false);
    eventually(Duration::from_secs(30), "A is verifying", || {
        a.path("project/started").exists()
    });

    let b = Home::new();
    let b_text = section(&user, &old);
    b.write_credentials(&b_text);
    b.manifest(&manifest(&user, None));
    let run = b.rekey(&["sync", "--yes"]);
    assert_eq!(b.credentials(), b_text, "B keeps the key that works");

    a.write("project/release", "");
    assert_eq!(rotation.wait().unwrap().code(), Some(1), "A rolled back");
    assert_eq!(moto().keys(&user), key_set(&[(&old.id, true)]));
    assert_eq!(b.credentials(), b_text);
    (a, b, run, user)
}

/// Issue 17, defect 10: sync adopted another machine's new key from the hub while that
/// rotation was still verifying; the verification failed, the rotation deleted the key,
/// and the machine that had synced was left with a dead key. Issue 30, point 4: a
/// Secrets Manager hub stages the key (`AWSPENDING`) until it is verified, so its
/// readers never see it: B's sync finds every place in step, and A's failed rotation
/// leaves `AWSCURRENT` untouched and drops its pending version.
#[test]
fn sync_never_adopts_the_key_of_a_rotation_still_in_progress() {
    let secret = unique("verifying/aws");
    let (a, _, run, user) =
        a_sync_during_a_verification_that_fails("hubverifying", &secretsmanager(&secret));
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert!(run.stdout.contains("in sync"), "{}", run.stdout);
    let old = key_in(&a.credentials(), &user).unwrap();
    assert_eq!(key_id_of(&moto().secret(&secret)), old.id);
    assert_eq!(moto().secret_at(&secret, "AWSPENDING"), None, "dropped");
}

/// An SSM parameter keeps no pending version: a rotation writes it only once the key is
/// verified, so a failed verification never reaches it, and B's sync finds it in step.
#[test]
fn an_ssm_hub_is_written_only_once_the_key_is_verified() {
    let name = format!("/{}", unique("verifying/aws"));
    let (a, _, run, user) = a_sync_during_a_verification_that_fails("ssmverifying", &ssm(&name));
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let old = key_in(&a.credentials(), &user).unwrap();
    assert_eq!(key_id_of(&boto3_read("ssm", &name, "")), old.id);
}

/// The same through a place that cannot stage (a file both machines read): the new key
/// is there during the verification, and sync refuses to adopt it without a record
/// that the rotation which made it finished.
#[test]
fn sync_refuses_a_shared_files_key_of_a_rotation_still_in_progress() {
    let shared = tempfile::tempdir().unwrap();
    let path = shared.path().join("shared.env");
    let hub = sink::dotenv(path.to_str().unwrap()).replace(" }", ", create: true }");
    let (_, _, run, _) = a_sync_during_a_verification_that_fails("fileverifying", &hub);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("no record that the rotation which made"),
        "{}",
        run.stdout
    );
}

/// Issue 17, defect 10: a machine that synced to a key deleted since (the rotation was
/// rolled back elsewhere) held only that dead key, with no backup, and could not sync
/// back. Sync keeps what it replaced; `sync --undo` puts it back.
#[test]
fn a_sync_to_a_key_rolled_back_elsewhere_can_be_undone() {
    let secret = unique("undo/aws");
    let a = Home::new();
    let (user, old) = a.user_in_credentials("hubundo");
    a.manifest(&hub_manifest(&user, secretsmanager(&secret)));
    a.rekey(&["sync", "--yes"]).success();
    a.rekey(&["apply", "--yes"]).success();
    let new = key_in(&a.credentials(), &user).unwrap();

    let b = Home::new();
    let before = format!("# B's own comment\n{}", section(&user, &old));
    b.write_credentials(&before);
    b.manifest(&hub_manifest(&user, secretsmanager(&secret)));
    b.rekey(&["sync", "--yes"]).success();
    assert_eq!(key_in(&b.credentials(), &user).unwrap(), new);

    // A rolls its rotation back: the key B synced to is deleted.
    a.rekey(&["rollback", &user, "--yes", "--force"]).success();
    assert_eq!(moto().keys(&user), key_set(&[(&old.id, true)]));
    b.rekey(&["sync", "--undo", "--yes"])
        .success()
        .stdout_has("put back what it held before the last sync");
    assert_eq!(b.credentials(), before, "byte for byte");
    // Nothing left to undo.
    b.rekey(&["sync", "--undo", "--yes"])
        .code(1)
        .stdout_has("no sync of this profile to undo");
}

/// Issue 30, point 4: machines with their own (local) state share only the hub. During
/// A's overlap, B's sync adopts the key the hub marks verified (`AWSCURRENT`, carrying
/// rekey's `rekey-verified` stage), with no record of A's rotation anywhere. A key put
/// into the hub by hand carries no such mark, and sync refuses it while an older key is
/// Active too.
#[test]
fn sync_adopts_the_hubs_verified_key_during_an_overlap_without_a_record() {
    let secret = unique("overlap/aws");
    let manifest = |user: &str| {
        Manifest::new().defaults("overlap: 1d").profile(
            Profile::new(user)
                .sink(sink::credentials_file())
                .sink(secretsmanager(&secret)),
        )
    };
    let a = Home::new();
    let (user, old) = a.user_in_credentials("hublocal");
    a.manifest(&manifest(&user));
    a.rekey(&["sync", "--yes"]).success();
    a.rekey(&["apply", "--yes"]).success();
    let new = key_in(&a.credentials(), &user).unwrap();
    let verified = moto().secret_at(&secret, "rekey-verified").expect("marked");
    assert_eq!(key_id_of(&verified), new.id);
    assert_eq!(moto().active_keys(&user).len(), 2, "in the overlap");

    let b = Home::new();
    b.write_credentials(&section(&user, &old));
    b.manifest(&manifest(&user));
    b.rekey(&["sync", "--yes"])
        .success()
        .stdout_has("wrote the current key");
    assert_eq!(key_in(&b.credentials(), &user).unwrap(), new);

    // By hand: the old key goes, a new one is made and put into the hub.
    moto().delete_key(&user, &old.id);
    let by_hand = moto().create_key(&user);
    moto().put_secret(
        &secret,
        &format!(
            "{{\"Version\":1,\"AccessKeyId\":\"{}\",\"SecretAccessKey\":\"{}\"}}",
            by_hand.id, by_hand.secret
        ),
    );
    let c = Home::new();
    let c_text = section(&user, &new);
    c.write_credentials(&c_text);
    c.manifest(&manifest(&user));
    let run = c.rekey(&["sync", "--yes"]).code(1);
    assert!(
        run.stdout
            .contains("no record that the rotation which made"),
        "{}",
        run.stdout
    );
    assert_eq!(c.credentials(), c_text);
}
