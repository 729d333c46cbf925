//! `rekey respond --event`: a leak alert (an AWS Health event as EventBridge delivers
//! it, a GitHub secret-scanning alert) starts the leak response for exactly the profiles
//! that hold an exposed key. Fixtures shaped as AWS's and GitHub's documented samples
//! (tests/fixtures/events), with AWS's example key id replaced by a real one. Through
//! the fault proxy: moto accepts a deleted key and evaluates no policy; the proxy
//! answers as AWS does.

use std::time::Duration;

use crate::json_schemas::passes;
use crate::proxy::FaultProxy;
use crate::support::*;

const EXAMPLE_ID: &str = "AKIAIOSFODNN7EXAMPLE";

/// A fixture naming `key_id` instead of AWS's example id.
fn event(fixture: &str, key_id: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/events/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path)
        .unwrap()
        .replace(EXAMPLE_ID, key_id)
}

/// Two users in the credentials file (default mode), behind a proxy.
fn two_users() -> (Home, FaultProxy, (String, TestKey), (String, TestKey)) {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let mut users = home
        .users_in_credentials(&["exposed", "bystander"])
        .into_iter();
    let (a, b) = (users.next().unwrap(), users.next().unwrap());
    (home, proxy, a, b)
}

#[test]
fn an_aws_health_event_replaces_exactly_the_exposed_key_and_closes_the_door() {
    let (home, proxy, (user, old), (bystander, kept)) = two_users();
    proxy.set(|f| {
        f.revocation_lag = Duration::from_secs(1);
        f.attacker = true;
    });
    home.write(
        "alert.json",
        &event("aws-health-credentials-exposed.json", &old.id),
    );
    let alert = home.path("alert.json");
    let run = home
        .rekey(&["respond", "--event", alert.to_str().unwrap()])
        .success()
        .stdout_has("Responding to AWS Health event arn:aws:health:global::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED")
        .stdout_has(&format!("{}: profile {user}", old.id))
        .stdout_has("(refused after ")
        .stdout_has("revoked every session of")
        .stdout_has(&format!("{}: replaced: replaced by ", old.id));
    // The exposed key replaced and gone; the attacker's key quarantined (respond always
    // quarantines); the bystander untouched.
    let new = key_in(&home.credentials(), &user).unwrap();
    let made = proxy.attacker_keys();
    assert_eq!(made.len(), 1, "{}", run.stdout);
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&new.id, true), (&made[0], false)])
    );
    assert_eq!(moto().policy_names(&user), ["rekey-revoke-older-sessions"]);
    assert_eq!(key_in(&home.credentials(), &bystander), Some(kept.clone()));
    assert_eq!(moto().keys(&bystander), key_set(&[(&kept.id, true)]));
    assert!(moto().policy_names(&bystander).is_empty());
}

/// Issue 30, point 1: right after the leaked key's deletion the user's keys are read
/// again. Here another machine makes the replacement Inactive while that DeleteAccessKey
/// is held: the user is left with no Active key, and respond says so loudly and exits
/// non-zero instead of reporting the response done.
#[test]
fn a_leak_deletion_that_took_the_users_last_key_is_said_loudly() {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (user, old) = home.user_in_credentials("leaklast");
    proxy.set(|f| {
        f.slow.insert("DeleteAccessKey", Duration::from_secs(3));
    });
    home.write(
        "alert.json",
        &event("aws-health-credentials-exposed.json", &old.id),
    );
    let alert = home.path("alert.json");
    let args = ["respond", "--event", alert.to_str().unwrap()];
    let respond = home.run(&args).start(true);
    eventually(
        Duration::from_secs(60),
        "respond deletes the leaked key",
        || proxy.count("DeleteAccessKey") > 0,
    );
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(new.id, old.id);
    moto().set_active(&user, &new.id, false);
    let run = home.finish(respond, &args);
    assert_ne!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("KEY LOST"), "{said}");
    assert!(!said.contains("revoked every session"), "{said}");
}

