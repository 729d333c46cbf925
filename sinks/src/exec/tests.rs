//! The plugin protocol with real processes: the example plugin, and misbehaving ones.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

const SECRET: &str = "plugin/Secret+Value=00000000000000000001";

fn key() -> AccessKey {
    AccessKey::new("AKIAPLUGIN0000000001", SECRET.into()).unwrap()
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugins/rekey-plugin-file")
}

/// A throwaway plugin: a shell script with `body`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn the_example_plugin_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("aws.json");
    let plugin = Plugin::new(
        example(),
        vec![store.display().to_string()],
        DEFAULT_TIMEOUT,
    );
    plugin.check().await.unwrap();
    assert!(
        plugin.describe().contains("JSON file"),
        "{}",
        plugin.describe()
    );
    assert_eq!(plugin.read_id().await.unwrap(), None);
    let snapshot = plugin.snapshot().await.unwrap();
    let undo = plugin
        .write(&key())
        .await
        .unwrap()
        .expect("the plugin returns undo data");
    assert_eq!(
        plugin.read_id().await.unwrap().as_deref(),
        Some("AKIAPLUGIN0000000001")
    );
    assert_eq!(
        plugin
            .read()
            .await
            .unwrap()
            .unwrap()
            .secret()
            .expose_secret(),
        SECRET
    );
    plugin.restore(&undo, &key()).await.unwrap();
    assert!(!store.exists(), "restored to 'no file'");
    plugin.restore(&snapshot, &key()).await.unwrap(); // `null` undo: nothing to do
}

#[tokio::test]
async fn secrets_never_reach_argv_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("seen");
    let plugin = script(
        dir.path(),
        "spy",
        &format!("echo \"$0 $@\" > {0}; env >> {0}; echo '{{\"v\":[1]}}'; read line; echo '{{\"ok\":{{}}}}'", dump.display()),
    );
    Plugin::new(plugin, vec!["arg".into()], DEFAULT_TIMEOUT)
        .write(&key())
        .await
        .unwrap();
    let seen = std::fs::read_to_string(&dump).unwrap();
    assert!(seen.contains("arg"), "{seen}");
    assert!(!seen.contains(SECRET), "{seen}");
}

#[tokio::test]
async fn failures_are_reported_with_stderr_and_the_secret_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("silent", "exit 3".to_owned(), "hello"),
        ("garbled", "echo '{\"v\":[1]}'; read l; echo 'not json'".to_owned(), "not valid protocol JSON"),
        ("future", "echo '{\"v\":[2]}'".to_owned(), "versions [2]"),
        (
            "leaky",
            "echo '{\"v\":[1]}'; read l; echo \"$l\" >&2; echo '{\"error\":{\"message\":\"denied\"}}'".to_owned(),
            "denied; its stderr:",
        ),
        (
            "old",
            "echo '{\"v\":[1]}'; read l; echo '{\"error\":{\"kind\":\"unsupported\",\"message\":\"no write\"}}'".to_owned(),
            "does not support",
        ),
        ("crashy", "echo '{\"v\":[1]}'; read l; echo '{\"ok\":{}}'; exit 4".to_owned(), "exited with"),
    ];
    for (name, body, expected) in cases {
        let plugin = Plugin::new(script(dir.path(), name, &body), vec![], DEFAULT_TIMEOUT);
        let err = plugin.write(&key()).await.unwrap_err().to_string();
        assert!(err.contains(expected), "{name}: {err}");
        assert!(!err.contains(SECRET), "{name}: {err}");
        if name == "leaky" {
            assert!(err.contains("[REDACTED]"), "{err}");
        }
    }
}

#[tokio::test]
async fn a_plugin_that_hangs_is_stopped_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = Plugin::new(
        script(dir.path(), "slow", "echo '{\"v\":[1]}'; exec sleep 600"),
        vec![],
        Duration::from_millis(300),
    );
    let err = plugin.check().await.unwrap_err().to_string();
    assert!(err.contains("no answer within"), "{err}");
}

#[tokio::test]
async fn a_missing_program_is_a_clear_error() {
    let plugin = Plugin::new("/nonexistent/rekey-plugin", vec![], DEFAULT_TIMEOUT);
    let err = plugin.check().await.unwrap_err().to_string();
    assert!(err.contains("cannot start it"), "{err}");
}

