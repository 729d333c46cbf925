//! The scheduled-run, leak-response and organization examples (examples/scheduled/,
//! examples/respond/, examples/org/)
//! are files people copy: the GitHub workflows pass GitHub's schema and zizmor's audits,
//! the CronJob parses and says what the README promises, the manifests in them are ones
//! rekey reads, the systemd units run `rekey sync`, and the EventBridge rule matches
//! AWS's leak event and carries it to `rekey respond`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/scheduled")
        .join(name)
}

/// A program the test setup installs beside moto (tests/requirements.txt).
pub(crate) fn tool(name: &str) -> PathBuf {
    let path = python().with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: run ./scripts/test (it installs tests/requirements.txt)",
        path.display()
    );
    path
}

/// Every YAML document of `path`, as JSON (read with PyYAML).
fn yaml_documents(path: &Path) -> Vec<serde_json::Value> {
    let script =
        "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))";
    serde_json::from_str(&run_python(script, &[path.as_os_str()], &[])).unwrap()
}

/// `rekey plan` reads `manifest` (its profiles then fail on this machine, which has none
/// of their AWS profiles: that is not what is checked), and it passes the manifest's
/// JSON Schema.
fn rekey_reads(manifest: &str, profile: &str) {
    let home = Home::new();
    home.write("project/rekey.yaml", manifest);
    passes_the_manifest_schema(&home.path("project/rekey.yaml"));
    let run = home.rekey(&["plan", "--output", "json"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|_| panic!("rekey could not read the manifest: {}", run.stderr));
    assert_eq!(json["profiles"][0]["profile"], profile, "{json}");
}

/// The outcome of checking `manifest` against docs/rekey.schema.json (check-jsonschema
/// reads YAML itself).
fn manifest_schema_check(manifest: &Path) -> std::process::Output {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rekey.schema.json");
    Command::new(tool("check-jsonschema"))
        .arg("--schemafile")
        .arg(schema)
        .arg(manifest)
        .output()
        .unwrap()
}

#[track_caller]
fn passes_the_manifest_schema(manifest: &Path) {
    let out = manifest_schema_check(manifest);
    assert!(
        out.status.success(),
        "{} does not pass docs/rekey.schema.json:\n{}{}",
        manifest.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 20: every manifest the project ships or documents passes the schema editors
/// check it with, and rekey reads it; what rekey refuses, the schema refuses too.
#[test]
fn the_shipped_and_documented_manifests_pass_the_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    passes_the_manifest_schema(&root.join("examples/rekey.yaml"));
    // The reference's full example: the first whole manifest of docs/manifest.md.
    let reference = std::fs::read_to_string(root.join("docs/manifest.md")).unwrap();
    let block = reference
        .split("```yaml\n")
        .filter_map(|b| b.split("```").next())
        .find(|b| b.starts_with("version: 1"))
        .unwrap();
    rekey_reads(block, "dev");

    // `rekey init` names the schema for editors, and what it writes passes it.
    let home = Home::new();
    let (user, _) = home.user_in_credentials("schema");
    home.rekey(&["init"]).success();
    let written = home.read("project/rekey.yaml");
    assert!(
        written.starts_with("# yaml-language-server: $schema=https://"),
        "{written}"
    );
    assert!(written.contains(&user), "{written}");
    passes_the_manifest_schema(&home.path("project/rekey.yaml"));

    for (bad, why) in [
        (
            "version: 1\nprofiles:\n  a: { mfa_command: [] }\n",
            "an empty command",
        ),
        ("version: 1\nprofiles:\n  a: { sinks: [] }\n", "no sink"),
        (
            "version: 1\nprofiles:\n  a: { grcae: 7d }\n",
            "an unknown field",
        ),
        (
            "version: 1\nprofiles:\n  a: { grace: 7 days }\n",
            "a bad duration",
        ),
        (
            "version: 1\nprofiles:\n  a:\n    sinks: [{ type: vault }]\n",
            "an unknown sink",
        ),
        ("version: 2\nprofiles: {}\n", "another version"),
    ] {
        home.write("bad.yaml", bad);
        assert!(
            !manifest_schema_check(&home.path("bad.yaml"))
                .status
                .success(),
            "the schema accepts {why}"
        );
        home.rekey(&[
            "plan",
            "--manifest",
            &home.path("bad.yaml").display().to_string(),
        ])
        .code(1);
    }
}

/// `workflow` passes GitHub's workflow schema and zizmor's offline audits.
pub(crate) fn passes_the_workflow_checks(workflow: &Path) {
    for (program, args) in [
        (
            "check-jsonschema",
            vec!["--builtin-schema", "vendor.github-workflows"],
        ),
        ("zizmor", vec!["--offline", "--no-progress"]),
    ] {
        let out = Command::new(tool(program))
            .args(args)
            .arg(workflow)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} {}:\n{}{}",
            workflow.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_github_workflow_passes_the_schema_and_the_audits() {
    let workflow = example("github-actions.yml");
    passes_the_workflow_checks(&workflow);
    let doc = &yaml_documents(&workflow)[0];
    // PyYAML reads YAML 1.1, where a bare `on` key is the boolean true.
    let on = doc.get("on").or_else(|| doc.get("true")).unwrap();
    assert!(on["schedule"][0]["cron"].is_string(), "{doc}");
    assert_eq!(doc["concurrency"]["cancel-in-progress"], false, "{doc}");
    assert_eq!(doc["permissions"]["id-token"], "write", "OIDC");
    let steps = doc["jobs"]["rotate"]["steps"].as_array().unwrap();
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(
        runs.iter()
            .any(|r| r.contains("rekey apply --yes --output json")),
        "{runs:?}"
    );
    assert!(runs.iter().any(|r| r.contains("web_identity_token_file")));
    let manifest = std::fs::read_to_string(example("github-actions-rekey.yaml")).unwrap();
    assert!(manifest.contains("\nstate: s3://"), "{manifest}");
    rekey_reads(&manifest, "deploy");
    // The job trusts exactly this manifest's content.
    let pin = steps
        .iter()
        .find_map(|s| s["env"]["REKEY_MANIFEST_SHA256"].as_str())
        .expect("the apply step pins the manifest");
    assert_eq!(pin, sha256_hex(manifest.as_bytes()));
    // Every runner authenticates the shared journals with one fleet key, a secret.
    let fleet = steps
        .iter()
        .find_map(|s| s["env"]["REKEY_FLEET_KEY"].as_str())
        .expect("the apply step has the fleet key");
    assert!(fleet.contains("secrets."), "{fleet}");
}

#[test]
fn the_kubernetes_cronjob_runs_one_at_a_time_with_shared_state_and_a_lasting_state_dir() {
    let docs = yaml_documents(&example("kubernetes-cronjob.yaml"));
    let config = docs.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
    let cron = docs.iter().find(|d| d["kind"] == "CronJob").unwrap();
    assert_eq!(cron["apiVersion"], "batch/v1");
    assert_eq!(cron["spec"]["concurrencyPolicy"], "Forbid");
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let args: Vec<&str> = pod["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        &args[..6],
        ["apply", "--yes", "--output", "json", "--splay", "5m"]
    );
    let volume = pod["volumes"].as_array().unwrap();
    assert!(volume.iter().any(|v| v["configMap"]["name"] == "rekey"));
    // A pod killed mid-rotation leaves its journal where the next pod finds it.
    assert!(volume
        .iter()
        .any(|v| v["name"] == "state" && v["persistentVolumeClaim"]["claimName"] == "rekey-state"));
    assert!(docs.iter().any(|d| d["kind"] == "PersistentVolumeClaim"));
    let manifest = config["data"]["rekey.yaml"].as_str().unwrap();
    assert!(manifest.contains("state: s3://"), "{manifest}");
    rekey_reads(manifest, "payments");
    // The job trusts exactly the ConfigMap's manifest.
    let env = pod["containers"][0]["env"].as_array().unwrap();
    let pin = env
        .iter()
        .find(|e| e["name"] == "REKEY_MANIFEST_SHA256")
        .expect("the job pins the manifest");
    assert_eq!(pin["value"], sha256_hex(manifest.as_bytes()).as_str());
    let fleet = env
        .iter()
        .find(|e| e["name"] == "REKEY_FLEET_KEY")
        .expect("the job has the fleet key");
    assert!(
        fleet["valueFrom"]["secretKeyRef"].is_object(),
        "from a Secret"
    );
}

#[test]
fn the_systemd_timer_runs_rekey_sync() {
    let service = std::fs::read_to_string(example("rekey-sync.service")).unwrap();
    let timer = std::fs::read_to_string(example("rekey-sync.timer")).unwrap();
    let line = |text: &str, key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned))
            .unwrap_or_else(|| panic!("no {key}= in\n{text}"))
    };
    let exec = line(&service, "ExecStart");
    assert!(
        exec.contains(" sync --yes --splay 15m --manifest "),
        "{exec}"
    );
    assert!(
        service.contains("REKEY_STATE_DIR=/var/lib/rekey rekey trust /etc/rekey/rekey.yaml"),
        "the install steps trust the manifest, in the service's state dir"
    );
    assert_eq!(line(&service, "Type"), "oneshot");
    assert_eq!(line(&timer, "Persistent"), "true");
    assert_eq!(line(&timer, "WantedBy"), "timers.target");
}

