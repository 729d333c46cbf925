//! No secret access key in any output, at any verbosity, or in any file but the sinks
//! and the journal.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::*;

/// Every file under `dir`, except the places that may hold secrets by design.
fn files_outside_the_sinks(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = path.to_string_lossy();
        let by_design = name.ends_with(".aws/credentials")
            || name.ends_with("project/.env")
            || name.ends_with("project/seen")
            || name.contains("/state/journal")
            || name.contains("/state/backups");
        if path.is_dir() {
            files_outside_the_sinks(&path, out);
        } else if !by_design {
            out.push(path);
        }
    }
}

#[test]
fn no_secret_in_output_or_files_at_any_verbosity() {
    let home = Home::new();
    let user = unique("hygiene");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    home.write(
        "project/.env",
        &format!(
            "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n",
            key.id, key.secret
        ),
    );
    // A check that fails and prints the secret it was given (and notes it for the test).
    home.write(
        "project/check",
        "#!/bin/sh\necho \"aws_secret_access_key = $AWS_SECRET_ACCESS_KEY\" >> seen\necho \"debug: $AWS_SECRET_ACCESS_KEY\"\n[ -e pass ]\n",
    );
    std::fs::set_permissions(
        home.path("project/check"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\ndefaults:\n  grace: 1d\n  verify: {{ command: [./check] }}\nprofiles:\n  {user}:\n    sinks:\n\
             \x20     - type: credentials_file\n      - type: dotenv\n        path: .env\n"
        ),
    );

    home.rekey(&["plan", "-vv"]).success();
    home.rekey(&["plan", "-vv", "--output", "json"]).success();
    // A failed rotation (the check refuses), then a crash, then a completed one.
    home.rekey(&["apply", "--yes", "-vv"])
        .code(1)
        .stdout_has("[REDACTED]");
    let crashed = home
        .run(&["apply", "--yes", "-vv"])
        .envs(&[("REKEY_CRASH_AT", "after-write-1")])
        .output();
    assert_eq!(
        crashed.code, None,
        "crash point not reached: build with --features rekey/crash-points"
    );
    home.rekey(&["recover", "-vv"]).success();
    home.write("project/pass", "");
    home.rekey(&["apply", "--yes", "-vv", "--output", "json"])
        .success();
    // A day later (the test clock), the old key is pruned.
    home.rekey_later(25, &["prune", "--yes", "-vv"])
        .success()
        .stdout_has("deleted old key");
    home.rekey(&["apply", "--yes", "-vv", "--profile", "nope"])
        .code(1);

    // Every secret seen (old, new, and those the failed runs created) is known to `home`
    // through the files; its drop checks all the outputs above. Here: the other files.
    let seen = home.read("project/seen");
    let secrets: Vec<String> = seen
        .lines()
        .chain(home.credentials().lines())
        .filter_map(|l| l.split_once('=').map(|(_, v)| v.trim().to_owned()))
        .filter(|v| v.len() >= 20)
        .collect();
    assert!(
        secrets.len() >= 3,
        "the test saw too few secrets: {}",
        secrets.len()
    );
    let mut files = Vec::new();
    files_outside_the_sinks(&home.path(""), &mut files);
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret is in {}",
                file.display()
            );
        }
    }
}