#[test]
fn a_github_alert_on_stdin_gives_one_json_document() {
    let (home, _proxy, (user, old), (bystander, kept)) = two_users();
    for fixture in [
        "github-repository-dispatch.json",
        "github-secret-scanning-alert.json",
    ] {
        let key = key_in(&home.credentials(), &user).unwrap();
        let run = home
            .run(&["respond", "--event", "-", "--output", "json"])
            .fed(&event(fixture, &key.id), "the rekey binary")
            .success();
        passes(&home, "respond", &run);
        let json = run.json();
        assert_eq!(json["schema"], 1);
        let source = json["source"].as_str().unwrap();
        assert!(source.starts_with("GitHub secret-scanning alert https://github.com/example/app/security/secret-scanning/"), "{json}");
        let exposed = &json["exposed"][0];
        assert_eq!(exposed["key_id"], key.id.as_str(), "{json}");
        assert_eq!(exposed["profiles"], serde_json::json!([user]), "{json}");
        assert_eq!(exposed["status"], "replaced", "{json}");
        let replaced = &json["apply"]["replaced"][0];
        assert_eq!(replaced["key_id"], key.id.as_str(), "{json}");
        assert!(replaced["refused_after"].is_number(), "{json}");
        assert!(replaced["sessions_revoked_before"].is_string(), "{json}");
        let new = key_in(&home.credentials(), &user).unwrap();
        assert_ne!(new, key);
        assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
    }
    assert_ne!(key_in(&home.credentials(), &user).unwrap(), old);
    assert_eq!(moto().keys(&bystander), key_set(&[(&kept.id, true)]));
}

/// An alert for the secret access key itself finds the key whose secret it is; the
/// secret is never shown.
#[test]
fn an_alert_for_a_secret_finds_its_key_and_never_shows_it() {
    let (home, _proxy, (user, old), _) = two_users();
    let alert = serde_json::json!({
        "number": 7,
        "html_url": "https://github.com/example/app/security/secret-scanning/7",
        "secret_type": "aws_secret_access_key",
        "secret": old.secret,
    });
    let run = home
        .run(&["respond", "--event", "-"])
        .fed(&alert.to_string(), "the rekey binary")
        .success()
        .stdout_has(&format!(
            "{} (its secret was exposed): profile {user}",
            old.id
        ));
    assert!(!run.stdout.contains(&old.secret) && !run.stderr.contains(&old.secret));
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
}

/// An exposed key no profile holds: named, exit 1, nothing changed; with `--via ADMIN
/// --deactivate-unknown`, deactivated in IAM (its user found through IAM) and the user's
/// older sessions revoked.
#[test]
fn an_exposed_key_no_profile_holds_is_named_and_with_deactivate_unknown_contained() {
    let (home, _proxy, _, _) = two_users();
    let admin = moto().create_user(&unique("responder"));
    home.write_credentials(&(home.credentials() + &section("admin", &admin)));
    let stranger_user = unique("elsewhere");
    let stranger = moto().create_user(&stranger_user);
    let alert = event("aws-health-credentials-exposed.json", &stranger.id);

    let run = home
        .run(&["respond", "--event", "-"])
        .fed(&alert, "the rekey binary")
        .code(1)
        .stdout_has(&format!("{}: held by no profile", stranger.id))
        .stdout_has("NOT CONTAINED")
        .stdout_has("--deactivate-unknown");
    assert!(run.stderr.contains(&stranger.id), "{}", run.stderr);
    assert_eq!(
        moto().keys(&stranger_user),
        key_set(&[(&stranger.id, true)])
    );

    let run = home
        .run(&[
            "respond",
            "--event",
            "-",
            "--via",
            "admin",
            "--deactivate-unknown",
            "-o",
            "json",
        ])
        .fed(&alert, "the rekey binary")
        .code(1);
    passes(&home, "respond", &run);
    let json = run.json();
    let exposed = &json["exposed"][0];
    assert_eq!(exposed["status"], "deactivated", "{json}");
    assert_eq!(exposed["user"], stranger_user.as_str(), "{json}");
    assert!(json["apply"].is_null(), "no profile rotated: {json}");
    assert_eq!(
        moto().keys(&stranger_user),
        key_set(&[(&stranger.id, false)])
    );
    assert_eq!(
        moto().policy_names(&stranger_user),
        ["rekey-revoke-older-sessions"]
    );
}

