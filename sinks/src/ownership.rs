//! Whether a file rekey acts on could have been written by someone else: a manifest it
//! reads, a program it runs by path. git refuses a repository another user owns
//! (`safe.directory`, CVE-2022-24765) for the same reason: on a shared machine, anyone
//! may drop a file where another user will come across it, and a file that others may
//! rewrite is theirs as much as its owner's.
//!
//! The rule: the file is owned by the user rekey runs as, or by root; neither its group
//! nor others may write it; and no folder above it lets everyone replace it (a folder
//! everyone may write without the sticky bit, which `/tmp` has).

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A file someone other than the user (or root) could have written.
#[derive(Debug, thiserror::Error)]
#[error("refusing {}: {why}", crate::shown::path(path))]
pub struct NotYours {
    /// The file (or the folder that exposes it).
    pub path: PathBuf,
    /// Why, and what to do about it.
    pub why: String,
}

impl From<NotYours> for io::Error {
    fn from(e: NotYours) -> Self {
        io::Error::new(io::ErrorKind::PermissionDenied, e.to_string())
    }
}

/// Checks `path` (a file; a link is followed) against the rule of this module. A file
/// that does not exist passes: reading or running it will say so.
pub fn check_file(path: &Path) -> Result<(), NotYours> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(_) => return Ok(()),
    };
    let me = rustix::process::geteuid().as_raw();
    let refuse = |why: String| NotYours {
        path: path.to_owned(),
        why,
    };
    if meta.uid() != me && meta.uid() != 0 {
        return Err(refuse(format!(
            "it is owned by uid {}, neither this user (uid {me}) nor root, so its owner chose what it says; if you trust it, copy it into a folder of your own, or `chown {me}` it",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(refuse(format!(
            "group or others may write it (mode {:o}); run `chmod go-w {}`",
            meta.mode() & 0o777,
            crate::shown::path(path)
        )));
    }
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    check_folders_above(&real)
}

/// Checks that no folder above `path` lets everyone replace what it holds: a folder
/// everyone may write needs the sticky bit (as `/tmp` has), which keeps others from
/// renaming or removing the files they do not own.
pub fn check_folders_above(path: &Path) -> Result<(), NotYours> {
    for folder in path.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(folder) else {
            continue;
        };
        if meta.mode() & 0o002 != 0 && meta.mode() & 0o1000 == 0 {
            return Err(NotYours {
                path: path.to_owned(),
                why: format!(
                    "it is under {}, which everyone may write and which has no sticky bit (mode {:o}), so anyone may have replaced it; move it to a folder of your own",
                    crate::shown::path(folder),
                    meta.mode() & 0o7777
                ),
            });
        }
    }
    Ok(())
}

/// Whether `folder` is a shared temporary folder (everyone may write it, and the sticky
/// bit keeps each user's files their own, as `/tmp` and `/var/tmp`): what lies in it
/// was put there by anyone.
pub fn is_shared_folder(folder: &Path) -> bool {
    std::fs::metadata(folder).is_ok_and(|m| m.is_dir() && m.mode() & 0o1002 == 0o1002)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_private_file_of_this_user_passes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rekey.yaml");
        std::fs::write(&file, "").unwrap();
        chmod(&file, 0o644);
        check_file(&file).unwrap();
        // Missing: the read that follows says so.
        check_file(&dir.path().join("missing")).unwrap();
    }

    #[test]
    fn a_file_others_may_write_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rekey.yaml");
        std::fs::write(&file, "").unwrap();
        for mode in [0o664, 0o646] {
            chmod(&file, mode);
            let e = check_file(&file).unwrap_err().to_string();
            assert!(e.contains("group or others may write it"), "{e}");
            assert!(e.contains("chmod go-w"), "{e}");
        }
    }

    #[test]
    fn a_file_under_a_folder_everyone_may_write_needs_the_sticky_bit() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        let file = open.join("plugin");
        std::fs::write(&file, "").unwrap();
        chmod(&file, 0o755);
        chmod(&open, 0o777);
        let e = check_file(&file).unwrap_err().to_string();
        assert!(e.contains("no sticky bit"), "{e}");
        assert!(!is_shared_folder(&open));
        chmod(&open, 0o1777);
        check_file(&file).unwrap();
        assert!(is_shared_folder(&open));
    }
}