/// Issue 17, defect 14: the README's unattended-MFA advice put the TOTP seed in
/// `mfa_command`'s arguments, which every user of the machine can read
/// (`/proc/PID/cmdline`), in a manifest that is usually committed.
#[test]
fn no_documented_mfa_command_takes_a_seed_in_its_arguments() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut documents = vec![root.join("README.md"), root.join("examples/rekey.yaml")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap().flatten() {
        // Text documents (not the audit report's screenshot).
        let image = entry.path().extension().is_some_and(|e| e == "png");
        if entry.path().is_file() && !image {
            documents.push(entry.path());
        }
    }
    for entry in std::fs::read_dir(root.join("examples/scheduled")).unwrap() {
        documents.push(entry.unwrap().path());
    }
    for path in documents {
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| l.contains("mfa_command")) {
            // oathtool's key argument follows -b/--base32 or comes last; only `-`
            // (stdin) holds no secret.
            let words: Vec<&str> = line
                .split(|c: char| c == ',' || c == '[' || c == ']' || c.is_whitespace())
                .filter(|w| !w.is_empty())
                .collect();
            if let Some(at) = words.iter().position(|w| *w == "-b" || *w == "--base32") {
                assert_eq!(
                    words.get(at + 1).copied(),
                    Some("-"),
                    "{}: a seed in argv: {line}",
                    path.display()
                );
            }
        }
    }
}