#[tokio::test]
async fn the_github_example_describes_itself_without_gh() {
    let program =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugins/rekey-plugin-gh-secret");
    let plugin = Plugin::new(
        program,
        vec!["--repo".into(), "me/app".into()],
        DEFAULT_TIMEOUT,
    );
    let described: Described = plugin.call(Request::Describe).await.unwrap();
    assert_eq!(
        described.description.as_deref(),
        Some("GitHub Actions secrets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY of me/app")
    );
}

/// The exact lines on the wire, which plugin authors rely on (docs/plugin-protocol.md).
mod wire {
    use super::protocol::*;

    fn line(request: Request<'_>) -> String {
        serde_json::to_string(&Envelope {
            v: VERSION,
            request,
        })
        .unwrap()
    }

    #[test]
    fn requests() {
        assert_eq!(line(Request::Describe), r#"{"v":1,"op":"describe"}"#);
        assert_eq!(line(Request::Read), r#"{"v":1,"op":"read"}"#);
        assert_eq!(line(Request::Check), r#"{"v":1,"op":"check"}"#);
        assert_eq!(
            line(Request::Write {
                access_key_id: "AKIAEXAMPLE",
                secret_access_key: "s3cret/Value",
            }),
            r#"{"v":1,"op":"write","access_key_id":"AKIAEXAMPLE","secret_access_key":"s3cret/Value"}"#
        );
        let undo = serde_json::json!({"before": null});
        assert_eq!(
            line(Request::Restore { undo: &undo }),
            r#"{"v":1,"op":"restore","undo":{"before":null}}"#
        );
    }

    #[test]
    fn answers() {
        let hello: Hello = serde_json::from_str(r#"{"v":[1]}"#).unwrap();
        assert_eq!(hello.v, [1]);
        let described: Answer<Described> =
            serde_json::from_str(r#"{"ok":{"description":"a vault"}}"#).unwrap();
        assert!(
            matches!(described, Answer::Ok(Described { description: Some(d) }) if d == "a vault")
        );
        let held: Answer<Held> = serde_json::from_str(
            r#"{"ok":{"access_key_id":"AKIAEXAMPLE","secret_access_key":"s3cret/Value"}}"#,
        )
        .unwrap();
        assert!(matches!(
            held,
            Answer::Ok(Held {
                access_key_id: Some(_),
                secret_access_key: Some(_)
            })
        ));
        // A Debug print of the answer (a log line, a panic) never shows the secret.
        assert!(!format!("{held:?}").contains("s3cret"), "{held:?}");
        let none: Answer<Held> = serde_json::from_str(r#"{"ok":{"access_key_id":null}}"#).unwrap();
        assert!(matches!(
            none,
            Answer::Ok(Held {
                access_key_id: None,
                secret_access_key: None
            })
        ));
        let done: Answer<Done> = serde_json::from_str(r#"{"ok":{}}"#).unwrap();
        assert!(matches!(done, Answer::Ok(Done {})));
        let written: Answer<Written> =
            serde_json::from_str(r#"{"ok":{"undo":{"before":{"k":"v"}}}}"#).unwrap();
        assert!(matches!(written, Answer::Ok(Written { undo }) if undo["before"]["k"] == "v"));
        let failed: Answer<Done> =
            serde_json::from_str(r#"{"error":{"message":"sealed"}}"#).unwrap();
        assert!(
            matches!(failed, Answer::Error(PluginError { kind: None, message }) if message == "sealed")
        );
        let unsupported: Answer<Done> =
            serde_json::from_str(r#"{"error":{"kind":"unsupported","message":"no restore"}}"#)
                .unwrap();
        assert!(matches!(
            unsupported,
            Answer::Error(PluginError {
                kind: Some(ErrorKind::Unsupported),
                ..
            })
        ));
        let unknown: Answer<Done> =
            serde_json::from_str(r#"{"error":{"kind":"later","message":"x"}}"#).unwrap();
        assert!(matches!(
            unknown,
            Answer::Error(PluginError {
                kind: Some(ErrorKind::Other),
                ..
            })
        ));
        assert!(serde_json::from_str::<Answer<Done>>(r#"{"ok":{},"extra":1}"#).is_err());
    }
}
