//! Manifest parsing and resolution; errors must name file, line and column.

use super::*;

fn paths() -> Paths {
    Paths {
        home: "/home/u".into(),
        credentials_file: "/home/u/.aws/credentials".into(),
        config_file: "/home/u/.aws/config".into(),
        state_dir: "/home/u/.local/state/rekey".into(),
        manifest: None,
    }
}

fn error(text: &str) -> String {
    parse(Path::new("/p/rekey.yaml"), text)
        .unwrap_err()
        .to_string()
}

#[test]
fn resolves_defaults_overrides_and_paths() {
    let text = "\
version: 1
defaults:
  grace: 7d
  max_age: 90d
  propagation: { timeout: 2m, consecutive: 5 }
profiles:
  dev:
    grace: 0
    propagation: { consecutive: 2 }
    sinks:
      - type: credentials_file
      - type: credentials_file
        path: ~/other/creds
        section: dev-copy
      - type: credentials_file
        path: project/creds
      - type: dotenv
        path: .env
      - type: dotenv
        path: ~/app/.env
        access_key_id: APP_KEY
        secret_access_key: APP_SECRET
      - type: file
        path: config/app.toml
        access_key_id: aws.access_key_id
        secret_access_key: aws.\"secret.key\"
      - type: file
        path: settings
        format: json
        access_key_id: creds[0].id
        secret_access_key: creds[0].secret
      - type: exec
        command: [./plugins/gh-secret, --repo, me/app]
        timeout: 2m
      - type: exec
        command: [rekey-plugin-vault]
      - type: keyring
      - type: keyring
        service: aws
        account: dev-ci
  prod: {}
";
    let manifest = parse(Path::new("/p/rekey.yaml"), text).unwrap();
    let specs = manifest.resolve(&paths(), &rekey_sinks::aws::SdkConfig::builder().build());
    assert_eq!(
        specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["dev", "prod"]
    );
    let dev = &specs[0];
    assert_eq!(dev.policy.grace, Duration::ZERO);
    assert_eq!(dev.policy.max_age, Some(Duration::from_secs(90 * 86_400)));
    assert_eq!(dev.policy.propagation.timeout, Duration::from_secs(120));
    assert_eq!(dev.policy.propagation.consecutive, 2);
    let sinks: Vec<String> = dev.sinks.iter().map(|s| s.describe()).collect();
    assert_eq!(
        sinks,
        [
            "credentials file /home/u/.aws/credentials [dev]",
            "credentials file /home/u/other/creds [dev-copy]",
            "credentials file /p/project/creds [dev]",
            ".env file /p/.env (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)",
            ".env file /home/u/app/.env (APP_KEY, APP_SECRET)",
            "TOML file /p/config/app.toml (aws.access_key_id, aws.\"secret.key\")",
            "JSON file /p/settings (creds[0].id, creds[0].secret)",
            "plugin /p/plugins/gh-secret --repo me/app",
            "plugin rekey-plugin-vault",
            "keyring entry rekey/dev",
            "keyring entry aws/dev-ci",
        ]
    );
    let prod = &specs[1];
    assert_eq!(prod.policy.grace, Duration::from_secs(7 * 86_400));
    assert_eq!(prod.policy.propagation.consecutive, 5);
    assert_eq!(
        prod.sinks.first().describe(),
        "credentials file /home/u/.aws/credentials [prod]"
    );
}

#[test]
fn built_in_defaults_apply_when_nothing_is_set() {
    let manifest = parse(
        Path::new("/p/rekey.yaml"),
        "version: 1\nprofiles:\n  dev: {}\n",
    )
    .unwrap();
    let spec = &manifest.resolve(&paths(), &rekey_sinks::aws::SdkConfig::builder().build())[0];
    assert_eq!(spec.policy, Policy::default());
}

#[test]
fn unknown_fields_are_errors_with_line_and_column() {
    let err = error("version: 1\nprofiles:\n  dev:\n    grcae: 7d\n");
    assert!(err.starts_with("/p/rekey.yaml:4:5: "), "{err}");
    assert!(err.contains("grcae"), "{err}");
}

#[test]
fn an_unknown_sink_type_lists_the_known_ones() {
    let err = error("version: 1\nprofiles:\n  dev:\n    sinks:\n      - type: vault\n");
    assert!(err.starts_with("/p/rekey.yaml:5:"), "{err}");
    assert!(
        err.contains("vault") && err.contains("credentials_file"),
        "{err}"
    );
}

#[test]
fn unknown_sink_fields_are_errors() {
    let err = error("version: 1\nprofiles:\n  dev:\n    sinks:\n      - type: credentials_file\n        pth: x\n");
    assert!(err.contains("pth"), "{err}");
    assert!(err.starts_with("/p/rekey.yaml:"), "{err}");
}

