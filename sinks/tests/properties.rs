//! Property tests for the file editors: they never panic on any input, and an edit never
//! changes a byte outside the two values it sets.

use proptest::prelude::*;
use rekey_sinks::credentials_file::edit as credentials;
use rekey_sinks::credentials_file::profile_file::FileKind;
use rekey_sinks::dotenv::{edit as dotenv, Variables};
use rekey_sinks::AccessKey;

fn key() -> impl Strategy<Value = AccessKey> {
    ("AKIA[A-Z0-9]{16}", "[A-Za-z0-9/+=]{40}")
        .prop_map(|(id, secret)| AccessKey::new(id, secret.into()).expect("valid material"))
}

/// A line ending: LF or CRLF.
fn eol() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("\n"), Just("\r\n")]
}

/// Filler lines that may surround the target: comments, blanks, other settings and
/// sections, in any spacing.
fn ini_filler() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[#;][ -~]{0,20}".prop_map(|c| c),
            Just(String::new()),
            "[a-z_]{1,12}[ \t]{0,2}=[ \t]{0,2}[A-Za-z0-9/+=._-]{0,20}[ \t]{0,2}",
        ],
        0..5,
    )
    .prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever the text, the credentials editor answers (edit or refusal) without panicking.
    #[test]
    fn credentials_editor_never_panics(text in "\\PC{0,200}", key in key()) {
        let _ = credentials::set_key(&text, "dev", &key, FileKind::Credentials);
    }

    /// With the section and both keys present once, the result is the input with exactly
    /// the two value ranges replaced.
    #[test]
    fn credentials_edit_changes_only_the_two_values(
        before in ini_filler(), inside in ini_filler(), after in ini_filler(),
        id_first in any::<bool>(), spaces in "[ \t]{0,2}", nl in eol(), key in key(),
        old_id in "AKIA[A-Z0-9]{16}", old_secret in "[A-Za-z0-9/+]{40}",
    ) {
        let id_line = format!("aws_access_key_id{spaces}={spaces}{old_id}");
        let secret_line = format!("aws_secret_access_key = {old_secret}");
        let (first, second) = if id_first { (&id_line, &secret_line) } else { (&secret_line, &id_line) };
        // Filler around the section must not define the target keys itself.
        let inside = inside.replace("aws_", "x_");
        let text = format!("[other]\n{before}\n[dev]\n{first}\n{inside}\n{second}\n[zzz]\n{after}").replace('\n', nl);
        let edited = credentials::set_key(&text, "dev", &key, FileKind::Credentials).expect("a plain section is editable");
        let expected = text.replacen(&old_id, key.id(), 1).replacen(&old_secret, secret(&key), 1);
        prop_assert_eq!(edited.as_str(), expected.as_str());
    }

    /// Whatever the text, the JSON, YAML and TOML editors answer without panicking.
    #[test]
    fn structured_editors_never_panic(text in "\\PC{0,200}", key in key()) {
        use rekey_sinks::file::{Fields, Format};
        use rekey_sinks::TextFormat;
        for format in [Format::Json, Format::Yaml, Format::Toml] {
            let fields = Fields {
                format,
                access_key_id: "a.b[0]".parse().unwrap(),
                secret_access_key: "c".parse().unwrap(),
            };
            let _ = fields.set_key(std::path::Path::new("f"), &text, &key);
            let _ = fields.read_key(std::path::Path::new("f"), &text);
        }
    }

    /// Whatever the text, the .env editor answers without panicking.
    #[test]
    fn dotenv_editor_never_panics(text in "\\PC{0,200}", key in key()) {
        let _ = dotenv::set_key(&text, &Variables::default(), &key);
    }

    /// With both variables present once, only their values change, whatever the quoting.
    #[test]
    fn dotenv_edit_changes_only_the_two_values(
        others in prop::collection::vec(
            prop_oneof![
                "#[ -~]{0,20}",
                Just(String::new()),
                "(export )?[A-Z][A-Z0-9_]{0,10}=[a-z0-9/+=]{0,12}",
                "[A-Z][A-Z0-9_]{0,10}='[ -&(-~]{0,12}'",
            ],
            0..6,
        ),
        quote in prop_oneof![Just(""), Just("'"), Just("\"")],
        export in prop_oneof![Just(""), Just("export ")],
        nl in eol(), key in key(),
        old_id in "AKIA[A-Z0-9]{16}", old_secret in "[A-Za-z0-9/+]{40}",
    ) {
        // Backslashes inside single quotes are read differently by dotenvy (an escape)
        // and by shells, python-dotenv and compose (literal); the editor refuses such
        // files through its read-back check, which `..._never_panics` covers.
        let others: Vec<String> = others.into_iter().filter(|l| !l.contains("AWS_") && !l.contains('\\')).collect();
        let text = format!(
            "{}\n{export}AWS_ACCESS_KEY_ID={quote}{old_id}{quote}\n{}\nAWS_SECRET_ACCESS_KEY={quote}{old_secret}{quote} # note\n",
            others.join("\n"),
            others.iter().rev().cloned().collect::<Vec<_>>().join("\n"),
        ).replace('\n', nl);
        let edited = dotenv::set_key(&text, &Variables::default(), &key).expect("plain assignments are editable");
        let expected = text.replacen(&old_id, key.id(), 1).replacen(&old_secret, secret(&key), 1);
        prop_assert_eq!(edited.as_str(), expected.as_str());
    }
}

fn secret(key: &AccessKey) -> &str {
    use secrecy::ExposeSecret;
    key.secret().expose_secret()
}
