//! Finding the manifest as git and cargo find theirs: in the current folder or the
//! nearest parent holding one (issue 18: run from a subfolder, rekey must not fall back
//! to default mode and leave the project's other places on the old key).
//!
//! What the search finds is someone's file, not yet the user's intent (issue 29), so it
//! climbs no further than a project of the user's could reach: to the home folder, a
//! repository root, the edge of the filesystem; never into a shared temporary folder,
//! where anyone may drop a `rekey.yaml`. Outside the home folder only the current
//! folder's file is taken. Whether a found file may be used at all (its owner, its
//! mode, whether it is trusted) is decided after it is found.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::FILE_NAME;

/// The nearest `rekey.yaml` at or above `start` (absolute), within the bounds above.
pub(crate) fn nearest(start: &Path, home: &Path) -> Option<PathBuf> {
    let device = |dir: &Path| std::fs::metadata(dir).ok().map(|m| m.dev());
    let start_device = device(start);
    let under_home = start.starts_with(home);
    for dir in start.ancestors() {
        if rekey_sinks::ownership::is_shared_folder(dir) || device(dir) != start_device {
            return None;
        }
        let candidate = dir.join(FILE_NAME);
        if candidate.is_file() {
            return Some(candidate);
        }
        if !under_home || dir == home || dir.join(".git").exists() {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_up_to_the_nearest_manifest() {
        let home = tempfile::tempdir().unwrap();
        let project = home.path().join("work/app");
        let deep = project.join("src/bin");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(project.join(FILE_NAME), "profiles: {}\n").unwrap();
        assert_eq!(nearest(&deep, home.path()), Some(project.join(FILE_NAME)));
        assert_eq!(
            nearest(&project, home.path()),
            Some(project.join(FILE_NAME))
        );
        // Not from beside or above it.
        assert_eq!(nearest(&home.path().join("work"), home.path()), None);
    }

    #[test]
    fn stops_at_a_repository_root_and_at_home() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join(FILE_NAME), "profiles: {}\n").unwrap();
        let repo = home.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join("sub")).unwrap();
        // The home folder's own manifest is found from home itself...
        assert_eq!(
            nearest(home.path(), home.path()),
            Some(home.path().join(FILE_NAME))
        );
        // ...but not from inside a repository below it.
        assert_eq!(nearest(&repo.join("sub"), home.path()), None);
        // Above home, nothing is searched.
        let inside = home.path().join("h");
        std::fs::create_dir_all(&inside).unwrap();
        assert_eq!(nearest(&inside, &inside), None);
    }

    #[test]
    fn outside_home_only_the_current_folders_file_is_taken() {
        let top = tempfile::tempdir().unwrap();
        let home = top.path().join("home");
        let elsewhere = top.path().join("srv/app/sub");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(top.path().join("srv/app").join(FILE_NAME), "").unwrap();
        assert_eq!(nearest(&elsewhere, &home), None);
        let app = top.path().join("srv/app");
        assert_eq!(nearest(&app, &home), Some(app.join(FILE_NAME)));
    }

    #[test]
    fn a_shared_temporary_folder_is_never_searched() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let shared = home.path().join("tmp");
        let mine = shared.join("mine");
        std::fs::create_dir_all(&mine).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        // Anyone may have dropped this one.
        std::fs::write(shared.join(FILE_NAME), "").unwrap();
        assert_eq!(nearest(&mine, home.path()), None);
        assert_eq!(nearest(&shared, home.path()), None);
    }
}
