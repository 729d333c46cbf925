//! Leak response: `apply --compromised` replaces every selected key now and deletes the
//! old ones, whatever `max_age` and `grace` say, lists each old key's last use, and
//! proves AWS refuses each deleted key. Through the fault proxy: moto accepts a deleted
//! key; the proxy refuses it as AWS does (after `revocation_lag`).

use std::time::Duration;

use crate::proxy::FaultProxy;
use crate::support::*;

/// A home whose AWS calls go through a fault proxy (which refuses deleted keys).
fn behind_proxy() -> (Home, FaultProxy) {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    (home, proxy)
}

/// Two users whose keys are young (max_age 90d) and whose grace is a week.
fn two_young_keys(home: &Home) -> Vec<(String, TestKey)> {
    let users = home.users_in_credentials(&["leak-a", "leak-b"]);
    let mut manifest = Manifest::new()
        .defaults("max_age: 90d")
        .defaults("grace: 7d");
    for (user, _) in &users {
        manifest = manifest.profile(Profile::new(user));
    }
    home.manifest(&manifest);
    users
}

#[test]
fn every_key_is_replaced_and_every_old_key_deleted_whatever_the_manifest_says() {
    let (home, _proxy) = behind_proxy();
    let users = two_young_keys(&home);
    home.rekey(&["plan"])
        .success()
        .stdout_has("Plan: 0 to rotate, 2 unchanged");
    home.rekey(&["plan", "--compromised"])
        .success()
        .stdout_has("Leak response (--compromised)")
        .stdout_has("Plan: 2 to rotate")
        .stdout_has("at once (grace 0)");

    let run = home.rekey(&["apply", "--yes", "--compromised"]).success();
    let run = run.stdout_has("Replaced keys (look for misuse");
    for (user, old) in &users {
        let new = key_in(&home.credentials(), user).unwrap();
        assert_ne!(&new, old);
        assert_eq!(
            moto().keys(user),
            key_set(&[(&new.id, true)]),
            "old key deleted"
        );
        // Each replaced key with its last use (rekey's own planning calls, at least).
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains(&old.id) && l.contains("deleted at"))
            .unwrap_or_else(|| panic!("{} listed: {}", old.id, run.stdout));
        assert!(line.contains("last used") && line.contains("iam"), "{line}");
    }
    assert!(home.state_files().is_empty(), "no pending deletion left");
}

#[test]
fn the_json_report_lists_each_replaced_key_with_its_last_use() {
    let (home, _proxy) = behind_proxy();
    let users = two_young_keys(&home);
    let json = home
        .rekey(&["apply", "--yes", "--compromised", "--output", "json"])
        .success()
        .json();
    assert_eq!(json["plan"]["compromised"], true, "{json}");
    let replaced = json["replaced"].as_array().unwrap();
    assert_eq!(replaced.len(), 2, "{json}");
    for ((user, old), entry) in users.iter().zip(replaced) {
        assert_eq!(entry["profile"], user.as_str());
        assert_eq!(entry["key_id"], old.id.as_str());
        assert_eq!(entry["last_used"]["service"], "iam", "{entry}");
    }
}

/// Issue 22, point 2: a deleted key works for a few seconds; the response is done only
/// once AWS refuses it, three times in a row, and says after how long.
#[test]
fn each_deleted_key_is_proven_refused_and_the_time_reported() {
    let (home, proxy) = behind_proxy();
    proxy.set(|f| f.revocation_lag = Duration::from_secs(2));
    let users = two_young_keys(&home);
    let json = home
        .rekey(&["apply", "--yes", "--compromised", "--output", "json"])
        .success()
        .json();
    for replaced in json["replaced"].as_array().unwrap() {
        let after = replaced["refused_after"].as_f64().unwrap_or_default();
        assert!((2.0..15.0).contains(&after), "{json}");
    }
    assert_eq!(json["replaced"].as_array().unwrap().len(), users.len());
    let (user, _) = &users[0];
    home.rekey(&["apply", "--yes", "--compromised", "--profile", user])
        .success()
        .stdout_has("(refused after ");
}

