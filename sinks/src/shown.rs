//! How rekey shows a path to people, in every message, error and description: under the
//! home folder as `~/…` (short, and the same on every machine of a team), elsewhere
//! whole. Files rekey writes for programs (a systemd unit, a crontab line) and lock
//! names keep the real path.

use std::path::Path;

/// `path` as shown: `~/…` under `$HOME`, else as it is.
pub fn path(path: &Path) -> String {
    match std::env::var_os("HOME") {
        Some(home) => under(Path::new(&home), path),
        None => path.display().to_string(),
    }
}

/// `path` as shown for the home folder `home`.
pub fn under(home: &Path, path: &Path) -> String {
    let root = home.as_os_str().is_empty() || home == Path::new("/");
    match path.strip_prefix(home) {
        Ok(rest) if !root && rest.as_os_str().is_empty() => "~".to_owned(),
        Ok(rest) if !root => format!("~/{}", rest.display()),
        _ => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_home_folder_is_a_tilde_and_nothing_else_changes() {
        let home = Path::new("/home/ana");
        for (path, shown) in [
            ("/home/ana/.aws/credentials", "~/.aws/credentials"),
            ("/home/ana", "~"),
            ("/home/anabel/.env", "/home/anabel/.env"),
            ("/etc/app.json", "/etc/app.json"),
            ("relative/.env", "relative/.env"),
        ] {
            assert_eq!(under(home, Path::new(path)), shown, "{path}");
        }
        assert_eq!(under(Path::new("/"), Path::new("/etc/x")), "/etc/x");
    }
}
