//! The keyring sink against a real Secret Service (gnome-keyring on a private D-Bus),
//! and `credential-process` serving it to the AWS SDK.

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};

use crate::support::*;

fn keyring_json(key: &TestKey) -> String {
    format!(
        "{{\"Version\":1,\"AccessKeyId\":\"{}\",\"SecretAccessKey\":\"{}\"}}",
        key.id, key.secret
    )
}

#[test]
fn apply_stores_the_key_in_the_secret_service_and_credential_process_serves_it() {
    let service = secret_service();
    let home = Home::new();
    let user = unique("keyring");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\nprofiles:\n  {user}:\n    sinks:\n      - type: credentials_file\n\
             \x20     - type: keyring\n        service: rekey-test\n"
        ),
    );
    home.rekey(&["plan"])
        .success()
        .stdout_has(&format!("keyring entry rekey-test/{user}: missing"));
    home.rekey(&["apply", "--yes"])
        .success()
        .stdout_has("Done: 1 rotated");
    let new_key = key_in(&home.credentials(), &user).unwrap();

    // The real backend holds it: libsecret's own client reads it back.
    assert_eq!(
        service.lookup("rekey-test", &user).as_deref(),
        Some(keyring_json(&new_key).as_str())
    );
    home.rekey(&["plan"])
        .success()
        .stdout_has(&format!("keyring entry rekey-test/{user}: in sync"));

    // credential-process prints exactly the JSON, by entry name or through the manifest.
    for args in [
        vec![
            "credential-process",
            "--service",
            "rekey-test",
            "--account",
            &user,
        ],
        vec!["credential-process", "--profile", &user],
    ] {
        let run = home.rekey_revealing(&args).success();
        assert_eq!(run.stdout, format!("{}\n", keyring_json(&new_key)));
        assert_eq!(run.stderr, "");
    }

    // And the AWS SDK uses it through `credential_process` in ~/.aws/config.
    let config = home.path(".aws/config");
    std::fs::write(
        &config,
        format!(
            "[profile via-keyring]\ncredential_process = {} credential-process --service rekey-test --account {user}\n",
            env!("CARGO_BIN_EXE_rekey")
        ),
    )
    .unwrap();
    let arn = block_on(async {
        let provider = ProfileFileCredentialsProvider::builder()
            .profile_files(
                EnvConfigFiles::builder()
                    .with_file(EnvConfigFileKind::Config, &config)
                    .build(),
            )
            .profile_name("via-keyring")
            .build();
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&moto().endpoint)
            .credentials_provider(provider)
            .load()
            .await;
        let sts = aws_sdk_sts::Client::new(&sdk);
        sts.get_caller_identity().send().await.unwrap().arn.unwrap()
    });
    assert_eq!(arn, moto().user_arn(&user));
}

#[test]
fn credential_process_fails_cleanly_without_an_entry() {
    secret_service();
    let home = Home::new();
    home.rekey(&["credential-process", "--account", &unique("nobody")])
        .code(1)
        .stderr_has("does not exist; run `rekey apply` first");
}

#[test]
fn a_failed_rotation_restores_the_keyring_entry_exactly() {
    use std::os::unix::fs::PermissionsExt;
    let service = secret_service();
    let home = Home::new();
    let user = unique("keyring-rollback");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    // Stored by hand, spaced differently from what rekey writes: restored byte for byte.
    let before = format!(
        "{{ \"Version\": 1, \"AccessKeyId\": \"{}\", \"SecretAccessKey\": \"{}\" }}",
        key.id, key.secret
    );
    service.store("rekey-test", &user, &before);
    home.write("project/refuse", "#!/bin/sh\necho '{\"v\":[1]}'\nread r\ncase \"$r\" in *write*) echo '{\"error\":{\"message\":\"no\"}}';; *) echo '{\"ok\":{}}';; esac\n");
    std::fs::set_permissions(
        home.path("project/refuse"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\nprofiles:\n  {user}:\n    sinks:\n      - type: credentials_file\n\
             \x20     - type: keyring\n        service: rekey-test\n\
             \x20     - type: exec\n        command: [./refuse]\n"
        ),
    );
    home.rekey(&["plan"])
        .success()
        .stdout_has(&format!("keyring entry rekey-test/{user}: in sync"));
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("rolled back");
    assert_eq!(
        service.lookup("rekey-test", &user).as_deref(),
        Some(before.as_str())
    );
    assert_eq!(moto().keys(&user), vec![(key.id.clone(), true)]);
}

/// The whole point: one key, five kinds of place, one apply.
#[test]
fn one_apply_keeps_all_five_sink_types_in_sync() {
    let service = secret_service();
    let home = Home::new();
    let user = unique("five");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    home.write(
        "project/.env",
        &format!(
            "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n",
            key.id, key.secret
        ),
    );
    home.write(
        "project/app.toml",
        &format!(
            "# app\n[aws]\nid = \"{}\"\nsecret = \"{}\"\n",
            key.id, key.secret
        ),
    );
    service.store("rekey-test", &user, &keyring_json(&key));
    let store = home.path("project/plugin-store.json");
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\nprofiles:\n  {user}:\n    sinks:\n      - type: credentials_file\n\
             \x20     - type: dotenv\n        path: .env\n\
             \x20     - type: file\n        path: app.toml\n        access_key_id: aws.id\n        secret_access_key: aws.secret\n\
             \x20     - type: keyring\n        service: rekey-test\n\
             \x20     - type: exec\n        command: ['{}', '{}']\n",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/plugins/rekey-plugin-file"),
            store.display()
        ),
    );
    let states = home.sink_states();
    assert_eq!(
        states,
        ["in_sync", "in_sync", "in_sync", "in_sync", "missing"]
    );

    home.rekey(&["apply", "--yes"])
        .success()
        .stdout_has("Done: 1 rotated");
    let new_key = key_in(&home.credentials(), &user).unwrap();
    assert!(home.read("project/.env").contains(&new_key.secret));
    assert!(home.read("project/app.toml").contains(&new_key.secret));
    assert_eq!(
        service.lookup("rekey-test", &user),
        Some(keyring_json(&new_key))
    );
    assert!(home
        .read("project/plugin-store.json")
        .contains(&new_key.secret));
    let states = home.sink_states();
    assert!(states.iter().all(|s| s == "in_sync"), "{states:?}");
}
