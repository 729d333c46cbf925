//! Where things are: the shared AWS files, the state directory, `~`.
//!
//! Resolved once from the environment (following the AWS CLI's conventions) so the rest
//! of the engine never reads environment variables itself.

use std::path::{Path, PathBuf};

/// The locations rekey uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Paths {
    /// The user's home folder, for `~` expansion.
    pub(crate) home: PathBuf,
    /// `$AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
    pub(crate) credentials_file: PathBuf,
    /// `$AWS_CONFIG_FILE`, else `~/.aws/config`.
    pub(crate) config_file: PathBuf,
    /// `--state-dir`/`$REKEY_STATE_DIR`, else `$XDG_STATE_HOME/rekey`, else
    /// `~/.local/state/rekey`.
    pub(crate) state_dir: PathBuf,
    /// `$REKEY_MANIFEST`: the manifest to use when `--manifest` is not given.
    pub(crate) manifest: Option<PathBuf>,
}

impl Paths {
    /// Resolves the locations from environment lookups (`var`) and an explicit state dir.
    pub(crate) fn resolve(
        var: impl Fn(&str) -> Option<String>,
        state_dir: Option<PathBuf>,
    ) -> Self {
        let nonempty = |name: &str| var(name).filter(|v| !v.is_empty());
        let home = nonempty("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        let expand = |p: String| expand_tilde(&p, &home);
        let credentials_file = nonempty("AWS_SHARED_CREDENTIALS_FILE")
            .map(expand)
            .unwrap_or_else(|| home.join(".aws/credentials"));
        let config_file = nonempty("AWS_CONFIG_FILE")
            .map(expand)
            .unwrap_or_else(|| home.join(".aws/config"));
        let state_dir = state_dir
            .or_else(|| nonempty("XDG_STATE_HOME").map(|d| PathBuf::from(d).join("rekey")))
            .unwrap_or_else(|| home.join(".local/state/rekey"));
        let manifest = nonempty("REKEY_MANIFEST").map(expand);
        Self {
            home,
            credentials_file,
            config_file,
            state_dir,
            manifest,
        }
    }

    /// `path` for people: under the home folder, as `~/…`.
    pub(crate) fn show(&self, path: &Path) -> String {
        rekey_sinks::shown::under(&self.home, path)
    }

    /// Expands `~` and makes a relative path relative to `base` (the manifest's folder).
    pub(crate) fn expand(&self, path: &str, base: &Path) -> PathBuf {
        let expanded = expand_tilde(path.strip_prefix("./").unwrap_or(path), &self.home);
        if expanded.is_absolute() {
            expanded
        } else {
            base.join(expanded)
        }
    }
}

fn expand_tilde(path: &str, home: &Path) -> PathBuf {
    match path.strip_prefix('~') {
        Some("") => home.to_path_buf(),
        Some(rest) if rest.starts_with('/') => home.join(&rest[1..]),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn follows_the_aws_and_xdg_conventions() {
        let paths = Paths::resolve(env(&[("HOME", "/home/u")]), None);
        assert_eq!(
            paths.credentials_file,
            Path::new("/home/u/.aws/credentials")
        );
        assert_eq!(paths.config_file, Path::new("/home/u/.aws/config"));
        assert_eq!(paths.state_dir, Path::new("/home/u/.local/state/rekey"));

        let paths = Paths::resolve(
            env(&[
                ("HOME", "/home/u"),
                ("AWS_SHARED_CREDENTIALS_FILE", "~/creds"),
                ("AWS_CONFIG_FILE", "/etc/aws"),
                ("XDG_STATE_HOME", "/var/state"),
            ]),
            None,
        );
        assert_eq!(paths.credentials_file, Path::new("/home/u/creds"));
        assert_eq!(paths.config_file, Path::new("/etc/aws"));
        assert_eq!(paths.state_dir, Path::new("/var/state/rekey"));
        let explicit = Paths::resolve(env(&[("HOME", "/h")]), Some("/s".into()));
        assert_eq!(explicit.state_dir, Path::new("/s"));
    }

    #[test]
    fn expands_tilde_and_relative_paths() {
        let paths = Paths::resolve(env(&[("HOME", "/home/u")]), None);
        let base = Path::new("/project");
        assert_eq!(paths.expand("~/.env", base), Path::new("/home/u/.env"));
        assert_eq!(
            paths.expand("conf/creds", base),
            Path::new("/project/conf/creds")
        );
        assert_eq!(paths.expand("/abs", base), Path::new("/abs"));
        assert_eq!(paths.expand("~user/x", base), Path::new("/project/~user/x"));
    }
}