/// An alert naming a key of the user `--via` signs as (its own signing key, or that
/// user's other key): never deactivated, and the report says why (issue 29, point 5).
#[test]
fn deactivate_unknown_never_deactivates_a_key_of_the_signer() {
    let (home, _proxy, (user, _), _) = two_users();
    let admin_user = unique("signer");
    let admin = moto().create_user(&admin_user);
    let spare = moto().create_key(&admin_user);
    home.write_credentials(&(home.credentials() + &section("admin", &admin)));
    // The project's manifest names its own profile; the admin's key is in the
    // credentials file for --via alone, so no profile holds it.
    home.manifest(&Manifest::new().profile(Profile::new(&user)));
    for named in [&admin.id, &spare.id] {
        let alert = event("aws-health-credentials-exposed.json", named);
        let args = [
            "respond",
            "--event",
            "-",
            "--via",
            "admin",
            "--deactivate-unknown",
            "-o",
            "json",
        ];
        let run = home.run(&args).fed(&alert, "the rekey binary").code(1);
        let json = run.json();
        let exposed = &json["exposed"][0];
        assert_eq!(exposed["status"], "not_held", "{json}");
        let detail = exposed["detail"].as_str().unwrap();
        assert!(
            detail.contains("never deactivates the keys it signs with"),
            "{detail}"
        );
    }
    assert_eq!(
        moto().keys(&admin_user),
        key_set(&[(&admin.id, true), (&spare.id, true)])
    );
    assert!(moto().policy_names(&admin_user).is_empty());
}

#[test]
fn an_event_that_is_not_a_leak_alert_changes_nothing() {
    let (home, proxy, (user, old), _) = two_users();
    let other = event("aws-health-credentials-exposed.json", &old.id).replace(
        "\"eventTypeCode\": \"AWS_RISK_CREDENTIALS_EXPOSED\"",
        "\"eventTypeCode\": \"AWS_EC2_OPERATIONAL_ISSUE\"",
    );
    home.run(&["respond", "--event", "-"])
        .fed(&other, "the rekey binary")
        .code(1)
        .stderr_has("not one that names exposed access keys (AWS_RISK_CREDENTIALS_EXPOSED, ");
    home.run(&["respond", "--event", "-"])
        .fed("{\"hello\": 1}", "the rekey binary")
        .code(1)
        .stderr_has("neither an AWS Health event");
    home.rekey(&["respond", "--event", "/nonexistent/alert.json"])
        .code(1)
        .stderr_has("cannot read the event /nonexistent/alert.json");
    assert_eq!(moto().keys(&user), key_set(&[(&old.id, true)]));
    assert_eq!(proxy.count("CreateAccessKey"), 0);
}

/// A response to `user`'s leaked key (an AWS Health event), with an attacker holding
/// the key, killed at crash point `point`: the home, the proxy, the user and its old
/// key, and the alert's path.
fn response_killed_at(point: &str) -> (Home, FaultProxy, (String, TestKey), String) {
    let (home, proxy, (user, old), _) = two_users();
    proxy.set(|f| {
        f.revocation_lag = Duration::from_secs(1);
        f.attacker = true;
    });
    home.write(
        "alert.json",
        &event("aws-health-credentials-exposed.json", &old.id),
    );
    let alert = home.path("alert.json").display().to_string();
    let args = ["respond", "--event", alert.as_str()];
    let killed = home.run(&args).envs(&[("REKEY_CRASH_AT", point)]).output();
    assert_eq!(
        killed.code, None,
        "{point}: build with --features rekey/crash-points"
    );
    (home, proxy, (user, old), alert)
}

