//! One rotation writing several kinds of sink; each read back by its real reader.

use crate::support::*;

/// What python-dotenv reads from `path`, as `NAME=value` lines.
fn python_dotenv(path: &std::path::Path) -> String {
    let script = "import sys, dotenv\nfor k, v in dotenv.dotenv_values(sys.argv[1]).items(): print(f'{k}={v}')";
    run_python(script, &[path.as_os_str()], &[])
}

#[test]
fn credentials_file_and_dotenv_sinks_get_the_same_new_key() {
    let home = Home::new();
    let user = unique("multi");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    let env_before = format!(
        "# app\r\nexport DEBUG=1\r\nexport AWS_ACCESS_KEY_ID=\"{}\"\r\nDATABASE_URL='postgres://u:p@h/db' # local\r\n",
        key.id
    );
    home.write("project/.env", &env_before);
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\nprofiles:\n  {user}:\n    sinks:\n      - type: credentials_file\n\
             \x20     - type: dotenv\n        path: .env\n"
        ),
    );
    // The .env lacks the secret: it is reported as drift-free but incomplete.
    home.rekey(&["plan"])
        .code(1)
        .stdout_has("has AWS_ACCESS_KEY_ID but no AWS_SECRET_ACCESS_KEY");

    home.write(
        "project/.env",
        &format!(
            "{env_before}export AWS_SECRET_ACCESS_KEY='{}'\r\n",
            key.secret
        ),
    );
    home.rekey(&["plan"])
        .success()
        .stdout_has("AWS_SECRET_ACCESS_KEY): in sync");
    home.rekey(&["apply", "--yes"])
        .success()
        .stdout_has("Done: 1 rotated");

    let new_key = key_in(&home.credentials(), &user).unwrap();
    let env_after = home.read("project/.env");
    assert_eq!(
        env_after,
        format!(
            "# app\r\nexport DEBUG=1\r\nexport AWS_ACCESS_KEY_ID=\"{}\"\r\nDATABASE_URL='postgres://u:p@h/db' # local\r\nexport AWS_SECRET_ACCESS_KEY='{}'\r\n",
            new_key.id, new_key.secret
        )
    );
    let read = python_dotenv(&home.path("project/.env"));
    assert!(
        read.contains(&format!("AWS_ACCESS_KEY_ID={}\n", new_key.id)),
        "{read}"
    );
    assert!(
        read.contains(&format!("AWS_SECRET_ACCESS_KEY={}\n", new_key.secret)),
        "{read}"
    );
    assert!(
        read.contains("DATABASE_URL=postgres://u:p@h/db\n"),
        "{read}"
    );
}

/// The two values at `id_path`/`secret_path` of a structured file, as Python's own
/// readers (json, PyYAML, tomllib) see them.
fn python_read(path: &std::path::Path, expr: &str) -> String {
    let script = format!(
        "import json, sys, tomllib, yaml\n\
         p = sys.argv[1]\n\
         d = json.load(open(p)) if p.endswith('.json') else yaml.safe_load(open(p)) if p.endswith('.yaml') else tomllib.load(open(p, 'rb'))\n\
         print({expr})"
    );
    run_python(&script, &[path.as_os_str()], &[])
        .trim()
        .to_owned()
}

#[test]
fn one_rotation_keeps_json_yaml_and_toml_files_in_sync() {
    let home = Home::new();
    let user = unique("structured");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    let files = [
        (
            "project/config/app.toml",
            format!("# app\n[aws]\naccess_key_id = \"{}\"  # id\nsecret_access_key = '{}'\n\n[db]\nurl = \"postgres://x\"\n", key.id, key.secret),
            "aws.access_key_id",
            "aws.secret_access_key",
            "d['aws']['access_key_id'] + ' ' + d['aws']['secret_access_key']",
        ),
        (
            "project/config/app.json",
            format!("{{\n  \"name\": \"app\",\n  \"creds\": [ {{ \"id\": \"{}\", \"secret\": \"{}\" }} ]\n}}\n", key.id, key.secret),
            "creds[0].id",
            "creds[0].secret",
            "d['creds'][0]['id'] + ' ' + d['creds'][0]['secret']",
        ),
        (
            "project/config/app.yaml",
            format!("# deploy settings\naws:\n  \"key.id\": {}\n  secret: \"{}\"\nreplicas: 3\n", key.id, key.secret),
            "aws.\"key.id\"",
            "aws.secret",
            "d['aws']['key.id'] + ' ' + d['aws']['secret']",
        ),
    ];
    let mut manifest =
        format!("version: 1\nprofiles:\n  {user}:\n    sinks:\n      - type: credentials_file\n");
    for (path, text, id, secret, _) in &files {
        home.write(path, text);
        manifest.push_str(&format!(
            "      - type: file\n        path: {}\n        access_key_id: '{id}'\n        secret_access_key: '{secret}'\n",
            path.trim_start_matches("project/")
        ));
    }
    home.write("project/rekey.yaml", &manifest);
    let plan = home.rekey(&["plan"]).success();
    assert_eq!(
        plan.stdout.matches(": in sync").count(),
        4,
        "{}",
        plan.stdout
    );

    home.rekey(&["apply", "--yes"])
        .success()
        .stdout_has("Done: 1 rotated");
    let new_key = key_in(&home.credentials(), &user).unwrap();
    for (path, before, _, _, expr) in &files {
        let expected = before
            .replace(&key.id, &new_key.id)
            .replace(&key.secret, &new_key.secret);
        assert_eq!(
            home.read(path),
            expected,
            "{path}: only the two values changed"
        );
        assert_eq!(
            python_read(&home.path(path), expr),
            format!("{} {}", new_key.id, new_key.secret),
            "{path}"
        );
    }
}

