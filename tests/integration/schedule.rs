//! `rekey schedule` (issue 31, point 2): someone owns the grace period. The systemd
//! units it writes are checked by systemd's own `systemd-analyze verify`; the user's
//! config folder is a temporary `XDG_CONFIG_HOME`.

use std::path::Path;

use crate::support::*;

/// The files a `--dry-run` says it would write, by path: each `Would write PATH:` line
/// followed by the file, indented by two spaces.
fn would_write(stdout: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Vec::new();
    for line in stdout.lines() {
        if let Some(path) = line
            .strip_prefix("Would write ")
            .and_then(|l| l.strip_suffix(':'))
        {
            files.push((path.to_owned(), String::new()));
        } else if let (Some(text), Some((_, file))) = (line.strip_prefix("  "), files.last_mut()) {
            file.push_str(text);
            file.push('\n');
        }
    }
    files
}

#[test]
fn install_dry_run_shows_a_daily_timer_that_systemd_accepts_and_writes_nothing() {
    let home = Home::new();
    home.user_in_credentials("scheduled");
    let config = home.path("xdg-config");
    let xdg = config.to_str().unwrap();
    let args = ["schedule", "install", "--backend", "systemd", "--dry-run"];
    let run = home
        .run(&args)
        .envs(&[("XDG_CONFIG_HOME", xdg)])
        .output()
        .success();
    let files = would_write(&run.stdout);
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "~/xdg-config/systemd/user/rekey-upkeep.service",
            "~/xdg-config/systemd/user/rekey-upkeep.timer"
        ],
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("Would run: systemctl --user enable --now rekey-upkeep.timer"));
    let (service, timer) = (&files[0].1, &files[1].1);
    assert!(service.contains("\"prune\" \"--yes\""), "{service}");
    assert!(service.contains("\"apply\" \"--yes\""), "{service}");
    assert!(
        timer.contains("OnCalendar=daily") && timer.contains("RandomizedDelaySec=3600"),
        "{timer}"
    );
    assert!(!config.exists(), "a dry run writes nothing");

    // systemd's own check of the units, as a user manager would load them.
    let units = tempfile::tempdir().unwrap();
    for (path, text) in &files {
        let name = Path::new(path).file_name().unwrap();
        std::fs::write(units.path().join(name), text).unwrap();
    }
    let verify = std::process::Command::new("systemd-analyze")
        .args(["verify", "--user"])
        .arg(units.path().join("rekey-upkeep.service"))
        .arg(units.path().join("rekey-upkeep.timer"))
        .env("XDG_RUNTIME_DIR", units.path())
        .output()
        .expect("systemd-analyze is needed: run ./scripts/setup-system (apt-get install systemd)");
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );

    home.run(&["schedule", "show", "--backend", "systemd"])
        .envs(&[("XDG_CONFIG_HOME", xdg)])
        .output()
        .success()
        .stdout_has("Not installed");
}

#[test]
fn show_lists_the_installed_units() {
    let home = Home::new();
    home.user_in_credentials("shown");
    let config = home.path("xdg-config");
    let xdg = config.to_str().unwrap();
    home.write(
        "xdg-config/systemd/user/rekey-upkeep.service",
        "[Service]\nExecStart=/bin/true\n",
    );
    home.write(
        "xdg-config/systemd/user/rekey-upkeep.timer",
        "[Timer]\nOnCalendar=daily\n",
    );
    home.run(&["schedule", "show", "--backend", "systemd"])
        .envs(&[("XDG_CONFIG_HOME", xdg)])
        .output()
        .success()
        .stdout_has("~/xdg-config/systemd/user/rekey-upkeep.timer:")
        .stdout_has("OnCalendar=daily");
    home.run(&["schedule", "remove", "--backend", "systemd", "--dry-run"])
        .envs(&[("XDG_CONFIG_HOME", xdg)])
        .output()
        .success()
        .stdout_has("Would remove ~/xdg-config/systemd/user/rekey-upkeep.timer");
    assert!(home
        .path("xdg-config/systemd/user/rekey-upkeep.timer")
        .exists());
}
