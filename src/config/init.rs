//! `rekey init`: a commented starter manifest from the profiles already on the machine.

use std::fmt::Write;

use crate::config::discovery::Discovered;

/// The text of a starter `rekey.yaml` for the profiles default mode found.
pub(crate) fn starter_manifest(found: &Discovered) -> String {
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
    }
    for skipped in &found.skipped {
        let _ = writeln!(
            out,
            "  # {}: not rotated ({})",
            skipped.profile, skipped.reason
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
