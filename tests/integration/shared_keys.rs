//! Profiles holding the same key are one rotation: one new key, written everywhere.

use crate::support::*;

/// `[a]` and `[b]` hold one user's key (a copy-pasted profile); `[c]` another user's.
struct Shared {
    home: Home,
    user: String,
    old: TestKey,
    a: String,
    b: String,
    c: String,
    before: String,
}

fn shared(name: &str) -> Shared {
    let home = Home::new();
    let user = unique(name);
    let other_user = unique(&format!("{name}-other"));
    let old = moto().create_user(&user);
    let other = moto().create_user(&other_user);
    let (a, b, c) = (format!("{user}-a"), format!("{user}-b"), other_user);
    let before = format!(
        "# copied from a to b\n{}\n{}region = eu-west-1\n\n{}",
        section(&a, &old),
        section(&b, &old),
        section(&c, &other)
    );
    home.write_credentials(&before);
    Shared {
        home,
        user,
        old,
        a,
        b,
        c,
        before,
    }
}

impl Shared {
    /// Both profiles hold `key`; the file is otherwise as before.
    #[track_caller]
    fn assert_both_hold(&self, key: &TestKey) {
        let after = self.home.credentials();
        let c_key = key_in(&after, &self.c).expect("c keeps a key");
        let expected = self
            .before
            .replace(&self.old.id, &key.id)
            .replace(&self.old.secret, &key.secret);
        let other = key_in(&self.before, &self.c).unwrap();
        let expected = expected
            .replace(&other.id, &c_key.id)
            .replace(&other.secret, &c_key.secret);
        assert_eq!(after, expected, "both sections hold the same key");
    }
}

#[test]
fn profiles_holding_the_same_key_get_one_new_key() {
    let s = shared("twin");
    let plan = s.home.rekey(&["plan", "--output", "json"]).success().json();
    let first = &plan["profiles"][0];
    assert_eq!(first["profile"], s.a.as_str());
    assert_eq!(first["also"], serde_json::json!([s.b]), "{plan:#}");
    assert_eq!(
        first["sinks"].as_array().map(Vec::len),
        Some(2),
        "both sections are sinks of one rotation: {plan:#}"
    );
    assert_eq!(plan["profiles"].as_array().map(Vec::len), Some(2));

    s.home
        .rekey(&["apply", "--yes"])
        .success()
        .stdout_has(&format!("{} + {}: rotated", s.a, s.b))
        .stdout_has("Done: 2 rotated, 0 unchanged, 0 failed.");
    let new = key_in(&s.home.credentials(), &s.a).unwrap();
    assert_ne!(new.id, s.old.id);
    assert_eq!(
        moto().keys(&s.user),
        key_set(&[(&s.old.id, false), (&new.id, true)]),
        "one new key, the old one deactivated"
    );
    s.assert_both_hold(&new);
    s.home
        .rekey(&["status"])
        .success()
        .stdout_has(&format!("profile {} + {}", s.a, s.b))
        .stdout_has(&format!("  old   {} deactivated", s.old.id));
}

#[test]
fn selecting_one_profile_rotates_the_profiles_sharing_its_key() {
    let s = shared("twinpick");
    // Rotating b alone would leave a holding a deactivated key.
    s.home
        .rekey(&["plan", "--profile", &s.b])
        .success()
        .stdout_has(&format!("profile {} + {}: rotate", s.b, s.a));
    s.home
        .rekey(&["apply", "--yes", "--profile", &s.b])
        .success()
        .stdout_has("Done: 1 rotated");
    let new = key_in(&s.home.credentials(), &s.b).unwrap();
    assert_eq!(key_in(&s.home.credentials(), &s.a), Some(new.clone()));
    let other = key_in(&s.before, &s.c).unwrap();
    assert_eq!(
        key_in(&s.home.credentials(), &s.c),
        Some(other),
        "c was not selected and shares nothing"
    );
}

#[test]
fn a_shared_rotation_rolls_back_for_every_profile() {
    let s = shared("twinundo");
    s.home.rekey(&["apply", "--yes", "--grace", "1d"]).success();
    s.home
        .rekey(&["rollback", &s.b, "--yes"])
        .success()
        .stdout_has("rolled back");
    // c was rotated on its own; a and b are back to the old key, byte for byte.
    s.assert_both_hold(&s.old);
    assert_eq!(
        moto().keys(&s.user),
        key_set(&[(&s.old.id, true)]),
        "old key active again, new key deleted"
    );
}

