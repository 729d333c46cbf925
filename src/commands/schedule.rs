//! `rekey schedule install|show|remove`: the user's daily upkeep (issue 31: nothing
//! deletes an old key unless `prune` runs, and nobody owned the grace period). Once a
//! day, after a random delay (`--splay`): `rekey prune --yes`, then `rekey apply --yes`
//! (which rotates only what is due), with the manifest in use when it was installed.
//!
//! Where: a systemd user timer where a user manager runs, else a crontab line; a
//! launchd agent on macOS. `--dry-run` prints what would be written and run, and where.
//! Each file is the user's own (`$XDG_CONFIG_HOME`, `~/Library/LaunchAgents`): no root.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};

use super::{manifest_path, Context, Outcome, Selection};

/// What `rekey schedule` is asked.
pub(crate) struct Options {
    /// Install, show or remove.
    pub(crate) action: Action,
    /// Where; `None`: the one this machine has.
    pub(crate) backend: Option<Backend>,
    /// Print, change nothing.
    pub(crate) dry_run: bool,
    /// The longest random delay before each day's run.
    pub(crate) splay: Duration,
    /// The manifest (default: the one a command run here would use).
    pub(crate) manifest: Option<PathBuf>,
    /// `--state-dir`, which the upkeep keeps using.
    pub(crate) state_dir: Option<PathBuf>,
}

/// What to do with the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Install,
    Show,
    Remove,
}

/// What runs the upkeep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// A systemd user timer and service.
    Systemd,
    /// A line of the user's crontab.
    Cron,
    /// A launchd agent (macOS).
    Launchd,
}

/// The units', the crontab line's and the agent's name.
const NAME: &str = "rekey-upkeep";
/// What marks rekey's line in a crontab.
const CRON_MARK: &str = "# rekey upkeep";
/// The launchd agent's label.
const LAUNCHD_LABEL: &str = "dev.rekey.upkeep";

/// Runs `rekey schedule`.
pub(crate) async fn run(ctx: &Context, args: Options) -> Result<Outcome> {
    let backend = match args.backend {
        Some(backend) => backend,
        None => detect()?,
    };
    let selection = Selection {
        manifest: args.manifest.clone(),
        profiles: Vec::new(),
    };
    let job = Job {
        rekey: std::env::current_exe().context("cannot tell where the rekey program is")?,
        manifest: manifest_path(&ctx.paths, &selection),
        state_dir: (args.state_dir.clone())
            .or_else(|| std::env::var_os("REKEY_STATE_DIR").map(PathBuf::from))
            .map(|dir| std::path::absolute(&dir).unwrap_or(dir)),
        splay: args.splay,
    };
    let place = Place::of(backend, &ctx.paths.home);
    match args.action {
        Action::Install => install(&place, &job, args.dry_run, ctx),
        Action::Show => show(&place, ctx),
        Action::Remove => remove(&place, args.dry_run, ctx),
    }?;
    Ok(Outcome::Success)
}

/// The backend this machine has: launchd on macOS; systemd where a user manager answers;
/// else cron.
fn detect() -> Result<Backend> {
    if cfg!(target_os = "macos") {
        return Ok(Backend::Launchd);
    }
    if succeeds("systemctl", &["--user", "show-environment"]) {
        return Ok(Backend::Systemd);
    }
    if which("crontab") {
        return Ok(Backend::Cron);
    }
    bail!("no systemd user manager answers (`systemctl --user`) and there is no `crontab`: install cron, or start a user manager (`loginctl enable-linger $USER`), or give --backend and install by hand what --dry-run prints")
}

/// What each day's run is.
struct Job {
    rekey: PathBuf,
    manifest: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    splay: Duration,
}

impl Job {
    /// The arguments of one rekey command of the job.
    fn argv(&self, command: &[&str]) -> Vec<String> {
        let mut argv = vec![self.rekey.display().to_string()];
        argv.extend(command.iter().map(|s| s.to_string()));
        if let Some(manifest) = &self.manifest {
            argv.extend(["--manifest".to_owned(), manifest.display().to_string()]);
        }
        argv
    }

    fn prune(&self) -> Vec<String> {
        self.argv(&["prune", "--yes"])
    }

    fn apply(&self) -> Vec<String> {
        self.argv(&["apply", "--yes"])
    }

