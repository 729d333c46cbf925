//! Issue 29: a manifest rekey finds is someone's claim, not the user's order. What it
//! names that runs or sends is used only once trusted (`rekey trust`, or the content
//! pinned with `--manifest-sha256`); a manifest others could have written is refused;
//! the search for one stays within the user's own folders.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::*;

/// A cloned repository's manifest: the user's profile in the credentials file, and an
/// author's plugin, verify command, notify command and webhook, each of which would
/// leave a mark in `marks/` (or a request at the webhook) if run.
fn planted(home: &Home, user: &str, webhook: &str) -> String {
    let marks = home.path("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let mark = |name: &str| marks.join(name).display().to_string();
    home.write(
        "project/plugin.sh",
        &format!("#!/bin/sh\ntouch {}\nexit 1\n", mark("plugin")),
    );
    std::fs::set_permissions(
        home.path("project/plugin.sh"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let yaml = format!(
        "version: 1
defaults:
  verify: {{ command: [sh, -c, 'touch {verify}'] }}
notify:
  - command: [sh, -c, 'touch {notified}']
  - webhook: {webhook}
profiles:
  {user}:
    sinks:
      - {{ type: credentials_file }}
      - {{ type: exec, command: [./plugin.sh, --steal] }}
",
        verify = mark("verify"),
        notified = mark("notify"),
    );
    home.write_untrusted("project/rekey.yaml", &yaml);
    yaml
}

fn marks(home: &Home) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(home.path("marks"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn an_untrusted_manifest_runs_and_contacts_nothing_it_names_and_says_what_it_would() {
    let home = Home::new();
    let (user, key) = home.user_in_credentials("untrusted");
    let webhook = "https://user:hunter2@hooks.example.com/services/T/B/token-in-path";
    planted(&home, &user, webhook);
    for args in [
        vec!["plan"],
        vec!["status"],
        vec!["find", "."],
        vec!["apply", "--yes", "--grace", "0"],
        vec!["prune", "--yes"],
        vec!["sync", "--yes"],
        vec!["audit", "--via", &user],
    ] {
        let run = home.rekey(&args).code(1);
        let said = &run.stderr;
        assert!(said.contains("is not trusted"), "{args:?}: {said}");
        assert!(
            said.contains("nothing it names was run or contacted"),
            "{said}"
        );
        // Every program with its arguments, resolved as it would run; the webhook by
        // its host alone.
        assert!(said.contains("project/plugin.sh --steal"), "{said}");
        assert!(said.contains("defaults.verify: runs sh -c"), "{said}");
        assert!(said.contains("notify[0]: runs sh -c"), "{said}");
        assert!(said.contains("notify[1]: sends events"), "{said}");
        assert!(said.contains("hooks.example.com"), "{said}");
        assert!(
            !said.contains("hunter2") && !said.contains("token-in-path"),
            "{said}"
        );
        assert!(said.contains("rekey trust "), "{said}");
        assert!(said.contains("--manifest-sha256 "), "{said}");
    }
    assert!(marks(&home).is_empty(), "ran: {:?}", marks(&home));
    assert_eq!(moto().keys(&user), vec![(key.id.clone(), true)]);
    assert_eq!(key_in(&home.credentials(), &user).unwrap(), key);
}

#[test]
fn trust_records_this_content_and_a_change_needs_a_new_trust() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials("trusted");
    let yaml = planted(&home, &user, "http://127.0.0.1:9/hook");
    let manifest = home.path("project/rekey.yaml");
    let trusted = home
        .rekey(&["trust"])
        .success()
        .stdout_has("Trusted ")
        .stdout_has("project/plugin.sh --steal");
    let sha = sha256_hex(&std::fs::read(&manifest).unwrap());
    assert!(trusted.stdout.contains(&sha), "{}", trusted.stdout);

    // Trusted: plan reads the plugin (which fails: it is the author's), and says what
    // the manifest runs and where it sends.
    let plan = home.rekey(&["plan"]);
    assert!(!plan.stderr.contains("is not trusted"), "{}", plan.stderr);
    assert_eq!(marks(&home), vec!["plugin"]);
    assert!(
        plan.stdout.contains("It runs and sends, as trusted:")
            && plan.stdout.contains("project/plugin.sh --steal")
            && plan.stdout.contains("notify[1]: sends events"),
        "{}",
        plan.stdout
    );

    // One byte more is another file.
    home.write_untrusted("project/rekey.yaml", &format!("{yaml}# edited\n"));
    home.rekey(&["plan"])
        .code(1)
        .stderr_has("changed since you trusted it");
    home.rekey(&["trust", "--list"])
        .success()
        .stdout_has("changed since: not trusted");
    home.rekey(&["trust", manifest.to_str().unwrap()]).success();
    home.rekey(&["trust", "--list"])
        .success()
        .stdout_has("  trusted");
    home.rekey(&["trust", "--revoke"])
        .success()
        .stdout_has("no longer trusted");
    home.rekey(&["plan"]).code(1).stderr_has("is not trusted");
}

#[test]
fn an_unattended_run_pins_the_content_and_the_path_alone_trusts_nothing() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials("pinned");
    planted(&home, &user, "http://127.0.0.1:9/hook");
    let manifest = home.path("project/rekey.yaml");
    let path = manifest.to_str().unwrap();
    // --manifest names the file; it does not vouch for it.
    home.rekey(&["plan", "--manifest", path])
        .code(1)
        .stderr_has("is not trusted");
    home.run(&["plan"])
        .envs(&[("REKEY_MANIFEST_SHA256", &"0".repeat(64))])
        .output()
        .code(1)
        .stderr_has("is not trusted");
    assert!(marks(&home).is_empty());
    let sha = sha256_hex(&std::fs::read(&manifest).unwrap());
    let pinned = home.rekey(&["plan", "--manifest", path, "--manifest-sha256", &sha]);
    assert!(
        !pinned.stderr.contains("is not trusted"),
        "{}",
        pinned.stderr
    );
    assert_eq!(marks(&home), vec!["plugin"]);
}

#[test]
fn a_manifest_that_only_moves_the_key_between_this_machines_places_needs_no_trust() {
    let home = Home::new();
    let (user, key) = home.user_in_credentials("inert");
    home.write_untrusted("project/.env", &env_text(&key));
    home.write_untrusted(
        "project/rekey.yaml",
        &Manifest::new()
            .profile(
                Profile::new(&user)
                    .sink(sink::credentials_file())
                    .sink(sink::dotenv(".env")),
            )
            .yaml(),
    );
    home.rekey(&["plan"]).success();
}

#[test]
fn a_manifest_others_could_have_written_is_refused_with_the_fix() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials("owned");
    home.manifest(&Manifest::new().profile(Profile::new(&user)));
    let manifest = home.path("project/rekey.yaml");
    let mode = |m: u32| std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(m));

    mode(0o664).unwrap();
    home.rekey(&["plan"])
        .code(1)
        .stderr_has("group or others may write it")
        .stderr_has("chmod go-w");
    mode(0o644).unwrap();

    // Another user's file (the tests run as root, who can give it away).
    chown(&manifest, 65534);
    home.rekey(&["plan"])
        .code(1)
        .stderr_has("owned by uid 65534");
    chown(&manifest, 0);
    home.rekey(&["plan"]).success();

    // A folder everyone may write, without the sticky bit.
    let project = home.path("project");
    std::fs::set_permissions(&project, std::fs::Permissions::from_mode(0o777)).unwrap();
    home.rekey(&["plan"]).code(1).stderr_has("no sticky bit");
    std::fs::set_permissions(&project, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), None)
        .expect("the tests run as root (CI does), to give a file to another user");
}

