//! The layer rule of ARCHITECTURE.md, checked (issue 20, point 5; made exact in issue
//! 32): each top-level module of `src/` imports only what the table below allows, and
//! the AWS SDK is named only in the AWS layer. Each file is parsed as Rust (`syn`), so
//! every form of import is seen: `use` groups and renames, `super::` and `self::`,
//! paths in code, in types and inside macros; comments and strings are not imports.
//! The sinks crate below them all cannot import this crate at all (cargo forbids the
//! cycle).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// What each top-level module of `src/` may import (besides itself and the utilities).
/// Top to bottom: cli, commands, notify, report, engine, then state, config and aws,
/// which import nothing of rekey's and not each other.
const ALLOWED: &[(&str, &[&str])] = &[
    (
        "cli",
        &[
            "commands", "notify", "report", "engine", "state", "config", "aws",
        ],
    ),
    (
        "commands",
        &["notify", "report", "engine", "state", "config", "aws"],
    ),
    ("notify", &["report", "engine", "state", "config", "aws"]),
    ("report", &["engine", "state", "config", "aws"]),
    ("engine", &["state", "config", "aws"]),
    ("state", &[]),
    ("config", &[]),
    ("aws", &[]),
];

/// Modules any layer may use, which themselves import no layer.
const UTILITIES: &[&str] = &["time", "digest", "escape"];

/// The crate roots, which declare the modules (and the binary's entry point).
const ROOTS: &[&str] = &["lib", "main"];

/// The AWS SDK's crates: named only in the AWS layer.
fn is_sdk_crate(name: &str) -> bool {
    name.starts_with("aws_sdk_")
        || name.starts_with("aws_smithy_")
        || [
            "aws_config",
            "aws_types",
            "aws_credential_types",
            "aws_runtime",
        ]
        .contains(&name)
}

/// What the files under one source folder import.
#[derive(Debug, Default)]
struct Imports {
    /// (importing top-level module, imported top-level module), once each.
    edges: BTreeSet<(String, String)>,
    /// (file, SDK crate) for every path that starts with an SDK crate's name.
    sdk: BTreeSet<(String, String)>,
}

/// Every `.rs` file under `dir`.
pub(crate) fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The module a file is: `engine/rotation/mod.rs` is `[engine, rotation]`,
/// `engine/lease.rs` is `[engine, lease]`, `lib.rs` is `[]`.
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|l| l == "mod" || ROOTS.contains(&l.as_str()))
    {
        parts.pop();
    }
    parts
}

fn imports(src: &Path) -> Imports {
    let mut found = Imports::default();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).unwrap().to_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let syntax = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{}: not Rust the check can read: {e}", file.display()));
        let module = module_of(&relative);
        let mut visitor = Visitor {
            file: relative.display().to_string(),
            top: module.first().cloned().unwrap_or_else(|| {
                relative
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_owned()
            }),
            module,
            found: &mut found,
        };
        visitor.visit_file(&syntax);
    }
    found
}

struct Visitor<'a> {
    file: String,
    /// The top-level module this file belongs to (`lib`/`main` for the roots).
    top: String,
    /// The module the visitor is in (inline `mod x { }` blocks included).
    module: Vec<String>,
    found: &'a mut Imports,
}

impl Visitor<'_> {
    /// Records a path as written: `crate::a::b`, `super::super::a`, `self::a`, or an
    /// external crate's.
    fn path(&mut self, segments: &[String]) {
        let Some(first) = segments.first() else {
            return;
        };
        let target = match first.as_str() {
            "crate" => segments.get(1).cloned(),
            "super" | "self" => {
                let mut module = self.module.clone();
                let mut rest = segments;
                while let Some(step) = rest.first() {
                    match step.as_str() {
                        "super" => {
                            module.pop();
                        }
                        "self" => {}
                        _ => break,
                    }
                    rest = &rest[1..];
                }
                module.first().cloned().or_else(|| rest.first().cloned())
            }
            name if is_sdk_crate(name) => {
                self.found.sdk.insert((self.file.clone(), name.to_owned()));
                None
            }
            _ => None,
        };
        if let Some(target) = target {
            if target != self.top {
                self.found.edges.insert((self.top.clone(), target));
            }
        }
    }

    /// Paths inside a macro's tokens (`format!("{}", crate::x::y)`), which syn leaves
    /// unparsed: every `crate`, `super` or SDK name followed by `::`.
    fn tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut at = 0;
        while at < trees.len() {
            match &trees[at] {
                TokenTree::Group(group) => self.tokens(group.stream()),
                TokenTree::Ident(ident) => {
                    let mut segments = vec![ident.to_string()];
                    let mut next = at + 1;
                    while let (
                        Some(TokenTree::Punct(a)),
                        Some(TokenTree::Punct(b)),
                        Some(TokenTree::Ident(name)),
                    ) = (trees.get(next), trees.get(next + 1), trees.get(next + 2))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        segments.push(name.to_string());
                        next += 3;
                    }
                    if segments.len() > 1 {
                        self.path(&segments);
                        at = next;
                        continue;
                    }
                }
                _ => {}
            }
            at += 1;
        }
    }
}

