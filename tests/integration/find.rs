//! `rekey find`: every copy of a known key on disk, in every format, with which sink
//! keeps it current; what it must pass by, passed by and counted. No output holds a
//! secret (the harness checks every run's output).

use std::os::unix::fs::PermissionsExt;

use crate::proxy::FaultProxy;
use crate::support::*;

/// A user whose key is in the credentials file and the project's .env (both sinks of
/// the manifest), and copies of it no sink writes, in every format.
fn scattered(home: &Home) -> (String, TestKey) {
    let (user, key) = home.user_in_credentials_and_dotenv("find");
    let (id, secret) = (&key.id, &key.secret);
    home.write(
        "code/api/.env.local",
        &format!(
            "# local\r\nexport AWS_ACCESS_KEY_ID={id}\r\nAWS_SECRET_ACCESS_KEY=\"{secret}\"\r\n"
        ),
    );
    home.write(
        "code/api/settings.json",
        &format!(
            "{{\"aws\": {{\"credentials\": {{\"id\": \"{id}\", \"secret\": \"{secret}\"}}}}}}\n"
        ),
    );
    home.write(
        "code/api/app.yaml",
        &format!("deploy:\n  keys:\n    - name: ci\n      id: '{id}'\n      secret: {secret}\n"),
    );
    home.write(
        "code/api/app.toml",
        &format!("[\"my.app\".aws]\nid = \"{id}\"\nsecret = \"{secret}\"\n"),
    );
    home.write(
        ".bash_history",
        &format!("aws configure set aws_access_key_id {id}\n"),
    );
    home.write(
        ".zsh_history",
        &format!(": 1700000000:0;export AWS_SECRET_ACCESS_KEY={secret}\n"),
    );
    home.write(
        ".local/share/fish/fish_history",
        &format!("- cmd: set -x AWS_ACCESS_KEY_ID {id}\n  when: 1700000000\n"),
    );
    home.write("code/notes.txt", "someone's key: AKIAZZZZZZZZZZZZZZZZ\n");
    (user, key)
}

/// The copy of `key_id` in the file whose path ends with `path`.
fn copy<'a>(json: &'a serde_json::Value, key_id: &str, path: &str) -> &'a serde_json::Value {
    let key = json["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["key_id"] == key_id))
        .unwrap_or_else(|| panic!("no key {key_id}: {json}"));
    key["copies"]
        .as_array()
        .and_then(|copies| {
            copies
                .iter()
                .find(|c| c["path"].as_str().unwrap().ends_with(path))
        })
        .unwrap_or_else(|| panic!("no copy in {path}: {json}"))
}

#[test]
fn every_copy_is_found_with_its_place_and_whether_a_sink_writes_it() {
    let home = Home::new();
    let (user, key) = scattered(&home);
    let json = home.rekey(&["find", "--output", "json"]).success().json();
    assert_eq!(json["schema"], 1, "{json}");
    let id = key.id.as_str();

    // The sinks' own places are covered.
    let env = copy(&json, id, "project/.env");
    assert_eq!(env["holds"], "both", "{env}");
    assert!(
        env["covered_by"].as_str().unwrap().contains(".env file"),
        "{env}"
    );
    assert!(env.get("add_sink").is_none(), "{env}");
    let credentials = copy(&json, id, ".aws/credentials");
    assert!(!credentials["covered_by"].is_null(), "{credentials}");

    // Every other copy, with where it is, what it holds, and the sink to add.
    let local = copy(&json, id, "code/api/.env.local");
    assert_eq!(
        (
            &local["format"],
            &local["holds"],
            &local["line"],
            &local["column"]
        ),
        (&"dotenv".into(), &"both".into(), &2.into(), &26.into()),
        "{local}"
    );
    assert!(local["covered_by"].is_null());
    assert_eq!(
        local["add_sink"], "- type: dotenv\n  path: ~/code/api/.env.local",
        "{local}"
    );
    let settings = copy(&json, id, "settings.json");
    assert_eq!(
        settings["add_sink"],
        "- type: file\n  path: ~/code/api/settings.json\n  access_key_id: aws.credentials.id\n  secret_access_key: aws.credentials.secret",
        "{settings}"
    );
    let yaml = copy(&json, id, "app.yaml");
    assert!(
        yaml["add_sink"]
            .as_str()
            .unwrap()
            .contains("access_key_id: 'deploy.keys[0].id'"),
        "{yaml}"
    );
    let toml = copy(&json, id, "app.toml");
    assert!(
        toml["add_sink"]
            .as_str()
            .unwrap()
            .contains("access_key_id: '\"my.app\".aws.id'"),
        "{toml}"
    );
    for (history, holds) in [
        (".bash_history", "id"),
        (".zsh_history", "secret"),
        ("fish/fish_history", "id"),
    ] {
        let found = copy(&json, id, history);
        assert_eq!(found["format"], "shell_history", "{found}");
        assert_eq!(found["holds"], holds, "{found}");
        assert!(
            found.get("add_sink").is_none(),
            "rekey cannot edit a history: {found}"
        );
    }
    let key_entry = json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == id)
        .unwrap();
    assert_eq!(key_entry["state"], "current");
    assert_eq!(key_entry["profiles"], serde_json::json!([user]));
    assert_eq!(
        key_entry["user_arn"],
        moto().user_arn(&user).as_str(),
        "{json}"
    );

    // An id of AWS's shape that is no known key's.
    assert_eq!(
        json["unknown"][0]["key_id"], "AKIAZZZZZZZZZZZZZZZZ",
        "{json}"
    );
    assert_eq!(json["unknown"][0]["state"], "unknown");

    // For people: the uncovered copies say so, and how to cover them.
    let text = home.rekey(&["find"]).success().stdout;
    assert!(text.contains("NO SINK WRITES IT"), "{text}");
    assert!(text.contains("- type: dotenv"), "{text}");
    // A current key with an uncovered copy: exit 2 with --detailed-exitcode.
    home.rekey(&["find", "--detailed-exitcode"]).code(2);
}

