//! What real AWS does and moto does not, through the fault proxy: STS accepting a new
//! key seconds before IAM does, inactive keys refused, an IAM replica that has not heard
//! of a new key yet. Every rotation must still end complete or fully undone.

use std::time::Duration;

use crate::proxy::FaultProxy;
use crate::support::*;

/// `n` users, each with its key in its own section of ~/.aws/credentials (default mode),
/// talking to AWS through a fresh proxy.
pub(crate) fn users_through_proxy(
    name: &str,
    n: usize,
) -> (Home, FaultProxy, Vec<(String, TestKey)>) {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let users: Vec<(String, TestKey)> = (0..n)
        .map(|_| {
            let user = unique(name);
            let key = moto().create_user(&user);
            (user, key)
        })
        .collect();
    let text: String = users.iter().map(|(u, k)| section(u, k) + "\n").collect();
    home.write_credentials(&text);
    (home, proxy, users)
}

fn journals(home: &Home) -> Vec<String> {
    home.state_files()
        .into_iter()
        .filter(|f| f.starts_with("journal/") || f.starts_with("backups/"))
        .collect()
}

#[test]
fn twenty_profiles_rotate_while_iam_lags_sts_by_four_seconds() {
    let (home, proxy, users) = users_through_proxy("iamlag", 20);
    proxy.set(|f| {
        f.sts_propagation = Duration::from_secs(2);
        f.iam_propagation = Duration::from_secs(6);
    });
    home.rekey(&["apply", "--yes"])
        .success()
        .stdout_has("Done: 20 rotated");
    let credentials = home.credentials();
    for (user, old) in &users {
        let new = key_in(&credentials, user).unwrap();
        assert_ne!(&new, old, "{user} rotated");
        assert_eq!(
            moto().keys(user),
            key_set(&[(&old.id, false), (&new.id, true)]),
            "{user}: old key inactive, new key active"
        );
    }
    assert!(journals(&home).is_empty(), "{:?}", journals(&home));
    assert_eq!(proxy.count("CreateAccessKey"), 20, "one key per profile");
}

#[test]
fn iam_never_accepting_the_new_key_rolls_back_completely() {
    let (home, proxy, users) = users_through_proxy("iamnever", 1);
    let (user, old) = &users[0];
    let env = format!(
        "# app\nAWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n",
        old.id, old.secret
    );
    home.write("project/.env", &env);
    home.manifest(
        &Manifest::new().profile(
            Profile::new(user)
                .set("propagation: { timeout: 3s }")
                .sink(sink::credentials_file())
                .sink(sink::dotenv(".env")),
        ),
    );
    proxy.set(|f| f.iam_propagation = Duration::from_secs(600));
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("STS accepts the new key but IAM did not")
        .stdout_has("rolled back")
        .stdout_has("deleted new key");
    assert_eq!(home.credentials(), section(user, old) + "\n");
    assert_eq!(home.read("project/.env"), env);
    assert_eq!(moto().keys(user), key_set(&[(&old.id, true)]));
    assert!(journals(&home).is_empty(), "{:?}", journals(&home));
}

#[test]
fn iam_refusing_the_new_key_during_a_rollback_still_ends_with_the_old_key_active() {
    let (home, proxy, users) = users_through_proxy("iamundo", 1);
    let (user, old) = &users[0];
    proxy.set(|f| {
        // The deactivation happens, but its answer never arrives (every attempt the SDK
        // makes): rekey must assume the old key may be inactive and undo...
        f.lose_answer.insert("UpdateAccessKey", 5);
        // ...while the IAM replica answering the reactivation has not heard of the new
        // key yet, twice.
        f.refuse_new_key.insert("UpdateAccessKey", (5, 2));
    });
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("iam:UpdateAccessKey failed")
        .stdout_has("reactivated old key")
        .stdout_has("rolled back")
        .stdout_has("deleted new key");
    assert_eq!(
        moto().keys(user),
        key_set(&[(&old.id, true)]),
        "old key active, new key deleted"
    );
    assert_eq!(home.credentials(), section(user, old) + "\n");
    assert!(journals(&home).is_empty(), "{:?}", journals(&home));
    assert!(
        proxy.count("UpdateAccessKey") >= 8,
        "5 lost deactivations, 2 refused reactivations, 1 that worked"
    );
}

#[test]
fn an_undo_never_reactivates_a_key_that_was_never_deactivated() {
    let (home, proxy, users) = users_through_proxy("iamdeny", 1);
    let (user, old) = &users[0];
    // IAM accepts the new key for the proof, then denies the deactivation: the old key
    // stayed active all along, so undoing must not touch it.
    proxy.set(|f| {
        f.deny.insert("UpdateAccessKey");
    });
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("rolled back");
    assert_eq!(moto().keys(user), key_set(&[(&old.id, true)]));
    assert_eq!(
        proxy.count("UpdateAccessKey"),
        1,
        "one denied deactivation, no reactivation"
    );
}
