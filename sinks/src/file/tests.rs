//! Byte-exact edits of JSON, YAML and TOML files, read back by each format's reader.

use super::*;
use crate::Sink;

const ID: &str = "AKIANEW0000000000001";
const SECRET: &str = "new/Secret+Key=0000000000000000000000001";

fn key() -> AccessKey {
    AccessKey::new(ID, SECRET.into()).unwrap()
}

fn fields(format: Format, id: &str, secret: &str) -> Fields {
    Fields {
        format,
        access_key_id: id.parse().unwrap(),
        secret_access_key: secret.parse().unwrap(),
    }
}

fn edit(format: Format, id: &str, secret: &str, text: &str) -> Result<String, SinkError> {
    fields(format, id, secret)
        .set_key(Path::new("f"), text, &key())
        .map(|t| t.to_string())
}

#[test]
fn json_keeps_every_other_byte() {
    let before = "{\r\n  \"name\": \"app\",\r\n  \"aws\": {\"credentials\": {\"access_key_id\": \"AKIAOLD\",\r\n    \"secret_access_key\" :  null },\r\n    \"region\": \"eu-west-1\"},\r\n  \"list\": [1, {\"k\": \"v\"}],\r\n  \"unicode\": \"zoë ✓ \\\"q\\\"\"\r\n}";
    let after = edit(
        Format::Json,
        "aws.credentials.access_key_id",
        "aws.credentials.secret_access_key",
        before,
    )
    .unwrap();
    assert_eq!(
        after,
        before
            .replace("\"AKIAOLD\"", &format!("\"{ID}\""))
            .replace("null", &format!("\"{SECRET}\""))
    );
    let nested = "[{\"id\": \"x\", \"dotted.key\": {\"s\": \"y\"}}]";
    let after = edit(Format::Json, "[0].id", "[0].\"dotted.key\".s", nested).unwrap();
    assert_eq!(
        after,
        format!("[{{\"id\": \"{ID}\", \"dotted.key\": {{\"s\": \"{SECRET}\"}}}}]")
    );
}

#[test]
fn yaml_keeps_comments_styles_and_layout() {
    let before = "\u{feff}# app config\r\naws:\r\n  access_key_id: AKIAOLD   # plain\r\n  secret_access_key: 'old/secret'\r\n  region: \"eu-west-1\"\r\nitems:\r\n  - name: a\r\n    \"dotted.key\": \"x\"\r\nunicode: zoë ✓";
    let after = edit(
        Format::Yaml,
        "aws.access_key_id",
        "aws.secret_access_key",
        before,
    )
    .unwrap();
    assert_eq!(
        after,
        before
            .replace("AKIAOLD", ID)
            .replace("'old/secret'", &format!("'{SECRET}'"))
    );
    let after = edit(
        Format::Yaml,
        "items[0].name",
        "items[0].\"dotted.key\"",
        before,
    )
    .unwrap();
    assert_eq!(
        after,
        before.replace("name: a", &format!("name: {ID}")).replace(
            "\"dotted.key\": \"x\"",
            &format!("\"dotted.key\": \"{SECRET}\"")
        )
    );
    // Flow style, and a plain value that would not read back as a string plainly.
    let flow = "aws: {id: old, secret: old2}\n";
    let after = fields(Format::Yaml, "aws.id", "aws.secret")
        .set_key(
            Path::new("f"),
            flow,
            &AccessKey::new("AKIA1", "12345".into()).unwrap(),
        )
        .unwrap();
    assert_eq!(after.as_str(), "aws: {id: AKIA1, secret: \"12345\"}\n");
}