#[test]
fn a_plugin_others_could_have_written_is_not_run() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials("plugowner");
    let mark = home.path("ran");
    home.write_untrusted(
        "project/plugin.sh",
        &format!("#!/bin/sh\ntouch {}\n", mark.display()),
    );
    let plugin = home.path("project/plugin.sh");
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    chown(&plugin, 65534);
    home.manifest(
        &Manifest::new().profile(
            Profile::new(&user)
                .sink(sink::credentials_file())
                .sink(sink::exec(&["./plugin.sh"])),
        ),
    );
    let plan = home.rekey(&["plan"]);
    assert!(
        plan.stdout.contains("owned by uid 65534") || plan.stderr.contains("owned by uid 65534"),
        "{}\n{}",
        plan.stdout,
        plan.stderr
    );
    assert!(!mark.exists(), "the plugin ran");
}

#[test]
fn the_search_stays_in_the_users_folders() {
    let home = Home::new();
    home.user_in_credentials("searched");
    // A shared temporary folder under which anyone may drop a manifest.
    let shared = home.path("shared");
    std::fs::create_dir_all(shared.join("mine")).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    home.write_untrusted("shared/rekey.yaml", "version: 1\nprofiles: {}\n");
    home.run(&["plan"])
        .in_dir(&home.path("shared/mine"))
        .output()
        .success()
        .stdout_has("default mode");

    // Outside the home folder, only the current folder's file.
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(outside.path().join("app/sub")).unwrap();
    std::fs::write(
        outside.path().join("app/rekey.yaml"),
        "version: 1\nprofiles: {}\n",
    )
    .unwrap();
    let sub = outside.path().join("app/sub");
    let run = home.run(&["plan"]).in_dir(&sub).output().success();
    assert!(run.stdout.contains("default mode"), "{}", run.stdout);
    let run = home
        .run(&["plan"])
        .in_dir(&outside.path().join("app"))
        .output()
        .success();
    assert!(!run.stdout.contains("default mode"), "{}", run.stdout);
}

#[test]
fn init_trusts_what_it_writes() {
    let home = Home::new();
    home.user_in_credentials("initialized");
    home.rekey(&["init"]).success();
    home.rekey(&["trust", "--list"])
        .success()
        .stdout_has("project/rekey.yaml  trusted");
}

#[test]
fn a_notify_command_runs_from_the_manifests_folder() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials("notifyrel");
    let mark = home.path("told");
    home.write_untrusted(
        "project/tell.sh",
        &format!("#!/bin/sh\ncat > {}\n", mark.display()),
    );
    std::fs::set_permissions(
        home.path("project/tell.sh"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    home.manifest(
        &Manifest::new()
            .top("notify:\n  - command: [./tell.sh]")
            .profile(Profile::new(&user)),
    );
    std::fs::create_dir_all(home.path("project/sub")).unwrap();
    home.run(&["apply", "--yes", "--grace", "1h"])
        .in_dir(&home.path("project/sub"))
        .output()
        .success();
    assert!(mark.exists(), "./tell.sh beside the manifest was not run");
}