fn example_plugin() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/plugins/rekey-plugin-file"
    )
    .to_owned()
}

#[test]
fn a_plugin_sink_is_written_with_the_others() {
    let home = Home::new();
    let user = unique("plugin");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    let store = home.path("project/store.json");
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\nprofiles:\n  {user}:\n    sinks:\n      - type: credentials_file\n\
             \x20     - type: dotenv\n        path: .env\n        create: true\n\
             \x20     - type: exec\n        command: ['{}', '{}']\n        timeout: 30s\n",
            example_plugin(),
            store.display()
        ),
    );
    let plan = home.rekey(&["plan"]).success();
    assert!(
        plan.stdout
            .contains(&format!("(JSON file {}): missing", store.display())),
        "{}",
        plan.stdout
    );
    home.rekey(&["apply", "--yes"])
        .success()
        .stdout_has("Done: 1 rotated");
    let new_key = key_in(&home.credentials(), &user).unwrap();
    let stored: serde_json::Value = serde_json::from_str(&home.read("project/store.json")).unwrap();
    assert_eq!(stored["access_key_id"], new_key.id.as_str());
    assert_eq!(stored["secret_access_key"], new_key.secret.as_str());
    assert!(home.read("project/.env").contains(&new_key.id));
    home.rekey(&["plan"])
        .success()
        .stdout_has(&format!("(JSON file {}): in sync", store.display()));
}

#[test]
fn a_failing_plugin_write_leaves_every_sink_as_it_was_and_no_new_key() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    let user = unique("badplugin");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    let env = format!(
        "# keep\nAWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n",
        key.id, key.secret
    );
    home.write("project/.env", &env);
    // Answers every request but `write`, which it refuses (after echoing it to stderr).
    home.write(
        "project/refuse-writes",
        "#!/bin/sh\necho '{\"v\":[1]}'\nread request\ncase \"$request\" in\n\
         *'\"op\":\"write\"'*) echo \"got $request\" >&2; echo '{\"error\":{\"message\":\"the vault is sealed\"}}' ;;\n\
         *'\"op\":\"read\"'*) echo '{\"ok\":{\"access_key_id\":null}}' ;;\n\
         *) echo '{\"ok\":{}}' ;;\nesac\n",
    );
    let plugin = home.path("project/refuse-writes");
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\nprofiles:\n  {user}:\n    sinks:\n      - type: credentials_file\n\
             \x20     - type: dotenv\n        path: .env\n\
             \x20     - type: exec\n        command: [./refuse-writes]\n"
        ),
    );
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("the vault is sealed")
        .stdout_has("[REDACTED]")
        .stdout_has("rolled back")
        .stdout_has("restored .env file");
    assert_eq!(home.credentials(), section(&user, &key));
    assert_eq!(home.read("project/.env"), env);
    assert_eq!(
        moto().keys(&user),
        vec![(key.id.clone(), true)],
        "no new key left in IAM"
    );
    assert!(home.state_files().is_empty(), "{:?}", home.state_files());
}

/// A plugin that is the shell script `body` (after the protocol hello, unless it says
/// otherwise), as the only sink besides the credentials file.
fn with_plugin(name: &str, body: &str, timeout: &str) -> (Home, String) {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    let user = unique(name);
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    home.write("project/plugin", &format!("#!/bin/sh\n{body}\n"));
    std::fs::set_permissions(
        home.path("project/plugin"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\nprofiles:\n  {user}:\n    sinks:\n      - type: credentials_file\n\
             \x20     - type: exec\n        command: [./plugin]\n        timeout: {timeout}\n"
        ),
    );
    (home, user)
}

#[test]
fn a_plugin_that_hangs_in_a_child_is_stopped_at_its_timeout() {
    let (home, _) = with_plugin("hangs", "echo '{\"v\":[1]}'\nsleep 60\necho done", "2s");
    let started = std::time::Instant::now();
    home.rekey(&["plan"])
        .code(1)
        .stdout_has("no answer within 2s");
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(30),
        "a 2 s timeout took {took:?}"
    );
}

#[test]
fn a_plugin_line_without_end_is_refused_at_one_mebibyte() {
    let (home, _) = with_plugin(
        "endless",
        "echo '{\"v\":[1]}'\nread request\nhead -c 20000000 /dev/zero | tr '\\0' 'x'",
        "30s",
    );
    home.rekey(&["plan"])
        .code(1)
        .stdout_has("longer than 1048576 bytes");
}
