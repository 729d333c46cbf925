//! Bad input gets a clear error naming the place, exit 1, and changes nothing.

use crate::support::*;

fn home_with_user() -> (Home, String, TestKey) {
    let home = Home::new();
    let user = unique("bad");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    (home, user, key)
}

fn assert_unchanged(home: &Home, user: &str, key: &TestKey) {
    assert_eq!(home.credentials(), section(user, key));
    assert_eq!(moto().keys(user), vec![(key.id.clone(), true)]);
    assert!(home.state_files().is_empty());
}

#[test]
fn a_malformed_manifest_names_line_and_column() {
    let (home, user, key) = home_with_user();
    home.write(
        "project/rekey.yaml",
        &format!("version: 1\nprofiles:\n  {user}:\n    grcae: 7d\n"),
    );
    let run = home.rekey(&["apply", "--yes"]).code(1);
    // Under the home folder a path is shown from `~` (issue 31).
    assert_eq!(
        run.stderr.trim(),
        format!(
            "error: ~/project/rekey.yaml:4:5: profiles.{user}.grcae: unknown field `grcae`, expected one of grace, overlap, max_age, propagation, verify, sinks, via, user, mfa_serial, mfa_command, mfa_timeout"
        )
    );
    assert_unchanged(&home, &user, &key);
}

#[test]
fn an_unknown_sink_type_lists_the_known_ones() {
    let (home, user, key) = home_with_user();
    home.write(
        "project/rekey.yaml",
        &format!("version: 1\nprofiles:\n  {user}:\n    sinks:\n      - type: vault\n"),
    );
    home.rekey(&["plan"])
        .code(1)
        .stderr_has("rekey.yaml:5:")
        .stderr_has("`vault`")
        .stderr_has("credentials_file");
    assert_unchanged(&home, &user, &key);
}

#[test]
fn a_missing_manifest_is_an_error() {
    let (home, user, key) = home_with_user();
    home.rekey(&["apply", "--yes", "--manifest", "nope.yaml"])
        .code(1)
        .stderr_has("cannot read manifest");
    assert_unchanged(&home, &user, &key);
}

#[test]
fn a_credentials_file_with_a_duplicated_section_is_refused() {
    let (home, user, key) = home_with_user();
    let text = format!("{}[{user}]\nregion = x\n", section(&user, &key));
    home.write_credentials(&text);
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("appears more than once");
    assert_eq!(home.credentials(), text);
    assert_eq!(moto().keys(&user), vec![(key.id.clone(), true)]);
}

#[test]
fn malformed_sink_files_stop_the_profile_before_any_key_is_created() {
    let cases = [
        (
            "bad.env",
            "dotenv\n        path: bad.env",
            "AWS_ACCESS_KEY_ID='unclosed\n",
        ),
        (
            "bad.json",
            "file\n        path: bad.json\n        access_key_id: a\n        secret_access_key: b",
            "{\"a\": \"x\", \"b\": }",
        ),
        (
            "bad.yaml",
            "file\n        path: bad.yaml\n        access_key_id: a\n        secret_access_key: b",
            "a: [x\nb: y\n",
        ),
        (
            "bad.toml",
            "file\n        path: bad.toml\n        access_key_id: a\n        secret_access_key: b",
            "a = \"x\"\nb = \n",
        ),
        (
            "bad.ini",
            "credentials_file\n        path: bad.ini",
            "key = value before any section\n",
        ),
    ];
    for (file, sink, text) in cases {
        let (home, user, key) = home_with_user();
        home.write(&format!("project/{file}"), text);
        home.write(
            "project/rekey.yaml",
            &format!("version: 1\nprofiles:\n  {user}:\n    sinks:\n      - type: credentials_file\n      - type: {sink}\n"),
        );
        home.rekey(&["plan"])
            .code(1)
            .stdout_has("UNWRITABLE")
            .stdout_has(file);
        home.rekey(&["apply", "--yes"]).code(1).stdout_has(file);
        assert_unchanged(&home, &user, &key);
        assert_eq!(
            home.read(&format!("project/{file}")),
            text,
            "{file} untouched"
        );
    }
}

#[test]
fn wrong_types_in_the_manifest_are_errors_with_positions() {
    let (home, user, key) = home_with_user();
    for (yaml, expected) in [
        (
            format!("version: one\nprofiles:\n  {user}: {{}}\n"),
            "rekey.yaml:1:",
        ),
        (
            format!("version: 1\ndefaults:\n  grace: [7d]\nprofiles:\n  {user}: {{}}\n"),
            "rekey.yaml:3:",
        ),
        (
            format!("version: 1\ndefaults:\n  grace: soon\nprofiles:\n  {user}: {{}}\n"),
            "rekey.yaml:3:3: defaults.grace: invalid value: string \"soon\", expected a duration",
        ),
        (
            format!("version: 1\nprofiles:\n  {user}:\n    sinks: credentials_file\n"),
            "rekey.yaml:4:",
        ),
        (
            format!("version: 1\nprofiles:\n  {user}:\n    propagation: {{ consecutive: -1 }}\n"),
            &format!("rekey.yaml:4:33: profiles.{user}.propagation.consecutive: invalid u32"),
        ),
    ] {
        home.write("project/rekey.yaml", &yaml);
        home.rekey(&["apply", "--yes"]).code(1).stderr_has(expected);
        assert_unchanged(&home, &user, &key);
    }
}

#[test]
fn a_missing_credentials_file_in_default_mode_is_an_error_naming_it() {
    let home = Home::new();
    let missing = home.path(".aws/credentails");
    let missing = missing.to_str().unwrap();
    for command in ["plan", "status", "apply"] {
        home.run(&[command, "--yes"][..if command == "apply" { 2 } else { 1 }])
            .envs(&[("AWS_SHARED_CREDENTIALS_FILE", missing)])
            .output()
            .code(1)
            .stderr_has("~/.aws/credentails: no such file");
    }
    assert!(home.state_files().is_empty());
}
