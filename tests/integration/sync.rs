//! `rekey sync`: a machine whose copies fell behind a rotation made elsewhere gets the
//! current key from a sink that holds it, with no key created or deleted. Two homes
//! play two machines; a JSON file outside both plays a folder a file-sync service keeps
//! in step (the secret-store sinks play the same part).

use crate::support::*;

/// Machines A and B rotating `user`, each with its credentials file (B's with another
/// profile and a comment around it) and the shared file; `overlap: 1d`, `state: iam`.
struct Two {
    a: Home,
    b: Home,
    user: String,
    old: TestKey,
    shared: tempfile::TempDir,
    b_credentials: String,
}

/// A wrapper around the example plugin whose `read` answers without the secret.
const IDS_ONLY: &str = concat!(
    "#!/usr/bin/env python3\n",
    "import json, subprocess, sys\n",
    "p = subprocess.Popen(['",
    env!("CARGO_MANIFEST_DIR"),
    "/examples/plugins/rekey-plugin-file', *sys.argv[1:]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)\n",
    "print(p.stdout.readline(), end='', flush=True)\n",
    "request = sys.stdin.readline()\n",
    "p.stdin.write(request)\n",
    "p.stdin.flush()\n",
    "answer = json.loads(p.stdout.readline())\n",
    "if json.loads(request).get('op') == 'read' and 'ok' in answer:\n",
    "    answer['ok'].pop('secret_access_key', None)\n",
    "print(json.dumps(answer), flush=True)\n",
    "p.wait()\n",
);

/// What the example plugin stores for `key`.
fn plugin_store(key: &TestKey) -> String {
    format!(
        "{{\"access_key_id\": \"{}\", \"secret_access_key\": \"{}\"}}",
        key.id, key.secret
    )
}

fn two_machines(name: &str) -> Two {
    let shared = tempfile::tempdir().unwrap();
    let a = Home::new();
    let (user, old) = a.user_in_credentials(name);
    let other = moto().create_user(&unique("bystander"));
    let b = Home::new();
    let b_credentials = format!(
        "# machine B\n{}\n; keep\n{}",
        section("other", &other),
        section(&user, &old)
    );
    b.write_credentials(&b_credentials);
    let path = shared.path().join("aws.json");
    std::fs::write(
        &path,
        format!(
            "{{\"id\": \"{}\", \"secret\": \"{}\"}}\n",
            old.id, old.secret
        ),
    )
    .unwrap();
    // A plugin that gives the key id but not the secret (as a CI secret's would).
    for home in [&a, &b] {
        home.write("project/plugin-store.json", &plugin_store(&old));
        home.write("project/ids-only", IDS_ONLY);
        std::fs::set_permissions(
            home.path("project/ids-only"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
    let manifest = Manifest::new()
        .top("state: iam")
        .defaults("overlap: 1d")
        .profile(
            Profile::new(&user)
                .sink(sink::credentials_file())
                .sink(sink::file(path.to_str().unwrap(), "id", "secret"))
                .sink(sink::exec(&["./ids-only", "plugin-store.json"])),
        );
    a.manifest(&manifest);
    b.manifest(&manifest);
    Two {
        a,
        b,
        user,
        old,
        shared,
        b_credentials,
    }
}

#[test]
fn a_machine_behind_a_rotation_made_elsewhere_catches_up_without_a_new_key() {
    let t = two_machines("sync");
    t.a.rekey(&["apply", "--yes"]).success();
    let new = key_in(&t.a.credentials(), &t.user).unwrap();
    let keys = moto().keys(&t.user);
    assert_eq!(keys, key_set(&[(&t.old.id, true), (&new.id, true)]));
    let shared = std::fs::read_to_string(t.shared.path().join("aws.json")).unwrap();
    assert!(shared.contains(&new.id), "A wrote the shared copy");

    // B's plan names the situation and the command.
    let plan = t.b.rekey(&["plan", "--output", "json"]).code(1).json();
    let message = plan["profiles"][0]["decision"]["message"].as_str().unwrap();
    assert!(
        message.contains("this copy is stale") && message.contains("`rekey sync`"),
        "{message}"
    );

    let json =
        t.b.rekey(&["sync", "--yes", "--output", "json"])
            .success()
            .json();
    let profile = &json["profiles"][0];
    assert_eq!(profile["current_key_id"], new.id.as_str(), "{json}");
    assert_eq!(profile["sinks"][0]["action"], "written", "{json}");
    assert_eq!(profile["sinks"][1]["action"], "in_sync", "{json}");
    assert_eq!(profile["sinks"][2]["holds"], t.old.id.as_str(), "{json}");
    assert_eq!(profile["sinks"][2]["action"], "written", "{json}");
    assert_eq!(t.b.read("project/plugin-store.json"), plugin_store(&new));
    assert_eq!(
        t.b.credentials(),
        t.b_credentials
            .replace(&t.old.id, &new.id)
            .replace(&t.old.secret, &new.secret),
        "only the two values changed"
    );
    assert_eq!(moto().keys(&t.user), keys, "no key created or deleted");
    t.b.rekey(&["sync", "--yes"])
        .success()
        .stdout_has("in sync");
    // B now sees A's schedule: no second rotation during the overlap.
    t.b.rekey(&["plan"]).success().stdout_has("(overlap)");
}

#[test]
fn without_a_working_copy_sync_says_so_and_changes_nothing() {
    // Behind the proxy, as on AWS, a key deactivated through it is refused.
    let proxy = crate::proxy::FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (user, old) = home.user_in_credentials("syncnone");
    home.rekey(&["apply", "--yes", "--grace", "1d"]).success();
    let keys = moto().keys(&user);
    home.write_credentials(&section(&user, &old)); // a stale copy, and nothing else
    let run = home.rekey(&["sync", "--yes"]).code(1);
    run.stdout_has("AWS refuses every key the sinks hold")
        .stderr_has("could not be synced");
    assert_eq!(home.credentials(), section(&user, &old), "unchanged");
    assert_eq!(moto().keys(&user), keys);
}

/// Issue 19: ten thousand hosts syncing hourly must not spend the account's IAM
/// budget. A sync whose every place already holds the working key asks STS only.
#[test]
fn a_sync_in_step_with_its_places_calls_no_iam() {
    let proxy = crate::proxy::FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (_, key) = home.user_in_credentials_and_dotenv("instep");
    home.rekey(&["sync", "--yes"])
        .success()
        .stdout_has(&format!("every place holds {}", key.id));
    assert_eq!(proxy.seen_service("iam"), 0, "{:?}", proxy.seen());
    assert!(
        proxy.seen_service("sts") > 0,
        "STS said whether the key works"
    );

    // A place behind: now IAM is asked which key is current, and the place catches up.
    home.write("project/.env", "# the app's settings\n");
    home.rekey(&["sync", "--yes"]).success();
    assert!(proxy.seen_service("iam") > 0);
    assert!(home.read("project/.env").contains(&key.id));
}