    /// The job as one shell line (cron, launchd): prune, then apply whatever prune
    /// said, after the random delay.
    fn shell(&self) -> String {
        let quote = |argv: Vec<String>| {
            argv.iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let env = match &self.state_dir {
            Some(dir) => format!(
                "REKEY_STATE_DIR={} ",
                shell_quote(&dir.display().to_string())
            ),
            None => String::new(),
        };
        let mut prune = self.prune();
        prune.extend(["--splay".to_owned(), format!("{}s", self.splay.as_secs())]);
        format!("{env}{}; {env}{}", quote(prune), quote(self.apply()))
    }
}

/// Where a backend keeps the schedule.
enum Place {
    Systemd { folder: PathBuf },
    Cron,
    Launchd { file: PathBuf },
}

impl Place {
    fn of(backend: Backend, home: &Path) -> Self {
        match backend {
            Backend::Systemd => {
                let config = std::env::var_os("XDG_CONFIG_HOME")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
                    .unwrap_or_else(|| home.join(".config"));
                Place::Systemd {
                    folder: config.join("systemd/user"),
                }
            }
            Backend::Cron => Place::Cron,
            Backend::Launchd => Place::Launchd {
                file: home.join(format!("Library/LaunchAgents/{LAUNCHD_LABEL}.plist")),
            },
        }
    }
}

fn install(place: &Place, job: &Job, dry_run: bool, ctx: &Context) -> Result<()> {
    match place {
        Place::Systemd { folder } => {
            let files = [
                (folder.join(format!("{NAME}.service")), systemd_service(job)),
                (folder.join(format!("{NAME}.timer")), systemd_timer(job)),
            ];
            let commands: [&[&str]; 2] = [
                &["--user", "daemon-reload"],
                &["--user", "enable", "--now", &format!("{NAME}.timer")],
            ];
            if dry_run {
                for (path, text) in &files {
                    print!("{}", would_write(&ctx.paths.show(path), text));
                }
                for command in commands {
                    println!("Would run: systemctl {}", command.join(" "));
                }
                return Ok(());
            }
            for (path, text) in &files {
                write_file(path, text)?;
                println!("wrote {}", ctx.paths.show(path));
            }
            for command in commands {
                run_tool("systemctl", command)?;
            }
            println!("The upkeep runs daily: `systemctl --user list-timers {NAME}.timer` shows when next; `rekey schedule remove` removes it.");
        }
        Place::Cron => {
            let line = cron_line(job);
            if dry_run {
                println!("Would add to your crontab (`crontab -l` shows it):\n  {line}");
                return Ok(());
            }
            let kept = without_mark(&read_crontab()?);
            write_crontab(&format!("{kept}{line}\n"))?;
            println!("added to your crontab: {line}\n`rekey schedule remove` removes it.");
        }
        Place::Launchd { file } => {
            let text = launchd_plist(job);
            let path = file.display().to_string();
            if dry_run {
                print!("{}", would_write(&ctx.paths.show(file), &text));
                println!("Would run: launchctl load -w {path}");
                return Ok(());
            }
            write_file(file, &text)?;
            run_tool("launchctl", &["load", "-w", &path])?;
            println!(
                "wrote {}; `rekey schedule remove` removes it.",
                ctx.paths.show(file)
            );
        }
    }
    Ok(())
}

fn show(place: &Place, ctx: &Context) -> Result<()> {
    match place {
        Place::Systemd { folder } => {
            let timer = folder.join(format!("{NAME}.timer"));
            if !timer.exists() {
                println!(
                    "Not installed ({} is absent): `rekey schedule install`.",
                    ctx.paths.show(&timer)
                );
                return Ok(());
            }
            for file in [folder.join(format!("{NAME}.service")), timer] {
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                println!("{}:\n{}", ctx.paths.show(&file), indent(&text));
            }
        }
        Place::Cron => {
            let lines: Vec<String> = read_crontab()?
                .lines()
                .filter(|l| l.contains(CRON_MARK))
                .map(str::to_owned)
                .collect();
            match lines.is_empty() {
                true => println!(
                    "Not installed (no line of your crontab is rekey's): `rekey schedule install`."
                ),
                false => println!("In your crontab:\n{}", indent(&lines.join("\n"))),
            }
        }
        Place::Launchd { file } => match std::fs::read_to_string(file) {
            Ok(text) => println!("{}:\n{}", ctx.paths.show(file), indent(&text)),
            Err(_) => println!(
                "Not installed ({} is absent): `rekey schedule install`.",
                ctx.paths.show(file)
            ),
        },
    }
    Ok(())
}

fn remove(place: &Place, dry_run: bool, ctx: &Context) -> Result<()> {
    match place {
        Place::Systemd { folder } => {
            let files = [
                folder.join(format!("{NAME}.service")),
                folder.join(format!("{NAME}.timer")),
            ];
            if dry_run {
                println!("Would run: systemctl --user disable --now {NAME}.timer");
                for file in &files {
                    println!("Would remove {}", ctx.paths.show(file));
                }
                return Ok(());
            }
            // Not running (no user manager here): only the files go.
            let _ = run_tool(
                "systemctl",
                &["--user", "disable", "--now", &format!("{NAME}.timer")],
            );
            for file in &files {
                remove_file(file)?;
            }
            let _ = run_tool("systemctl", &["--user", "daemon-reload"]);
        }
        Place::Cron => {
            if dry_run {
                println!("Would remove rekey's line from your crontab.");
                return Ok(());
            }
            write_crontab(&without_mark(&read_crontab()?))?;
        }
        Place::Launchd { file } => {
            let path = file.display().to_string();
            if dry_run {
                println!(
                    "Would run: launchctl unload -w {path}\nWould remove {}",
                    ctx.paths.show(file)
                );
                return Ok(());
            }
            let _ = run_tool("launchctl", &["unload", "-w", &path]);
            remove_file(file)?;
        }
    }
    println!("Removed: the upkeep no longer runs.");
    Ok(())
}

/// The service: prune (its failure does not stop apply), then apply.
fn systemd_service(job: &Job) -> String {
    let exec = |argv: Vec<String>| {
        argv.iter()
            .map(|a| systemd_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let env = match &job.state_dir {
        Some(dir) => format!(
            "Environment={}\n",
            systemd_quote(&format!("REKEY_STATE_DIR={}", dir.display()))
        ),
        None => String::new(),
    };
    let folder = job.manifest.as_deref().and_then(Path::parent);
    let working = folder.map_or(String::new(), |f| {
        format!(
            "WorkingDirectory={}\n",
            systemd_quote(&f.display().to_string())
        )
    });
    format!(
        "# Written by `rekey schedule install`; `rekey schedule remove` removes it.\n[Unit]\nDescription=rekey upkeep: delete old AWS keys whose grace period ended, rotate keys that are due\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\n{working}{env}UMask=0077\nExecStart=-{}\nExecStart={}\n",
        exec(job.prune()),
        exec(job.apply())
    )
}

/// The timer: daily, a random delay up to `--splay`, and a missed day caught up.
fn systemd_timer(job: &Job) -> String {
    format!(
        "# Written by `rekey schedule install`; `rekey schedule remove` removes it.\n[Unit]\nDescription=Run the rekey upkeep daily\n\n[Timer]\nOnCalendar=daily\nRandomizedDelaySec={}\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
        job.splay.as_secs()
    )
}

/// The crontab line: at a random minute of the night, every day.
fn cron_line(job: &Job) -> String {
    format!(
        "{} 3 * * * {} {CRON_MARK}",
        fastrand::u8(0..60),
        job.shell()
    )
}

fn launchd_plist(job: &Job) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n  <key>Label</key><string>{LAUNCHD_LABEL}</string>\n  <key>ProgramArguments</key>\n  <array><string>/bin/sh</string><string>-c</string><string>{}</string></array>\n  <key>StartCalendarInterval</key>\n  <dict><key>Hour</key><integer>3</integer><key>Minute</key><integer>{}</integer></dict>\n</dict>\n</plist>\n",
        escape(&job.shell()),
        fastrand::u8(0..60)
    )
}

/// A word for a systemd `ExecStart=`/`Environment=` line: quoted, `%` doubled.
fn systemd_quote(word: &str) -> String {
    let escaped = word
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%");
    format!("\"{escaped}\"")
}

/// A word for `sh`.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn would_write(path: &str, text: &str) -> String {
    format!("Would write {path}:\n{}", indent(text))
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
    }
    rekey_sinks::atomic::write_file(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow!("cannot remove {}: {e}", path.display())),
    }
}