#[test]
fn a_deleted_key_still_accepted_at_the_bound_is_a_loud_failure() {
    let (home, proxy) = behind_proxy();
    proxy.set(|f| f.revocation_lag = Duration::from_secs(3600));
    let (user, old) = home.user_in_credentials("stillaccepted");
    let json = home
        .rekey(&[
            "apply",
            "--yes",
            "--compromised",
            "--revocation-timeout",
            "2s",
            "--output",
            "json",
        ])
        .code(1)
        .json();
    let result = &json["results"][0];
    assert_eq!(result["error_kind"], "still_accepted", "{json}");
    let error = result["error"].as_str().unwrap();
    assert!(error.contains("still accepted the old key"), "{error}");
    assert!(error.contains("the rotation itself is complete"), "{error}");
    // The rotation did happen: the new key is in place, the old one deleted in IAM.
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(new, old);
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
}

/// Issue 22, point 3: while the deleted key still worked, the attacker made another key
/// for the user. Once the old key is refused, rekey finds it (this run did not make it,
/// no place holds it), reports it, and with --quarantine deactivates it (never deletes:
/// it is evidence).
#[test]
fn a_key_made_with_the_leaked_key_is_found_and_with_quarantine_deactivated() {
    for quarantine in [false, true] {
        let (home, proxy) = behind_proxy();
        proxy.set(|f| {
            f.revocation_lag = Duration::from_secs(1);
            f.attacker = true;
        });
        let (user, _) = home.user_in_credentials("attacked");
        let mut args = vec!["apply", "--yes", "--compromised", "--output", "json"];
        if quarantine {
            args.push("--quarantine");
        }
        let json = home.rekey(&args).success().json();
        let made = proxy.attacker_keys();
        assert_eq!(made.len(), 1, "the attacker made a key");
        let unknown = &json["replaced"][0]["unknown_keys"];
        assert_eq!(unknown.as_array().map(Vec::len), Some(1), "{json}");
        assert_eq!(unknown[0]["key_id"], made[0].as_str(), "{json}");
        assert_eq!(unknown[0]["active"], true, "{json}");
        assert_eq!(unknown[0]["quarantined"], quarantine, "{json}");
        assert!(unknown[0]["created"].is_string(), "{json}");
        assert_eq!(unknown[0]["made_during_response"], true, "{json}");
        let actions = json["results"][0]["actions"].to_string();
        assert!(
            actions.contains(&format!("UNKNOWN KEY {}", made[0])),
            "{actions}"
        );
        let new = key_in(&home.credentials(), &user).unwrap();
        assert_eq!(
            moto().keys(&user),
            key_set(&[(&new.id, true), (&made[0], !quarantine)]),
            "quarantine: {quarantine}"
        );
    }
}

/// Issue 22, point 1: temporary credentials opened with the leaked key outlive it. The
/// response puts one inline policy on the user that denies everything to a session
/// issued before it (the proxy evaluates `aws:TokenIssueTime`, as AWS does); a later
/// session works, and a second response replaces the policy rather than adding one.
#[test]
fn sessions_opened_with_the_leaked_key_are_revoked_and_later_ones_work() {
    let (home, proxy) = behind_proxy();
    let (user, old) = home.user_in_credentials("sessions");
    let attacker = session_with(&proxy.endpoint, &old);
    list_keys_as(&proxy.endpoint, attacker.clone(), &user).expect("the session works");

    let json = home
        .rekey(&["apply", "--yes", "--compromised", "--output", "json"])
        .success()
        .json();
    let refused = list_keys_as(&proxy.endpoint, attacker, &user).unwrap_err();
    assert!(refused.contains("AccessDenied"), "{refused}");

    // One policy, with the condition, at the time the report gives.
    let policies = moto().user_policies(&user);
    assert_eq!(policies.len(), 1, "{policies:?}");
    assert_eq!(policies[0].0, "rekey-revoke-older-sessions");
    let document: serde_json::Value = serde_json::from_str(&policies[0].1).unwrap();
    let statement = &document["Statement"][0];
    assert_eq!(statement["Effect"], "Deny", "{document}");
    assert_eq!(statement["Action"], "*", "{document}");
    let before = &statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"];
    assert_eq!(
        *before, json["replaced"][0]["sessions_revoked_before"],
        "{json}"
    );
    let actions = json["results"][0]["actions"].to_string();
    assert!(actions.contains("revoked every session of"), "{actions}");

    // The user's long-term key and a session opened with it now still work.
    let new = key_in(&home.credentials(), &user).unwrap();
    let later = session_with(&proxy.endpoint, &new);
    list_keys_as(&proxy.endpoint, later, &user).expect("a session opened after works");

    home.rekey(&["apply", "--yes", "--compromised"]).success();
    let again = moto().user_policies(&user);
    assert_eq!(again.len(), 1, "replaced, not piled up: {again:?}");
}

