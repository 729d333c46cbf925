//! The recovery decision table (ARCHITECTURE.md), one test per row, on an in-memory IAM
//! ([`crate::aws::fake`]), a real state dir and a real credentials file. The crash tests
//! of `tests/integration/crash.rs` reach the same rows by killing the real binary
//! against moto; these pin each row's decision and its effects, and run in milliseconds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rekey_sinks::credentials_file::CredentialsFile;
use rekey_sinks::{AccessKey, Sink};
use secrecy::ExposeSecret;

use super::{recover, Recovered, RecoveryFailure, Resolution};
use crate::aws::fake::{self, FakeIam};
use crate::aws::Aws;
use crate::config::argv::Argv;
use crate::config::profile::{Policy, ProfileSpec, Sinks, Verify};
use crate::engine::action::Action;
use crate::engine::error::ErrorKind;
use crate::state::{Journal, JournalRecord, Owner, Phase, StateDir, StoredKey};

const USER: &str = "alice";

/// One user with one key in a credentials file, an empty state dir, and the profile.
struct Scene {
    _dir: tempfile::TempDir,
    iam: Arc<FakeIam>,
    aws: Aws,
    state: StateDir,
    credentials: PathBuf,
    spec: ProfileSpec,
    old: AccessKey,
}

impl Scene {
    fn new(policy: Policy) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let iam = FakeIam::new();
        let old = iam.add_key(USER);
        let credentials = dir.path().join("credentials");
        let sink = CredentialsFile::new(&credentials, "p");
        let spec = ProfileSpec::new("p", Sinks::one(Arc::new(sink)), policy);
        let scene = Self {
            aws: Aws::fake(iam.clone()),
            state: StateDir::new(dir.path().join("state")),
            iam,
            credentials,
            spec,
            old,
            _dir: dir,
        };
        scene.hold(&scene.old);
        scene
    }

    fn with_defaults() -> Self {
        Self::new(Policy::default())
    }

    /// The credentials file holds `key` (as a person or a rotation left it).
    fn hold(&self, key: &AccessKey) {
        let text = format!(
            "# kept\n[p]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            key.id(),
            key.secret().expose_secret()
        );
        std::fs::write(&self.credentials, text).unwrap();
    }

    /// The key id the credentials file holds.
    fn held(&self) -> String {
        let text = std::fs::read_to_string(&self.credentials).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("aws_access_key_id"))
            .unwrap();
        line.split('=').nth(1).unwrap().trim().to_owned()
    }

    fn sink(&self) -> &Arc<dyn Sink> {
        self.spec.sinks.first()
    }

    /// A journal as a rotation that stopped at `phase` leaves it: the sink's backup
    /// taken, and with `new` the new key recorded (and written to the sink if `written`).
    async fn interrupted(&self, phase: Phase, new: Option<&AccessKey>, written: bool) -> Journal {
        let record = JournalRecord {
            owner: Owner {
                profile: "p".into(),
                also: Vec::new(),
                account: fake::ACCOUNT.into(),
                user_arn: fake::arn(USER),
                user_name: USER.into(),
            },
            old_key_id: self.old.id().to_owned(),
            sinks: vec![self.sink().describe()],
            sink_ids: vec![self.sink().id()],
            started_at: SystemTime::now() - Duration::from_secs(30),
            phase: Phase::Planned,
            new_key: None,
            old_key: Some(StoredKey::from_key(&self.old)),
            local_places: Vec::new(),
            replicated: false,
        };
        let backup = self.sink().snapshot().await.unwrap();
        let mut journal = Journal::begin_with_backups(&self.state, record, &[backup])
            .await
            .unwrap();
        if let Some(new) = new {
            journal.record_new_key(new).await.unwrap();
            if written {
                self.sink().write(new).await.unwrap();
            }
        }
        journal.advance(phase).await.unwrap();
        journal
    }

    async fn recover(&self) -> Result<Recovered, RecoveryFailure> {
        let mut results = recover(
            &self.aws,
            &self.state,
            std::slice::from_ref(&self.spec),
            &[],
            false,
        )
        .await
        .unwrap();
        assert_eq!(results.len(), 1, "one interrupted rotation");
        results.remove(0)
    }

    /// The user's keys as (id, active).
    fn keys(&self) -> Vec<(String, bool)> {
        self.iam.keys(USER)
    }

    fn journal_kept(&self) -> bool {
        self.state
            .interrupted(fake::ACCOUNT, USER)
            .unwrap()
            .is_some()
    }
}

fn active(key: &AccessKey) -> (String, bool) {
    (key.id().to_owned(), true)
}

fn inactive(key: &AccessKey) -> (String, bool) {
    (key.id().to_owned(), false)
}

#[tokio::test]
async fn planned_nothing_changed_so_the_journal_is_dropped() {
    let s = Scene::with_defaults();
    s.interrupted(Phase::Planned, None, false).await;
    let done = s.recover().await.unwrap();
    assert_eq!(done.outcome, Resolution::NothingToUndo);
    assert_eq!(s.keys(), vec![active(&s.old)]);
    assert_eq!(s.held(), s.old.id());
    assert!(!s.journal_kept());
}

