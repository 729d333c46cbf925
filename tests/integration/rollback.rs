//! A failure after the new key exists rolls everything back.

use std::sync::Arc;

use async_trait::async_trait;
use rekey::aws::Aws;
use rekey::config::profile::{Policy, ProfileSpec};
use rekey::engine::planner::{plan_profile, PlanOptions};
use rekey::engine::rotation::{rotate, FailureKind};
use rekey::state::StateDir;
use rekey_sinks::credentials_file::CredentialsFile;
use rekey_sinks::{AccessKey, Checked, Sink, SinkError, Snapshot};

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

/// A sink whose write always fails (the real sinks are tested on a real filesystem).
struct FailingSink;

#[async_trait]
impl Sink for FailingSink {
    fn describe(&self) -> String {
        "failing test sink".into()
    }
    fn id(&self) -> String {
        "failing test sink".into()
    }
    async fn read(&self) -> Result<Option<AccessKey>, SinkError> {
        Ok(None)
    }
    async fn check(&self) -> Result<Checked, SinkError> {
        Ok(Checked::Ready)
    }
    async fn snapshot(&self) -> Result<Snapshot, SinkError> {
        Ok(Snapshot::Absent)
    }
    async fn write(&self, _: &AccessKey) -> Result<Option<Snapshot>, SinkError> {
        Err(SinkError::Unsupported {
            path: "/failing".into(),
            message: "simulated write failure".into(),
        })
    }
    async fn restore(&self, _: &Snapshot, _: &AccessKey) -> Result<(), SinkError> {
        Ok(())
    }
}

#[test]
fn a_rotation_whose_plan_went_stale_changes_nothing() {
    let home = Home::new();
    let user = unique("stale");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    let spec = ProfileSpec::new(
        user.clone(),
        vec![Arc::new(CredentialsFile::new(
            home.credentials_path(),
            &user,
        ))],
        Policy::default(),
    );
    let state = StateDir::new(home.state_dir());
    let aws = Aws::from_config(block_on(emulator_config()));
    let planned = block_on(plan_profile(&aws, &state, &spec, PlanOptions::default()));
    // Someone else adds a key between planning and rotating.
    let other = moto().create_key(&user);
    moto().set_active(&user, &other.id, false);
    let input = planned.rotation.expect("plan decides to rotate");
    let failure = block_on(rotate(&aws, &state, &spec, &planned.plan, input, &|_| {}))
        .expect_err("the plan is stale");
    assert!(
        matches!(failure.kind, FailureKind::NotStarted(_)),
        "{failure}"
    );
    assert!(
        failure.to_string().contains("changed since planning"),
        "{failure}"
    );
    assert_eq!(home.credentials(), section(&user, &key));
    assert_eq!(moto().keys(&user).len(), 2, "no key created");
}

/// SDK settings for moto, without credentials (every client signs with its own key).
async fn emulator_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&moto().endpoint)
        .no_credentials()
        .load()
        .await
}

#[test]
fn a_failed_sink_write_restores_the_written_sinks_and_deletes_the_new_key() {
    let home = Home::new();
    let user = unique("sinkfail");
    let key = moto().create_user(&user);
    let before = format!("# keep\n{}", section(&user, &key));
    home.write_credentials(&before);
    let spec = ProfileSpec::new(
        user.clone(),
        vec![
            Arc::new(CredentialsFile::new(home.credentials_path(), &user)),
            Arc::new(FailingSink),
        ],
        Policy::default(),
    );
    let state = StateDir::new(home.state_dir());
    let failure = block_on(async {
        let aws = Aws::from_config(emulator_config().await);
        let planned = plan_profile(&aws, &state, &spec, PlanOptions::default()).await;
        let input = planned.rotation.expect("plan decides to rotate");
        rotate(&aws, &state, &spec, &planned.plan, input, &|_| {})
            .await
            .expect_err("the second sink fails")
    });
    assert!(
        matches!(failure.kind, FailureKind::RolledBack(_)),
        "{failure}"
    );
    assert!(
        failure.to_string().contains("simulated write failure"),
        "{failure}"
    );
    assert!(
        failure
            .actions
            .iter()
            .any(|a| a.starts_with("restored credentials file")),
        "{:?}",
        failure.actions
    );
    assert_eq!(
        home.credentials(),
        before,
        "first sink restored byte for byte"
    );
    assert_eq!(
        moto().keys(&user),
        vec![(key.id.clone(), true)],
        "new key deleted, old key active"
    );
    assert!(home.state_files().is_empty(), "{:?}", home.state_files());
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
