//! Byte-exact expectations: an edit changes the two values and nothing else.

use super::*;
use crate::credentials_file::profile_file::FileKind;

const NEW_ID: &str = "AKIANEW0000000000001";
const NEW_SECRET: &str = "new/Secret+Key=0000000000000000000000001";

fn new_key() -> AccessKey {
    AccessKey::new(NEW_ID, NEW_SECRET.into()).unwrap()
}

fn edit(text: &str, section: &str) -> String {
    set_key(text, section, &new_key(), FileKind::Credentials)
        .unwrap()
        .to_string()
}

#[test]
fn replaces_only_the_two_values_keeping_comments_spacing_and_order() {
    let before = "# my keys\n\
                  [default]\n\
                  region=eu-west-1\n\
                  \n\
                  ; work account\n\
                  [dev] # inline comment\n\
                  aws_secret_access_key   =oldSecret   ; trailing comment\n\
                  output = json\n\
                  AWS_ACCESS_KEY_ID= AKIAOLD\n\
                  [other]\n\
                  aws_access_key_id = AKIAOTHER\n\
                  aws_secret_access_key = otherSecret\n\
                  aws_session_token = token\n";
    let expected = before
        .replace("=oldSecret   ;", &format!("={NEW_SECRET}   ;"))
        .replace("= AKIAOLD", &format!("= {NEW_ID}"));
    assert_eq!(edit(before, "dev"), expected);
}

#[test]
fn keeps_crlf_and_a_missing_final_newline() {
    let before = "[dev]\r\naws_access_key_id = AKIAOLD\r\naws_secret_access_key = old";
    assert_eq!(
        edit(before, "dev"),
        format!("[dev]\r\naws_access_key_id = {NEW_ID}\r\naws_secret_access_key = {NEW_SECRET}")
    );
}

#[test]
fn adds_missing_keys_after_the_last_property_of_the_section() {
    let before = "[dev]\nregion = us-east-1\n\n[prod]\nregion = eu-west-1\n";
    assert_eq!(
        edit(before, "dev"),
        format!(
            "[dev]\nregion = us-east-1\naws_access_key_id = {NEW_ID}\naws_secret_access_key = {NEW_SECRET}\n\n[prod]\nregion = eu-west-1\n"
        )
    );
}

#[test]
fn adds_a_missing_key_to_a_last_section_without_final_newline() {
    let before = "[dev]\r\naws_access_key_id = AKIAOLD";
    assert_eq!(
        edit(before, "dev"),
        format!(
            "[dev]\r\naws_access_key_id = {NEW_ID}\r\naws_secret_access_key = {NEW_SECRET}\r\n"
        )
    );
}

#[test]
fn appends_a_missing_section_after_a_blank_line() {
    assert_eq!(
        edit("[prod]\nregion = x", "dev"),
        format!("[prod]\nregion = x\n\n[dev]\naws_access_key_id = {NEW_ID}\naws_secret_access_key = {NEW_SECRET}\n")
    );
    assert_eq!(
        edit("", "dev"),
        format!("[dev]\naws_access_key_id = {NEW_ID}\naws_secret_access_key = {NEW_SECRET}\n")
    );
}

#[test]
fn fills_an_empty_value() {
    assert_eq!(
        edit(
            "[dev]\naws_access_key_id =\naws_secret_access_key = old\n",
            "dev"
        ),
        format!("[dev]\naws_access_key_id = {NEW_ID}\naws_secret_access_key = {NEW_SECRET}\n")
    );
}

#[test]
fn ignores_a_profile_prefixed_section_as_the_sdk_does() {
    // `[profile dev]` in a credentials file is not profile `dev` for the SDK: leave it be.
    let before = "[profile dev]\naws_access_key_id = AKIAOLD\n";
    let after = edit(before, "dev");
    assert!(after.starts_with(before), "{after}");
}

#[test]
fn refuses_ambiguous_or_unsafe_sections() {
    let key = new_key();
    let dup = "[dev]\naws_access_key_id = A\n[dev]\naws_secret_access_key = B\n";
    assert_eq!(
        set_key(dup, "dev", &key, FileKind::Credentials).unwrap_err(),
        EditError::DuplicateSection {
            section: "dev".into(),
            lines: vec![1, 3]
        }
    );
    let dup_key = "[dev]\naws_access_key_id = A\naws_access_key_id = B\n";
    assert!(matches!(
        set_key(dup_key, "dev", &key, FileKind::Credentials).unwrap_err(),
        EditError::DuplicateKey {
            key: "aws_access_key_id",
            ..
        }
    ));
    let multi = "[dev]\naws_access_key_id = A\n  continued\n";
    assert!(matches!(
        set_key(multi, "dev", &key, FileKind::Credentials).unwrap_err(),
        EditError::Multiline { line: 2, .. }
    ));
    let session =
        "[dev]\naws_access_key_id = A\naws_secret_access_key = B\naws_session_token = C\n";
    assert!(matches!(
        set_key(session, "dev", &key, FileKind::Credentials).unwrap_err(),
        EditError::TemporaryCredentials { .. }
    ));
    assert!(matches!(
        set_key("key = value\n", "dev", &key, FileKind::Credentials).unwrap_err(),
        EditError::Parse(_)
    ));
}

#[test]
fn no_error_message_carries_a_value_from_the_file() {
    let key = new_key();
    for text in [
        "[dev]\naws_secret_access_key = SECRETVALUE\naws_secret_access_key = SECRETVALUE\n",
        "[dev]\naws_secret_access_key = SECRETVALUE\n  SECRETVALUE\n",
        "[dev]\nSECRETVALUE\n",
    ] {
        let err = set_key(text, "dev", &key, FileKind::Credentials).unwrap_err();
        assert!(!err.to_string().contains("SECRETVALUE"), "{err}");
    }
}

#[test]
fn a_config_file_profile_is_edited_in_its_profile_section() {
    let text = "[default]\nregion = eu-west-1\n\n[profile dev]\nregion = us-east-1\naws_access_key_id = AKIAOLD\naws_secret_access_key = old\n";
    let key = new_key();
    let edited = set_key(text, "dev", &key, FileKind::Config).unwrap();
    assert_eq!(
        edited.as_str(),
        text.replace("AKIAOLD", key.id())
            .replace("= old", &format!("= {}", key.secret().expose_secret()))
    );
    // A profile the config file lacks gets a `[profile NAME]` section (the SDK ignores
    // a bare `[NAME]` there), and `default` keeps its bare name.
    let added = set_key(text, "ci", &key, FileKind::Config).unwrap();
    assert!(
        added.contains("\n[profile ci]\naws_access_key_id = "),
        "{}",
        added.as_str()
    );
    let credentials = set_key("", "ci", &key, FileKind::Credentials).unwrap();
    assert!(
        credentials.starts_with("[ci]\n"),
        "{}",
        credentials.as_str()
    );
}
