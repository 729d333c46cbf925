//! What a person at a terminal sees: live progress, colour (unless NO_COLOR), a summary
//! table. Off a terminal the same run prints plain lines (checked everywhere else).

use crate::support::*;

/// `text` without its SGR (colour/bold) escape sequences, `ESC [ digits;… m`, and the
/// parameters of each sequence it removed.
fn split_colour(text: &str) -> (String, Vec<&str>) {
    let mut parts = text.split("\x1b[");
    let mut plain = parts.next().unwrap_or_default().to_owned();
    let mut codes = Vec::new();
    for rest in parts {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(rest.len());
        match rest[end..].strip_prefix('m') {
            Some(after) => {
                codes.push(&rest[..end]);
                plain.push_str(after);
            }
            None => {
                plain.push_str("\x1b[");
                plain.push_str(rest);
            }
        }
    }
    (plain, codes)
}

/// Whether `text` holds an SGR sequence that sets something (not a bare `ESC [ m`).
fn has_colour(text: &str) -> bool {
    split_colour(text).1.iter().any(|code| !code.is_empty())
}

/// `text` without its SGR escape sequences.
fn without_colour(text: &str) -> String {
    split_colour(text).0
}

/// A user whose rotation runs a verify command that takes a second, long enough for the
/// progress line to be drawn while it runs.
fn slow_verify_home() -> (Home, String) {
    let home = Home::new();
    let user = unique("tty");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\ndefaults:\n  verify: {{ command: [sh, -c, 'sleep 1'] }}\nprofiles:\n  {user}: {{}}\n"
        ),
    );
    (home, user)
}

#[test]
fn on_a_terminal_apply_shows_progress_colour_and_a_summary_table() {
    let (home, user) = slow_verify_home();
    let run = home
        .rekey_on_terminal_with_env(&[("TERM", "xterm")], &["apply", "--yes"], "")
        .success();
    assert!(
        has_colour(&run.stdout),
        "colour on a terminal:\n{:?}",
        run.stdout
    );
    let screen = &without_colour(&run.stdout);
    assert!(
        screen.contains(&format!("{user} running the verify command")),
        "the progress line names the profile and its stage:\n{screen}"
    );
    let header = screen
        .lines()
        .find(|l| l.contains("PROFILE"))
        .expect("a summary table");
    for column in ["RESULT", "TIME", "DETAIL"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(
        screen
            .lines()
            .any(|l| l.contains(&user) && l.contains("rotated") && l.contains(" -> ")),
        "a row for the profile:\n{screen}"
    );
}

#[test]
fn no_color_turns_colour_off_but_keeps_the_table() {
    let (home, _) = slow_verify_home();
    let run = home
        .rekey_on_terminal_with_env(
            &[("TERM", "xterm"), ("NO_COLOR", "1")],
            &["apply", "--yes"],
            "",
        )
        .success()
        .stdout_has("PROFILE");
    assert!(!has_colour(&run.stdout), "{:?}", run.stdout);
}

#[test]
fn off_a_terminal_apply_prints_plain_lines_only() {
    let (home, user) = slow_verify_home();
    let run = home.rekey(&["apply", "--yes"]).success();
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(!all.contains('\x1b'), "no escape sequences: {all:?}");
    assert!(!run.stdout.contains("PROFILE"), "no table: {}", run.stdout);
    assert!(
        run.stdout.contains(&format!("{user}: rotated")),
        "{}",
        run.stdout
    );
}
