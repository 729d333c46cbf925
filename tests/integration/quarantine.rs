//! A leak response on a user AWS has quarantined (issue 33, point 1): AWS attaches
//! `AWSCompromisedKeyQuarantineV2` to a user whose key it found exposed, which denies
//! that user `iam:CreateAccessKey` and more. Against moto `--checked` (AWS's managed
//! policies loaded, every request's signature checked and its policies evaluated), so
//! the quarantine denies here what it denies on AWS.

use crate::support::*;

const QUARANTINE: &str = "AWSCompromisedKeyQuarantineV2";

/// A home whose credentials file holds `user`'s key and the `admin` profile, against
/// the checked moto, with an AWS Health alert naming `leaked` in `alert.json`.
fn quarantined_home(user: &str) -> (Home, TestKey) {
    let checked = checked_moto();
    let leaked = checked.create_user(user);
    checked.attach(user, QUARANTINE);
    let home = Home::new().via(&checked.moto.endpoint);
    home.write_credentials(&format!(
        "{}\n{}",
        section(user, &leaked),
        section("admin", &checked.admin)
    ));
    let fixture = format!(
        "{}/tests/fixtures/events/aws-health-credentials-exposed.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let alert = std::fs::read_to_string(fixture)
        .unwrap()
        .replace("AKIAIOSFODNN7EXAMPLE", &leaked.id);
    home.write("alert.json", &alert);
    (home, leaked)
}

#[test]
fn a_self_signed_response_on_a_quarantined_user_stops_and_changes_nothing() {
    let user = unique("quarantined");
    let (home, leaked) = quarantined_home(&user);
    let alert = home.path("alert.json");
    let run = home.rekey(&["respond", "--event", alert.to_str().unwrap()]);
    assert_ne!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains(QUARANTINE), "{said}");
    assert!(said.contains("iam:CreateAccessKey"), "{said}");
    assert!(said.contains("--via ADMIN_PROFILE"), "{said}");
    let keys = checked_moto().keys(&user);
    assert_eq!(keys, [(leaked.id.clone(), true)], "nothing changed");
    assert_eq!(key_in(&home.credentials(), &user), Some(leaked));
    assert_eq!(checked_moto().attached(&user), [QUARANTINE]);
    // status raises it (AWS found a key of the user exposed), with the way to respond.
    let status = home.rekey(&["status", "--detailed-exitcode", "-o", "json"]);
    assert_eq!(status.code, Some(2), "{}", status.stdout);
    let json = status.json();
    let profile = json["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["profile"] == user.as_str())
        .unwrap()
        .clone();
    assert!(
        profile["alerts"]
            .as_array()
            .unwrap()
            .contains(&"quarantined".into()),
        "{profile}"
    );
    // plan --compromised shows it too, and what it denies.
    let plan = home.rekey(&["plan", "--compromised", "--profile", &user]);
    assert!(
        plan.stdout.contains(&format!(
            "quarantined by AWS: {QUARANTINE} (denies iam:CreateAccessKey"
        )),
        "{}",
        plan.stdout
    );
}

#[test]
fn signed_as_an_admin_the_response_replaces_the_key_and_names_the_quarantine_it_leaves() {
    let user = unique("quarantinekept");
    let (home, leaked) = quarantined_home(&user);
    let alert = home.path("alert.json");
    let args = [
        "respond",
        "--event",
        alert.to_str().unwrap(),
        "--via",
        "admin",
    ];
    let run = home
        .rekey(&args)
        .success()
        .stdout_has(&format!("AWS's quarantine of {user} stays ({QUARANTINE})"))
        .stdout_has(&format!("AWS had quarantined its user ({QUARANTINE})"))
        .stdout_has(&format!(
            "aws iam detach-user-policy --user-name {user} --policy-arn arn:aws:iam::aws:policy/{QUARANTINE}"
        ));
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(new.id, leaked.id, "{}", run.stdout);
    assert_eq!(checked_moto().keys(&user), [(new.id.clone(), true)]);
    assert_eq!(
        checked_moto().attached(&user),
        [QUARANTINE],
        "kept unless asked"
    );
}

#[test]
fn lift_quarantine_detaches_it_and_proves_the_new_key() {
    let user = unique("quarantinelifted");
    let (home, leaked) = quarantined_home(&user);
    let alert = home.path("alert.json");
    let args = [
        "respond",
        "--event",
        alert.to_str().unwrap(),
        "--via",
        "admin",
        "--lift-quarantine",
    ];
    let run = home
        .rekey(&args)
        .success()
        .stdout_has(&format!(
            "lifted AWS's quarantine of {user}: detached {QUARANTINE} at "
        ))
        .stdout_has("; the new key then made ");
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(new.id, leaked.id, "{}", run.stdout);
    assert_eq!(checked_moto().keys(&user), [(new.id.clone(), true)]);
    assert!(checked_moto().attached(&user).is_empty());
}

#[test]
fn audit_finds_a_quarantined_users_keys_first() {
    let user = unique("quarantineaudit");
    let (home, leaked) = quarantined_home(&user);
    let json = home
        .rekey(&["audit", "--via", "admin", "--output", "json"])
        .success()
        .json();
    let keys = json["accounts"][0]["keys"].as_array().unwrap();
    let key = keys
        .iter()
        .find(|k| k["key_id"] == leaked.id.as_str())
        .unwrap();
    assert_eq!(key["findings"][0], "quarantined_user", "{key}");
    let admin = keys
        .iter()
        .find(|k| k["user"] == "rekey-test-admin")
        .unwrap();
    let findings = admin["findings"].as_array().unwrap();
    assert!(!findings.contains(&"quarantined_user".into()), "{admin}");
}

/// A response killed once the leaked key is refused and the search done is finished
/// by `recover`, the quarantine step included (signed as the manifest's `via:`, since
/// the quarantine denies the user the session policy).
#[test]
fn recover_finishes_the_quarantine_step_of_a_killed_response() {
    let user = unique("quarantinerecover");
    let (home, leaked) = quarantined_home(&user);
    let profile = Profile::new(&user)
        .set("via: admin")
        .sink(sink::credentials_file());
    home.manifest(&Manifest::new().profile(profile));
    let alert = home.path("alert.json");
    let args = ["respond", "--event", alert.to_str().unwrap()];
    let killed = home
        .run(&args)
        .envs(&[("REKEY_CRASH_AT", "leak-searched")])
        .output();
    assert_eq!(killed.code, None, "killed");
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(new.id, leaked.id);
    let json = home
        .rekey(&["recover", "--output", "json"])
        .success()
        .json();
    let result = &json["recovered"][0]["result"];
    assert_eq!(result["outcome"], "response_finished", "{json}");
    let told = result.to_string();
    assert!(
        told.contains(&format!("AWS's quarantine of {user} stays")),
        "{told}"
    );
    assert_eq!(checked_moto().keys(&user), [(new.id.clone(), true)]);
    assert_eq!(checked_moto().attached(&user), [QUARANTINE]);
}
