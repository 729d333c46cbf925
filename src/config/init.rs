//! `rekey init`: a commented starter manifest from the profiles already on the machine.

use std::fmt::Write;

use crate::config::discovery::Discovered;

/// A place holding a key, as a sink could be written for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SinkPlace {
    /// A credentials-style INI file, and the section.
    Credentials {
        /// The path as the manifest writes it.
        path: String,
        /// The section, if known.
        section: Option<String>,
    },
    /// The config file, and the profile.
    Config {
        /// The path as the manifest writes it.
        path: String,
        /// The `[profile NAME]` section's name, if known.
        profile: Option<String>,
    },
    /// A `.env` file, and its two variables if known.
    Dotenv {
        /// The path as the manifest writes it.
        path: String,
        /// The id's variable.
        id: Option<String>,
        /// The secret's variable.
        secret: Option<String>,
    },
    /// A JSON, YAML or TOML file, and the two key paths if known.
    File {
        /// The path as the manifest writes it.
        path: String,
        /// The id's key path.
        id: Option<String>,
        /// The secret's key path.
        secret: Option<String>,
    },
}

/// The sink (a list item under a profile's `sinks:`) that writes `place`; `None` when
/// what is known is not enough to write one that is right (a structured file whose
/// secret was not found beside the id).
pub(crate) fn sink_yaml(place: &SinkPlace) -> Option<String> {
    let mut out = String::new();
    match place {
        SinkPlace::Credentials { path, section } => {
            let _ = write!(
                out,
                "- type: credentials_file\n  path: {}",
                yaml_scalar(path)
            );
            if let Some(section) = section {
                let _ = write!(out, "\n  section: {}", yaml_scalar(section));
            }
        }
        SinkPlace::Config { path, profile } => {
            let _ = write!(out, "- type: config_file\n  path: {}", yaml_scalar(path));
            if let Some(profile) = profile {
                let _ = write!(out, "\n  profile: {}", yaml_scalar(profile));
            }
        }
        SinkPlace::Dotenv { path, id, secret } => {
            let _ = write!(out, "- type: dotenv\n  path: {}", yaml_scalar(path));
            for (field, name, default) in [
                ("access_key_id", id, "AWS_ACCESS_KEY_ID"),
                ("secret_access_key", secret, "AWS_SECRET_ACCESS_KEY"),
            ] {
                if let Some(name) = name.as_deref().filter(|n| *n != default) {
                    let _ = write!(out, "\n  {field}: {}", yaml_scalar(name));
                }
            }
        }
        SinkPlace::File { path, id, secret } => {
            let (Some(id), Some(secret)) = (id, secret) else {
                return None;
            };
            let _ = write!(
                out,
                "- type: file\n  path: {}\n  access_key_id: {}\n  secret_access_key: {}",
                yaml_scalar(path),
                yaml_scalar(id),
                yaml_scalar(secret)
            );
        }
    }
    Some(out)
}

/// `text` as a YAML scalar that reads back as exactly `text` (issue 29: a file named
/// `my app #2/.env` must not become `my app`): plain when it is safe to be (a path or
/// a name of letters, digits and `._/~-`), double-quoted with escapes when it holds a
/// control character (JSON's escapes are YAML's), else single-quoted.
pub(crate) fn yaml_scalar(text: &str) -> String {
    let plain_char = |c: char| c.is_ascii_alphanumeric() || "._/~-".contains(c);
    // A word YAML reads as something else (null, a boolean, a number) is quoted.
    let special = ["~", "null", "true", "false", "yes", "no", "on", "off"]
        .contains(&text.to_ascii_lowercase().as_str())
        || text.parse::<f64>().is_ok();
    let plain =
        text.chars().all(plain_char) && text.chars().next().is_some_and(|c| c != '-') && !special;
    if plain {
        text.to_owned()
    } else if text.chars().any(char::is_control) {
        serde_json::to_string(text).expect("a string serializes")
    } else {
        format!("'{}'", text.replace('\'', "''"))
    }
}