#[test]
fn keep_sessions_puts_no_policy_and_the_old_session_still_works() {
    let (home, proxy) = behind_proxy();
    let (user, old) = home.user_in_credentials("keepsessions");
    let session = session_with(&proxy.endpoint, &old);
    home.rekey(&["plan", "--compromised", "--keep-sessions"])
        .success()
        .stdout_has("older sessions are kept (--keep-sessions)");
    home.rekey(&["apply", "--yes", "--compromised", "--keep-sessions"])
        .success();
    assert!(moto().user_policies(&user).is_empty());
    list_keys_as(&proxy.endpoint, session, &user).expect("not revoked");
}

/// Without iam:PutUserPolicy the door is not closed: the run fails loudly (exit 1,
/// the kind of the refusal), though the rotation itself is complete.
#[test]
fn sessions_that_cannot_be_revoked_fail_the_response_loudly() {
    let (home, proxy) = behind_proxy();
    proxy.set(|f| {
        f.deny.insert("PutUserPolicy");
    });
    let (user, old) = home.user_in_credentials("nopolicy");
    let json = home
        .rekey(&["apply", "--yes", "--compromised", "--output", "json"])
        .code(1)
        .json();
    let result = &json["results"][0];
    assert_eq!(result["error_kind"], "access_denied", "{json}");
    let error = result["error"].as_str().unwrap();
    assert!(error.contains("could not revoke"), "{error}");
    assert!(
        error.contains(&format!(
            "aws iam put-user-policy --user-name {user} --policy-name rekey-revoke-older-sessions --policy-document '{{"
        )),
        "{error}"
    );
    assert!(error.contains("the rotation itself is complete"), "{error}");
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(new, old);
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
}

/// Issue 22, point 3, before the rotation: the user already has an active key that no
/// place holds (perhaps made with the leaked key before the response). It is reported
/// with its facts and nothing is changed, unless `--quarantine --make-room`: IAM counts
/// an inactive key toward its two, so the rotation can go on only once it is deleted;
/// rekey deactivates it, reports it, deletes it, and rotates.
#[test]
fn an_unknown_active_key_found_before_the_response_is_reported_and_quarantined() {
    let (home, _proxy) = behind_proxy();
    let (user, old) = home.user_in_credentials("unknownfirst");
    let stranger = moto().create_key(&user);
    let both = key_set(&[(&old.id, true), (&stranger.id, true)]);

    home.rekey(&["plan", "--compromised"])
        .code(1)
        .stdout_has(&format!("UNKNOWN KEY {} of {user}", stranger.id))
        .stdout_has("--quarantine --make-room deactivates it");
    home.rekey(&["apply", "--yes", "--compromised"]).code(1);
    assert_eq!(moto().keys(&user), both, "nothing changed");

    home.rekey(&["plan", "--compromised", "--quarantine"])
        .code(1)
        .stdout_has("add --make-room to deactivate it");
    home.rekey(&["apply", "--yes", "--compromised", "--quarantine"])
        .code(1);
    assert_eq!(moto().keys(&user), both, "nothing changed");

    let args = ["--compromised", "--quarantine", "--make-room"];
    home.rekey(&[&["plan"][..], &args].concat())
        .success()
        .stdout_has(&format!("quarantine unknown key {}", stranger.id));
    let json = home
        .rekey(&[&["apply", "--yes", "--output", "json"][..], &args].concat())
        .success()
        .json();
    let unknown = &json["replaced"][0]["unknown_keys"];
    assert_eq!(unknown.as_array().map(Vec::len), Some(1), "{json}");
    assert_eq!(unknown[0]["key_id"], stranger.id.as_str(), "{json}");
    assert_eq!(unknown[0]["active"], true, "{json}");
    assert_eq!(unknown[0]["quarantined"], true, "{json}");
    assert_eq!(unknown[0]["made_during_response"], false, "there before it");
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
}