/// Every full path a `use` tree names: `a::{b, c::d}` is `a::b` and `a::c::d`.
fn flatten(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match tree {
        syn::UseTree::Path(path) => {
            prefix.push(path.ident.to_string());
            flatten(&path.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(name) => {
            out.push([prefix.clone(), vec![name.ident.to_string()]].concat())
        }
        syn::UseTree::Rename(rename) => {
            out.push([prefix.clone(), vec![rename.ident.to_string()]].concat())
        }
        syn::UseTree::Glob(_) => out.push(prefix.clone()),
        syn::UseTree::Group(group) => {
            for item in &group.items {
                flatten(item, prefix, out);
            }
        }
    }
}

impl<'ast> Visit<'ast> for Visitor<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut paths = Vec::new();
        flatten(&item.tree, &mut Vec::new(), &mut paths);
        for path in paths {
            self.path(&path);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.path(&segments);
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.module.push(item.ident.to_string());
        syn::visit::visit_item_mod(self, item);
        self.module.pop();
    }
}

/// The edges of `found` that the table does not allow.
fn against_the_rule(found: &Imports) -> Vec<String> {
    found
        .edges
        .iter()
        .filter(|(from, to)| {
            let allowed = ROOTS.contains(&from.as_str())
                || UTILITIES.contains(&to.as_str())
                || ALLOWED
                    .iter()
                    .any(|(layer, may)| layer == from && may.contains(&to.as_str()));
            !allowed
        })
        .map(|(from, to)| format!("{from} -> {to}"))
        .collect()
}

/// The SDK names of `found` outside the AWS layer (`aws_layer` says which files are in it).
fn sdk_outside(found: &Imports, aws_layer: impl Fn(&str) -> bool) -> Vec<String> {
    found
        .sdk
        .iter()
        .filter(|(file, _)| !aws_layer(file))
        .map(|(file, name)| format!("{file}: {name}"))
        .collect()
}

#[test]
fn every_layer_imports_only_what_the_rule_allows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = imports(&src);
    let wrong = against_the_rule(&found);
    assert!(
        wrong.is_empty(),
        "imports against the layer rule (ARCHITECTURE.md): {wrong:?}"
    );
    // Every top-level module is placed in the rule.
    for entry in std::fs::read_dir(&src).unwrap().flatten() {
        let name = entry
            .file_name()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        assert!(
            ALLOWED.iter().any(|(layer, _)| *layer == name)
                || UTILITIES.contains(&name.as_str())
                || ROOTS.contains(&name.as_str()),
            "src/{name} is in no layer: add it to ARCHITECTURE.md's rule and to ALLOWED"
        );
    }
}

#[test]
fn the_aws_sdk_is_named_only_in_the_aws_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let outside = sdk_outside(&imports(&root.join("src")), |file| file.starts_with("aws/"));
    assert!(
        outside.is_empty(),
        "the AWS SDK outside src/aws/: {outside:?}"
    );
    // The sinks crate's AWS layer: the shared policy and classifier, the call log, and
    // the secret stores.
    let sinks_layer = |file: &str| {
        ["aws.rs", "call_log.rs", "secret_store.rs"].contains(&file)
            || file.starts_with("secretsmanager/")
            || file.starts_with("ssm/")
    };
    let outside = sdk_outside(&imports(&root.join("sinks/src")), sinks_layer);
    assert!(
        outside.is_empty(),
        "the AWS SDK outside the sinks crate's AWS layer: {outside:?}"
    );
}