/// Issue 30, point 3: a response killed after any of its steps (a CI job cancelled or
/// timed out; here aborted at a crash point) is finished by `rekey recover`: the
/// leaked key deleted and refused, the key the attacker made meanwhile quarantined, the
/// user's older sessions revoked. Before, `recover` found nothing to do.
#[test]
fn a_response_killed_after_any_step_is_finished_by_recover() {
    for point in [
        "deactivated",
        "leak-deleted",
        "leak-refused",
        "leak-searched",
    ] {
        let (home, proxy, (user, old), _) = response_killed_at(point);
        assert!(
            moto().policy_names(&user).is_empty(),
            "{point}: sessions not revoked yet"
        );

        let json = home
            .rekey(&["recover", "--output", "json"])
            .success()
            .json();
        let outcomes: Vec<&str> = json["recovered"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["result"]["outcome"].as_str().unwrap_or("failed"))
            .collect();
        assert_eq!(
            outcomes.last(),
            Some(&"response_finished"),
            "{point}: {json}"
        );
        let new = key_in(&home.credentials(), &user).unwrap();
        assert_ne!(new, old, "{point}");
        let made = proxy.attacker_keys();
        let mut expected = vec![(new.id.as_str(), true)];
        expected.extend(made.iter().map(|id| (id.as_str(), false)));
        assert_eq!(moto().keys(&user), key_set(&expected), "{point}: {json}");
        assert_eq!(
            moto().policy_names(&user),
            ["rekey-revoke-older-sessions"],
            "{point}"
        );
        home.rekey(&["recover"])
            .success()
            .stdout_has("No interrupted rotation to resolve.");
    }
}

/// Issue 30, point 3: the same alert again, after a response was killed once the key
/// was deleted, finishes that response rather than reporting "already deleted".
#[test]
fn the_same_alert_again_finishes_an_interrupted_response() {
    let (home, proxy, (user, _), alert) = response_killed_at("leak-deleted");
    let args = ["respond", "--event", alert.as_str()];

    home.rekey(&args)
        .success()
        .stdout_has("this one closed the door behind it");
    let made = proxy.attacker_keys();
    assert_eq!(made.len(), 1);
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&new.id, true), (&made[0], false)])
    );
    assert_eq!(moto().policy_names(&user), ["rekey-revoke-older-sessions"]);
}

/// Issue 30, point 3: a response killed before its new key reached any place is undone
/// by recovery, and the leaked key is in use again: `recover` says the response did not
/// finish and how to finish it (exit 1), never "resolved"; `apply --compromised` then
/// responds again.
#[test]
fn a_response_undone_by_recovery_is_never_reported_finished() {
    let (home, _proxy, (user, old), _) = two_users();
    home.write(
        "alert.json",
        &event("aws-health-credentials-exposed.json", &old.id),
    );
    let alert = home.path("alert.json");
    let args = ["respond", "--event", alert.to_str().unwrap()];
    let killed = home
        .run(&args)
        .envs(&[("REKEY_CRASH_AT", "key-created")])
        .output();
    assert_eq!(killed.code, None, "killed");

    let run = home.rekey(&["recover"]).code(1);
    assert!(
        run.stdout.contains("the leaked key is still in use")
            && run
                .stdout
                .contains(&format!("rekey apply --compromised --profile {user}")),
        "{}",
        run.stdout
    );
    assert_eq!(moto().keys(&user), key_set(&[(&old.id, true)]));
    home.rekey(&["apply", "--compromised", "--yes", "--profile", &user])
        .success();
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
    home.rekey(&["recover"])
        .success()
        .stdout_has("No interrupted rotation to resolve.");
}

