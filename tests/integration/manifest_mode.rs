//! Manifest mode: rekey.yaml picks profiles and sinks.

use crate::support::*;

#[test]
fn writes_every_sink_of_the_listed_profiles_only() {
    let home = Home::new();
    let (dev, other) = (unique("dev"), unique("other"));
    let dev_key = moto().create_user(&dev);
    let other_key = moto().create_user(&other);
    home.write_credentials(&format!(
        "{}\n{}",
        section(&dev, &dev_key),
        section(&other, &other_key)
    ));
    // A second copy of the key in a project file, under another section name.
    let copy = format!("# app credentials\n{}", section("app", &dev_key)).replace(" = ", "=");
    home.write("project/conf/credentials", &copy);
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\n\
             defaults:\n  grace: 1d\n\
             profiles:\n  {dev}:\n    sinks:\n      - type: credentials_file\n      - type: credentials_file\n        path: conf/credentials\n        section: app\n"
        ),
    );

    // Every path under the home folder is shown from `~` (issue 31): sink lines too.
    home.rekey(&["plan"])
        .success()
        .stdout_has("write credentials file ~/project/conf/credentials [app]");
    home.rekey(&["apply", "--yes"])
        .success()
        .stdout_has("Done: 1 rotated");

    let new_key = key_in(&home.credentials(), &dev).unwrap();
    assert_ne!(new_key, dev_key);
    assert_eq!(
        home.read("project/conf/credentials"),
        copy.replace(&dev_key.id, &new_key.id)
            .replace(&dev_key.secret, &new_key.secret),
        "the second sink got the same new key, format kept"
    );
    assert_eq!(
        key_in(&home.credentials(), &other).unwrap(),
        other_key,
        "unlisted profile untouched"
    );
    assert_eq!(moto().keys(&other), vec![(other_key.id.clone(), true)]);
}

#[test]
fn profile_filter_selects_and_rejects_unknown_names() {
    let home = Home::new();
    let (a, b) = (unique("a"), unique("b"));
    let (ka, kb) = (moto().create_user(&a), moto().create_user(&b));
    home.write_credentials(&format!("{}{}", section(&a, &ka), section(&b, &kb)));
    home.rekey(&["apply", "--yes", "--profile", &b])
        .success()
        .stdout_has("Done: 1 rotated");
    assert_eq!(key_in(&home.credentials(), &a).unwrap(), ka);
    assert_ne!(key_in(&home.credentials(), &b).unwrap(), kb);
    home.rekey(&["plan", "--profile", "nope"])
        .code(1)
        .stderr_has("no profile `nope`");
}

#[test]
fn max_age_skips_young_keys() {
    let home = Home::new();
    let user = unique("young");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    home.write(
        "project/rekey.yaml",
        &format!("version: 1\ndefaults:\n  max_age: 90d\nprofiles:\n  {user}: {{}}\n"),
    );
    home.rekey(&["plan", "--detailed-exitcode"])
        .code(0)
        .stdout_has("younger than max_age 90d");
    home.rekey(&["apply", "--yes"])
        .success()
        .stdout_has("Done: 0 rotated, 1 unchanged");
    assert_eq!(moto().keys(&user), vec![(key.id.clone(), true)]);
}

#[test]
fn plan_shows_each_sink_state_and_apply_brings_them_in_sync() {
    let home = Home::new();
    let user = unique("drift");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    let stale = TestKey {
        id: "AKIASTALECOPY0000000".into(),
        secret: "staleSecretValue0000".into(),
    };
    home.write("project/stale", &section("app", &stale));
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\nprofiles:\n  {user}:\n    sinks:\n      - type: credentials_file\n\
             \x20     - type: credentials_file\n        path: stale\n        section: app\n\
             \x20     - type: credentials_file\n        path: fresh/credentials\n        create: true\n"
        ),
    );
    let run = home.rekey(&["plan"]).success();
    assert!(
        run.stdout.contains(&format!("[{user}]: in sync")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("[app]: drift (holds AKIASTALECOPY0000000)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("fresh/credentials [")
            && run.stdout.contains("does not exist: will be created"),
        "{}",
        run.stdout
    );
    let states = home.sink_states();
    assert_eq!(states, ["in_sync", "drift", "absent"]);

    home.rekey(&["apply", "--yes"]).success();
    let new_key = key_in(&home.credentials(), &user).unwrap();
    assert_eq!(key_in(&home.read("project/stale"), "app").unwrap(), new_key);
    assert_eq!(
        key_in(&home.read("project/fresh/credentials"), &user).unwrap(),
        new_key
    );
    let states = home.sink_states();
    assert_eq!(states, ["in_sync", "in_sync", "in_sync"]);
}

#[test]
fn an_unwritable_sink_stops_the_profile_before_any_key_is_created() {
    let home = Home::new();
    let user = unique("unwritable");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    home.write("project/blocker", "a file where a folder should be\n");
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\nprofiles:\n  {user}:\n    sinks:\n      - type: credentials_file\n\
             \x20     - type: credentials_file\n        path: blocker/credentials\n"
        ),
    );
    home.rekey(&["plan"]).code(1).stdout_has("UNWRITABLE");
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("cannot write")
        .stderr_has("1 profile failed");
    assert_eq!(
        moto().keys(&user),
        vec![(key.id.clone(), true)],
        "no key created"
    );
    assert_eq!(home.credentials(), section(&user, &key));
}

/// Profiles rotate concurrently; the files they share end up with every new key and
/// every other byte, whatever order the writes happened in.
#[test]
fn concurrent_rotations_sharing_files_never_clobber_each_other() {
    let home = Home::new();
    let users: Vec<String> = (0..6).map(|i| unique(&format!("shared{i}"))).collect();
    let keys: Vec<TestKey> = users.iter().map(|u| moto().create_user(u)).collect();
    let credentials: String = users
        .iter()
        .zip(&keys)
        .map(|(u, k)| format!("# {u}\n{}\n", section(u, k)))
        .collect();
    home.write_credentials(&credentials);
    let env: String = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("KEY_{i}={}\nSECRET_{i}={}\n", k.id, k.secret))
        .collect();
    home.write("project/.env", &env);
    let mut manifest = String::from("version: 1\nprofiles:\n");
    for (i, user) in users.iter().enumerate() {
        manifest.push_str(&format!(
            "  {user}:\n    sinks:\n      - type: credentials_file\n      - type: dotenv\n        path: .env\n\
             \x20       access_key_id: KEY_{i}\n        secret_access_key: SECRET_{i}\n"
        ));
    }
    home.write("project/rekey.yaml", &manifest);

    home.rekey(&["apply", "--yes", "--jobs", "6"])
        .success()
        .stdout_has("Done: 6 rotated");

    let (mut expected_credentials, mut expected_env) = (credentials.clone(), env.clone());
    for (user, old) in users.iter().zip(&keys) {
        let new = key_in(&home.credentials(), user).unwrap();
        assert_ne!(&new, old);
        expected_credentials = expected_credentials
            .replace(&old.id, &new.id)
            .replace(&old.secret, &new.secret);
        expected_env = expected_env
            .replace(&old.id, &new.id)
            .replace(&old.secret, &new.secret);
        let iam = key_set(&[(&old.id, false), (&new.id, true)]);
        assert_eq!(moto().keys(user), iam);
    }
    assert_eq!(home.credentials(), expected_credentials);
    assert_eq!(home.read("project/.env"), expected_env);
}
