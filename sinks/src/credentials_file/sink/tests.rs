//! The sink on a real filesystem: read, check, write, restore.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use secrecy::ExposeSecret;

use super::*;
use crate::{Checked, Sink, Snapshot};

const OLD: &str = "# keep me\n[dev]\naws_access_key_id = AKIAOLD0000000000001\naws_secret_access_key = old/Secret\nregion = eu-west-1\n";

fn key() -> AccessKey {
    AccessKey::new("AKIANEW0000000000001", "new+Secret/Key".into()).unwrap()
}

#[tokio::test]
async fn reads_the_section_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    fs::write(&path, OLD).unwrap();
    let sink = CredentialsFile::new(&path, "dev");
    let read = sink.read().await.unwrap().unwrap();
    assert_eq!(read.id(), "AKIAOLD0000000000001");
    assert_eq!(read.secret().expose_secret(), "old/Secret");
    assert!(CredentialsFile::new(&path, "prod")
        .read()
        .await
        .unwrap()
        .is_none());
    assert!(CredentialsFile::new(dir.path().join("none"), "dev")
        .read()
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn write_then_restore_is_byte_identical_and_keeps_the_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    let sink = CredentialsFile::new(&path, "dev");
    crate::round_trip::file_round_trip(&sink, &path, OLD, "AKIAOLD0000000000001", &key()).await;
}

#[tokio::test]
async fn restoring_an_absent_file_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/credentials");
    let sink = CredentialsFile::new(&path, "dev").creating(true);
    let snapshot = sink.snapshot().await.unwrap();
    assert!(matches!(snapshot, Snapshot::Absent));
    sink.write(&key()).await.unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    sink.restore(&snapshot, &key()).await.unwrap();
    assert!(!path.exists());
}

#[tokio::test]
async fn check_reports_problems_without_touching_anything() {
    let dir = tempfile::tempdir().unwrap();
    let as_dir = CredentialsFile::new(dir.path(), "dev");
    assert!(matches!(
        as_dir.check().await.unwrap_err(),
        SinkError::Unsupported { .. }
    ));

    let path = dir.path().join("credentials");
    fs::write(&path, "[dev]\n[dev]\n").unwrap();
    let err = CredentialsFile::new(&path, "dev")
        .check()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("more than once"), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), "[dev]\n[dev]\n");

    fs::write(
        &path,
        "[dev]\naws_access_key_id = A\naws_secret_access_key = B\naws_session_token = C\n",
    )
    .unwrap();
    let err = CredentialsFile::new(&path, "dev").read().await.unwrap_err();
    assert!(
        matches!(err, SinkError::TemporaryCredentials { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn check_finds_what_write_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    fs::write(
        &path,
        "[dev]\naws_access_key_id = A\naws_access_key_id = B\n",
    )
    .unwrap();
    let err = CredentialsFile::new(&path, "dev")
        .check()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("more than once"), "{err}");
}

#[tokio::test]
async fn a_failed_write_leaves_the_file_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    let text = "[dev]\naws_access_key_id = A\naws_access_key_id = B\n";
    fs::write(&path, text).unwrap();
    let err = CredentialsFile::new(&path, "dev")
        .write(&key())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("more than once"), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
}

const TWO: &str = "# two profiles, one file\n[a]\naws_access_key_id = AKIAAOLD000000000001\naws_secret_access_key = a/old\n\n[b]\naws_access_key_id = AKIABOLD000000000001\naws_secret_access_key = b/old\n";

fn key_b() -> AccessKey {
    AccessKey::new("AKIABNEW000000000001", "b+new/Key".into()).unwrap()
}

#[tokio::test]
async fn restoring_one_section_keeps_what_another_rotation_wrote_since() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    fs::write(&path, TWO).unwrap();
    let (a, b) = (
        CredentialsFile::new(&path, "a"),
        CredentialsFile::new(&path, "b"),
    );
    let before_a = a.snapshot().await.unwrap();
    a.write(&key()).await.unwrap();
    b.write(&key_b()).await.unwrap();
    // Undoing a's rotation must not put b's old (deactivated) key back.
    a.restore(&before_a, &key()).await.unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        TWO.replace("AKIABOLD000000000001", "AKIABNEW000000000001")
            .replace("b/old", "b+new/Key")
    );
    // Restoring again changes nothing (a holds its old key already).
    a.restore(&before_a, &key()).await.unwrap();
    assert_eq!(
        a.read().await.unwrap().unwrap().id(),
        "AKIAAOLD000000000001"
    );
}

#[tokio::test]
async fn a_place_changed_since_is_refused_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    fs::write(&path, TWO).unwrap();
    let a = CredentialsFile::new(&path, "a");
    let before = a.snapshot().await.unwrap();
    a.write(&key()).await.unwrap();
    // Someone put yet another key in [a].
    a.write(&key_b()).await.unwrap();
    let changed = fs::read_to_string(&path).unwrap();
    let err = a.restore(&before, &key()).await.unwrap_err().to_string();
    assert!(err.contains("no longer holds the key rekey wrote"), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), changed);
}

#[tokio::test]
async fn a_file_that_did_not_exist_is_removed_only_if_nobody_wrote_it_since() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    let (a, b) = (
        CredentialsFile::new(&path, "a").creating(true),
        CredentialsFile::new(&path, "b"),
    );
    let absent = a.snapshot().await.unwrap();
    a.write(&key()).await.unwrap();
    b.write(&key_b()).await.unwrap();
    let err = a.restore(&absent, &key()).await.unwrap_err().to_string();
    assert!(err.contains("held no key before"), "{err}");
    assert!(path.exists(), "b's key is not deleted with the file");
}

#[tokio::test]
async fn a_missing_file_is_created_only_when_the_sink_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    let strict = CredentialsFile::new(&path, "dev");
    let err = strict.check().await.unwrap_err().to_string();
    assert!(
        err.contains("does not exist") && err.contains("create: true"),
        "{err}"
    );
    // Even past the check (the file vanished since), the write refuses to create it.
    assert!(strict.write(&key()).await.is_err());
    assert!(!path.exists());

    let creating = CredentialsFile::new(&path, "dev").creating(true);
    assert_eq!(creating.check().await.unwrap(), Checked::Creates);
    creating.write(&key()).await.unwrap();
    assert_eq!(strict.check().await.unwrap(), Checked::Ready);
}

#[tokio::test]
async fn a_read_only_file_is_reported_and_replaced_keeping_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    fs::write(&path, "[dev]\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    let sink = CredentialsFile::new(&path, "dev");
    assert_eq!(sink.check().await.unwrap(), Checked::ReplacesReadOnly);
    sink.write(&key()).await.unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o400
    );
    assert_eq!(sink.read().await.unwrap().unwrap().id(), key().id());
}
