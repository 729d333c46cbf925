//! Default mode: no manifest, every static-key profile of ~/.aws/credentials.

use std::os::unix::fs::PermissionsExt;

use crate::support::*;

/// The script rekey replaces, done right: three users rotated, every other byte kept.
#[test]
fn rotates_every_static_key_profile_and_keeps_every_other_byte() {
    let home = Home::new();
    let users: Vec<String> = ["alice", "bob", "carol"]
        .iter()
        .map(|u| unique(u))
        .collect();
    let old: Vec<TestKey> = users.iter().map(|u| moto().create_user(u)).collect();
    let before = format!(
        "# keys for work; do not share\r\n[default]\r\nregion = eu-west-1\r\n\r\n\
         [{a}] ; alice's laptop key\r\naws_access_key_id={ia}\r\naws_secret_access_key = {sa}  # rotated by rekey\r\noutput = json\r\n\r\n\
         [session]\r\naws_access_key_id = ASIAEXAMPLE\r\naws_secret_access_key = sessionsecretvalue\r\naws_session_token = token\r\n\r\n\
         [{b}]\r\nregion=us-west-2\r\naws_access_key_id   =   {ib}\r\naws_secret_access_key = {sb}\r\n\
         [{c}]\r\naws_access_key_id = {ic}\r\naws_secret_access_key = {sc}",
        a = users[0], ia = old[0].id, sa = old[0].secret,
        b = users[1], ib = old[1].id, sb = old[1].secret,
        c = users[2], ic = old[2].id, sc = old[2].secret,
    );
    home.write_credentials(&before);
    std::fs::set_permissions(
        home.credentials_path(),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();

    // -vv: the debug logs are checked for secrets too (by `Home` on drop).
    home.rekey(&["apply", "--yes", "-vv"])
        .success()
        .stdout_has("Done: 3 rotated, 0 unchanged, 0 failed.");

    let after = home.credentials();
    let mut expected = before.clone();
    for (user, old_key) in users.iter().zip(&old) {
        let new_key = key_in(&after, user).expect("section still has a key");
        assert_ne!(new_key.id, old_key.id);
        assert_eq!(
            moto().keys(user),
            key_set(&[(&old_key.id, false), (&new_key.id, true)]),
            "old key Inactive, new key Active"
        );
        assert_eq!(
            moto().whoami(&new_key),
            moto().user_arn(user),
            "the new key identifies the same user"
        );
        expected = expected
            .replace(&old_key.id, &new_key.id)
            .replace(&old_key.secret, &new_key.secret);
        assert!(
            home.path(&format!("state/pending/{}.json", old_key.id))
                .is_file(),
            "pending deletion recorded"
        );
    }
    assert_eq!(after, expected, "only the key values changed");
    let mode = std::fs::metadata(home.credentials_path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o640, "file mode kept");
    // Only the pending deletions remain, with each sink's previous content kept for
    // `rekey rollback` until the old key is deleted.
    let remaining = home.state_files();
    assert!(
        remaining
            .iter()
            .all(|f| f.starts_with("pending/") || f.starts_with("history/")),
        "journal scrubbed: {remaining:?}"
    );
}

/// With no region configured rekey signs for us-east-1 and never asks the instance
/// metadata service for one: off EC2 nothing answers it, and on a network that drops
/// the packets every command waited out its one-second connect timeout.
#[test]
fn with_no_region_the_instance_metadata_service_is_never_asked() {
    let imds = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    imds.set_nonblocking(true).unwrap();
    let endpoint = format!("http://{}", imds.local_addr().unwrap());
    let home = Home::new();
    home.user_in_credentials("noregion");
    for args in [
        &["plan", "--output", "json"][..],
        &["find", "--output", "json"],
    ] {
        let run = home
            .run(args)
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint);
        run.output().success();
    }
    let asked = imds.accept();
    assert!(
        matches!(&asked, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the metadata service was asked: {asked:?}"
    );
}

#[test]
fn plan_changes_nothing_and_lists_skipped_profiles() {
    let home = Home::new();
    let user = unique("planner");
    let key = moto().create_user(&user);
    let text = format!("{}[session]\naws_access_key_id = ASIA1\naws_secret_access_key = s\naws_session_token = t\n", section(&user, &key));
    home.write_credentials(&text);
    home.write(".aws/config", "[profile sso]\nsso_session = corp\n");

    home.rekey(&["plan"])
        .success()
        .stdout_has(&format!("profile {user}: rotate"))
        .stdout_has("session: temporary credentials (aws_session_token)")
        .stdout_has("sso: SSO profile")
        .stdout_has("Plan: 1 to rotate");
    home.rekey(&["plan", "--detailed-exitcode"]).code(2);
    let json = home.rekey(&["plan", "--output", "json"]).success().json();
    assert_eq!(json["schema"], 1);
    let profile = &json["profiles"][0];
    assert_eq!(profile["decision"]["kind"], "rotate");
    assert_eq!(profile["identity"]["arn"], moto().user_arn(&user));
    assert_eq!(profile["current_key"]["id"], key.id.as_str());
    let actions: Vec<&str> = profile["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "create_key",
            "await_propagation",
            "write_sink",
            "deactivate_old_key",
            "schedule_deletion"
        ]
    );

    assert_eq!(home.credentials(), text, "file untouched");
    assert_eq!(
        moto().keys(&user),
        vec![(key.id.clone(), true)],
        "IAM untouched"
    );
    assert!(home.state_files().is_empty(), "state untouched");
}