#[test]
fn whose_each_key_is_is_asked_of_sts_once() {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (user, key) = scattered(&home);
    let owner = |json: &serde_json::Value| {
        let keys = json["keys"].as_array().unwrap();
        let entry = keys.iter().find(|k| k["key_id"] == key.id.as_str());
        entry.unwrap()["user_arn"].clone()
    };
    let asked = proxy.count("GetCallerIdentity");
    let first = home.rekey(&["find", "--output", "json"]).success().json();
    assert_eq!(owner(&first), moto().user_arn(&user).as_str(), "{first}");
    assert!(proxy.count("GetCallerIdentity") > asked, "STS was asked");

    // An access key's owner never changes: the next find knows it without asking.
    let asked = proxy.count("GetCallerIdentity");
    let second = home.rekey(&["find", "--output", "json"]).success().json();
    assert_eq!(owner(&second), owner(&first), "{second}");
    assert_eq!(
        proxy.count("GetCallerIdentity"),
        asked,
        "{:?}",
        proxy.seen()
    );
}

#[test]
fn what_must_not_be_searched_is_passed_by_and_counted() {
    let home = Home::new();
    let (_, key) = home.user_in_credentials_and_dotenv("findskip");
    let line = env_text(&key);
    home.write("tree/.git/config", &line);
    home.write("tree/node_modules/lib/.env", &line);
    home.write("tree/target/debug/.env", &line);
    home.write("tree/.cache/tool/.env", &line);
    let mut binary = line.clone().into_bytes();
    binary.push(0);
    std::fs::write(home.path("tree/blob.bin"), binary).unwrap();
    let mut big = vec![b' '; 17 * 1024 * 1024];
    big.extend_from_slice(line.as_bytes());
    std::fs::write(home.path("tree/big.log"), big).unwrap();
    // A symlink loop, a symlink out of the root, a FIFO: never followed or opened.
    std::os::unix::fs::symlink(home.path("tree"), home.path("tree/loop")).unwrap();
    std::os::unix::fs::symlink(home.path("project"), home.path("tree/out")).unwrap();
    let fifo = home.path("tree/pipe");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    home.write("tree/ok/.env", &line);
    std::fs::set_permissions(
        home.path("tree/ok/.env"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();

    let tree = home.path("tree").display().to_string();
    let missing = home.path("nowhere").display().to_string();
    let json = home
        .rekey(&["find", &tree, &missing, "--output", "json"])
        .success()
        .json();
    let copies = &json["keys"][0]["copies"];
    assert_eq!(
        copies.as_array().unwrap().len(),
        1,
        "only tree/ok/.env: {json}"
    );
    assert!(
        copies[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("tree/ok/.env"),
        "{json}"
    );
    let skipped = &json["skipped"];
    for folder in [".git", "node_modules", "target", ".cache"] {
        assert_eq!(skipped["folders"][folder], 1, "{folder}: {json}");
    }
    assert_eq!(skipped["binary"], 1, "{json}");
    assert_eq!(skipped["too_large"], 1, "{json}");
    assert_eq!(skipped["not_files"], 3, "two symlinks and a FIFO: {json}");
    // A root that cannot be read is listed with its reason, never fatal.
    let unreadable = &json["unreadable"][0];
    assert!(
        unreadable["path"].as_str().unwrap().ends_with("nowhere"),
        "{json}"
    );
    assert!(!unreadable["reason"].as_str().unwrap().is_empty(), "{json}");
}

#[test]
fn gitignored_files_are_searched_unless_asked() {
    let home = Home::new();
    let (_, key) = home.user_in_credentials_and_dotenv("findgit");
    home.write("repo/.gitignore", ".env\n");
    home.write("repo/.env", &env_text(&key));
    std::fs::create_dir_all(home.path("repo/.git")).unwrap();
    let repo = home.path("repo").display().to_string();
    let count = |args: &[&str]| {
        let json = home.rekey(args).success().json();
        json["keys"][0]["copies"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(count(&["find", &repo, "-o", "json"]), 1);
    assert_eq!(
        count(&["find", &repo, "-o", "json", "--respect-gitignore"]),
        0
    );
}

#[test]
fn an_old_key_rekey_recorded_is_found_where_it_was_left_behind() {
    let home = Home::new();
    let (_, old) = home.user_in_credentials_and_dotenv("findold");
    home.write("code/.env.local", &env_text(&old));
    home.rekey(&["apply", "--yes", "--grace", "1h"]).success();
    let code = home.path("code").display().to_string();
    let json = home.rekey(&["find", &code, "-o", "json"]).success().json();
    let entry = json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == old.id.as_str())
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(entry["state"], "old", "{json}");
    assert!(
        entry["detail"]
            .as_str()
            .unwrap()
            .starts_with("inactive, deleted after"),
        "{json}"
    );
    // Its secret is not kept once it is retired: found by its id.
    assert_eq!(entry["copies"][0]["holds"], "id", "{json}");
    // An old key's copy needs no sink: it is to be removed, not kept current.
    assert!(entry["copies"][0].get("add_sink").is_none(), "{json}");
}

/// The manifest of `user` (credentials file and project .env) with `scan:`.
fn scanning(user: &str, scan: &str) -> String {
    format!(
        "version: 1\nscan:\n{scan}profiles:\n  {user}:\n    sinks:\n      - type: credentials_file\n\
         \x20     - type: dotenv\n        path: .env\n"
    )
}

#[test]
fn a_copy_under_scan_no_sink_writes_stops_the_rotation_unless_ignored_or_allowed() {
    let home = Home::new();
    let (user, key) = home.user_in_credentials_and_dotenv("scan");
    home.write("code/api/.env.local", &env_text(&key));
    home.write(
        "project/rekey.yaml",
        &scanning(&user, "  roots: [~/code]\n"),
    );

    let json = home.rekey(&["plan", "--output", "json"]).code(1).json();
    let decision = &json["profiles"][0]["decision"];
    assert_eq!(decision["error_kind"], "uncovered_copy", "{json}");
    let message = decision["message"].as_str().unwrap();
    assert!(message.contains("~/code/api/.env.local:1"), "{message}");
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("which no sink writes");
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&key.id, true)]),
        "no key created"
    );
    // `rekey find` searches the scan roots by default.
    let found = home.rekey(&["find", "-o", "json"]).success().json();
    assert_eq!(found["roots"], serde_json::json!(["~/code"]), "{found}");

    // A glob of scan.ignore lets it go on.
    home.write(
        "project/rekey.yaml",
        &scanning(
            &user,
            "  roots: [~/code]\n  ignore: ['**/api/.env.local']\n",
        ),
    );
    let json = home.rekey(&["plan", "--output", "json"]).success().json();
    assert_eq!(json["profiles"][0]["decision"]["kind"], "rotate", "{json}");

    // So does --allow-uncovered, with the copy named as a warning.
    home.write(
        "project/rekey.yaml",
        &scanning(&user, "  roots: [~/code]\n"),
    );
    home.rekey(&["apply", "--yes", "--allow-uncovered"])
        .success()
        .stdout_has("Done: 1 rotated");
    assert_eq!(
        home.read("code/api/.env.local"),
        env_text(&key),
        "left as it was"
    );
}