#[test]
fn file_sinks_need_a_known_format_and_valid_key_paths() {
    let err = error("version: 1\nprofiles:\n  dev:\n    sinks:\n      - type: file\n        path: app.conf\n        access_key_id: a\n        secret_access_key: b\n");
    assert!(
        err.starts_with("/p/rekey.yaml:5:") && err.contains("add `format: json`"),
        "{err}"
    );
    let err = error("version: 1\nprofiles:\n  dev:\n    sinks:\n      - type: file\n        path: app.json\n        access_key_id: a..b\n        secret_access_key: b\n");
    // Sink fields are buffered by serde (the `type:` tag), so the position is the sink's.
    assert!(
        err.starts_with("/p/rekey.yaml:5:") && err.contains("key path"),
        "{err}"
    );
}

#[test]
fn exec_sinks_need_a_command_and_a_valid_timeout() {
    let err = error(
        "version: 1\nprofiles:\n  dev:\n    sinks:\n      - type: exec\n        command: []\n",
    );
    assert!(
        err.starts_with("/p/rekey.yaml:5:") && err.contains("needs `command"),
        "{err}"
    );
    let err = error("version: 1\nprofiles:\n  dev:\n    sinks:\n      - type: exec\n        command: [x]\n        timeout: soon\n");
    assert!(err.contains("invalid duration `soon`"), "{err}");
}

#[test]
fn bad_durations_and_versions_are_errors() {
    let err = error("version: 1\ndefaults:\n  grace: 7 days\nprofiles: {}\n");
    assert!(
        err.starts_with("/p/rekey.yaml:3:3: defaults.grace: invalid value"),
        "{err}"
    );
    assert!(err.contains("\"7 days\"") && err.contains("7d"), "{err}");
    let err = error("version: 2\nprofiles: {}\n");
    assert!(
        err.starts_with("/p/rekey.yaml:1:10: unsupported manifest version 2"),
        "{err}"
    );
    let err = error("version: 1\ndefaults:\n  propagation: { consecutive: 0 }\nprofiles: {}\n");
    assert!(
        err.starts_with("/p/rekey.yaml:3:31: defaults.propagation.consecutive: must be at least 1"),
        "{err}"
    );
    let err = error("version: 1\nprofiles:\n  dev:\n    verify: { command: [] }\n");
    assert!(
        err.starts_with("/p/rekey.yaml:4:")
            && err.contains("profiles.dev.verify.command: needs a program: [program, args...]"),
        "{err}"
    );
    let err = error("version: 1\nprofiles:\n  dev:\n    sinks: []\n");
    assert!(
        err.starts_with("/p/rekey.yaml:4:")
            && err.contains("profiles.dev.sinks: an empty sink list"),
        "{err}"
    );
    // Issue 20: an empty mfa_command fell back to a prompt; now it is an error.
    let err = error("version: 1\nprofiles:\n  dev:\n    mfa_command: []\n");
    assert!(
        err.starts_with("/p/rekey.yaml:4:")
            && err.contains("profiles.dev.mfa_command: needs a program"),
        "{err}"
    );
}

#[test]
fn an_s3_state_names_a_bucket_and_a_prefix_and_keeps_the_iam_mirror() {
    let manifest = parse(
        Path::new("/p/rekey.yaml"),
        "version: 1\nstate: s3://acme-rekey/team-a/\nstate_lease: 2m\nstate_kms_key_id: alias/rekey\nstate_bucket_owner: 210987654321\nprofiles:\n  dev: {}\n",
    )
    .unwrap();
    let policy =
        &manifest.resolve(&paths(), &rekey_sinks::aws::SdkConfig::builder().build())[0].policy;
    assert_eq!(
        policy.shared_state,
        Some(SharedState {
            bucket: "acme-rekey".into(),
            prefix: "team-a".into(),
            lease: Duration::from_secs(120),
            kms_key_id: Some("alias/rekey".into()),
            bucket_owner: Some("210987654321".into()),
        })
    );
    assert_eq!(policy.pending_store, PendingStore::Iam);

    let err =
        error("version: 1\nstate: s3://acme-rekey\nstate_bucket_owner: '12345'\nprofiles: {}\n");
    assert!(err.contains("not an AWS account id"), "{err}");
    let err = error("version: 1\nstate_bucket_owner: '210987654321'\nprofiles: {}\n");
    assert!(err.contains("needs `state: s3://"), "{err}");

    let err = error("version: 1\nstate: s3://Acme_Keys\nprofiles: {}\n");
    assert!(err.starts_with("/p/rekey.yaml:2:8: state: "), "{err}");
    assert!(err.contains("not an S3 bucket name"), "{err}");
    let err = error("version: 1\nstate: dynamodb\nprofiles: {}\n");
    assert!(
        err.contains("use local, iam or s3://BUCKET/PREFIX"),
        "{err}"
    );
    let err = error("version: 1\nstate_lease: 1m\nprofiles: {}\n");
    assert!(err.starts_with("/p/rekey.yaml:2:14: "), "{err}");
    assert!(
        err.contains("`state_lease` belongs to a shared state in S3"),
        "{err}"
    );
}

#[test]
fn malformed_yaml_is_an_error_with_a_position() {
    let err = error("version: 1\nprofiles:\n  dev: [\n");
    assert!(err.starts_with("/p/rekey.yaml:"), "{err}");
    assert!(!err.starts_with("/p/rekey.yaml:0:0"), "{err}");
    let err = error("profiles: {}\n");
    assert!(err.contains("version"), "{err}");
}

