//! Byte-exact edits of nasty `.env` files, read back by dotenvy.

use super::edit::{read_back, set_key, EditError};
use super::*;
use crate::Sink;

const ID: &str = "AKIANEW0000000000001";
const SECRET: &str = "new/Secret+Key=0000000000000000000000001";

fn key() -> AccessKey {
    AccessKey::new(ID, SECRET.into()).unwrap()
}

fn edit(text: &str) -> String {
    set_key(text, &Variables::default(), &key())
        .unwrap()
        .to_string()
}

/// (before, after) pairs: every byte outside the two values is kept.
#[test]
fn edits_only_the_two_values_in_nasty_files() {
    let cases = [
        // plain, with export and comments
        (
            "# app settings\nexport AWS_ACCESS_KEY_ID=AKIAOLD  # the old key\nexport AWS_SECRET_ACCESS_KEY=old/secret\nDEBUG=1\n",
            format!("# app settings\nexport AWS_ACCESS_KEY_ID={ID}  # the old key\nexport AWS_SECRET_ACCESS_KEY={SECRET}\nDEBUG=1\n"),
        ),
        // quoting styles kept, blanks around `=`, CRLF, no final newline
        (
            "AWS_ACCESS_KEY_ID = 'AKIAOLD'\r\n\r\nAWS_SECRET_ACCESS_KEY=\"old+secret\"",
            format!("AWS_ACCESS_KEY_ID = '{ID}'\r\n\r\nAWS_SECRET_ACCESS_KEY=\"{SECRET}\""),
        ),
        // BOM, unicode, a multi-line value of another variable that looks like a key
        (
            "\u{feff}NAME=\"Zoë ✓\"\nCERT=\"-----BEGIN\nAWS_ACCESS_KEY_ID=not-me\n-----END\"\nAWS_ACCESS_KEY_ID=AKIAOLD\nAWS_SECRET_ACCESS_KEY=old\n",
            format!("\u{feff}NAME=\"Zoë ✓\"\nCERT=\"-----BEGIN\nAWS_ACCESS_KEY_ID=not-me\n-----END\"\nAWS_ACCESS_KEY_ID={ID}\nAWS_SECRET_ACCESS_KEY={SECRET}\n"),
        ),
        // empty values
        (
            "AWS_ACCESS_KEY_ID=\nAWS_SECRET_ACCESS_KEY= # set me\n",
            format!("AWS_ACCESS_KEY_ID={ID}\nAWS_SECRET_ACCESS_KEY={SECRET} # set me\n"),
        ),
    ];
    for (before, after) in cases {
        let got = set_key(before, &Variables::default(), &key())
            .unwrap_or_else(|e| panic!("{before:?}: {e}"));
        assert_eq!(got.as_str(), after, "editing {before:?}");
        let values = read_back(&after).unwrap();
        assert_eq!(values["AWS_ACCESS_KEY_ID"].as_str(), ID);
        assert_eq!(values["AWS_SECRET_ACCESS_KEY"].as_str(), SECRET);
    }
}

#[test]
fn appends_missing_variables_single_quoted_and_exported_like_the_file() {
    assert_eq!(
        edit("export DEBUG=1"),
        format!("export DEBUG=1\nexport AWS_ACCESS_KEY_ID='{ID}'\nexport AWS_SECRET_ACCESS_KEY='{SECRET}'\n")
    );
    assert_eq!(
        edit("DEBUG=1\r\nAWS_ACCESS_KEY_ID=AKIAOLD\r\n"),
        format!("DEBUG=1\r\nAWS_ACCESS_KEY_ID={ID}\r\nAWS_SECRET_ACCESS_KEY='{SECRET}'\r\n")
    );
    assert_eq!(
        edit(""),
        format!("AWS_ACCESS_KEY_ID='{ID}'\nAWS_SECRET_ACCESS_KEY='{SECRET}'\n")
    );
}

#[test]
fn custom_variable_names() {
    let vars = Variables {
        access_key_id: "DEPLOY_KEY".into(),
        secret_access_key: "DEPLOY_SECRET".into(),
    };
    let out = set_key("AWS_ACCESS_KEY_ID=keep\nDEPLOY_KEY=old\n", &vars, &key()).unwrap();
    assert_eq!(
        out.as_str(),
        format!("AWS_ACCESS_KEY_ID=keep\nDEPLOY_KEY={ID}\nDEPLOY_SECRET='{SECRET}'\n")
    );
}

#[test]
fn refuses_what_it_cannot_rewrite_faithfully() {
    let vars = Variables::default();
    let dup = "AWS_ACCESS_KEY_ID=a\nAWS_ACCESS_KEY_ID=b\n";
    assert!(
        matches!(set_key(dup, &vars, &key()).unwrap_err(), EditError::Duplicate { lines, .. } if lines == [1, 2])
    );
    let complex = "AWS_SECRET_ACCESS_KEY=\"abc\\\"def\"\n";
    assert!(matches!(
        set_key(complex, &vars, &key()).unwrap_err(),
        EditError::Complex { line: 1, .. }
    ));
    let multi = "AWS_SECRET_ACCESS_KEY='abc\ndef'\n";
    assert!(matches!(
        set_key(multi, &vars, &key()).unwrap_err(),
        EditError::Complex { .. }
    ));
    let garbage = "DEBUG=1\nthis is not a .env line SECRETVALUE\n";
    let err = set_key(garbage, &vars, &key()).unwrap_err();
    assert!(matches!(err, EditError::Parse { line: 2, .. }), "{err:?}");
    assert!(!err.to_string().contains("SECRETVALUE"));
}

#[tokio::test]
async fn the_sink_round_trips_on_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    let before =
        "# keep\nAWS_ACCESS_KEY_ID=AKIAOLD0000000000001\nAWS_SECRET_ACCESS_KEY='old/secret'\n";
    let sink = DotEnv::new(&path, Variables::default());
    crate::round_trip::file_round_trip(&sink, &path, before, "AKIAOLD0000000000001", &key()).await;
    assert!(sink.describe().contains("AWS_ACCESS_KEY_ID"));
}
