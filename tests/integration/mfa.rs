//! MFA: users whose policy denies IAM without MFA are rotated through one session per
//! device per run (GetSessionToken with a code), and a code is never asked for twice.

use crate::proxy::FaultProxy;
use crate::support::*;

const SERIAL: &str = "arn:aws:iam::123456789012:mfa/me";

/// A user behind a proxy that requires an MFA session for IAM and accepts code 123456.
fn mfa_user(name: &str) -> (Home, FaultProxy, String, TestKey) {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (user, key) = home.user_in_credentials(name);
    proxy.set(|f| {
        f.mfa_required = true;
        f.mfa_code = Some("123456".into());
    });
    (home, proxy, user, key)
}

fn with_serial(home: &Home, user: &str, extra: &str) {
    let mut profile = Profile::new(user).set(&format!("mfa_serial: '{SERIAL}'"));
    if !extra.is_empty() {
        profile = profile.set(extra);
    }
    home.manifest(&Manifest::new().profile(profile));
}

#[track_caller]
fn assert_rotated(home: &Home, user: &str, old: &TestKey) {
    let new = key_in(&home.credentials(), user).unwrap();
    assert_ne!(&new, old);
    assert_eq!(
        moto().keys(user),
        key_set(&[(&old.id, false), (&new.id, true)])
    );
}

#[test]
fn a_code_on_the_command_line_opens_one_session_for_every_iam_call() {
    let (home, proxy, user, key) = mfa_user("mfacode");
    with_serial(&home, &user, "");
    home.rekey(&["apply", "--yes", "--mfa-code", "123456"])
        .success()
        .stdout_has(&format!("signed with an MFA session ({SERIAL})"));
    assert_rotated(&home, &user, &key);
    assert_eq!(proxy.count("GetSessionToken"), 1, "one code, one session");
}

/// Issue 17, defect 13: `mfa_command` had no timeout, so a password manager waiting to
/// be unlocked hung plan and apply (and the locks they hold) forever.
#[test]
fn an_mfa_command_that_never_answers_is_stopped_at_its_timeout() {
    let (home, proxy, user, key) = mfa_user("mfahang");
    home.manifest(
        &Manifest::new().profile(
            Profile::new(&user)
                .set(&format!("mfa_serial: '{SERIAL}'"))
                .set("mfa_command: [sh, -c, 'sleep 600 & sleep 600']")
                .set("mfa_timeout: 1s"),
        ),
    );
    let json = home
        .rekey(&["apply", "--yes", "--output", "json"])
        .code(1)
        .json();
    let error = json["results"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("gave no code within 1s"), "{json}");
    assert_eq!(moto().keys(&user), key_set(&[(&key.id, true)]));
    assert_eq!(proxy.count("GetSessionToken"), 0);
}

#[test]
fn mfa_command_gives_the_code_to_unattended_runs() {
    let (home, _proxy, user, key) = mfa_user("mfacmd");
    with_serial(&home, &user, "mfa_command: [echo, '123456']");
    home.rekey(&["apply", "--yes"]).success();
    assert_rotated(&home, &user, &key);
}

#[test]
fn a_refused_code_says_so_and_changes_nothing() {
    let (home, proxy, user, key) = mfa_user("mfawrong");
    with_serial(&home, &user, "");
    let json = home
        .rekey(&["apply", "--yes", "--mfa-code", "000000", "--output", "json"])
        .code(1)
        .json();
    let error = json["results"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("AWS refused the MFA code"), "{json}");
    assert!(error.contains("wait for the next code"), "{json}");
    assert_eq!(json["results"][0]["error_kind"], "mfa", "{json}");
    assert_eq!(moto().keys(&user), key_set(&[(&key.id, true)]));
    assert_eq!(proxy.count("CreateAccessKey"), 0);
    assert_eq!(proxy.count("GetSessionToken"), 1, "never asked twice");
}

