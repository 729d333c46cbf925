//! Notifications: a run's events POSTed to a webhook (a real local HTTP server) and
//! given to a command; a failing or hanging webhook retried, bounded, and reported as a
//! warning, never a failure; no payload holds a secret.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use crate::support::*;

/// How the server answers a request.
#[derive(Clone, Copy)]
enum Answer {
    Status(u16),
    /// Read the request, never answer.
    Hang,
}

/// A local HTTP server that records each request's path and body.
struct Hook {
    url: String,
    received: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
}

impl Hook {
    /// Answers `script` in order, then 200.
    fn start(script: &[Answer]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/services/T000/B000/not-shown-token",
            listener.local_addr().unwrap()
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let (log, answers) = (received.clone(), script.clone());
        std::thread::spawn(move || {
            let mut hanging = Vec::new();
            for stream in listener.incoming().flatten() {
                let Some((path, body)) = read_request(&stream) else {
                    continue;
                };
                log.lock().unwrap().push((path, body));
                let answer = answers.lock().unwrap().pop_front();
                match answer.unwrap_or(Answer::Status(200)) {
                    Answer::Hang => hanging.push(stream),
                    Answer::Status(code) => {
                        let mut stream = stream;
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {code} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                        );
                    }
                }
            }
        });
        Self { url, received }
    }

    fn bodies(&self) -> Vec<serde_json::Value> {
        let received = self.received.lock().unwrap();
        received.iter().map(|(_, body)| body.clone()).collect()
    }

    fn requests(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

fn read_request(stream: &TcpStream) -> Option<(String, serde_json::Value)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split(' ').nth(1)?.to_owned();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((path, serde_json::from_slice(&body).ok()?))
}

/// A manifest rotating `user` (in the credentials file) that notifies `targets`.
fn notifying(home: &Home, user: &str, targets: &str) {
    home.manifest(
        &Manifest::new()
            .top(&format!("notify:\n{targets}"))
            .profile(Profile::new(user)),
    );
}

#[test]
fn a_rotation_is_posted_to_the_webhook_without_a_secret() {
    let hook = Hook::start(&[]);
    let home = Home::new();
    let (user, old) = home.user_in_credentials("notified");
    notifying(&home, &user, &format!("  - webhook: {}\n", hook.url));
    let run = home.rekey(&["apply", "--yes", "--grace", "1h"]).success();
    assert!(!run.stderr.contains("could not notify"), "{}", run.stderr);
    let new = key_in(&home.credentials(), &user).unwrap();
    let bodies = hook.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let body = &bodies[0];
    let text = body["text"].as_str().unwrap();
    assert!(text.contains(&format!("rotated profile {user}")), "{text}");
    let event = &body["rekey"];
    assert_eq!(event["event"], "rotated");
    assert_eq!(event["command"], "apply");
    assert_eq!(event["profile"], user.as_str());
    assert_eq!(event["key_id"], old.id.as_str());
    assert_eq!(event["new_key_id"], new.id.as_str());
    let payload = body.to_string();
    assert!(!payload.contains(&old.secret) && !payload.contains(&new.secret));
}