/// Where `rekey init --scan` found a profile's key besides its credentials file.
#[derive(Debug, Clone)]
pub(crate) struct FoundCopy {
    /// `~/code/api/.env.local:3`, for the comment.
    pub(crate) at: String,
    /// The sink to write it, or why rekey cannot.
    pub(crate) sink: Result<String, String>,
}

/// The text of a starter `rekey.yaml` for the profiles default mode found, with the
/// other places each profile's key was found (`rekey init --scan`; empty without): a
/// sink for each, or, where rekey cannot edit the place, a comment saying so; and the
/// folders searched as its `scan:` (written as given: `~/…`, or relative to the
/// manifest), so every later `plan` and `apply` looks there again.
pub(crate) fn starter_manifest(
    found: &Discovered,
    places: &std::collections::BTreeMap<String, Vec<FoundCopy>>,
    scan: &[String],
) -> String {
    // The first line lets editors with a YAML language server (VS Code's YAML
    // extension, Neovim, JetBrains) complete and check the manifest as it is written.
    let mut out = format!(
        "# yaml-language-server: $schema={}\n\
         # rekey manifest: which AWS profiles to rotate, and where each key is kept.\n\
         # Reference: docs/manifest.md; more examples: examples/rekey.yaml.\n\
         version: 1\n\
         \n\
         defaults:\n\
         \x20 grace: 7d          # old key deactivated now, deleted after this (0 = at once)\n\
         \x20 max_age: 90d       # only rotate keys at least this old (a daily cron job then\n\
         \x20                    # rotates what is due: `rekey apply --yes`)\n\
         \x20 # verify: {{ command: [./smoke-test], timeout: 2m }}   # your own check of the new key\n\
         \n\
         profiles:\n",
        crate::config::manifest::SCHEMA_URL
    );
    if found.profiles.is_empty() {
        out.push_str(
            "  # No profile with long-lived keys was found in the credentials file.\n  {}\n",
        );
    }
    for profile in &found.profiles {
        let _ = write!(
            out,
            "  {name}:\n\
             \x20   sinks:\n\
             \x20     - type: credentials_file     # ~/.aws/credentials, section [{name}]\n\
             \x20     # - type: dotenv             # also keep it in a project's .env:\n\
             \x20     #   path: .env\n\
             \x20     # - type: keyring            # or in the OS keyring (see credential-process)\n",
            name = yaml_key(&profile.name)
        );
        for place in places.get(&profile.name).into_iter().flatten() {
            match &place.sink {
                Ok(sink) => {
                    let _ = writeln!(out, "      # found at {}", place.at);
                    for line in sink.lines() {
                        let _ = writeln!(out, "      {line}");
                    }
                }
                Err(why) => {
                    let _ = writeln!(out, "      # also at {}: {why}", place.at);
                }
            }
        }
    }
    for skipped in &found.skipped {
        let _ = writeln!(
            out,
            "  # {}: not rotated ({})",
            skipped.profile, skipped.reason
        );
    }
    if !scan.is_empty() {
        let roots: Vec<String> = scan.iter().map(|r| yaml_scalar(r)).collect();
        let _ = write!(
            out,
            "\n# Where else the keys may be: plan and apply stop a key with a copy there that no\n# sink writes (`rekey find` shows them).\nscan: [{}]\n",
            roots.join(", ")
        );
    }
    out
}

/// A profile name as a YAML mapping key (quoted unless plainly safe).
fn yaml_key(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

#[cfg(test)]
mod scalar_tests {
    use super::yaml_scalar;

    #[test]
    fn a_scalar_rekey_writes_reads_back_as_itself() {
        for text in [
            "~/code/api/.env",
            "my app #2/.env",
            "a: b",
            "line\nbreak \u{1b}]0;x\u{7}",
            "it's",
            "-x",
            "~",
            "null",
            "True",
            "0123",
            "1e3",
            "",
        ] {
            let yaml = format!("value: {}\n", yaml_scalar(text));
            let read: std::collections::BTreeMap<String, String> =
                serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
            assert_eq!(read["value"], text, "{yaml}");
        }
        assert_eq!(yaml_scalar("~/code/api/.env"), "~/code/api/.env");
    }
}