/// Issue 30, point 3: with `state: s3://…`, a response killed on one runner (its state
/// dir gone with it) is finished by `recover` on another: the response's record is
/// copied to the bucket, authenticated by the fleet key like a journal copy, and
/// removed once finished.
#[test]
fn a_response_killed_on_one_runner_is_finished_on_another() {
    let bucket = unique("rekey-response");
    moto().create_bucket(&bucket);
    let proxy = FaultProxy::start();
    let a = Home::new().via(&proxy.endpoint);
    let (user, old) = a.user_in_credentials("runnerleak");
    let hub = unique("respond/aws");
    let value = |key: &TestKey| {
        format!(
            "{{\"Version\":1,\"AccessKeyId\":\"{}\",\"SecretAccessKey\":\"{}\"}}",
            key.id, key.secret
        )
    };
    moto().put_secret(&hub, &value(&old));
    let manifest = Manifest::new()
        .top(&format!("state: s3://{bucket}/team"))
        .top("state_lease: 3s")
        .profile(
            Profile::new(&user).sink(format!("{{ type: secretsmanager, secret_id: '{hub}' }}")),
        );
    a.manifest(&manifest);
    proxy.set(|f| {
        f.revocation_lag = Duration::from_secs(1);
        f.attacker = true;
    });
    a.write(
        "alert.json",
        &event("aws-health-credentials-exposed.json", &old.id),
    );
    let alert = a.path("alert.json");
    let args = ["respond", "--event", alert.to_str().unwrap()];
    let killed = a
        .run(&args)
        .envs(&[("REKEY_CRASH_AT", "leak-deleted")])
        .output();
    assert_eq!(killed.code, None, "killed");
    let record = format!("team/state/responses/123456789012-{user}.json");
    assert!(moto().object(&bucket, &record).is_some(), "copied");

    // Runner B: a fresh state dir; its AWS profile reads the hub with the new key.
    let held: serde_json::Value = serde_json::from_str(&moto().secret(&hub)).unwrap();
    let new = TestKey {
        id: held["AccessKeyId"].as_str().unwrap().to_owned(),
        secret: held["SecretAccessKey"].as_str().unwrap().to_owned(),
    };
    assert_ne!(new.id, old.id);
    let b = Home::new().via(&proxy.endpoint);
    b.write_credentials(&section(&user, &new));
    b.manifest(&manifest);
    let json = b
        .rekey(&["recover", "--lock-timeout", "30s", "--output", "json"])
        .success()
        .json();
    assert_eq!(
        json["recovered"][0]["result"]["outcome"], "response_finished",
        "{json}"
    );
    let made = proxy.attacker_keys();
    assert_eq!(made.len(), 1);
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&new.id, true), (&made[0], false)])
    );
    assert_eq!(moto().policy_names(&user), ["rekey-revoke-older-sessions"]);
    assert_eq!(moto().object(&bucket, &record), None, "removed");
}

/// Issue 33, points 2 and 3: what the leaked key did is read from CloudTrail (the
/// proxy keeps the history moto lacks), and what it left behind is reported with its
/// evidence and contained: a user it made (denied everything, its key deactivated, its
/// console password deleted) and a role trusting an outside account (denied
/// everything). Nothing is deleted but the password: the rest is evidence.
#[test]
fn what_the_leaked_key_made_is_read_from_cloudtrail_and_contained() {
    let (home, proxy, (user, old), _) = two_users();
    let attacker = iam_as(&old, &proxy.endpoint);
    let evil = unique("evil");
    let role = unique("backdoor");
    block_on(attacker.create_user().user_name(&evil).send()).unwrap();
    let made = block_on(attacker.create_access_key().user_name(&evil).send()).unwrap();
    let made = made.access_key.unwrap().access_key_id;
    let profile = attacker
        .create_login_profile()
        .user_name(&evil)
        .password("Pa55word!Pa55word!");
    block_on(profile.send()).unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"sts:AssumeRole"}]}"#;
    let create_role = attacker
        .create_role()
        .role_name(&role)
        .assume_role_policy_document(trust);
    block_on(create_role.send()).unwrap();
    // Reads enough to fill more than one page of LookupEvents (50 events).
    for _ in 0..55 {
        block_on(attacker.list_users().send()).unwrap();
    }
    home.write(
        "alert.json",
        &event("aws-health-credentials-exposed.json", &old.id),
    );
    let alert = home.path("alert.json");
    let args = [
        "respond",
        "--event",
        alert.to_str().unwrap(),
        "--regions",
        "us-east-1,eu-west-1",
    ];
    let run = home
        .rekey(&args)
        .success()
        .stdout_has(&format!("CloudTrail (us-east-1, eu-west-1): the leaked key {} made ", old.id))
        .stdout_has(&format!(
            "LEFT BEHIND by the leaked key: user {evil} (iam:CreateUser at "
        ))
        .stdout_has(&format!("contained: denied everything to user {evil} (inline policy rekey-contain-deny-all), deactivated its keys {made}"))
        .stdout_has(&format!("a console password for {evil} (iam:CreateLoginProfile at "))
        .stdout_has(&format!("contained: deleted {evil}'s console password"))
        .stdout_has(&format!("role {role} (iam:CreateRole at "))
        .stdout_has(&format!("aws iam delete-role-policy --role-name {role} --policy-name rekey-contain-deny-all"));
    assert_eq!(
        moto().keys(&evil),
        key_set(&[(&made, false)]),
        "{}",
        run.stdout
    );
    assert_eq!(moto().policy_names(&evil), ["rekey-contain-deny-all"]);
    assert!(!moto().has_login_profile(&evil));
    // Every page was read: the 55 reads and the 4 writes at least.
    let calls: usize = (run
        .stdout
        .split(&format!("the leaked key {} made ", old.id)))
    .nth(1)
    .and_then(|rest| rest.split(' ').next())
    .and_then(|n| n.parse().ok())
    .unwrap();
    assert!(calls >= 59, "{calls} calls");
    assert_eq!(moto().role_policy_names(&role), ["rekey-contain-deny-all"]);
    assert!(
        moto().role_exists("123456789012", &role),
        "never deleted: evidence"
    );
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
}