#[tokio::test]
async fn deleting_a_stale_key_forgets_its_record_if_it_is_gone() {
    let s = Scene::with_defaults();
    let stale = s.iam.add_key(USER);
    s.iam.set_status(stale.id(), false);
    let phase = Phase::DeletingStaleKey {
        key_id: stale.id().to_owned(),
    };
    s.interrupted(phase.clone(), None, false).await;
    // The delete went through before the crash.
    let permit = crate::engine::fleet::lease::permit(None).await.unwrap();
    s.aws
        .caller(&s.old)
        .delete_key(USER, stale.id(), &permit)
        .await
        .unwrap();
    let done = s.recover().await.unwrap();
    assert_eq!(done.outcome, Resolution::NothingToUndo);
    assert!(
        done.actions.contains(&Action::StaleKeyGone {
            key_id: stale.id().to_owned()
        }),
        "{:?}",
        done.actions
    );
    assert_eq!(s.keys(), vec![active(&s.old)]);
    assert!(!s.journal_kept());

    // It did not: the stale key stays (prune or the next rotation deals with it).
    let s = Scene::with_defaults();
    let stale = s.iam.add_key(USER);
    s.iam.set_status(stale.id(), false);
    let phase = Phase::DeletingStaleKey {
        key_id: stale.id().to_owned(),
    };
    s.interrupted(phase, None, false).await;
    let done = s.recover().await.unwrap();
    assert_eq!(done.outcome, Resolution::NothingToUndo);
    assert_eq!(s.keys(), vec![active(&s.old), inactive(&stale)]);
}

/// `creating_key`, the call sent ten seconds ago (a list made now is settled).
fn creating_a_key(s: &Scene) -> Phase {
    Phase::CreatingKey {
        existing: vec![s.old.id().to_owned()],
        attempted_at: SystemTime::now() - Duration::from_secs(10),
    }
}

#[tokio::test]
async fn creating_a_key_deletes_the_key_whose_secret_never_arrived() {
    let s = Scene::with_defaults();
    // IAM made the key; its secret never reached the journal.
    s.interrupted(creating_a_key(&s), None, false).await;
    let orphan = s.iam.add_key(USER);
    let done = s.recover().await.unwrap();
    assert_eq!(done.outcome, Resolution::OrphanDeleted);
    assert_eq!(s.keys(), vec![active(&s.old)], "{} deleted", orphan.id());
    assert_eq!(s.held(), s.old.id());
    assert!(!s.journal_kept());
}

#[tokio::test]
async fn creating_a_key_keeps_a_new_key_a_sink_holds() {
    // Someone else's key, already in the profile's file: never an orphan of rekey's.
    let s = Scene::with_defaults();
    s.interrupted(creating_a_key(&s), None, false).await;
    let theirs = s.iam.add_key(USER);
    s.hold(&theirs);
    let done = s.recover().await.unwrap();
    assert_eq!(done.outcome, Resolution::NothingToUndo);
    assert!(
        done.actions
            .iter()
            .any(|a| matches!(a, Action::KeptStranger { key_id, .. } if key_id == theirs.id())),
        "{:?}",
        done.actions
    );
    assert_eq!(s.keys(), vec![active(&s.old), active(&theirs)]);
}

/// The phases between the new key's creation and the verification: `key_created`,
/// `propagated`, `writing_sink`, `sinks_written`.
fn created_not_verifying() -> [Phase; 4] {
    [
        Phase::KeyCreated,
        Phase::Propagated,
        Phase::WritingSink { index: 0 },
        Phase::SinksWritten,
    ]
}

/// In every phase of [`created_not_verifying`]: forward when every sink holds the new
/// key and it works, with no verify command; else back.
#[tokio::test]
async fn a_created_key_every_sink_holds_rolls_forward_in_every_phase_that_allows_it() {
    for phase in created_not_verifying() {
        let s = Scene::with_defaults();
        let new = s.iam.add_key(USER);
        s.interrupted(phase.clone(), Some(&new), true).await;
        let done = s.recover().await.unwrap();
        assert_eq!(done.outcome, Resolution::RolledForward, "{phase:?}");
        assert_eq!(s.keys(), vec![inactive(&s.old), active(&new)], "{phase:?}");
        assert_eq!(s.held(), new.id(), "{phase:?}");
        let pending = s.state.pending(s.old.id()).unwrap();
        assert!(
            pending.is_some(),
            "{phase:?}: the old key's deletion is scheduled"
        );
        assert!(!s.journal_kept(), "{phase:?}");
    }
}

#[tokio::test]
async fn a_created_key_no_sink_holds_yet_rolls_back_in_every_phase_before_verifying() {
    for phase in created_not_verifying() {
        let s = Scene::with_defaults();
        let before = std::fs::read_to_string(&s.credentials).unwrap();
        let new = s.iam.add_key(USER);
        s.interrupted(phase.clone(), Some(&new), false).await;
        let done = s.recover().await.unwrap();
        assert_eq!(done.outcome, Resolution::RolledBack, "{phase:?}");
        assert_eq!(
            s.keys(),
            vec![active(&s.old)],
            "{phase:?}: the new key deleted"
        );
        assert_eq!(std::fs::read_to_string(&s.credentials).unwrap(), before);
        assert!(!s.journal_kept(), "{phase:?}");
    }
}

