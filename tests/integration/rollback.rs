//! A failure after the new key exists rolls everything back.

use crate::support::*;

#[test]
fn a_propagation_timeout_deletes_the_new_key_and_changes_nothing() {
    let home = Home::new();
    let user = unique("slow");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    // 1000 successes in a row cannot happen within 1s: the proof times out.
    home.write(
        "project/rekey.yaml",
        &format!("version: 1\nprofiles:\n  {user}:\n    propagation: {{ timeout: 1s, consecutive: 1000 }}\n"),
    );
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("did not work 1000 times in a row")
        .stdout_has("rolled back")
        .stdout_has("deleted new key");
    assert_eq!(moto().keys(&user), vec![(key.id.clone(), true)]);
    assert_eq!(home.credentials(), section(&user, &key));
    assert!(home.state_files().is_empty(), "{:?}", home.state_files());
}

#[test]
fn a_rotation_whose_plan_went_stale_changes_nothing() {
    // apply plans both profiles, then rotates them one at a time: the first one's
    // verification command adds a key to the second one's user, as someone else might
    // between planning and rotating.
    let home = Home::new();
    let first = unique("first");
    let stale = unique("stale");
    let first_key = moto().create_user(&first);
    let key = moto().create_user(&stale);
    home.write_credentials(&format!(
        "{}{}",
        section(&first, &first_key),
        section(&stale, &key)
    ));
    let add_key = format!(
        "import boto3; boto3.client('iam', endpoint_url='{}', region_name='us-east-1', \
         aws_access_key_id='testing', aws_secret_access_key='testing')\
         .create_access_key(UserName='{stale}')",
        moto().endpoint
    );
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\nprofiles:\n  {first}:\n    verify: {{ command: ['{}', '-c', \"{add_key}\"] }}\n  {stale}: {{}}\n",
            python().display()
        ),
    );
    home.rekey(&["apply", "--yes", "--jobs", "1"])
        .code(1)
        .stdout_has("changed since planning");
    assert_eq!(moto().keys(&first).len(), 2, "the first profile rotated");
    let keys = moto().keys(&stale);
    assert_eq!(keys.len(), 2, "no key created for the stale plan: {keys:?}");
    assert!(home.credentials().contains(&section(&stale, &key)));
}

#[test]
fn an_interrupted_rotation_blocks_the_user_until_resolved() {
    let home = Home::new();
    let user = unique("interrupted");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    let journal = format!("state/journal/123456789012-{user}.json");
    home.write(
        &journal,
        &serde_json::json!({
            "profile": user, "account": "123456789012", "user_arn": moto().user_arn(&user),
            "user_name": user, "old_key_id": key.id, "sinks": [], "started_at": "2026-01-01T00:00:00Z",
            "phase": "key_created", "new_key": null
        })
        .to_string(),
    );
    home.rekey(&["plan"])
        .code(1)
        .stdout_has("was interrupted (after creating the new key)");
    home.rekey(&["apply", "--yes"]).code(1).stdout_has(&journal);
    assert_eq!(moto().keys(&user), vec![(key.id.clone(), true)]);
    assert_eq!(home.credentials(), section(&user, &key));
}

#[test]
fn a_full_disk_during_a_write_rolls_back() {
    let home = Home::new();
    let user = unique("diskfull");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    let disk = TinyDisk::mount(home.path("project/full"), "8k");
    let env = format!(
        "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n",
        key.id, key.secret
    );
    home.write("project/full/.env", &env);
    // Fill what is left, so the temporary file of the atomic write cannot be written.
    let mut filler = Vec::new();
    while std::fs::write(
        home.path(&format!("project/full/filler{}", filler.len())),
        vec![b'x'; 1024],
    )
    .is_ok()
    {
        filler.push(());
    }
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\nprofiles:\n  {user}:\n    sinks:\n      - type: credentials_file\n\
             \x20     - type: dotenv\n        path: full/.env\n"
        ),
    );
    home.rekey(&["apply", "--yes"])
        .code(1)
        .stdout_has("No space left on device")
        .stdout_has("rolled back")
        .stdout_has("restored credentials file");
    assert_eq!(
        home.credentials(),
        section(&user, &key),
        "the first sink is restored"
    );
    assert_eq!(
        home.read("project/full/.env"),
        env,
        "the full disk's file is untouched"
    );
    assert_eq!(moto().keys(&user), vec![(key.id.clone(), true)]);
    drop(disk);
}
