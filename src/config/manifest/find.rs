//! Finding the manifest as git and cargo find theirs: in the current folder or the
//! nearest parent holding one (issue 18: run from a subfolder, rekey must not fall back
//! to default mode and leave the project's other places on the old key).

use std::path::{Path, PathBuf};

use super::FILE_NAME;

/// The nearest `rekey.yaml` at or above `start` (absolute). The walk stops after the
/// home folder or a repository root (a folder holding `.git`): a manifest above those
/// belongs to someone else's project, or to nobody's.
pub(crate) fn nearest(start: &Path, home: &Path) -> Option<PathBuf> {
    for dir in start.ancestors() {
        let candidate = dir.join(FILE_NAME);
        if candidate.is_file() {
            return Some(candidate);
        }
        if dir == home || dir.join(".git").exists() {
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
}
