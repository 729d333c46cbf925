//! The layer rule of ARCHITECTURE.md, checked (issue 20, point 5): each top-level module
//! of `src/` imports only the layers below it. The sinks crate below them all cannot
//! import this crate at all (cargo forbids the cycle), and `time` is a utility any
//! layer may use.

use std::collections::BTreeSet;
use std::path::Path;

/// Top to bottom, as ARCHITECTURE.md and src/lib.rs state it.
const LAYERS: [&str; 8] = [
    "cli", "commands", "notify", "report", "engine", "state", "config", "aws",
];

/// Every `crate::X` a layer's code (not its comments) names, as (layer, X).
fn edges(src: &Path) -> BTreeSet<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    let mut edges = BTreeSet::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let name: String = line[at + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if name != top {
                    edges.insert((top.clone(), name));
                }
            }
        }
    }
    edges
}

#[test]
fn every_layer_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rank = |name: &str| LAYERS.iter().position(|l| *l == name);
    let upward: Vec<String> = edges(&src)
        .into_iter()
        .filter_map(|(from, to)| match (rank(&from), rank(&to)) {
            (Some(a), Some(b)) if b < a => Some(format!("{from} -> {to}")),
            _ => None,
        })
        .collect();
    assert!(
        upward.is_empty(),
        "imports against the layer rule (ARCHITECTURE.md): {upward:?}"
    );
    // Every top-level module is placed in the rule (or is the `time` utility).
    for entry in std::fs::read_dir(&src).unwrap().flatten() {
        let name = entry
            .file_name()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        assert!(
            rank(&name).is_some()
                || ["lib", "main", "time", "digest", "escape"].contains(&name.as_str()),
            "src/{name} is in no layer: add it to ARCHITECTURE.md's rule and to LAYERS"
        );
    }
}

#[test]
fn the_check_finds_an_upward_import() {
    // The rule's check on a made-up tree whose engine imports the CLI.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("engine")).unwrap();
    std::fs::write(
        dir.path().join("engine/mod.rs"),
        "// crate::cli in a comment is not an import\nuse crate::cli::Cli;\nuse crate::state::X;\n",
    )
    .unwrap();
    let found = edges(dir.path());
    assert!(
        found.contains(&("engine".into(), "cli".into())),
        "{found:?}"
    );
    assert!(found.contains(&("engine".into(), "state".into())));
    assert_eq!(found.len(), 2, "{found:?}");
}

#[test]
fn no_sink_imports_the_registry_that_lists_them() {
    // The registry lists every sink; a sink importing it back made a cycle of every
    // sink folder. The traits a sink implements live in `sink.rs`.
    let sinks = Path::new(env!("CARGO_MANIFEST_DIR")).join("sinks/src");
    let importers: Vec<String> = edges(&sinks)
        .into_iter()
        .filter(|(from, to)| to == "registry" && from != "lib")
        .map(|(from, _)| from)
        .collect();
    assert!(
        importers.is_empty(),
        "{importers:?} import sinks/src/registry.rs"
    );
}

/// Issue 30, point 6: every IAM call that creates, (de)activates or deletes a key takes
/// an `aws::Permit`, and only the lease module issues them (after confirming the user's
/// lease, or for an undo): a write path cannot skip the lease by convention.
#[test]
fn only_the_lease_issues_permits_to_change_keys() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut issuers = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
            if code
                .clone()
                .any(|l| l.contains("Permit::issue()") || l.contains("Permit(()"))
            {
                let relative = path.strip_prefix(&src).unwrap().display().to_string();
                issuers.push(relative);
            }
        }
    }
    issuers.sort();
    assert_eq!(
        issuers,
        ["aws/mod.rs", "engine/lease.rs"],
        "who makes permits"
    );
    let aws = std::fs::read_to_string(src.join("aws/mod.rs")).unwrap();
    let made_in_aws = aws.matches("Permit::issue()").count() + aws.matches("Self(())").count();
    assert_eq!(made_in_aws, 1, "aws/mod.rs only defines the constructor");
}