/// The crontab without rekey's line.
fn without_mark(crontab: &str) -> String {
    crontab
        .lines()
        .filter(|l| !l.contains(CRON_MARK))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn read_crontab() -> Result<String> {
    let out = Command::new("crontab")
        .arg("-l")
        .stderr(Stdio::null())
        .output()
        .context("cannot run `crontab -l` (is cron installed?)")?;
    // "no crontab for USER" is an empty crontab.
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn write_crontab(text: &str) -> Result<()> {
    use std::io::Write;
    let mut child = Command::new("crontab")
        .arg("-")
        .stdin(Stdio::piped())
        .spawn()
        .context("cannot run `crontab -` (is cron installed?)")?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(text.as_bytes())?;
    match child.wait()?.success() {
        true => Ok(()),
        false => bail!("`crontab -` refused the new crontab"),
    }
}

fn run_tool(program: &str, args: &[&str]) -> Result<()> {
    let status = Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    match status.success() {
        true => Ok(()),
        false => bail!(
            "`{program} {}` failed; run it yourself once the cause is fixed",
            args.join(" ")
        ),
    }
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Job {
            rekey: PathBuf::from("/opt/my tools/rekey"),
            manifest: Some(PathBuf::from("/home/u/100%/rekey.yaml")),
            state_dir: None,
            splay: Duration::from_secs(3600),
        }
    }

    #[test]
    fn the_service_quotes_paths_for_systemd() {
        let service = systemd_service(&job());
        assert!(service.contains("ExecStart=-\"/opt/my tools/rekey\" \"prune\" \"--yes\" \"--manifest\" \"/home/u/100%%/rekey.yaml\""), "{service}");
        assert!(
            service.contains("WorkingDirectory=\"/home/u/100%%\""),
            "{service}"
        );
    }

    #[test]
    fn the_shell_line_quotes_every_word() {
        let line = job().shell();
        assert!(line.starts_with("'/opt/my tools/rekey' 'prune' '--yes' '--manifest' '/home/u/100%/rekey.yaml' '--splay' '3600s'; "), "{line}");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn only_rekeys_line_leaves_the_crontab() {
        let crontab = format!("MAILTO=me\n5 * * * * backup\n1 3 * * * rekey {CRON_MARK}\n");
        assert_eq!(without_mark(&crontab), "MAILTO=me\n5 * * * * backup\n");
    }
}
