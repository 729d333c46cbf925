//! IAM is eventually consistent (issue 19): a list right after a create can show the old
//! keys, and the two-key quota is enforced eventually. The fault proxy answers as IAM
//! may; rekey must neither leave an orphan behind a stale list nor act on a user that
//! shows more than two keys.

use std::time::Duration;

use crate::proxy::FaultProxy;
use crate::support::*;

#[test]
fn a_stale_list_after_a_lost_create_answer_hides_no_orphan() {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (user, key) = home.user_in_credentials("stalelist");
    proxy.set(|f| {
        // The list lags changes by 2 s; the create's answer is lost (the key exists).
        f.stale_list = Some(Duration::from_secs(2));
        f.lose_answer.insert("CreateAccessKey", 1);
    });
    let run = home.rekey(&["apply", "--yes"]).code(1);
    assert!(
        run.stdout.contains("whose secret never arrived"),
        "{}",
        run.stdout
    );
    assert_eq!(
        moto().keys(&user),
        vec![(key.id.clone(), true)],
        "the key made without its secret is gone"
    );
    assert_eq!(key_in(&home.credentials(), &user).unwrap(), key);
}

#[test]
fn a_user_showing_more_than_two_keys_is_named_and_left_alone() {
    let proxy = FaultProxy::start();
    let home = Home::new().via(&proxy.endpoint);
    let (user, key) = home.user_in_credentials("eightkeys");
    let spare = moto().create_key(&user);
    moto().set_active(&user, &spare.id, false);
    let phantom = "AKIAPHANTOM000000001".to_owned();
    proxy.set(|f| {
        f.phantom_keys.insert(user.clone(), vec![phantom.clone()]);
    });
    let plan = home.rekey(&["plan"]).code(1);
    for id in [&key.id, &spare.id, &phantom] {
        assert!(plan.stdout.contains(id.as_str()), "{id}: {}", plan.stdout);
    }
    assert!(plan.stdout.contains("shows 3 keys"), "{}", plan.stdout);
    home.rekey(&["apply", "--yes", "--make-room"]).code(1);
    assert_eq!(
        moto().keys(&user),
        key_set(&[(&key.id, true), (&spare.id, false)]),
        "nothing deleted, nothing created"
    );
}