#[test]
fn apply_without_a_terminal_refuses_unless_yes() {
    let home = Home::new();
    let user = unique("noterm");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    home.rekey(&["apply"]).code(1).stderr_has("without --yes");
    assert_eq!(moto().keys(&user), vec![(key.id.clone(), true)]);
    assert_eq!(home.credentials(), section(&user, &key));
}

#[test]
fn on_a_terminal_apply_shows_the_plan_and_asks_first() {
    let home = Home::new();
    let user = unique("tty");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));

    let declined = home.rekey_on_terminal(&["apply"], "no\n").code(1);
    assert!(
        declined.stdout.contains(&format!("profile {user}: rotate")),
        "{}",
        declined.stdout
    );
    assert!(
        declined.stdout.contains("Type `yes` to continue"),
        "{}",
        declined.stdout
    );
    assert!(
        declined.stdout.contains("cancelled; nothing was changed"),
        "{}",
        declined.stdout
    );
    assert_eq!(moto().keys(&user), vec![(key.id.clone(), true)]);
    assert_eq!(home.credentials(), section(&user, &key));

    home.rekey_on_terminal(&["apply"], "yes\n")
        .success()
        .stdout_has("Done: 1 rotated");
    assert_ne!(key_in(&home.credentials(), &user).unwrap(), key);
}

#[test]
fn grace_zero_deletes_the_old_key_at_once_and_reports_json() {
    let home = Home::new();
    let user = unique("nograce");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    let json = home
        .rekey(&["apply", "--yes", "--grace", "0", "--output", "json"])
        .success()
        .json();
    let new_key = key_in(&home.credentials(), &user).unwrap();
    assert_eq!(moto().keys(&user), vec![(new_key.id.clone(), true)]);
    assert!(home.state_files().is_empty(), "{:?}", home.state_files());

    assert_eq!(json["schema"], 1);
    let result = &json["results"][0];
    assert_eq!(result["status"], "rotated");
    assert_eq!(result["profile"], user.as_str());
    assert_eq!(result["old_key_id"], key.id.as_str());
    assert_eq!(result["new_key_id"], new_key.id.as_str());
    let last_step = json["plan"]["profiles"][0]["steps"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last_step["action"], "delete_old_key");
}

#[test]
fn a_session_token_profile_is_never_touched() {
    let home = Home::new();
    let text = "[temp]\naws_access_key_id = ASIATEMP\naws_secret_access_key = tempsecret\naws_session_token = tok\n";
    home.write_credentials(text);
    home.rekey(&["apply", "--yes"])
        .success()
        .stdout_has("temp: temporary credentials")
        .stdout_has("Done: 0 rotated");
    assert_eq!(home.credentials(), text);
    home.rekey(&["plan", "--profile", "temp"])
        .code(1)
        .stderr_has("temporary credentials");
}

