//! The SDK conformance suite, plus the span guarantees the editor relies on.

use super::*;
use serde_json::Value;

fn read(config: Option<&str>, credentials: Option<&str>) -> Result<Merged, ParseError> {
    let config = config.map(parse).transpose()?;
    let credentials = credentials.map(parse).transpose()?;
    let mut files = Vec::new();
    if let Some(c) = &config {
        files.push((FileKind::Config, c));
    }
    if let Some(c) = &credentials {
        files.push((FileKind::Credentials, c));
    }
    Ok(merged_profiles(&files))
}

fn to_map(value: &Value) -> BTreeMap<String, Properties> {
    let mut out = BTreeMap::new();
    for (name, props) in value.as_object().into_iter().flatten() {
        let props = props
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned().into()))
            .collect();
        out.insert(name.clone(), props);
    }
    out
}

#[test]
fn passes_the_sdk_profile_parser_conformance_suite() {
    let suite: Value =
        serde_json::from_str(include_str!("../../../testdata/profile-parser-tests.json")).unwrap();
    let cases = suite["tests"].as_array().unwrap();
    assert!(cases.len() > 60, "the suite looks truncated");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let input = &case["input"];
        let got = read(
            input["configFile"].as_str(),
            input["credentialsFile"].as_str(),
        );
        let expected = &case["output"];
        if let Some(fragment) = expected["errorContaining"].as_str() {
            let err = got.expect_err(name);
            assert!(err.message.contains(fragment), "{name}: got {err}");
            continue;
        }
        let got = got.unwrap_or_else(|e| panic!("{name}: {e}"));
        let config = &expected["config"];
        assert_eq!(got.profiles, to_map(&config["profiles"]), "{name}");
        if let Some(sessions) = config.get("sso_sessions") {
            assert_eq!(got.sso_sessions, to_map(sessions), "{name}");
        }
    }
}

#[test]
fn value_spans_point_at_the_value_bytes() {
    let text = "# top\r\n[dev] ; c\r\naws_access_key_id =  AKIAOLD  # inline\r\nregion=eu-west-1";
    let file = parse(text).unwrap();
    let props = &file.sections[0].properties;
    assert_eq!(&text[props[0].value_span.clone()], "AKIAOLD");
    assert_eq!(&text[props[1].value_span.clone()], "eu-west-1");
    assert_eq!(props[0].line, 3);
    assert_eq!(props[1].end, text.len());
    assert_eq!(file.sections[0].header_end, "# top\r\n[dev] ; c\r\n".len());
}

#[test]
fn errors_name_the_line_but_never_its_text() {
    let err = parse("[dev]\naws_secret_access_key wJalrXUtnFEMI\n").unwrap_err();
    assert_eq!(err.line, 2);
    assert!(!err.to_string().contains("wJalr"), "{err}");
}

/// Every value the reader keeps (secrets among them) is zeroized when dropped: the map
/// holds `Zeroizing<String>`, checked here by type.
#[test]
fn property_values_are_zeroizing() {
    let file = parse("[dev]\naws_secret_access_key = s3cret/Value\n").unwrap();
    let merged = merged_profiles(&[(FileKind::Credentials, &file)]);
    let value: &zeroize::Zeroizing<String> = &merged.profiles["dev"]["aws_secret_access_key"];
    assert_eq!(value.as_str(), "s3cret/Value");
}