#[test]
fn with_an_overlap_period_an_uncovered_copy_is_a_warning() {
    let home = Home::new();
    let (user, key) = home.user_in_credentials_and_dotenv("scanoverlap");
    home.write("code/.env", &env_text(&key));
    let manifest = scanning(&user, "  roots: [~/code]\n")
        .replace("profiles:\n", "defaults:\n  overlap: 1h\nprofiles:\n");
    home.write("project/rekey.yaml", &manifest);
    let json = home.rekey(&["plan", "--output", "json"]).success().json();
    let profile = &json["profiles"][0];
    assert_eq!(profile["decision"]["kind"], "rotate", "{json}");
    let warning = profile["warnings"][0].as_str().unwrap_or_default();
    assert!(warning.contains("~/code/.env:1"), "{json}");
}

#[test]
fn init_scan_lists_every_place_found_and_its_sinks_rotate_the_copies() {
    let home = Home::new();
    let (user, key) = home.user_in_credentials("initscan");
    home.write("code/api/.env.local", &env_text(&key));
    home.write(
        "code/api/settings.json",
        &format!(
            "{{\"aws\": {{\"id\": \"{}\", \"secret\": \"{}\"}}}}\n",
            key.id, key.secret
        ),
    );
    home.write(
        ".bash_history",
        &format!("export AWS_ACCESS_KEY_ID={}\n", key.id),
    );
    let everywhere = home.path("");
    home.rekey(&["init", "--scan", everywhere.to_str().unwrap()])
        .success()
        .stdout_has("and 3 places found elsewhere");
    let manifest = home.read("project/rekey.yaml");
    assert!(
        manifest.contains("      - type: dotenv\n        path: ~/code/api/.env.local\n"),
        "{manifest}"
    );
    assert!(
        manifest.contains("        access_key_id: aws.id\n        secret_access_key: aws.secret\n"),
        "{manifest}"
    );
    assert!(
        manifest.contains("# also at ~/.bash_history:1: a shell history"),
        "{manifest}"
    );
    // rekey reads it back, and its sinks rotate the copies it found (the shell history
    // is under its scan: too, and no sink can edit it).
    home.rekey(&["apply", "--yes", "--now", "--allow-uncovered"])
        .success()
        .stdout_has("Done: 1 rotated");
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(new.id, key.id);
    assert_eq!(home.read("code/api/.env.local"), env_text(&new));
    assert!(home.read("code/api/settings.json").contains(&new.id));
}

