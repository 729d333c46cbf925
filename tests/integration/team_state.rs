//! Team state in IAM (`state: iam`): two homes (two state dirs, two credentials files)
//! play two machines rotating the same IAM user.

use std::time::Duration;

use crate::proxy::FaultProxy;
use crate::support::*;

fn team_manifest(user: &str) -> Manifest {
    Manifest::new()
        .top("state: iam")
        .profile(Profile::new(user))
}

/// Machine `a` rotates a new user (named after `name`) with `grace`; returns the user,
/// its old key and its new key.
fn rotated_on(a: Home, name: &str, grace: &str) -> (Home, String, TestKey, TestKey) {
    let (user, old) = a.user_in_credentials(name);
    a.manifest(&team_manifest(&user));
    a.rekey(&["apply", "--yes", "--grace", grace])
        .success()
        .stdout_has("(shared in IAM with every machine)");
    let new = key_in(&a.credentials(), &user).unwrap();
    (a, user, old, new)
}

fn machine_holding(user: &str, key: &TestKey) -> Home {
    let b = Home::new();
    b.write_credentials(&section(user, key));
    b.manifest(&team_manifest(user));
    b
}

#[test]
fn a_second_machine_sees_and_prunes_the_first_machines_pending_deletion() {
    let (a, user, old, new) = rotated_on(Home::new(), "team", "2s");
    let tags = moto().tags(&user);
    assert_eq!(tags.len(), 1, "{tags:?}");
    assert_eq!(tags[0].0, format!("rekey:pending:{}", old.id));

    let b = machine_holding(&user, &new);
    assert!(b.state_files().is_empty(), "B starts with no records");
    let status = b.rekey(&["status", "--output", "json"]).success().json();
    assert_eq!(
        status["profiles"][0]["pending"][0]["key_id"], old.id,
        "{status}"
    );
    b.rekey(&["status"])
        .success()
        .stdout_has(&format!("old   {} deactivated", old.id));

    eventually(
        Duration::from_secs(15),
        "B's plan lists the due deletion",
        || {
            let plan = b.rekey(&["plan", "--output", "json"]).success().json();
            plan["prune"][0]["key_id"] == old.id.as_str()
        },
    );
    let pruned = b
        .rekey(&["prune", "--yes", "--output", "json"])
        .success()
        .json();
    assert_eq!(pruned["pruned"][0]["key_id"], old.id, "{pruned}");
    assert_eq!(pruned["pruned"][0]["outcome"], "deleted", "{pruned}");
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
    assert!(moto().tags(&user).is_empty(), "the tag goes with the key");

    // A's own record is resolved by A's next prune: the key is already gone.
    a.rekey(&["prune", "--yes"]).success().stdout_has(&format!(
        "old key {} (profile {user}) was already deleted",
        old.id
    ));
    assert!(a.state_files().is_empty(), "{:?}", a.state_files());
}

#[test]
fn iam_dates_win_over_a_local_record() {
    let (a, user, old, _) = rotated_on(Home::new(), "teamdates", "1h");
    // Another machine (or an operator) shortened the schedule in IAM: due at once.
    let now = rfc3339(std::time::SystemTime::now());
    let due = format!("{now}/{now}");
    moto().tag_user(&user, &format!("rekey:pending:{}", old.id), &due);
    let plan = a.rekey(&["plan", "--output", "json"]).success().json();
    assert_eq!(plan["prune"][0]["key_id"], old.id, "{plan}");
    let due = plan["prune"][0]["due"].as_str().unwrap_or_default();
    assert_eq!(due.get(..19), now.get(..19), "to the second: {plan}");
}

#[test]
fn without_tag_permissions_the_local_record_is_kept_with_a_warning() {
    let proxy = FaultProxy::start();
    let a = Home::new().via(&proxy.endpoint);
    let (user, old) = a.user_in_credentials("teamdeny");
    a.manifest(&team_manifest(&user));
    proxy.set(|f| {
        f.deny.extend(["TagUser", "UntagUser", "ListUserTags"]);
    });
    a.rekey(&["plan"])
        .success()
        .stdout_has("iam:ListUserTags is denied")
        .stdout_has("only this machine's records count");
    a.rekey(&["apply", "--yes", "--grace", "1s"])
        .success()
        .stdout_has("recorded on this machine only")
        .stdout_has("iam:TagUser is denied");
    assert!(moto().tags(&user).is_empty());
    eventually(
        Duration::from_secs(15),
        "the local record is pruned",
        || {
            let run = a.rekey(&["prune", "--yes"]).success();
            run.stdout.contains(&format!("deleted old key {}", old.id))
        },
    );
    assert!(!moto().keys(&user).iter().any(|(id, _)| *id == old.id));
}

#[test]
fn a_stale_copy_refused_by_aws_is_named_as_such() {
    // Behind the proxy, as on AWS, the old key is refused once it is inactive.
    let proxy = FaultProxy::start();
    let a = Home::new().via(&proxy.endpoint);
    let (_a, user, old, _) = rotated_on(a, "teamstale", "1d");
    let b = machine_holding(&user, &old).via(&proxy.endpoint);
    let json = b.rekey(&["plan", "--output", "json"]).code(1).json();
    let decision = &json["profiles"][0]["decision"];
    assert_eq!(decision["error_kind"], "invalid_key", "{json}");
    assert!(
        decision["message"]
            .as_str()
            .unwrap()
            .contains("this copy is stale"),
        "{json}"
    );
}

#[test]
fn an_admin_sees_a_stale_copy_as_rotated_elsewhere_with_the_date() {
    let (_a, user, old, new) = rotated_on(Home::new(), "teamadmin", "1d");
    let b = Home::new();
    let admin = moto().create_user(&unique("teamadm"));
    b.write_credentials(&section("admin", &admin));
    b.write("project/app.env", &env_text(&old));
    b.manifest(
        &Manifest::new().top("state: iam").profile(
            Profile::new("app")
                .set("via: admin")
                .set(&format!("user: {user}"))
                .sink(sink::dotenv("app.env")),
        ),
    );
    let json = b.rekey(&["plan", "--output", "json"]).code(1).json();
    let message = json["profiles"][0]["decision"]["message"].as_str().unwrap();
    let today = &moto().tags(&user)[0].1[..10];
    assert!(
        message.starts_with(&format!("rotated elsewhere on {today}: this copy is stale")),
        "{message}"
    );
    assert!(
        message.contains(&new.id),
        "names the current key: {message}"
    );
    b.rekey(&["status"])
        .success()
        .stdout_has("this copy is stale");
}