#[test]
fn without_a_code_off_a_terminal_nothing_is_created() {
    let (home, proxy, user, key) = mfa_user("mfanone");
    with_serial(&home, &user, "");
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("no terminal to ask")
        .stdout_has("--mfa-code");
    // Issue 20: a missing code is its own kind, not AWS's access_denied.
    let json = home
        .rekey(&["apply", "--yes", "--output", "json"])
        .code(1)
        .json();
    assert_eq!(json["results"][0]["error_kind"], "mfa", "{json}");
    assert_eq!(moto().keys(&user), key_set(&[(&key.id, true)]));
    assert_eq!(proxy.count("CreateAccessKey"), 0);
}

/// Issue 20: `rekey plan` used up a one-time code (through mfa_command), so the
/// `apply` right after it was refused the same code. A plan opens a session only when
/// asked.
#[test]
fn plan_opens_no_mfa_session_unless_asked() {
    let (home, proxy, user, key) = mfa_user("mfaplan");
    with_serial(&home, &user, "mfa_command: [echo, '123456']");
    let json = home.rekey(&["plan", "--output", "json"]).code(1).json();
    let decision = &json["profiles"][0]["decision"];
    assert_eq!(decision["error_kind"], "mfa", "{json}");
    let reason = decision["message"].as_str().unwrap_or_default();
    assert!(reason.contains("rekey plan --mfa"), "{json}");
    assert_eq!(proxy.count("GetSessionToken"), 0, "no code used up");

    home.rekey(&["plan", "--mfa"])
        .success()
        .stdout_has("rotate");
    assert_eq!(proxy.count("GetSessionToken"), 1);
    assert_eq!(moto().keys(&user), key_set(&[(&key.id, true)]));
}

#[test]
fn default_mode_takes_the_serial_from_the_config_file() {
    let (home, _proxy, user, key) = mfa_user("mfaconfig");
    home.write(
        ".aws/config",
        &format!("[profile {user}]\nmfa_serial = {SERIAL}\n"),
    );
    home.rekey(&["apply", "--yes", "--mfa-code", "123456"])
        .success();
    assert_rotated(&home, &user, &key);
}

#[test]
fn a_manifest_profile_takes_the_serial_from_the_config_file_too() {
    let (home, proxy, user, key) = mfa_user("mfamanifestconfig");
    home.write(
        ".aws/config",
        &format!("[profile {user}]\nmfa_serial = {SERIAL}\n"),
    );
    home.manifest(&Manifest::new().profile(Profile::new(&user)));
    home.rekey(&["apply", "--yes", "--mfa-code", "123456"])
        .success()
        .stdout_has(&format!("signed with an MFA session ({SERIAL})"));
    assert_rotated(&home, &user, &key);
    assert_eq!(proxy.count("GetSessionToken"), 1);
}

#[test]
fn without_mfa_the_same_policy_denies_the_rotation() {
    // The control: the proxy does enforce the MFA policy.
    let (home, proxy, user, key) = mfa_user("mfacontrol");
    let json = home.rekey(&["plan", "--output", "json"]).code(1).json();
    assert_eq!(
        json["profiles"][0]["decision"]["error_kind"], "access_denied",
        "{json}"
    );
    assert_eq!(moto().keys(&user), key_set(&[(&key.id, true)]));
    assert_eq!(proxy.count("GetSessionToken"), 0);
}