#[test]
fn status_lists_the_files_under_scan_that_still_hold_an_old_key() {
    let home = Home::new();
    let (user, old) = home.user_in_credentials_and_dotenv("stalecopy");
    home.write("code/.env", &env_text(&old));
    home.write(
        "project/rekey.yaml",
        &scanning(&user, "  roots: [~/code]\n"),
    );
    home.rekey(&["apply", "--yes", "--grace", "1h", "--allow-uncovered"])
        .success();
    let status = ["status", "--output", "json", "--detailed-exitcode"];
    let run = home.rekey(&status);
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    let json = run.json();
    let profile = &json["profiles"][0];
    let copy = &profile["stale_copies"][0];
    assert_eq!(copy["path"], "~/code/.env", "{json}");
    assert_eq!(copy["key_id"], old.id.as_str(), "{json}");
    assert!(
        copy["state"]
            .as_str()
            .unwrap()
            .starts_with("inactive, deleted after"),
        "{json}"
    );
    assert!(
        profile["alerts"]
            .as_array()
            .unwrap()
            .contains(&"stale_copy".into()),
        "{json}"
    );

    // Deleted, it is still a stale copy, with the date; `find` says the same.
    home.rekey_later(1, &["prune", "--yes"]).success();
    let json = home.rekey_later(1, &status).json();
    let copy = &json["profiles"][0]["stale_copies"][0];
    assert!(
        copy["state"].as_str().unwrap().starts_with("deleted on "),
        "{json}"
    );
    let found = home.rekey(&["find", "-o", "json"]).success().json();
    let entry = found["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == old.id.as_str())
        .unwrap_or_else(|| panic!("{found}"));
    assert_eq!(entry["state"], "deleted", "{found}");
}

#[test]
fn one_file_system_stays_on_the_roots_file_system() {
    let home = Home::new();
    let (_, key) = home.user_in_credentials_and_dotenv("findfs");
    home.write("tree/here/.env", &env_text(&key));
    let disk = TinyDisk::mount(home.path("tree/mounted"), "64k");
    home.write("tree/mounted/.env", &env_text(&key));
    let tree = home.path("tree").display().to_string();
    let copies = |args: &[&str]| {
        let json = home.rekey(args).success().json();
        let copies = json["keys"][0]["copies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        copies.len()
    };
    assert_eq!(copies(&["find", &tree, "-o", "json"]), 2);
    assert_eq!(
        copies(&["find", &tree, "-o", "json", "--one-file-system"]),
        1
    );
    drop(disk);
}

#[test]
fn an_unreadable_folder_is_listed_with_its_reason_and_the_rest_searched() {
    let home = Home::new();
    let (_, key) = home.user_in_credentials_and_dotenv("findlocked");
    home.write("tree/open/.env", &env_text(&key));
    home.write("tree/locked/.env", &env_text(&key));
    let locked = home.path("tree/locked");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let tree = home.path("tree").display().to_string();
    let run = home.rekey_without_dac_override(&["find", &tree, "-o", "json"]);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    let json = run.success().json();
    let copies = json["keys"][0]["copies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(copies.len(), 1, "{json}");
    assert!(
        copies[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("tree/open/.env"),
        "{json}"
    );
    let unreadable = &json["unreadable"][0];
    assert!(
        unreadable["path"]
            .as_str()
            .unwrap()
            .ends_with("tree/locked"),
        "{json}"
    );
    assert!(
        unreadable["reason"]
            .as_str()
            .unwrap()
            .contains("ermission denied"),
        "{json}"
    );
}

/// Issue 29, point 6: a file name is chosen by whoever made the file. Its escape
/// sequences (a window title, an OSC 52 clipboard write) and newlines are shown escaped
/// in text; the JSON keeps the exact name; the suggested sink quotes its path so that
/// it reads back whole (`#` starts a YAML comment).
#[test]
fn a_file_name_is_shown_escaped_and_quoted_where_it_is_yaml() {
    let home = Home::new();
    let (_, key) = home.user_in_credentials("escaped");
    let hostile = "code/\u{1b}]0;pwned\u{7}\u{1b}]52;c;Zm9v\u{7}\nfake line.env";
    let spaced = "code/my app #2/.env";
    for name in [hostile, spaced] {
        home.write(name, &env_text(&key));
    }
    let text = home.rekey(&["find"]).success();
    assert!(
        !text.stdout.contains('\u{1b}') && !text.stdout.contains('\u{7}'),
        "{:?}",
        text.stdout
    );
    assert!(
        text.stdout.contains("\\u{1b}]0;pwned\\u{7}"),
        "{}",
        text.stdout
    );
    assert!(
        !text.stdout.lines().any(|l| l.starts_with("fake line")),
        "{}",
        text.stdout
    );
    let json = home.rekey(&["find", "--output", "json"]).success().json();
    let exact = copy(&json, &key.id, "fake line.env");
    assert!(
        exact["path"].as_str().unwrap().contains("\u{1b}]0;pwned"),
        "{exact}"
    );
    let sink = copy(&json, &key.id, "#2/.env")["add_sink"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sink, "- type: dotenv\n  path: '~/code/my app #2/.env'");
}

/// Issue 31, point 8: `init --scan` with no folder searches the project (here the
/// manifest's folder; the repository root when there is one) and `~/.aws`, not the
/// whole home folder, and writes them as the manifest's `scan:`, which later runs use.
#[test]
fn init_scan_searches_the_project_and_aws_folder_and_writes_scan() {
    let home = Home::new();
    let (_, key) = home.user_in_credentials("initscandefault");
    home.write("project/app/.env", &env_text(&key));
    home.write("elsewhere/.env", &env_text(&key));
    home.rekey(&["init", "--scan"])
        .success()
        .stdout_has("and 1 place found elsewhere");
    let manifest = home.read("project/rekey.yaml");
    assert!(
        manifest.contains("path: app/.env") || manifest.contains("project/app/.env"),
        "{manifest}"
    );
    assert!(!manifest.contains("elsewhere/.env"), "{manifest}");
    assert!(manifest.contains("\nscan: [., ~/.aws]\n"), "{manifest}");
    home.rekey(&["plan"]).success();
}

/// An access key id for `account`, as AWS encodes it (base 32 of 10 bytes whose first
/// six hold the account at bits 7..47).
fn id_of_account(prefix: &str, account: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bytes = (account << 7).to_be_bytes()[2..].to_vec();
    bytes.extend([0x5a, 0x17, 0x42, 0x99]);
    let bits = bytes
        .iter()
        .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    let tail: String = (0..16)
        .map(|n| ALPHABET[((bits >> (75 - 5 * n)) & 31) as usize] as char)
        .collect();
    format!("{prefix}{tail}")
}

/// Issue 34, point 4: an unknown id names the account it encodes (decoded offline),
/// and whether that account is one rekey knows a key of; a session's id (`ASIA…`) is
/// reported as one.
#[test]
fn an_unknown_id_names_its_account_and_a_session_id_is_reported() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials("accounts");
    let stranger = id_of_account("AKIA", 210_987_654_321);
    let ours = id_of_account("AKIA", 123_456_789_012);
    let session = id_of_account("ASIA", 123_456_789_012);
    home.write(
        "code/ids.txt",
        &format!("a: {stranger}\nb: {ours}\nc: {session}\n"),
    );
    let json = home
        .rekey(&[
            "find",
            "--output",
            "json",
            home.path("code").to_str().unwrap(),
        ])
        .success()
        .json();
    let unknown = |id: &str| {
        json["unknown"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["key_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {json}"))
            .clone()
    };
    assert_eq!(unknown(&stranger)["account"], "210987654321");
    assert_eq!(unknown(&stranger)["ours"], false);
    assert_eq!(unknown(&ours)["account"], "123456789012");
    assert_eq!(unknown(&ours)["ours"], true, "{user}'s account");
    assert_eq!(unknown(&session)["session"], true);
    let text = home
        .rekey(&["find", home.path("code").to_str().unwrap()])
        .success()
        .stdout;
    assert!(
        text.contains(&format!(
            "{stranger} unknown: a key of account 210987654321 (not one rekey knows a key of"
        )),
        "{text}"
    );
    assert!(
        text.contains("(a session's temporary credentials)"),
        "{text}"
    );
}

/// Checks `document` against the SARIF 2.1.0 JSON schema (OASIS's, installed by the test
/// setup); panics with the validator's errors.
fn assert_valid_sarif(document: &str) {
    const CHECK: &str = r#"
import json, os, sys, sysconfig, jsonschema
schema = json.load(open(os.path.join(sysconfig.get_paths()["purelib"], "sarif-schema.json")))
errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft4Validator(schema).iter_errors(json.loads(sys.stdin.read()))]
print("\n".join(errors))
sys.exit(1 if errors else 0)
"#;
    let mut child = std::process::Command::new(python())
        .args(["-c", CHECK])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(document.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "not valid SARIF 2.1.0 (run ./scripts/setup-moto, which installs the schema):\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Issue 34, point 3: `--output sarif` is SARIF 2.1.0 (checked against its JSON schema):
/// a result per copy that is a finding (a copy a sink keeps current is not), with its
/// rule, file, line and column and a fingerprint that does not move with the line;
/// never a secret (the harness checks every output).
#[test]
fn sarif_output_is_valid_sarif_with_a_result_per_finding() {
    let home = Home::new();
    let (_, key) = scattered(&home);
    let code = home.path("code");
    let run = home
        .rekey(&["find", "--output", "sarif", code.to_str().unwrap()])
        .success();
    assert_valid_sarif(&run.stdout);
    let sarif: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let run0 = &sarif["runs"][0];
    let rules: Vec<&str> = (run0["tool"]["driver"]["rules"].as_array().unwrap().iter())
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "secret",
            "uncovered-current-key",
            "old-key",
            "deleted-key",
            "unknown-key"
        ]
    );
    let results = run0["results"].as_array().unwrap();
    let at = |uri: &str| {
        results
            .iter()
            .find(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == uri)
            .unwrap_or_else(|| panic!("{uri} in {results:?}"))
    };
    let settings = at("api/settings.json");
    assert_eq!(settings["ruleId"], "secret");
    assert_eq!(settings["level"], "error");
    assert!(settings["message"]["text"]
        .as_str()
        .unwrap()
        .starts_with(&key.id));
    let region = &settings["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 1);
    let unknown = at("notes.txt");
    assert_eq!(unknown["ruleId"], "unknown-key");
    // The project's .env is a sink of the manifest: where the key belongs, no result.
    assert!(results.iter().all(|r| {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] != "project/.env"
    }));
    // The fingerprint follows the copy, not its line.
    let before = settings["partialFingerprints"]["rekeyCopy/v1"].clone();
    let text = std::fs::read_to_string(code.join("api/settings.json")).unwrap();
    home.write("code/api/settings.json", &format!("\n\n{text}"));
    let again = home
        .rekey(&["find", "--output", "sarif", code.to_str().unwrap()])
        .success();
    let moved: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    let moved = (moved["runs"][0]["results"].as_array().unwrap().iter())
        .find(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "api/settings.json"
        })
        .unwrap()
        .clone();
    assert_eq!(
        moved["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
    assert_eq!(moved["partialFingerprints"]["rekeyCopy/v1"], before);
}

/// Issue 34, point 2: `rekey hook install` writes a pre-commit hook that runs `rekey
/// find --staged`; `git commit` itself is refused while a staged line holds a key (named
/// by file and line, never the secret), and goes through once it does not. A hook rekey
/// did not write is not replaced without --force.
#[test]
fn a_staged_key_is_refused_by_the_pre_commit_hook() {
    let home = Home::new();
    let (_, key) = home.user_in_credentials("staged");
    let setup = "git init -q repo && cd repo && git config user.email t@example.com \
        && git config user.name t && echo hi > README && git add README \
        && git commit -q -m first && rekey hook install";
    home.bash(setup)
        .success()
        .stdout_has("Installed ~/project/repo/.git/hooks/pre-commit");
    home.write(
        "project/repo/app/.env",
        &format!(
            "# app\nAWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n",
            key.id, key.secret
        ),
    );
    let refused = home.bash("cd repo && git add app/.env && git commit -q -m leak");
    assert_ne!(refused.code, Some(0), "{}", refused.stdout);
    // git shows a hook's output on its stderr.
    let said = format!("{}{}", refused.stdout, refused.stderr);
    assert!(
        said.contains(&format!("app/.env:2: the id of {}", key.id)),
        "{said}"
    );
    let secret_line = format!("app/.env:3: the secret access key of {}", key.id);
    assert!(said.contains(&secret_line), "{said}");
    assert!(said.contains("(the current key of profile"), "{said}");
    assert!(
        said.contains("2 staged lines hold an AWS access key"),
        "{said}"
    );
    let commits = home.bash("cd repo && git rev-list --count HEAD").success();
    assert_eq!(commits.stdout.trim(), "1", "the commit did not happen");

    home.write("project/repo/app/.env", "# app\nAWS_PROFILE=dev\n");
    home.bash("cd repo && git add app/.env && git commit -q -m clean && git rev-list --count HEAD")
        .success()
        .stdout_has("2");

    // Someone's own hook stays unless asked.
    home.write("project/repo/.git/hooks/pre-commit", "#!/bin/sh\nexit 0\n");
    home.bash("cd repo && rekey hook install")
        .code(1)
        .stderr_has("a pre-commit hook rekey did not write: not replaced");
    home.bash("cd repo && rekey hook install --force").success();
}

/// The pre-commit framework's hook (`.pre-commit-hooks.yaml`) runs what `rekey hook
/// install` writes, on the whole staged change (not per file).
#[test]
fn the_pre_commit_frameworks_hook_runs_the_staged_search() {
    let hooks: serde_json::Value = serde_json::from_str(&run_python(
        "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        &[std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".pre-commit-hooks.yaml")
            .as_os_str()],
        &[],
    ))
    .unwrap();
    let hook = &hooks[0];
    assert_eq!(hook["entry"], "rekey find --staged");
    assert_eq!(hook["pass_filenames"], false);
    assert_eq!(hook["language"], "system");
}

/// Issue 34, point 1: `find --history` reads every blob of a repository's history
/// (branches, the reflog, the stash) and reports each key with the commits that added
/// it, whether they were pushed (a remote-tracking ref contains them) and whether the
/// file still holds it. A real repository: a key committed, pushed and removed; an
/// unknown id on an unpushed branch; a key in a stash.
#[test]
fn history_finds_keys_removed_pushed_branched_and_stashed() {
    let home = Home::new();
    let (_, key) = home.user_in_credentials("history");
    let stranger = id_of_account("AKIA", 210_987_654_321);
    let script = format!(
        "set -e; git init -q --bare remote.git; git init -q -b main repo; cd repo; \
         git config user.email t@example.com; git config user.name t; \
         printf 'AWS_ACCESS_KEY_ID={id}\\nAWS_SECRET_ACCESS_KEY={secret}\\n' > app.env; \
         git add app.env; git commit -q -m 'add the config'; \
         git rm -q app.env; git commit -q -m 'remove the config'; \
         git remote add origin ../remote.git; git push -q origin main; \
         git checkout -q -b feature; echo 'key: {stranger}' > notes.txt; git add notes.txt; \
         git commit -q -m 'notes'; git checkout -q main; \
         echo 'id={id}' > stash.txt; git add stash.txt; git stash -q",
        id = key.id,
        secret = key.secret
    );
    home.bash(&script).success();
    let repo = home.path("project/repo");
    let json = home
        .rekey(&[
            "find",
            "--history",
            "--output",
            "json",
            repo.to_str().unwrap(),
        ])
        .success()
        .json();
    let entry = json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == key.id.as_str())
        .unwrap()
        .clone();
    let history = entry["history"].as_array().unwrap();
    let at = |path: &str, holds: &str| {
        history
            .iter()
            .find(|h| h["path"] == path && h["holds"] == holds)
            .unwrap_or_else(|| panic!("{path} {holds} in {history:?}"))
            .clone()
    };
    let secret = at("app.env", "secret");
    assert_eq!(secret["pushed"], true, "{secret}");
    assert_eq!(secret["in_working_tree"], false);
    assert_eq!(secret["line"], 2);
    assert_eq!(secret["commits"][0]["subject"], "add the config");
    let stashed = at("stash.txt", "id");
    assert_eq!(stashed["pushed"], false, "{stashed}");
    let unknown = json["unknown"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == stranger.as_str())
        .unwrap()
        .clone();
    assert_eq!(unknown["history"][0]["path"], "notes.txt", "{unknown}");
    assert_eq!(unknown["history"][0]["pushed"], false);
    assert_eq!(unknown["history"][0]["commits"][0]["subject"], "notes");
    // For people: what was pushed says so.
    let text = home
        .rekey(&["find", "--history", repo.to_str().unwrap()])
        .success()
        .stdout;
    assert!(text.contains("app.env:2:"), "{text}");
    assert!(text.contains("PUSHED: treat the key as leaked"), "{text}");
    assert!(text.contains("only in history"), "{text}");
    // And in SARIF, each with its commit.
    let sarif = home
        .rekey(&[
            "find",
            "--history",
            "--output",
            "sarif",
            repo.to_str().unwrap(),
        ])
        .success()
        .stdout;
    assert_valid_sarif(&sarif);
    let sarif: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let pushed = results
        .iter()
        .find(|r| r["properties"]["pushed"] == true && r["ruleId"] == "secret")
        .unwrap_or_else(|| panic!("{results:?}"));
    assert_eq!(pushed["level"], "error");
    assert_eq!(
        pushed["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "app.env"
    );
}

/// Issue 34, point 5: `.rekeyignore` (gitignore syntax; a key id line ignores that key)
/// is honoured by `find` and `find --staged`, and never reported itself.
#[test]
fn rekeyignore_passes_by_its_paths_and_keys() {
    let home = Home::new();
    let (_, key) = scattered(&home);
    home.write(
        "code/.rekeyignore",
        "# a documentation example\nAKIAZZZZZZZZZZZZZZZZ\n# the deploy fixture\napi/app.yaml\n",
    );
    let code = home.path("code");
    let json = home
        .rekey(&["find", "--output", "json", code.to_str().unwrap()])
        .success()
        .json();
    let all = json.to_string();
    assert!(!all.contains("AKIAZZZZZZZZZZZZZZZZ"), "{all}");
    assert!(!all.contains("app.yaml"), "{all}");
    assert!(!all.contains(".rekeyignore"), "{all}");
    assert!(all.contains("settings.json"), "the rest is searched: {all}");

    // The same file in a repository: a staged fixture it names goes through.
    let script = format!(
        "set -e; git init -q repo; cd repo; git config user.email t@example.com; \
         git config user.name t; printf '# fake keys of the tests\\nfixtures/\\n' > .rekeyignore; \
         mkdir fixtures; printf 'id={id}\\n' > fixtures/a.env; git add -A; rekey find --staged",
        id = key.id
    );
    home.bash(&script).success();
}