fn respond_example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/respond")
        .join(name)
}

/// Whether EventBridge's `pattern` (arrays of allowed values, objects nested) matches
/// `event`.
fn pattern_matches(pattern: &serde_json::Value, event: &serde_json::Value) -> bool {
    let Some(fields) = pattern.as_object() else {
        return false;
    };
    fields.iter().all(|(key, allowed)| match allowed {
        serde_json::Value::Array(values) => values.contains(&event[key]),
        serde_json::Value::Object(_) => pattern_matches(allowed, &event[key]),
        _ => false,
    })
}

#[test]
fn the_leak_response_examples_carry_aws_s_alert_to_rekey_respond() {
    let workflow = respond_example("github-actions.yml");
    passes_the_workflow_checks(&workflow);
    let doc = &yaml_documents(&workflow)[0];
    let on = doc.get("on").or_else(|| doc.get("true")).unwrap();
    let types = on["repository_dispatch"]["types"].as_array().unwrap();
    let scheduled = &yaml_documents(&example("github-actions.yml"))[0];
    assert_eq!(
        doc["concurrency"], scheduled["concurrency"],
        "one group with the scheduled rotation"
    );
    let steps = doc["jobs"]["respond"]["steps"].as_array().unwrap();
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(
        runs.iter().any(|r| r.contains("rekey respond --event")
            && r.contains("--via ci --deactivate-unknown --output json")),
        "{runs:?}"
    );

    // The rule matches AWS's event, and no other Health event.
    let read = |path: PathBuf| std::fs::read_to_string(path).unwrap();
    let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
    let pattern = json(&read(respond_example("eventbridge-rule.json")));
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events");
    let event_text = read(fixtures.join("aws-health-credentials-exposed.json"));
    let event = json(&event_text);
    assert!(pattern_matches(&pattern, &event));
    let mut other = event.clone();
    other["detail"]["eventTypeCode"] = "AWS_EC2_OPERATIONAL_ISSUE".into();
    assert!(!pattern_matches(&pattern, &other));

    // The target posts a repository_dispatch this workflow takes, whose client_payload
    // is the event (what the workflow hands rekey).
    let target = json(&read(respond_example("eventbridge-target.json")));
    let template = target["InputTransformer"]["InputTemplate"]
        .as_str()
        .unwrap();
    let body = json(&template.replace("<aws.events.event>", &event_text));
    assert!(types.contains(&body["event_type"]), "{body}");
    assert_eq!(body["client_payload"], event);

    // rekey reads it, as the workflow writes it and as the whole dispatch body: a key no
    // profile holds here, so it is named and nothing is done.
    let home = Home::new();
    home.user_in_credentials("bystander");
    for alert in [body["client_payload"].to_string(), body.to_string()] {
        home.run(&["respond", "--event", "-"])
            .fed(&alert, "the rekey binary")
            .code(1)
            .stdout_has("AKIAIOSFODNN7EXAMPLE: held by no profile");
    }
}