#[test]
fn static_keys_in_the_config_file_are_rotated_there_byte_for_byte() {
    let home = Home::new();
    let (in_config, in_both) = (unique("cfgonly"), unique("cfgboth"));
    let config_key = moto().create_user(&in_config);
    let both_key = moto().create_user(&in_both);
    home.write_credentials(&section(&in_both, &both_key));
    // The config file names profiles `[profile NAME]`; a stale copy of in_both's key
    // there is ignored by the SDK (the credentials file wins), and by rekey.
    let config = format!(
        "# my config\n[default]\nregion = eu-west-1\n\n[profile {in_config}]\noutput = json\naws_access_key_id = {}\naws_secret_access_key = {}\n\n[profile {in_both}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        config_key.id, config_key.secret, both_key.id, both_key.secret
    );
    home.write(".aws/config", &config);
    let plan = home.rekey(&["plan"]).success();
    assert!(
        plan.stdout
            .contains(&format!("config file ~/.aws/config [profile {in_config}]")),
        "plan says which file holds the key: {}",
        plan.stdout
    );
    home.rekey(&["apply", "--yes"])
        .success()
        .stdout_has("Done: 2 rotated");

    let after = home.read(".aws/config");
    let new_config_key = key_in(&after, &format!("profile {in_config}")).unwrap();
    assert_ne!(new_config_key, config_key);
    assert_eq!(
        after,
        config
            .replace(&config_key.id, &new_config_key.id)
            .replace(&config_key.secret, &new_config_key.secret),
        "only the two values of that section changed"
    );
    assert_eq!(
        moto().keys(&in_config),
        key_set(&[(&config_key.id, false), (&new_config_key.id, true)])
    );
    let new_both_key = key_in(&home.credentials(), &in_both).unwrap();
    assert_ne!(
        new_both_key, both_key,
        "the credentials file's copy was rotated"
    );
}

#[test]
fn a_manifest_can_name_a_config_file_profile() {
    let home = Home::new();
    let user = unique("cfgsink");
    let key = moto().create_user(&user);
    home.write_credentials("");
    home.write(
        ".aws/config",
        &format!(
            "[profile work]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            key.id, key.secret
        ),
    );
    home.manifest(
        &Manifest::new()
            .profile(Profile::new(&user).sink("{ type: config_file, profile: work }".to_owned())),
    );
    home.rekey(&["apply", "--yes"]).success();
    let new_key = key_in(&home.read(".aws/config"), "profile work").unwrap();
    assert_ne!(new_key, key);
    assert!(moto().keys(&user).contains(&(new_key.id.clone(), true)));
}

#[test]
fn keys_only_in_the_config_file_need_no_credentials_file() {
    let home = Home::new();
    let user = unique("cfgnocreds");
    let key = moto().create_user(&user);
    home.write(
        ".aws/config",
        &format!(
            "[profile {user}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            key.id, key.secret
        ),
    );
    assert!(!home.credentials_path().exists());
    home.rekey(&["plan"]).success().stdout_has("1 to rotate");
}

/// Issue 31, point 1: without a manifest, `plan` and `apply` look for other copies of
/// each key they would rotate in the home folder. A copy no sink writes (a project's
/// `.env`) stops the profile before any key is created, naming the file and the fix;
/// `--allow-uncovered` rotates anyway, and `--no-scan` skips the search.
#[test]
fn default_mode_stops_a_rotation_that_would_strand_a_copy() {
    let home = Home::new();
    let users = home.users_in_credentials(&["stranded", "unscanned"]);
    let (user, old) = users[0].clone();
    let (other, other_old) = users[1].clone();
    home.write("work/app/.env", &env_text(&old));
    home.write("work/api/.env", &env_text(&other_old));

    let run = home.rekey(&["apply", "--yes", "--profile", &user]).code(1);
    assert!(
        run.stdout.contains("work/app/.env:1")
            && run.stdout.contains("rekey init --scan")
            && run.stdout.contains("--allow-uncovered"),
        "{}",
        run.stdout
    );
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&old.id, true)]),
        "no key made"
    );

    home.rekey(&["apply", "--yes", "--profile", &user, "--allow-uncovered"])
        .success();
    assert_ne!(key_in(&home.credentials(), &user).unwrap(), old);

    home.rekey(&["apply", "--yes", "--profile", &other, "--no-scan"])
        .success();
    assert_ne!(key_in(&home.credentials(), &other).unwrap(), other_old);
}