#[test]
fn toml_keeps_comments_quoting_and_tables() {
    let before = "# settings\r\ntitle = \"app\"\r\n\r\n[aws.credentials]  # creds\r\naccess_key_id = 'AKIAOLD'   # literal\r\nsecret_access_key = \"old/secret\"\r\n\r\n[[servers]]\r\nhost = \"a\"\r\ninline = { id = \"x\", \"dotted.key\" = \"y\" }\r\n";
    let after = edit(
        Format::Toml,
        "aws.credentials.access_key_id",
        "aws.credentials.secret_access_key",
        before,
    )
    .unwrap();
    assert_eq!(
        after,
        before
            .replace("'AKIAOLD'", &format!("'{ID}'"))
            .replace("\"old/secret\"", &format!("\"{SECRET}\""))
    );
    let after = edit(
        Format::Toml,
        "servers[0].inline.id",
        "servers[0].inline.\"dotted.key\"",
        before,
    )
    .unwrap();
    assert_eq!(
        after,
        before
            .replace("id = \"x\"", &format!("id = \"{ID}\""))
            .replace(
                "\"dotted.key\" = \"y\"",
                &format!("\"dotted.key\" = \"{SECRET}\"")
            )
    );
}

#[test]
fn missing_paths_and_non_scalars_are_errors_without_values() {
    let cases = [
        (
            Format::Json,
            "{\"a\": {\"id\": \"SECRETVALUE\"}}",
            "a.nope",
            "does not exist",
        ),
        (
            Format::Json,
            "{\"a\": {\"id\": \"SECRETVALUE\"}}",
            "a",
            "not a value",
        ),
        (Format::Yaml, "a:\n  id: SECRETVALUE\n", "a", "not a value"),
        (
            Format::Yaml,
            "a:\n  id: SECRETVALUE\n",
            "b",
            "does not exist",
        ),
        (
            Format::Yaml,
            "a:\n  id: ok\nc: &x SECRETVALUE\nb: *x\n",
            "b",
            "aliases",
        ),
        (
            Format::Yaml,
            "a:\n  id: ok\nc: &x SECRETVALUE\n",
            "c",
            "anchor",
        ),
        (
            Format::Yaml,
            "a:\n  id: ok\nb: |\n  SECRETVALUE\n",
            "b",
            "block scalars",
        ),
        (
            Format::Toml,
            "[a]\nid = \"SECRETVALUE\"\n",
            "a",
            "not a value",
        ),
        (
            Format::Toml,
            "[a]\nid = \"SECRETVALUE\"\n",
            "a.x",
            "does not exist",
        ),
        (
            Format::Toml,
            "b = \"\"\"SECRETVALUE\"\"\"\n[a]\nid = \"x\"\n",
            "b",
            "multi-line",
        ),
    ];
    for (format, text, path, message) in cases {
        let err = edit(format, "a.id", path, text).unwrap_err().to_string();
        assert!(err.contains(message), "{format:?} {path}: {err}");
        assert!(!err.contains("SECRETVALUE"), "{err}");
    }
    let err = edit(Format::Json, "a", "b", "{\"a\": SECRETVALUE}")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("invalid JSON at line 1") && !err.contains("SECRETVALUE"),
        "{err}"
    );
}

#[tokio::test]
async fn the_sink_round_trips_and_refuses_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let sink = StructuredFile::new(&path, fields(Format::Toml, "aws.id", "aws.secret"));
    assert!(sink
        .check()
        .await
        .unwrap_err()
        .to_string()
        .contains("does not exist"));
    assert_eq!(
        Format::from_extension(Path::new("x.YML")),
        Some(Format::Yaml)
    );
    let cases = [
        (
            Format::Toml,
            "config.toml",
            "[aws]\nid = \"AKIAOLD0000000000001\" # note\nsecret = \"old\"\n",
        ),
        (
            Format::Json,
            "config.json",
            "{\n  \"aws\": {\"id\": \"AKIAOLD0000000000001\", \"secret\": \"old\"},\n  \"x\": 1\n}\n",
        ),
        (
            Format::Yaml,
            "config.yaml",
            "# app\naws:\n  id: AKIAOLD0000000000001\n  secret: 'old'\n",
        ),
    ];
    for (format, name, before) in cases {
        let path = dir.path().join(name);
        let sink = StructuredFile::new(&path, fields(format, "aws.id", "aws.secret"));
        crate::round_trip::file_round_trip(&sink, &path, before, "AKIAOLD0000000000001", &key())
            .await;
    }
}