#[test]
fn a_failing_webhook_is_retried_then_a_warning_and_the_run_succeeds() {
    // Two 500s, then delivered.
    let flaky = Hook::start(&[Answer::Status(500), Answer::Status(503)]);
    let home = Home::new();
    let (user, _) = home.user_in_credentials("flaky");
    notifying(&home, &user, &format!("  - webhook: {}\n", flaky.url));
    let run = home.rekey(&["apply", "--yes", "--grace", "1h"]).success();
    assert_eq!(flaky.requests(), 3);
    assert!(!run.stderr.contains("could not notify"), "{}", run.stderr);

    // Always 500: three attempts, a warning that hides the URL's path, exit 0.
    let broken = Hook::start(&[Answer::Status(500); 3]);
    notifying(&home, &user, &format!("  - webhook: {}\n", broken.url));
    let run = home
        .rekey(&["apply", "--yes", "--now", "--make-room"])
        .success();
    assert_eq!(broken.requests(), 3);
    let warning = run
        .stderr
        .lines()
        .find(|l| l.contains("could not notify"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(warning.starts_with("warning: "), "{warning}");
    assert!(
        warning.contains("answered 500") && warning.contains("3 attempts"),
        "{warning}"
    );
    assert!(!warning.contains("not-shown-token"), "{warning}");
}

/// A server that never answers: each attempt ends at its timeout, the run still ends
/// (the notification's deadline bounds it), with a warning.
#[test]
fn a_hanging_webhook_is_bounded() {
    let hanging = Hook::start(&[Answer::Hang; 3]);
    let home = Home::new();
    let (user, _) = home.user_in_credentials("hanging");
    home.manifest(
        &Manifest::new()
            .defaults("max_age: 1d")
            .profile(Profile::new(&user)),
    );
    let run = home
        .rekey_later(48, &["status", "--notify", &hanging.url])
        .success()
        .stderr_has("could not notify");
    assert!(run.stderr.contains("no answer within"), "{}", run.stderr);
    assert_eq!(hanging.requests(), 3);
}

#[test]
fn a_command_gets_the_event_on_stdin_and_status_tells_a_key_past_its_age() {
    let home = Home::new();
    let (user, key) = home.user_in_credentials("told");
    let out = home.path("events.jsonl");
    home.manifest(
        &Manifest::new()
            .top(&format!(
                "notify:\n  - command: [sh, -c, 'cat >> {}; echo >> {}']\n",
                out.display(),
                out.display()
            ))
            .defaults("max_age: 1d")
            .profile(Profile::new(&user)),
    );
    home.rekey(&["status"]).success();
    assert!(!out.exists(), "nothing to tell while the key is young");
    home.rekey_later(48, &["status"]).success();
    let text = std::fs::read_to_string(&out).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{text}");
    assert_eq!(events[0]["event"], "past_max_age");
    assert_eq!(events[0]["command"], "status");
    assert_eq!(events[0]["key_id"], key.id.as_str());
    assert!(!text.contains(&key.secret));
}

/// `--notify URL` for a run without a manifest (default mode), and audit's findings.
#[test]
fn notify_on_the_command_line_and_audit_findings() {
    let hook = Hook::start(&[]);
    let home = Home::new();
    let (user, key) = home.user_in_credentials("audited");
    let second = moto().create_key(&user);
    home.rekey(&["audit", "--via", &user, "--notify", &hook.url, "-o", "json"])
        .success();
    let bodies = hook.bodies();
    let findings = bodies
        .iter()
        .find(|b| b["rekey"]["event"] == "audit_findings")
        .unwrap_or_else(|| panic!("{bodies:?}"));
    let text = findings["text"].as_str().unwrap();
    assert!(text.contains("keys to act on"), "{text}");
    let payload = serde_json::to_string(&bodies).unwrap();
    assert!(!payload.contains(&key.secret) && !payload.contains(&second.secret));

    // A bad URL is refused before anything runs.
    home.rekey(&["apply", "--yes", "--notify", "ftp://example.com/x"])
        .code(2)
        .stderr_has("not an http:// or https:// URL");
}

/// The kinds of event the other commands send: a kept key (prune), an overdue deletion
/// (status), a leak response with the key an attacker made (apply --compromised).
#[test]
fn prune_status_and_a_leak_response_tell_their_events() {
    let hook = Hook::start(&[]);
    let home = Home::new();
    let (user, old) = home.user_in_credentials("events");
    home.rekey(&["apply", "--yes", "--grace", "1h"]).success();
    let kinds = |hook: &Hook| -> Vec<(String, String)> {
        hook.bodies()
            .iter()
            .map(|b| {
                (
                    b["rekey"]["event"].as_str().unwrap().to_owned(),
                    b["rekey"]["key_id"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    home.rekey_later(2, &["status", "--notify", &hook.url])
        .success();
    assert_eq!(kinds(&hook), [("overdue".to_owned(), old.id.clone())]);
    moto().set_active(&user, &old.id, true);
    home.rekey_later(2, &["prune", "--yes", "--notify", &hook.url])
        .success();
    assert_eq!(kinds(&hook)[1], ("kept_in_use".to_owned(), old.id.clone()));

    let proxy = crate::proxy::FaultProxy::start();
    proxy.set(|f| {
        f.revocation_lag = std::time::Duration::from_secs(1);
        f.attacker = true;
    });
    let leak = Hook::start(&[]);
    let home = Home::new().via(&proxy.endpoint);
    let (_, leaked) = home.user_in_credentials("leaked");
    home.rekey(&[
        "apply",
        "--yes",
        "--compromised",
        "--quarantine",
        "--notify",
        &leak.url,
    ])
    .success();
    let made = proxy.attacker_keys();
    let told = kinds(&leak);
    assert_eq!(
        told,
        [
            ("rotated".to_owned(), leaked.id.clone()),
            ("compromised".to_owned(), leaked.id.clone()),
            ("unknown_key".to_owned(), made[0].clone()),
        ]
    );
    let texts: Vec<String> = leak
        .bodies()
        .iter()
        .map(|b| b["text"].as_str().unwrap().to_owned())
        .collect();
    assert!(texts[1].contains("refused by AWS after"), "{texts:?}");
    assert!(
        texts[2].contains("deactivated (kept as evidence)"),
        "{texts:?}"
    );
}

/// Events of one kind in one run are one notification: a chat's webhook takes about one
/// message a second.
#[test]
fn rotations_of_one_run_are_one_message() {
    let hook = Hook::start(&[]);
    let home = Home::new();
    let users = home.users_in_credentials(&["many-a", "many-b", "many-c"]);
    home.rekey(&["apply", "--yes", "--grace", "1h", "--notify", &hook.url])
        .success();
    let bodies = hook.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let event = &bodies[0]["rekey"];
    assert_eq!(event["event"], "rotated");
    let each = event["events"].as_array().unwrap();
    assert_eq!(each.len(), 3, "{event}");
    let text = bodies[0]["text"].as_str().unwrap();
    for (user, old) in &users {
        assert!(
            text.contains(&format!("rotated profile {user}: {}", old.id)),
            "{text}"
        );
        assert!(
            each.iter().any(|e| e["key_id"] == old.id.as_str()),
            "{event}"
        );
    }
}

/// Issue 29, point 7: a webhook URL is a credential. It reaches rekey from the
/// environment or a file, never the command line every local user can read, and a
/// warning shows its host alone, never its userinfo, path or query.
#[test]
fn the_webhook_url_comes_from_the_environment_or_a_file_and_is_never_shown() {
    let hook = Hook::start(&[]);
    let home = Home::new();
    let (user, _) = home.user_in_credentials("fromenv");
    home.manifest(
        &Manifest::new()
            .defaults("max_age: 1d")
            .profile(Profile::new(&user)),
    );
    let offset = (48 * 3600).to_string();
    home.run(&["status"])
        .envs(&[
            ("REKEY_NOTIFY_URL", &hook.url),
            ("REKEY_TEST_CLOCK_OFFSET", &offset),
        ])
        .output()
        .success();
    assert_eq!(hook.requests(), 1, "from REKEY_NOTIFY_URL");
    home.write("hook-url", &format!("{}\n", hook.url));
    let file = home.path("hook-url");
    home.rekey_later(48, &["status", "--notify-url-file", file.to_str().unwrap()])
        .success();
    assert_eq!(hook.requests(), 2, "from --notify-url-file");

    // A failing one with a password in it: the warning names the host alone.
    let broken = Hook::start(&[Answer::Status(500); 3]);
    let secret_url =
        broken.url.replace("http://", "http://someone:hunter2@") + "?token=also-secret";
    home.write("broken-url", &secret_url);
    let file = home.path("broken-url");
    let run = home
        .rekey_later(48, &["status", "--notify-url-file", file.to_str().unwrap()])
        .success()
        .stderr_has("could not notify webhook 127.0.0.1:");
    for hidden in ["hunter2", "someone", "not-shown-token", "also-secret"] {
        assert!(!run.stderr.contains(hidden), "{}", run.stderr);
    }
}

/// Issue 34, point 6: `find` tells a current key's copy no sink writes (`found`).
#[test]
fn find_tells_a_current_keys_uncovered_copy() {
    let hook = Hook::start(&[]);
    let home = Home::new();
    let (_, key) = home.user_in_credentials("found");
    home.write("code/.env", &env_text(&key));
    let code = home.path("code");
    home.rekey(&["find", "--notify", &hook.url, code.to_str().unwrap()])
        .success();
    let bodies = hook.bodies();
    let found = bodies
        .iter()
        .find(|b| b["rekey"]["event"] == "found")
        .unwrap_or_else(|| panic!("{bodies:?}"));
    let text = found["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("{} (current) has copies no sink writes", key.id)),
        "{text}"
    );
    assert!(!serde_json::to_string(&bodies)
        .unwrap()
        .contains(&key.secret));
}
