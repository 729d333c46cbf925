//! The sink on a real filesystem: read, check, write, restore.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use secrecy::ExposeSecret;

use super::*;
use crate::{Sink, Snapshot};

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
    fs::write(&path, OLD).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    let sink = CredentialsFile::new(&path, "dev");
    sink.check().await.unwrap();
    let snapshot = sink.snapshot().await.unwrap();
    sink.write(&key()).await.unwrap();
    assert_eq!(
        sink.read().await.unwrap().unwrap().id(),
        "AKIANEW0000000000001"
    );
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o640
    );
    sink.restore(&snapshot).await.unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), OLD);
}

#[tokio::test]
async fn restoring_an_absent_file_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/credentials");
    let sink = CredentialsFile::new(&path, "dev");
    let snapshot = sink.snapshot().await.unwrap();
    assert!(matches!(snapshot, Snapshot::Absent));
    sink.write(&key()).await.unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    sink.restore(&snapshot).await.unwrap();
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
