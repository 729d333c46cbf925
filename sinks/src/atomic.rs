//! Replacing a file so that every reader sees either the old or the new bytes, never a mix.
//!
//! The recipe: write a temporary file in the same folder (so the rename cannot cross
//! filesystems), give it the old file's mode and owner (a new file gets `0600`, as it
//! holds a secret), fsync it, rename it over the target, then fsync the folder so the
//! rename itself survives a power cut.
//!
//! A symlink is followed: the file it points to is replaced and the link is kept, so a
//! credentials file kept in a dotfiles repository stays linked.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode given to files rekey creates: they hold secrets.
pub const NEW_FILE_MODE: u32 = 0o600;

/// Mode given to folders rekey creates for secret-holding files.
pub const NEW_DIR_MODE: u32 = 0o700;

/// Atomically replaces (or creates) `path` with `contents`; see the module docs.
///
/// Missing parent folders are created with mode `0700`.
pub fn write_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    write(&resolve_symlink(path)?, contents, None)
}

/// Atomically replaces (or creates) `path` with `contents`, mode `0600` whatever was
/// there, and **without following a symlink**: a link at `path` is replaced by the file,
/// never written through. For rekey's own state, where a planted link must not make
/// rekey overwrite another file.
pub fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    write(path, contents, Some(NEW_FILE_MODE))
}

/// Writes `target` (a regular file's path, or where one is to be), with `mode`, or the
/// existing file's mode and owner if `None`.
fn write(target: &Path, contents: &[u8], mode: Option<u32>) -> io::Result<()> {
    let dir = parent_of(target);
    create_private_dir_all(dir)?;

    let existing = match fs::symlink_metadata(target) {
        // Only with `mode` given (no-follow): the link itself is replaced.
        Ok(meta) if meta.file_type().is_symlink() => None,
        Ok(meta) if meta.is_dir() => {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory, not a file",
            ))
        }
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };

    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)?;
    let keep = mode.is_none();
    let mode = mode.unwrap_or_else(|| {
        existing
            .as_ref()
            .map_or(NEW_FILE_MODE, |m| m.mode() & 0o7777)
    });
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))?;
    if let Some(meta) = existing.as_ref().filter(|_| keep) {
        let mine = tmp.as_file().metadata()?;
        if (mine.uid(), mine.gid()) != (meta.uid(), meta.gid()) {
            std::os::unix::fs::fchown(tmp.as_file(), Some(meta.uid()), Some(meta.gid()))?;
        }
    }
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Prefix and suffix of the temporary files [`write_file`] creates.
const TEMP_PREFIX: &str = ".rekey-";
const TEMP_SUFFIX: &str = ".tmp";

/// Removes temporary files a killed [`write_file`] left in `dir` (they may hold a
/// secret). Returns how many were removed.
pub fn remove_stale_temp_files(dir: &Path) -> io::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(TEMP_PREFIX)
            && name.ends_with(TEMP_SUFFIX)
            && entry.file_type()?.is_file()
        {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    if removed > 0 {
        sync_dir(dir)?;
    }
    Ok(removed)
}

/// Removes `path` (following a symlink to the file it points to) and syncs its folder.
/// A file that is already gone is not an error.
pub fn remove_file(path: &Path) -> io::Result<()> {
    let target = resolve_symlink(path)?;
    match fs::remove_file(&target) {
        Ok(()) => sync_dir(parent_of(&target)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes `path` itself (a symlink is removed, not followed) and syncs its folder. A
/// file that is already gone is not an error.
pub fn remove_private_file(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(parent_of(path)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates `dir` and its missing parents; the folders created get mode `0700`.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(NEW_DIR_MODE)
        .create(dir)
}

/// The file a path finally names: the path itself, or where its symlink chain leads.
pub fn resolve_symlink(path: &Path) -> io::Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => match fs::canonicalize(path) {
            Ok(resolved) => Ok(resolved),
            // A dangling link: write where it points, relative to the link's folder.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let dest = fs::read_link(path)?;
                Ok(parent_of(path).join(dest))
            }
            Err(e) => Err(e),
        },
        _ => Ok(path.to_path_buf()),
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

use std::os::unix::fs::DirBuilderExt;

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn new_file_and_its_folders_are_private() {
        let home = tempfile::tempdir().unwrap();
        let path = home.path().join(".aws/credentials");
        write_file(&path, b"[dev]\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"[dev]\n");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&home.path().join(".aws")), 0o700);
    }

    #[test]
    fn replacing_keeps_the_mode_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        write_file(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(mode(&path), 0o640);
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "a temporary file was left behind");
    }

    #[test]
    fn a_symlink_is_kept_and_its_target_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles-credentials");
        let link = dir.path().join("credentials");
        fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_file(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_file(dir.path(), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::IsADirectory);
    }

    #[test]
    fn stale_temporary_files_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".rekey-abc123.tmp"), "half a secret").unwrap();
        fs::write(dir.path().join("credentials"), "keep").unwrap();
        fs::write(dir.path().join(".rekey-notes"), "keep").unwrap();
        assert_eq!(remove_stale_temp_files(dir.path()).unwrap(), 1);
        let mut left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, [".rekey-notes", "credentials"]);
    }

    #[test]
    fn removing_a_missing_file_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        remove_file(&dir.path().join("nope")).unwrap();
    }
}
