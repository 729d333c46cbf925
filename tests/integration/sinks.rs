//! One rotation writing several kinds of sink; each read back by its real reader.

use std::process::Command;

use crate::support::*;

/// What python-dotenv reads from `path`, as `NAME=value` lines.
fn python_dotenv(path: &std::path::Path) -> String {
    let out = Command::new(python())
        .args(["-c", "import sys, dotenv\nfor k, v in dotenv.dotenv_values(sys.argv[1]).items(): print(f'{k}={v}')"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn credentials_file_and_dotenv_sinks_get_the_same_new_key() {
    let home = Home::new();
    let user = unique("multi");
    let key = moto().create_user(&user);
    home.write_credentials(&section(&user, &key));
    let env_before = format!(
        "# app\r\nexport DEBUG=1\r\nexport AWS_ACCESS_KEY_ID=\"{}\"\r\nDATABASE_URL='postgres://u:p@h/db' # local\r\n",
        key.id
    );
    home.write("project/.env", &env_before);
    home.write(
        "project/rekey.yaml",
        &format!(
            "version: 1\nprofiles:\n  {user}:\n    sinks:\n      - type: credentials_file\n\
             \x20     - type: dotenv\n        path: .env\n"
        ),
    );
    // The .env lacks the secret: it is reported as drift-free but incomplete.
    home.rekey(&["plan"])
        .code(1)
        .stdout_has("has AWS_ACCESS_KEY_ID but no AWS_SECRET_ACCESS_KEY");

    home.write(
        "project/.env",
        &format!(
            "{env_before}export AWS_SECRET_ACCESS_KEY='{}'\r\n",
            key.secret
        ),
    );
    home.rekey(&["plan"])
        .success()
        .stdout_has("AWS_SECRET_ACCESS_KEY): in sync");
    home.rekey(&["apply", "--yes"])
        .success()
        .stdout_has("Done: 1 rotated");

    let new_key = key_in(&home.credentials(), &user).unwrap();
    let env_after = home.read("project/.env");
    assert_eq!(
        env_after,
        format!(
            "# app\r\nexport DEBUG=1\r\nexport AWS_ACCESS_KEY_ID=\"{}\"\r\nDATABASE_URL='postgres://u:p@h/db' # local\r\nexport AWS_SECRET_ACCESS_KEY='{}'\r\n",
            new_key.id, new_key.secret
        )
    );
    let read = python_dotenv(&home.path("project/.env"));
    assert!(
        read.contains(&format!("AWS_ACCESS_KEY_ID={}\n", new_key.id)),
        "{read}"
    );
    assert!(
        read.contains(&format!("AWS_SECRET_ACCESS_KEY={}\n", new_key.secret)),
        "{read}"
    );
    assert!(
        read.contains("DATABASE_URL=postgres://u:p@h/db\n"),
        "{read}"
    );
}
