//! Admin rotation: a service user's key, living only in sinks, rotated with the IAM
//! calls signed by another profile (`via:`), which the AWS SDK loads.

use crate::proxy::FaultProxy;
use crate::support::*;

/// An admin profile in the credentials file and a service user whose key is only in
/// `app.env`; through a proxy where only the admin may call IAM.
fn service_user(name: &str) -> (Home, FaultProxy, String, TestKey, String) {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let admin_user = unique("admin");
    let admin = moto().create_user(&admin_user);
    home.write_credentials(&section("admin", &admin));
    let svc = unique(name);
    let old = moto().create_user(&svc);
    let env = env_text(&old);
    home.write("project/app.env", &env);
    proxy.set(|f| f.iam_only_for = Some(admin.id.clone()));
    (home, proxy, svc, old, env)
}

/// Profile `app`: `svc`'s key in `app.env`, rotated as the `admin` profile.
fn app_as_admin(svc: &str) -> Profile {
    Profile::new("app")
        .set("via: admin")
        .set(&format!("user: {svc}"))
        .sink(sink::dotenv("app.env"))
}

#[test]
fn an_admin_profile_rotates_a_service_user_whose_key_lives_only_in_a_env_file() {
    let (home, _proxy, svc, old, env) = service_user("svc");
    home.manifest(&Manifest::new().profile(app_as_admin(&svc)));
    home.rekey(&["plan"])
        .success()
        .stdout_has("via   admin (signs the IAM calls)")
        .stdout_has("signed as profile admin");
    home.rekey(&["apply", "--yes", "--grace", "0"])
        .success()
        .stdout_has("deactivated old key")
        .stdout_has("signed as profile admin")
        .stdout_has("Done: 1 rotated");
    let text = home.read("project/app.env");
    let new_id = env_key_id(&text);
    assert_ne!(new_id, old.id);
    assert_eq!(
        text.replace(&new_id, &old.id).lines().count(),
        env.lines().count()
    );
    assert_eq!(
        moto().keys(&svc),
        key_set(&[(&new_id, true)]),
        "old key deleted (grace 0)"
    );
}

#[test]
fn an_admin_whose_policy_requires_mfa_signs_through_one_session() {
    let (home, proxy, svc, old, _) = service_user("svcmfa");
    let serial = "arn:aws:iam::123456789012:mfa/admin";
    home.write(
        ".aws/config",
        &format!("[profile admin]\nmfa_serial = {serial}\n"),
    );
    proxy.set(|f| {
        f.mfa_required = true;
        f.mfa_code = Some("654321".into());
    });
    home.manifest(&Manifest::new().profile(app_as_admin(&svc)));
    home.rekey(&["apply", "--yes", "--grace", "0", "--mfa-code", "654321"])
        .success()
        .stdout_has("Done: 1 rotated");
    let new_id = env_key_id(&home.read("project/app.env"));
    assert_ne!(new_id, old.id);
    assert_eq!(moto().keys(&svc), key_set(&[(&new_id, true)]));
    assert_eq!(
        proxy.count("GetSessionToken"),
        1,
        "one session for the admin"
    );
}

#[test]
fn without_via_the_same_user_cannot_rotate_itself() {
    let (home, _proxy, svc, old, _) = service_user("svcself");
    home.manifest(&Manifest::new().profile(Profile::new("app").sink(sink::dotenv("app.env"))));
    let json = home.rekey(&["plan", "--output", "json"]).code(1).json();
    assert_eq!(
        json["profiles"][0]["decision"]["error_kind"], "access_denied",
        "{json}"
    );
    assert_eq!(moto().keys(&svc), key_set(&[(&old.id, true)]));
}

#[test]
fn a_key_of_another_user_than_named_is_refused() {
    let (home, _proxy, svc, old, _) = service_user("svcwrong");
    home.manifest(
        &Manifest::new().profile(
            Profile::new("app")
                .set("via: admin")
                .set("user: someone-else")
                .sink(sink::dotenv("app.env")),
        ),
    );
    let json = home.rekey(&["plan", "--output", "json"]).code(1).json();
    let decision = &json["profiles"][0]["decision"];
    assert_eq!(decision["error_kind"], "invalid_key", "{json}");
    assert!(
        decision["message"]
            .as_str()
            .unwrap()
            .contains("not to user `someone-else`"),
        "{json}"
    );
    assert_eq!(moto().keys(&svc), key_set(&[(&old.id, true)]));
}

#[test]
fn a_via_profile_that_does_not_exist_is_a_clear_error() {
    let (home, _proxy, _, _, _) = service_user("svcnovia");
    home.manifest(
        &Manifest::new().profile(
            Profile::new("app")
                .set("via: nobody")
                .sink(sink::dotenv("app.env")),
        ),
    );
    home.rekey(&["plan"])
        .code(1)
        .stdout_has("profile `nobody` (via)");
}

#[test]
fn a_crash_in_an_admin_rotation_is_finished_as_the_admin() {
    for (point, forward) in [("after-write-0", true), ("propagated", false)] {
        let (home, _proxy, svc, old, _) = service_user("svccrash");
        home.manifest(
            &Manifest::new().profile(
                Profile::new("app")
                    .set("via: admin")
                    .sink(sink::dotenv("app.env")),
            ),
        );
        let crashed = home
            .run(&["apply", "--yes"])
            .envs(&[("REKEY_CRASH_AT", point)])
            .output();
        assert_eq!(
            crashed.code, None,
            "{point}: build with --features rekey/crash-points"
        );
        // Only the admin may call IAM, so recovery must sign as the admin too.
        home.rekey(&["recover"]).success();
        let held = env_key_id(&home.read("project/app.env"));
        let keys = moto().keys(&svc);
        assert!(keys.contains(&(held.clone(), true)), "{point}: {keys:?}");
        if forward {
            assert!(keys.contains(&(old.id.clone(), false)), "{point}: {keys:?}");
        } else {
            assert_eq!(keys, key_set(&[(&old.id, true)]), "{point}: undone");
        }
        assert!(
            home.state_files()
                .iter()
                .all(|f| !f.starts_with("journal/")),
            "{point}: {:?}",
            home.state_files()
        );
    }
}
