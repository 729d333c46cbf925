//! The state dir after every command: private modes, one JSON document after a crash,
//! and a journal kept (never a deleted key in a sink) when undoing cannot restore a sink.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::*;

/// Every file and folder under the state dir (itself included) with a mode other than
/// 0600 (files) or 0700 (folders), as `path mode` lines.
fn loose_modes(root: &Path) -> Vec<String> {
    fn walk(path: &Path, out: &mut Vec<String>) {
        let meta = std::fs::symlink_metadata(path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        let wanted = if meta.is_dir() { 0o700 } else { 0o600 };
        if mode != wanted {
            out.push(format!("{} {mode:o}", path.display()));
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).unwrap().flatten() {
                walk(&entry.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &mut out);
    out
}

/// How many entries the state dir holds (so the mode check is not vacuous).
fn entries(root: &Path) -> usize {
    std::fs::read_dir(root).map_or(0, |dir| {
        dir.flatten()
            .map(|e| {
                if e.path().is_dir() {
                    1 + entries(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

#[track_caller]
fn assert_private(home: &Home, after: &str) {
    let root = home.state_dir();
    assert!(entries(&root) > 0, "after {after}: the state dir is empty");
    let loose = loose_modes(&root);
    assert!(loose.is_empty(), "after {after}: {loose:#?}");
}

#[test]
fn every_file_and_folder_of_the_state_dir_is_private_after_every_command() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials_and_dotenv("modes");
    // rekey runs with the usual umask 022, which alone would make files 0644.
    home.rekey(&["apply", "--yes", "--grace", "1h"]).success();
    assert_private(&home, "apply");
    home.rekey(&["rollback", &user, "--yes"]).success();
    assert_private(&home, "rollback");

    let crashed = home
        .run(&["apply", "--yes", "--grace", "1s"])
        .envs(&[("REKEY_CRASH_AT", "after-write-0")])
        .output();
    assert_eq!(
        crashed.code, None,
        "build with --features rekey/crash-points"
    );
    assert_private(&home, "a crash");
    home.rekey(&["recover"]).success();
    assert_private(&home, "recover");

    home.rekey(&["apply", "--yes", "--grace", "1h"]).success();
    home.rekey_later(1, &["prune", "--yes"])
        .success()
        .stdout_has("deleted");
    assert_private(&home, "prune");
}

#[test]
fn apply_prints_one_json_document_after_resolving_a_crash() {
    let home = Home::new();
    let user = unique("jsoncrash");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    let crashed = home
        .run(&["apply", "--yes"])
        .envs(&[("REKEY_CRASH_AT", "after-write-0")])
        .output();
    assert_eq!(
        crashed.code, None,
        "build with --features rekey/crash-points"
    );

    // --make-room: the recovered rotation's old key is in its grace period.
    let run = home
        .rekey(&["apply", "--yes", "--make-room", "--output", "json"])
        .success();
    // The whole of stdout, strictly: one document and nothing before or after it.
    let json: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", run.stdout));
    let recovered = json["recovered"].as_array().expect("a recovered list");
    assert_eq!(recovered.len(), 1, "{json}");
    assert_eq!(recovered[0]["status"], "resolved", "{json}");
    // The only sink holds the new key: the interrupted rotation is completed.
    assert_eq!(
        recovered[0]["result"]["outcome"], "rolled_forward",
        "{json}"
    );
    assert_eq!(json["results"][0]["status"], "rotated", "{json}");
    assert!(json.get("error").is_none(), "{json}");
}

#[test]
fn a_failed_apply_still_prints_one_json_document() {
    let home = Home::new();
    let user = unique("jsonfail");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    // No --yes and no terminal: apply refuses before changing anything.
    let run = home.rekey(&["apply", "--output", "json"]).code(1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", run.stdout));
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.contains("without --yes")),
        "{json}"
    );
    assert!(run.stderr.contains("without --yes"), "{}", run.stderr);
}

/// A plugin keeping the key in a JSON file (the example plugin), except that it refuses
/// `restore` while the file `flag` exists, echoing the request (and so the old secret)
/// on stderr as it does: rekey must redact it.
pub fn stubborn_plugin(home: &Home, flag: &Path) -> String {
    let script = format!(
        r#"#!/usr/bin/env python3
import json, os, subprocess, sys
print(json.dumps({{"v": [1]}}), flush=True)
line = sys.stdin.readline()
if json.loads(line).get("op") == "restore" and os.path.exists({flag:?}):
    sys.stderr.write("got: " + line)  # echoes the undo data, which holds the old key
    print(json.dumps({{"error": {{"message": "the vault is sealed"}}}}), flush=True)
    sys.exit(0)
real = subprocess.Popen([{plugin:?}] + sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
real.stdout.readline()
out, _ = real.communicate(line)
sys.stdout.write(out)
"#,
        flag = flag.display().to_string(),
        plugin = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/plugins/rekey-plugin-file"
        ),
    );
    home.write("project/stubborn", &script);
    let path = home.path("project/stubborn");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// A profile that gets stuck: its check fails once every sink is written, and its
/// plugin (a [`stubborn_plugin`] whose store starts holding `key`) refuses to restore
/// while the flag file exists. Returns the profile as manifest YAML (indented for
/// `profiles:`), the flag, the plugin's path and the store's original text.
pub struct Stuck {
    pub yaml: String,
    pub flag: std::path::PathBuf,
    pub plugin: String,
    pub store: String,
}

pub fn stuck_profile(home: &Home, user: &str, key: &TestKey) -> Stuck {
    let store = format!(
        "{{\"access_key_id\": \"{}\", \"secret_access_key\": \"{}\"}}",
        key.id, key.secret
    );
    home.write("project/store.json", &store);
    let flag = home.path("project/sealed");
    std::fs::write(&flag, "").unwrap();
    let plugin = stubborn_plugin(home, &flag);
    let yaml = format!(
        "  {user}:\n    verify: {{ command: [\"false\"] }}\n    sinks:\n\
         \x20     - type: credentials_file\n      - type: exec\n        command: ['{plugin}', store.json]\n"
    );
    Stuck {
        yaml,
        flag,
        plugin,
        store,
    }
}

#[test]
fn a_sink_that_cannot_be_restored_keeps_the_new_key_and_the_journal_until_recover() {
    let home = Home::new();
    let user = unique("stubborn");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    let Stuck {
        yaml,
        flag,
        plugin,
        store,
    } = stuck_profile(&home, &user, &key);
    home.write(
        "project/rekey.yaml",
        &format!("version: 1\nprofiles:\n{yaml}"),
    );
    let run = home.rekey(&["apply", "--yes"]).code(1);
    let stdout = &run.stdout;
    assert!(stdout.contains("rollback incomplete"), "{stdout}");
    assert!(
        stdout.contains(&format!("cannot restore plugin {plugin}")),
        "names the sink: {stdout}"
    );
    assert!(stdout.contains("the vault is sealed"), "{stdout}");
    assert!(
        stdout.contains("rekey recover"),
        "says what to do: {stdout}"
    );
    let held: serde_json::Value = serde_json::from_str(&home.read("project/store.json")).unwrap();
    let held_id = held["access_key_id"].as_str().unwrap().to_owned();
    assert_ne!(held_id, key.id, "the plugin still holds the new key");
    assert!(
        moto().keys(&user).contains(&(held_id.clone(), true)),
        "so the new key is not deleted: {:?}",
        moto().keys(&user)
    );
    assert!(
        home.state_files().iter().any(|f| f.starts_with("journal/")),
        "the journal is kept"
    );

    std::fs::remove_file(&flag).unwrap();
    home.rekey(&["recover"]).success().stdout_has("rolled back");
    assert_eq!(home.read("project/store.json"), store);
    assert_eq!(home.credentials(), section(&user, &key));
    assert_eq!(moto().keys(&user), key_set(&[(&key.id, true)]));
    assert!(home.state_files().is_empty(), "{:?}", home.state_files());
}

#[test]
fn a_full_disk_during_the_undo_keeps_the_new_key_and_the_journal_until_recover() {
    let home = Home::new();
    let user = unique("fullundo");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    let _disk = TinyDisk::mount(home.path("project/small"), "16k");
    let env = env_text(&key);
    home.write("project/small/.env", &env);
    // The check fills the disk and fails: the write went through, the undo cannot.
    home.write(
        "project/fill-and-fail",
        "#!/bin/sh\ni=0\nwhile head -c 1024 /dev/zero > small/filler$i 2>/dev/null; do i=$((i+1)); done\nexit 1\n",
    );
    std::fs::set_permissions(
        home.path("project/fill-and-fail"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\nprofiles:\n  {user}:\n    verify: {{ command: [./fill-and-fail] }}\n    sinks:\n\
             \x20     - type: credentials_file\n      - type: dotenv\n        path: small/.env\n"
        ),
    );
    let run = home.rekey(&["apply", "--yes"]).code(1);
    assert!(run.stdout.contains("rollback incomplete"), "{}", run.stdout);
    assert!(
        run.stdout.contains("cannot restore .env file") && run.stdout.contains("No space left"),
        "names the sink and the cause: {}",
        run.stdout
    );
    let held = home.read("project/small/.env");
    assert_ne!(held, env, "the .env still holds the new key");
    let keys = moto().keys(&user);
    assert_eq!(keys.len(), 2, "the new key is kept: {keys:?}");
    assert!(
        keys.contains(&(key.id.clone(), true)),
        "the old key stays active: {keys:?}"
    );

    for entry in std::fs::read_dir(home.path("project/small"))
        .unwrap()
        .flatten()
    {
        if entry.file_name().to_string_lossy().starts_with("filler") {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    home.rekey(&["recover"]).success().stdout_has("rolled back");
    assert_eq!(home.read("project/small/.env"), env);
    assert_eq!(home.credentials(), section(&user, &key));
    assert_eq!(moto().keys(&user), key_set(&[(&key.id, true)]));
    assert!(home.state_files().is_empty(), "{:?}", home.state_files());
}

/// A home whose user was rotated once (so the state dir has its lock files), and a
/// victim file that a planted symlink will point to.
fn rotated_once_with_victim(name: &str) -> (Home, String, std::path::PathBuf) {
    let home = Home::new();
    let user = unique(name);
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    home.rekey(&["apply", "--yes", "--grace", "1h"]).success();
    let victim = home.path("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    (home, user, victim)
}

#[test]
fn a_lock_file_planted_as_a_symlink_is_never_written_through() {
    let (home, _, victim) = rotated_once_with_victim("plantedlock");
    let mut planted = 0;
    for entry in std::fs::read_dir(home.state_dir().join("locks"))
        .unwrap()
        .flatten()
    {
        std::fs::remove_file(entry.path()).unwrap();
        std::os::unix::fs::symlink(&victim, entry.path()).unwrap();
        planted += 1;
    }
    assert!(planted > 0, "apply made lock files");
    // --make-room: the last rotation's old key is still in its grace period.
    home.rekey(&["apply", "--yes", "--grace", "1h", "--make-room"])
        .code(1)
        .stdout_has("cannot use lock file");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn a_journal_planted_as_a_symlink_is_never_read_or_written_through() {
    let (home, user, victim) = rotated_once_with_victim("plantedjournal");
    let journal = home
        .state_dir()
        .join(format!("journal/123456789012-{user}.json"));
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&victim, &journal).unwrap();
    home.rekey(&["apply", "--yes", "--grace", "1h"]).code(1);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn a_state_dir_others_may_write_is_refused_with_the_fix() {
    let home = Home::new();
    let user = unique("loosestate");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    std::fs::create_dir_all(home.state_dir()).unwrap();
    std::fs::set_permissions(home.state_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stderr_has("group or others may write it (mode 777)")
        .stderr_has("chmod 700");
    assert_eq!(moto().keys(&user), vec![(key.id.clone(), true)]);
    // With --output json, stdout is still one JSON document, saying why (issue 20).
    let json = home
        .rekey(&["apply", "--yes", "--output", "json"])
        .code(1)
        .json();
    assert!(
        json["error"]
            .as_str()
            .unwrap_or_default()
            .contains("mode 777"),
        "{json}"
    );
    assert!(json["plan"].is_null(), "{json}");

    std::fs::set_permissions(home.state_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(home.state_dir(), Some(12345), None).unwrap();
    home.rekey(&["plan"])
        .code(1)
        .stderr_has("owned by uid 12345");
    std::os::unix::fs::chown(home.state_dir(), Some(0), None).unwrap();

    // Under a folder everyone may write, without the sticky bit (issue 29).
    let above = home.path("");
    std::fs::set_permissions(&above, std::fs::Permissions::from_mode(0o777)).unwrap();
    let run = home.rekey(&["plan"]);
    std::fs::set_permissions(&above, std::fs::Permissions::from_mode(0o700)).unwrap();
    run.code(1).stderr_has("no sticky bit");
    home.rekey(&["plan"]).success();
}
