//! Every document `--output json` prints passes its committed JSON Schema
//! (docs/schemas/, generated from the output types): the schemas describe what rekey
//! really prints, for every command, in success and in failure (`respond`'s in
//! respond.rs, behind the fault proxy it needs).

use std::path::Path;
use std::process::Command;

use crate::examples::tool;
use crate::support::*;

/// `run`'s stdout passes docs/schemas/`command`.schema.json.
#[track_caller]
pub fn passes(home: &Home, command: &str, run: &Run) {
    let document = home.path(&format!("{command}-{}.json", unique("out")));
    std::fs::write(&document, &run.stdout).unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schemas")
        .join(format!("{command}.schema.json"));
    let out = Command::new(tool("check-jsonschema"))
        .arg("--schemafile")
        .arg(&schema)
        .arg(&document)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`rekey {command} --output json` does not pass {}:\n{}{}\n{}",
        schema.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        run.stdout
    );
}

/// `args` and `--output json`.
fn with<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [args, &["--output", "json"]].concat()
}

#[test]
fn every_command_prints_what_its_schema_says() {
    let home = Home::new();
    let (user, _) = home.user_in_credentials_and_dotenv("schemas");

    passes(&home, "plan", &home.rekey(&with(&["plan"])).success());
    passes(
        &home,
        "apply",
        &home
            .rekey(&with(&["apply", "--yes", "--grace", "1h"]))
            .success(),
    );
    passes(&home, "status", &home.rekey(&with(&["status"])).success());
    passes(
        &home,
        "rollback",
        &home.rekey(&with(&["rollback", &user, "--yes"])).success(),
    );
    home.rekey(&["apply", "--yes", "--grace", "1h"]).success();
    passes(
        &home,
        "prune",
        &home.rekey(&with(&["prune", "--yes"])).success(),
    );
    let pruned = home.rekey_later(1, &with(&["prune", "--yes"])).success();
    assert!(pruned.stdout.contains("\"deleted\""), "{}", pruned.stdout);
    passes(&home, "prune", &pruned);
    passes(
        &home,
        "sync",
        &home.rekey(&with(&["sync", "--yes"])).success(),
    );
    passes(&home, "recover", &home.rekey(&with(&["recover"])).success());
    passes(&home, "find", &home.rekey(&with(&["find"])).success());

    // Failures print documents too: a profile that cannot be rotated, in plan and apply.
    home.write(
        "project/app.env",
        "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n",
    );
    home.write_credentials("");
    passes(&home, "plan", &home.rekey(&with(&["plan"])).code(1));
    passes(
        &home,
        "apply",
        &home.rekey(&with(&["apply", "--yes"])).code(1),
    );
    passes(&home, "status", &home.rekey(&with(&["status"])).code(1));
}