/// Issue 33, point 2: CloudTrail's history arrives minutes after the calls. Here it has
/// not arrived when the response runs (the proxy holds it back), so the response finds
/// nothing left behind and says to look again; the same alert again, once it arrived,
/// reads the trail anew for the key it had deleted, and contains what it shows.
#[test]
fn a_trail_that_arrives_late_is_read_again_by_the_same_alert() {
    let (home, proxy, (_, old), _) = two_users();
    let attacker = iam_as(&old, &proxy.endpoint);
    let evil = unique("late");
    block_on(attacker.create_user().user_name(&evil).send()).unwrap();
    proxy.set(|f| f.trail.lag = Duration::from_secs(3600));
    home.write(
        "alert.json",
        &event("aws-health-credentials-exposed.json", &old.id),
    );
    let alert = home.path("alert.json");
    let args = ["respond", "--event", alert.to_str().unwrap()];
    let first = home
        .rekey(&args)
        .success()
        .stdout_has(&format!("the leaked key {} made 0 calls", old.id))
        .stdout_has("up to about 15 minutes late: look again then");
    assert!(!first.stdout.contains("LEFT BEHIND"), "{}", first.stdout);
    assert!(moto().policy_names(&evil).is_empty());

    proxy.set(|f| f.trail.lag = Duration::ZERO);
    let again = home
        .rekey(&args)
        .success()
        .stdout_has(&format!("{}: already deleted", old.id))
        .stdout_has(&format!(
            "LEFT BEHIND by the leaked key: user {evil} (iam:CreateUser at "
        ));
    assert_eq!(
        moto().policy_names(&evil),
        ["rekey-contain-deny-all"],
        "{}",
        again.stdout
    );
}

/// A trail rekey may not read (a quarantined signer, a policy without
/// `cloudtrail:LookupEvents`) does not stop the response: the rest is done, and the
/// report says how to read it by hand.
#[test]
fn a_trail_that_cannot_be_read_is_said_and_the_response_goes_on() {
    let (home, proxy, (user, old), _) = two_users();
    proxy.set(|f| {
        f.deny.insert("LookupEvents");
    });
    home.write(
        "alert.json",
        &event("aws-health-credentials-exposed.json", &old.id),
    );
    let alert = home.path("alert.json");
    home.rekey(&["respond", "--event", alert.to_str().unwrap()])
        .success()
        .stdout_has("could not read what the leaked key did in CloudTrail")
        .stdout_has(&format!(
            "aws cloudtrail lookup-events --lookup-attributes AttributeKey=AccessKeyId,AttributeValue={}",
            old.id
        ))
        .stdout_has("revoked every session of");
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
}