#[test]
fn a_refused_code_is_not_asked_for_again_for_another_profile_on_the_same_device() {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (a, b) = (unique("mfa-a"), unique("mfa-b"));
    let (ka, kb) = (moto().create_user(&a), moto().create_user(&b));
    home.write_credentials(&(section(&a, &ka) + &section(&b, &kb)));
    proxy.set(|f| {
        f.mfa_required = true;
        f.mfa_code = Some("123456".into());
    });
    home.manifest(
        &Manifest::new()
            .defaults(&format!("mfa_serial: '{SERIAL}'"))
            .defaults("mfa_command: [echo, '000000']")
            .profile(Profile::new(&a))
            .profile(Profile::new(&b)),
    );
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("AWS refused the MFA code");
    assert_eq!(
        proxy.count("GetSessionToken"),
        1,
        "one code per device per run"
    );
    assert_eq!(moto().keys(&a), key_set(&[(&ka.id, true)]));
    assert_eq!(moto().keys(&b), key_set(&[(&kb.id, true)]));
}

#[test]
fn on_a_terminal_the_code_is_asked_for_once() {
    let (home, proxy, user, key) = mfa_user("mfaprompt");
    with_serial(&home, &user, "");
    home.rekey_on_terminal(&["apply"], "123456\nyes\n")
        .success()
        .stdout_has(&format!("MFA code for {SERIAL}:"))
        .stdout_has("Rotate these keys?");
    assert_rotated(&home, &user, &key);
    assert_eq!(proxy.count("GetSessionToken"), 1);
}

#[test]
fn prune_under_mfa_uses_the_command_and_unattended_without_one_keeps_the_key() {
    let (home, proxy, user, old) = mfa_user("mfaprune");
    with_serial(&home, &user, "");
    home.rekey(&["apply", "--yes", "--grace", "1h", "--mfa-code", "123456"])
        .success();
    let new = key_in(&home.credentials(), &user).unwrap();
    home.rekey_later(1, &["prune", "--yes"])
        .success()
        .stdout_has("no terminal to ask");
    assert!(
        moto().keys(&user).contains(&(old.id.clone(), false)),
        "kept"
    );
    assert_eq!(proxy.count("DeleteAccessKey"), 0);

    with_serial(&home, &user, "mfa_command: [echo, '123456']");
    home.rekey_later(1, &["prune", "--yes"])
        .success()
        .stdout_has(&format!("pruned: deleted old key {}", old.id));
    assert_eq!(moto().keys(&user), key_set(&[(&new.id, true)]));
}

#[test]
fn rollback_under_mfa_is_signed_by_the_session() {
    let (home, proxy, user, old) = mfa_user("mfarollback");
    with_serial(&home, &user, "");
    home.rekey(&["apply", "--yes", "--grace", "1h", "--mfa-code", "123456"])
        .success();
    let before = proxy.count("GetSessionToken");
    home.rekey(&["rollback", &user, "--yes", "--mfa-code", "123456"])
        .success();
    assert_eq!(key_in(&home.credentials(), &user).unwrap(), old);
    assert_eq!(moto().keys(&user), key_set(&[(&old.id, true)]));
    assert_eq!(proxy.count("GetSessionToken"), before + 1);
}

/// Issue 22, point 1: a leak response revokes the user's sessions issued before it,
/// rekey's own MFA session included (it signs the revocation, its last call). The next
/// run opens a new session and works.
#[test]
fn after_a_leak_response_rekeys_next_mfa_session_works() {
    let (home, proxy, user, old) = mfa_user("mfaleak");
    with_serial(&home, &user, "mfa_command: ['echo', '123456']");
    home.rekey(&["apply", "--yes", "--compromised"])
        .success()
        .stdout_has("revoked every session of");
    let new = key_in(&home.credentials(), &user).unwrap();
    assert_ne!(new, old);
    assert_eq!(moto().user_policies(&user).len(), 1);
    let sessions = proxy.count("GetSessionToken");
    home.rekey(&["plan", "--mfa", "--compromised", "--output", "json"])
        .success();
    assert_eq!(
        proxy.count("GetSessionToken"),
        sessions + 1,
        "a new session"
    );
    home.rekey(&["apply", "--yes", "--now"]).success();
    assert_eq!(
        moto()
            .keys(&user)
            .iter()
            .filter(|(_, active)| *active)
            .count(),
        1
    );
}