#[test]
fn the_organization_workflow_audits_then_rotates_each_account_and_notifies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/org");
    let workflow = root.join("github-actions.yml");
    passes_the_workflow_checks(&workflow);
    let doc = &yaml_documents(&workflow)[0];
    for job in ["audit", "rotate"] {
        assert_eq!(doc["jobs"][job]["permissions"]["id-token"], "write", "OIDC");
    }
    let runs = |job: &str| -> Vec<String> {
        doc["jobs"][job]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["run"].as_str().map(str::to_owned))
            .collect()
    };
    let audit = runs("audit").join("\n");
    assert!(
        audit.contains("rekey audit --via org --org --role OrganizationAccountAccessRole"),
        "{audit}"
    );
    // The webhook URL is a credential: in the environment, never in a command line.
    let env_of = |job: &str, name: &str| -> Vec<String> {
        doc["jobs"][job]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["env"][name].as_str().map(str::to_owned))
            .collect()
    };
    assert!(!audit.contains("--notify"), "{audit}");
    assert_eq!(
        env_of("audit", "REKEY_NOTIFY_URL"),
        ["${{ secrets.REKEY_WEBHOOK }}"]
    );
    let rotate = &doc["jobs"]["rotate"];
    assert_eq!(rotate["needs"], "audit");
    let accounts = rotate["strategy"]["matrix"]["account"].as_array().unwrap();
    assert!(accounts.len() >= 2 && accounts.iter().all(|a| a["role"].is_string()));
    let apply = runs("rotate").join("\n");
    assert!(apply.contains("rekey apply --yes --manifest"), "{apply}");
    assert!(!apply.contains("--notify"), "{apply}");
    assert_eq!(
        env_of("rotate", "REKEY_NOTIFY_URL"),
        ["${{ secrets.REKEY_WEBHOOK }}"]
    );
    // Each account's manifest is trusted by its content, pinned where a pull request
    // cannot change it (a repository variable), never by its path.
    let pins = env_of("rotate", "REKEY_MANIFEST_SHA256");
    assert!(
        pins.len() == 1 && pins[0].contains("vars[") && pins[0].contains("matrix.account.name"),
        "{pins:?}"
    );
    assert_eq!(
        env_of("rotate", "REKEY_FLEET_KEY"),
        ["${{ secrets.REKEY_FLEET_KEY }}"]
    );
    // rekey takes what the workflow passes: the audit's options, and the manifest.
    let home = Home::new();
    home.rekey(&["audit", "--help"])
        .success()
        .stdout_has("--org")
        .stdout_has("--notify <URL>");
    let manifest = std::fs::read_to_string(root.join("rekey.yaml")).unwrap();
    assert!(manifest.contains("\nstate: s3://"), "{manifest}");
    rekey_reads(&manifest, "deploy");
}