#[tokio::test]
async fn with_a_verify_command_only_a_passed_check_completes_so_recovery_rolls_back() {
    let verify = Verify {
        command: Argv::try_from(vec!["true".to_owned()]).unwrap(),
        timeout: Duration::from_secs(5),
    };
    let s = Scene::new(Policy {
        verify: Some(verify),
        ..Policy::default()
    });
    let before = std::fs::read_to_string(&s.credentials).unwrap();
    let new = s.iam.add_key(USER);
    s.interrupted(Phase::SinksWritten, Some(&new), true).await;
    let done = s.recover().await.unwrap();
    assert_eq!(done.outcome, Resolution::RolledBack);
    assert_eq!(s.keys(), vec![active(&s.old)]);
    assert_eq!(
        std::fs::read_to_string(&s.credentials).unwrap(),
        before,
        "byte for byte"
    );
}

#[tokio::test]
async fn verifying_rolls_back() {
    let s = Scene::with_defaults();
    let before = std::fs::read_to_string(&s.credentials).unwrap();
    let new = s.iam.add_key(USER);
    s.interrupted(Phase::Verifying, Some(&new), true).await;
    let done = s.recover().await.unwrap();
    assert_eq!(done.outcome, Resolution::RolledBack);
    assert_eq!(s.keys(), vec![active(&s.old)]);
    assert_eq!(std::fs::read_to_string(&s.credentials).unwrap(), before);
}

#[tokio::test]
async fn deactivating_the_old_key_rolls_forward_whether_or_not_it_happened() {
    for deactivated in [false, true] {
        let s = Scene::with_defaults();
        let new = s.iam.add_key(USER);
        s.interrupted(Phase::DeactivatingOldKey, Some(&new), true)
            .await;
        if deactivated {
            s.iam.set_status(s.old.id(), false);
        }
        let done = s.recover().await.unwrap();
        assert_eq!(
            done.outcome,
            Resolution::RolledForward,
            "deactivated: {deactivated}"
        );
        assert_eq!(s.keys(), vec![inactive(&s.old), active(&new)]);
        assert_eq!(s.held(), new.id());
    }
}

#[tokio::test]
async fn a_half_done_rollback_is_finished_reactivating_the_old_key_first() {
    let s = Scene::with_defaults();
    let before = std::fs::read_to_string(&s.credentials).unwrap();
    let new = s.iam.add_key(USER);
    let phase = Phase::RollingBack {
        reason: "verification failed".into(),
    };
    s.interrupted(phase, Some(&new), true).await;
    // The failed rotation had got as far as deactivating the old key.
    s.iam.set_status(s.old.id(), false);
    let done = s.recover().await.unwrap();
    assert_eq!(done.outcome, Resolution::RolledBack);
    assert!(
        done.actions.contains(&Action::Reactivated {
            key_id: s.old.id().to_owned()
        }),
        "{:?}",
        done.actions
    );
    assert_eq!(s.keys(), vec![active(&s.old)]);
    assert_eq!(std::fs::read_to_string(&s.credentials).unwrap(), before);
}

#[tokio::test]
async fn a_recovery_iam_refuses_keeps_the_journal_and_says_access_denied() {
    let s = Scene::with_defaults();
    let new = s.iam.add_key(USER);
    s.interrupted(Phase::RollingBack { reason: "x".into() }, Some(&new), true)
        .await;
    s.iam.deny("iam:ListAccessKeys");
    let failure = s.recover().await.unwrap_err();
    assert_eq!(failure.error_kind, ErrorKind::AccessDenied, "{failure}");
    assert!(failure.message.contains("is kept"), "{failure}");
    assert!(s.journal_kept());
    assert_eq!(s.held(), new.id(), "nothing undone half-way");
}

#[tokio::test]
async fn a_journal_whose_sinks_changed_is_not_resolved() {
    let s = Scene::with_defaults();
    let new = s.iam.add_key(USER);
    s.interrupted(Phase::SinksWritten, Some(&new), true).await;
    let moved = CredentialsFile::new(s.credentials.with_file_name("elsewhere"), "p");
    let spec = ProfileSpec::new("p", Sinks::one(Arc::new(moved)), Policy::default());
    let mut results = recover(&s.aws, &s.state, &[spec], &[], false)
        .await
        .unwrap();
    let failure = results.remove(0).unwrap_err();
    assert_eq!(failure.error_kind, ErrorKind::Interrupted, "{failure}");
    assert!(failure.message.contains("sinks changed"), "{failure}");
    assert!(s.journal_kept());
    assert_eq!(
        s.keys(),
        vec![active(&s.old), active(&new)],
        "nothing touched"
    );
}