#[test]
fn the_annotated_example_manifest_parses() {
    let text = include_str!("../../../examples/rekey.yaml");
    let manifest = parse(Path::new("/p/rekey.yaml"), text).unwrap();
    assert_eq!(
        manifest
            .resolve(&paths(), &rekey_sinks::aws::SdkConfig::builder().build())
            .len(),
        2
    );
}

proptest::proptest! {
    /// Whatever the text, the manifest parser answers (manifest or error) without panicking.
    #[test]
    fn the_parser_never_panics(text in "\\PC{0,300}") {
        let _ = parse(Path::new("/p/rekey.yaml"), &text);
    }

    /// Near-valid manifests (a valid one with a line replaced by noise) never panic either.
    #[test]
    fn near_valid_manifests_never_panic(line in 0usize..12, noise in "[ -~]{0,30}") {
        let mut lines: Vec<String> = include_str!("../../../examples/rekey.yaml").lines().map(str::to_owned).collect();
        let at = line % lines.len();
        lines[at] = noise;
        let _ = parse(Path::new("/p/rekey.yaml"), &lines.join("\n"));
    }
}

/// `docs/rekey.schema.json` is generated from the manifest's types; after changing them,
/// `REKEY_BLESS=1 ./scripts/test the_committed_schema` writes it again.
#[test]
fn the_committed_schema_is_generated_from_the_manifest_types() {
    let generated = super::json_schema();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rekey.schema.json");
    if std::env::var_os("REKEY_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/rekey.schema.json is stale: run REKEY_BLESS=1 ./scripts/test the_committed_schema"
    );
}

#[test]
fn every_program_with_a_slash_is_relative_to_the_manifests_folder() {
    let manifest = parse(
        Path::new("/p/rekey.yaml"),
        "version: 1\ndefaults:\n  mfa_command: [./code.sh, x]\n  verify: { command: [./check] }\nnotify:\n  - command: [bin/tell]\n  - command: [logger]\nprofiles:\n  dev: {}\n",
    )
    .unwrap();
    let policy =
        &manifest.resolve(&paths(), &rekey_sinks::aws::SdkConfig::builder().build())[0].policy;
    let program = |argv: &Argv| argv.split_first().0.clone();
    assert_eq!(program(policy.mfa_command.as_ref().unwrap()), "/p/code.sh");
    assert_eq!(
        program(&policy.verify.as_ref().unwrap().command),
        "/p/check"
    );
    let notify: Vec<String> = manifest
        .notify_targets(&paths())
        .iter()
        .map(|target| match target {
            Notify::Command(argv) => program(argv),
            Notify::Webhook(url) => url.host(),
        })
        .collect();
    assert_eq!(
        notify,
        ["/p/bin/tell", "logger"],
        "a bare name stays for PATH"
    );
}

#[test]
fn scan_takes_a_list_of_roots_or_a_map_and_names_both_shapes_otherwise() {
    let manifest = |scan: &str| {
        format!("version: 1\nscan: {scan}\nprofiles:\n  dev:\n    sinks:\n      - type: credentials_file\n")
    };
    let short = parse(Path::new("/p/rekey.yaml"), &manifest("[~/code, project]")).unwrap();
    let scan = short.scan(&paths()).unwrap();
    assert_eq!(
        scan.roots,
        [PathBuf::from("/home/u/code"), PathBuf::from("/p/project")]
    );
    let full = parse(
        Path::new("/p/rekey.yaml"),
        &manifest("{ roots: [~/code], ignore: ['**/x/**'] }"),
    )
    .unwrap();
    assert_eq!(
        full.scan(&paths()).unwrap().roots,
        [PathBuf::from("/home/u/code")]
    );
    let wrong = error(&manifest("~/code"));
    assert!(
        wrong.contains("scan")
            && wrong.contains("a list of folders")
            && wrong.contains("or a map")
            && wrong.starts_with("/p/rekey.yaml:2:"),
        "{wrong}"
    );
    let unknown = error(&manifest("{ root: [~/code] }"));
    assert!(unknown.contains("unknown field `root`"), "{unknown}");
}

/// Issue 32: a parsed manifest in a debug dump shows a webhook's host, never its token
/// or password (a webhook URL is a credential).
#[test]
fn a_manifest_in_a_debug_dump_shows_no_webhook_credential() {
    let manifest = parse(
        Path::new("/p/rekey.yaml"),
        "version: 1\nnotify:\n  - webhook: https://hooks.slack.com/services/T000/B000/tok3n-in-path\n  \
         - webhook: https://user:hunter2@hooks.example.com/x?token=qu3ry\nprofiles:\n  dev:\n    sinks: [{type: credentials_file}]\n",
    )
    .unwrap();
    let shown = format!("{manifest:?}");
    for secret in ["tok3n-in-path", "hunter2", "qu3ry"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("hooks.slack.com"), "{shown}");
}