#[test]
fn a_crash_anywhere_in_a_shared_rotation_is_resolved_for_every_profile() {
    for point in crate::crash::points_for(2) {
        let point = point.as_str();
        let s = shared("twincrash");
        let crashed = s
            .home
            .run(&["apply", "--yes", "--profile", &s.a])
            .envs(&[("REKEY_CRASH_AT", point)])
            .output();
        assert_eq!(crashed.code, None, "{point}: the crash point was reached");
        // At after-write-0, a holds the new key and b the old one: recovery must still
        // treat them as one rotation (regrouping by key would see two).
        s.home.rekey(&["recover"]).success();
        let held = key_in(&s.home.credentials(), &s.a).unwrap();
        s.assert_both_hold(&held);
        let keys = moto().keys(&s.user);
        assert!(
            keys.contains(&(held.id.clone(), true)),
            "{point}: the key both profiles hold is active: {keys:?}"
        );
        assert!(
            keys.iter().all(|(id, _)| *id == held.id || *id == s.old.id),
            "{point}: no key without its secret: {keys:?}"
        );
        let unfinished: Vec<_> = s
            .home
            .state_files()
            .into_iter()
            .filter(|f| f.starts_with("journal/") || f.starts_with("backups/"))
            .collect();
        assert!(unfinished.is_empty(), "{point}: {unfinished:?}");
        match point {
            "after-write-0" => assert_eq!(held, s.old, "{point}: rolled back"),
            "deactivating" => assert_ne!(held, s.old, "{point}: rolled forward"),
            _ => {}
        }
    }
}

#[test]
fn profiles_sharing_a_key_with_different_settings_are_refused() {
    let home = Home::new();
    let user = unique("twinclash");
    let old = moto().create_user(&user);
    home.write_credentials(&format!(
        "{}\n{}",
        section("one", &old),
        section("two", &old)
    ));
    home.write(
        "project/rekey.yaml",
        "version: 1\nprofiles:\n  one:\n    grace: 1d\n  two:\n    grace: 2d\n",
    );
    let before = home.credentials();
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("hold the same key")
        .stdout_has("give them the same settings");
    assert_eq!(home.credentials(), before, "nothing changed");
    assert_eq!(moto().keys(&user), key_set(&[(&old.id, true)]));
}

#[test]
fn a_sink_two_sharing_profiles_list_is_written_once() {
    let home = Home::new();
    let user = unique("twinenv");
    let old = moto().create_user(&user);
    home.write_credentials(&format!(
        "{}\n{}",
        section("one", &old),
        section("two", &old)
    ));
    let env = format!(
        "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n",
        old.id, old.secret
    );
    home.write("project/.env", &env);
    let profile =
        "    sinks:\n      - type: credentials_file\n      - type: dotenv\n        path: .env\n";
    home.write(
        "project/rekey.yaml",
        &format!("version: 1\nprofiles:\n  one:\n{profile}  two:\n{profile}"),
    );
    let plan = home.rekey(&["plan", "--output", "json"]).success().json();
    let sinks: Vec<&str> = plan["profiles"][0]["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sink"].as_str().unwrap())
        .collect();
    assert_eq!(sinks.len(), 3, "[one], .env, [two]: {sinks:?}");
    assert!(
        sinks[1].contains(".env") && sinks[2].contains("[two]"),
        "{sinks:?}"
    );

    home.rekey(&["apply", "--yes"]).success();
    let new = key_in(&home.credentials(), "one").unwrap();
    assert_eq!(key_in(&home.credentials(), "two"), Some(new.clone()));
    assert_eq!(
        home.read("project/.env"),
        env.replace(&old.id, &new.id)
            .replace(&old.secret, &new.secret)
    );
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&old.id, false), (&new.id, true)])
    );
}

#[test]
fn a_shared_rotation_is_not_undone_for_only_some_of_its_profiles() {
    let s = shared("twinhalf");
    s.home.rekey(&["apply", "--yes", "--grace", "1d"]).success();
    let after = s.home.credentials();
    let new = key_in(&after, &s.a).unwrap();
    // b is no longer configured: undoing the rotation for a alone would leave b's copy
    // of the key it deletes.
    let without_b = format!(
        "{}\n{}",
        section(&s.a, &new),
        section(&s.c, &key_in(&after, &s.c).unwrap())
    );
    s.home.write_credentials(&without_b);
    s.home
        .rekey(&["rollback", &s.a, "--yes"])
        .code(1)
        .stderr_has(&format!("profile `{}` was rotated together with", s.b));
    assert_eq!(s.home.credentials(), without_b, "nothing changed");
    assert_eq!(
        moto().keys(&s.user),
        key_set(&[(&s.old.id, false), (&new.id, true)])
    );
}