/// What a made-up tree of `(file, code)` imports.
fn imports_of(files: &[(&str, &str)]) -> Imports {
    let dir = tempfile::tempdir().unwrap();
    for (file, code) in files {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, code).unwrap();
    }
    imports(dir.path())
}

/// Each form an import can take, in a made-up tree, is caught; comments and strings
/// are not imports.
#[test]
fn the_check_sees_every_form_of_import() {
    let forms = [
        ("engine/a.rs", "use crate::cli::Cli;"),
        ("engine/a.rs", "use crate::{state::X, cli::Y};"),
        ("engine/a.rs", "use crate::cli as command_line;"),
        ("engine/a.rs", "use crate::cli::*;"),
        ("engine/deep/b.rs", "use super::super::super::cli::Cli;"),
        ("engine/a.rs", "fn f() { crate::cli::run(); }"),
        ("engine/a.rs", "fn f() -> crate::cli::Cli { todo!() }"),
        (
            "engine/a.rs",
            "fn f() { let _ = format!(\"{}\", crate::cli::NAME); }",
        ),
        (
            "engine/a.rs",
            "mod inner { use super::super::super::cli::Cli; }",
        ),
        ("state/mod.rs", "use crate::config::Paths;"),
        ("config/mod.rs", "use crate::aws::Aws;"),
        ("aws/mod.rs", "use crate::state::StateDir;"),
        ("time.rs", "use crate::aws::ServerClock;"),
    ];
    for (file, code) in forms {
        let wrong = against_the_rule(&imports_of(&[(file, code)]));
        assert_eq!(wrong.len(), 1, "`{code}` in {file} not caught: {wrong:?}");
    }
    let allowed = [
        (
            "engine/a.rs",
            "// use crate::cli::Cli;\nconst S: &str = \"crate::cli::x\";",
        ),
        (
            "engine/a.rs",
            "use crate::state::StateDir; use crate::time::now; use super::b;",
        ),
        (
            "cli/mod.rs",
            "use crate::engine::Plan; use self::prompt::P;",
        ),
        ("lib.rs", "pub mod cli; pub use crate::cli::main;"),
    ];
    for (file, code) in allowed {
        let wrong = against_the_rule(&imports_of(&[(file, code)]));
        assert!(wrong.is_empty(), "`{code}` in {file} is allowed: {wrong:?}");
    }
    let sdk = [
        "use aws_sdk_iam::Client;",
        "fn f() { let _ = aws_smithy_types::DateTime::from_secs(0); }",
        "fn f(_: &aws_config::SdkConfig) {}",
        "fn f() { tracing::info!(\"{}\", aws_types::region::Region::new(\"x\")); }",
    ];
    for code in sdk {
        let found = imports_of(&[("engine/a.rs", code), ("aws/mod.rs", code)]);
        let outside = sdk_outside(&found, |f| f.starts_with("aws/"));
        assert_eq!(outside.len(), 1, "`{code}`: {outside:?}");
    }
    // A log filter naming the SDK's crates is a string, not a use of them.
    let filter = "const F: &str = \"aws_smithy_runtime=debug\";";
    assert!(imports_of(&[("log.rs", filter)]).sdk.is_empty());
}

#[test]
fn no_sink_imports_the_registry_that_lists_them() {
    // The registry lists every sink; a sink importing it back made a cycle of every
    // sink folder. The traits a sink implements live in `sink.rs`.
    let sinks = Path::new(env!("CARGO_MANIFEST_DIR")).join("sinks/src");
    let importers: Vec<String> = imports(&sinks)
        .edges
        .into_iter()
        .filter(|(from, to)| to == "registry" && !ROOTS.contains(&from.as_str()))
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
        ["aws/mod.rs", "engine/fleet/lease.rs"],
        "who makes permits"
    );
    let aws = std::fs::read_to_string(src.join("aws/mod.rs")).unwrap();
    let made_in_aws = aws.matches("Permit::issue()").count() + aws.matches("Self(())").count();
    assert_eq!(made_in_aws, 1, "aws/mod.rs only defines the constructor");
}
