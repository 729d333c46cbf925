//! The round trip every file sink must pass, written once and run for each of them
//! (credentials file, `.env`, JSON, YAML and TOML) on a real file.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use secrecy::ExposeSecret;

use crate::{AccessKey, Sink};

/// With `path` holding `before` (whose key is `old_id`, mode 0640): the sink reads the
/// old key, checks, writes `new` keeping the mode, reads `new` back (id and secret), and
/// restoring puts `before` back byte for byte.
pub(crate) async fn file_round_trip(
    sink: &dyn Sink,
    path: &Path,
    before: &str,
    old_id: &str,
    new: &AccessKey,
) {
    std::fs::write(path, before).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(sink.read().await.unwrap().unwrap().id(), old_id);
    sink.check().await.unwrap();
    let snapshot = sink.snapshot().await.unwrap();
    sink.write(new).await.unwrap();
    let read = sink.read().await.unwrap().unwrap();
    assert_eq!(
        (read.id(), read.secret().expose_secret()),
        (new.id(), new.secret().expose_secret())
    );
    assert_eq!(sink.read_id().await.unwrap().as_deref(), Some(new.id()));
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "the file keeps its mode");
    sink.restore(&snapshot, new).await.unwrap();
    assert_eq!(std::fs::read_to_string(path).unwrap(), before);
}
