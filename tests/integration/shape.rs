//! The shape of the code (issue 32): no function of `src/` outside tests is longer
//! than a screen, so that an orchestrator reads as its steps, each named.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use syn::visit::Visit;

use crate::layers::rust_files;

/// A screen: the longest a function of `src/` may be, in lines, signature included.
const SCREEN: usize = 120;

/// Whether `attrs` hold `#[cfg(test)]`.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Path>()
                .is_ok_and(|p| p.is_ident("test"))
    })
}

/// The files that are test-only modules (`#[cfg(test)] mod fake;` declares `fake.rs`),
/// and `tests.rs` files.
fn test_files(files: &[(PathBuf, syn::File)]) -> BTreeSet<PathBuf> {
    let mut test_only = BTreeSet::new();
    for (file, syntax) in files {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            test_only.insert(file.clone());
        }
        let folder = match file
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs" || n == "main.rs")
        {
            true => file.parent().unwrap().to_owned(),
            false => file.with_extension(""),
        };
        for item in &syntax.items {
            if let syn::Item::Mod(m) = item {
                if m.content.is_none() && is_test(&m.attrs) {
                    let name = m.ident.to_string();
                    test_only.insert(folder.join(format!("{name}.rs")));
                    test_only.insert(folder.join(&name).join("mod.rs"));
                }
            }
        }
    }
    test_only
}

/// Each function (free, or in an impl or trait) outside test modules, with its length.
struct Lengths {
    file: String,
    found: Vec<(usize, String)>,
}

impl Lengths {
    fn record(&mut self, name: &syn::Ident, span: proc_macro2::Span) {
        let lines = span.end().line - span.start().line + 1;
        self.found
            .push((lines, format!("{}:{} {name}", self.file, span.start().line)));
    }
}

impl<'ast> Visit<'ast> for Lengths {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if !is_test(&item.attrs) {
            syn::visit::visit_item_mod(self, item);
        }
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        if !is_test(&item.attrs) {
            use syn::spanned::Spanned;
            self.record(&item.sig.ident, item.span());
            syn::visit::visit_item_fn(self, item);
        }
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        use syn::spanned::Spanned;
        self.record(&item.sig.ident, item.span());
        syn::visit::visit_impl_item_fn(self, item);
    }
}

/// Every function of the files under `src` that are not tests, longest first.
fn function_lengths(src: &Path) -> Vec<(usize, String)> {
    // Each file read and parsed once.
    let files: Vec<(PathBuf, syn::File)> = rust_files(src)
        .into_iter()
        .map(|file| {
            let syntax = syn::parse_file(&std::fs::read_to_string(&file).unwrap()).unwrap();
            (file, syntax)
        })
        .collect();
    let tests = test_files(&files);
    let mut all = Vec::new();
    for (file, syntax) in files.iter().filter(|(f, _)| !tests.contains(f)) {
        let mut lengths = Lengths {
            file: file.strip_prefix(src).unwrap().display().to_string(),
            found: Vec::new(),
        };
        lengths.visit_file(syntax);
        all.extend(lengths.found);
    }
    all.sort_by(|a, b| b.cmp(a));
    all
}

#[test]
fn no_function_is_longer_than_a_screen() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lengths = function_lengths(&src);
    let longer: Vec<&(usize, String)> = lengths.iter().filter(|(n, _)| *n > SCREEN).collect();
    assert!(
        longer.is_empty(),
        "functions over {SCREEN} lines (split them into named steps): {longer:?}"
    );
    assert!(
        lengths.len() > 500,
        "the walk found too few functions: {}",
        lengths.len()
    );
}

#[test]
fn the_measure_counts_lines_and_skips_tests() {
    let dir = tempfile::tempdir().unwrap();
    let body = "    let _ = 1;\n".repeat(130);
    std::fs::write(
        dir.path().join("lib.rs"),
        format!(
            "#[cfg(test)]\nmod fake;\nfn long() {{\n{body}}}\nstruct S;\nimpl S {{\n    fn short(&self) {{}}\n}}\n#[cfg(test)]\nmod tests {{\n    fn long_test() {{\n{body}    }}\n}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("fake.rs"),
        format!("fn long_fake() {{\n{body}}}\n"),
    )
    .unwrap();
    let lengths = function_lengths(dir.path());
    let names: Vec<&str> = lengths
        .iter()
        .map(|(_, at)| at.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(names, ["long", "short"], "{lengths:?}");
    assert_eq!(lengths[0].0, 132, "{lengths:?}");
}
