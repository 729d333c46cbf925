//! Installing without Rust (issue 18): the release workflow, the container image, the
//! man page, the licences and the changelog are checked like the code.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::examples::{passes_the_workflow_checks, tool};

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

#[test]
fn the_release_workflow_passes_the_schema_and_the_audits() {
    let workflow = repo(".github/workflows/release.yml");
    passes_the_workflow_checks(&workflow);
    let text = read(".github/workflows/release.yml");
    for target in [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
    ] {
        assert!(text.contains(target), "no {target} build");
    }
    for asset in ["SHA256SUMS", "rekey.cdx.json", "docs/rekey.1"] {
        assert!(text.contains(asset), "no {asset} in the release");
    }
}

#[test]
fn cargo_binstall_finds_the_archives_the_workflow_makes() {
    let cargo = read("Cargo.toml");
    // The workflow names an archive rekey-$TAG-$TARGET.tar.gz holding a folder of the
    // same name; binstall's template must say the same.
    assert!(
        cargo.contains(
            r#"pkg-url = "{ repo }/releases/download/v{ version }/{ name }-v{ version }-{ target }{ archive-suffix }""#
        ) && cargo.contains(r#"bin-dir = "{ name }-v{ version }-{ target }/{ bin }{ binary-ext }""#),
        "[package.metadata.binstall] drifted from the release workflow"
    );
    let workflow = read(".github/workflows/release.yml");
    assert!(workflow.contains(r#"name="rekey-$TAG-$TARGET""#));
    assert!(workflow.contains(r#"tar -czf "$name.tar.gz" "$name""#));
}

#[test]
fn the_dockerfile_passes_hadolint_and_runs_rekey_as_a_non_root_user() {
    let out = Command::new(tool("hadolint"))
        .arg(repo("Dockerfile"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hadolint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dockerfile = read("Dockerfile");
    assert_eq!(dockerfile.matches("\nFROM ").count(), 2, "multi-stage");
    // distroless's `nonroot` user, by number (a name may not resolve on the host).
    assert!(dockerfile.contains("\nUSER 65532:65532\n"));
    assert!(dockerfile.contains(r#"ENTRYPOINT ["/usr/local/bin/rekey"]"#));
}

#[test]
fn the_man_page_is_generated_from_the_cli() {
    let page = man_page();
    let path = repo("docs/rekey.1");
    if std::env::var_os("REKEY_BLESS").is_some() {
        std::fs::write(&path, &page).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == page,
        "docs/rekey.1 is stale: regenerate it with `REKEY_BLESS=1 ./scripts/test the_man_page`"
    );
    // One page documents every subcommand and its options (issue 31: the page was an
    // index of rekey-plan(1) and others that did not exist).
    use clap::CommandFactory;
    for sub in rekey::cli::Cli::command().get_subcommands() {
        let name = sub.get_name().to_uppercase().replace('-', "\\-");
        assert!(page.contains(&format!(".SH \"REKEY {name}\"")), "{name}");
        for option in sub.get_arguments().filter_map(|a| a.get_long()) {
            assert!(
                page.contains(&format!("\\-\\-{}", option.replace('-', "\\-"))),
                "{name} --{option}"
            );
        }
    }
    assert!(
        !page.contains("rekey\\-plan(1)"),
        "it names no page that does not exist"
    );
}

/// The man page: rekey's own (name, synopsis, description, global options, the
/// subcommands), then a section per subcommand with its synopsis and options.
fn man_page() -> String {
    use clap::CommandFactory;
    // The version only (not the commit): the page changes when the CLI does.
    let command = rekey::cli::Cli::command().version(env!("CARGO_PKG_VERSION"));
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .unwrap();
    let mut page = String::from_utf8(page).unwrap();
    // The subcommands are below, not pages of their own.
    for sub in command.get_subcommands() {
        let name = sub.get_name().replace('-', "\\-");
        page = page.replace(
            &format!("rekey\\-{name}(1)"),
            &format!("rekey {name} (below)"),
        );
    }
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let full = format!("rekey {}", sub.get_name());
        let sub = sub.clone().bin_name(full.clone());
        let man = clap_mangen::Man::new(sub);
        let mut part = Vec::new();
        man.render_description_section(&mut part).unwrap();
        man.render_synopsis_section(&mut part).unwrap();
        man.render_options_section(&mut part).unwrap();
        let part = String::from_utf8(part).unwrap().replace(".SH ", ".SS ");
        let title = full.to_uppercase().replace('-', "\\-");
        page.push_str(&format!(".SH \"{title}\"\n{part}"));
    }
    page
}

#[test]
fn every_declared_licence_has_its_file_and_the_changelog_has_this_version() {
    let cargo = read("Cargo.toml");
    assert!(cargo.contains(r#"license = "MIT OR Apache-2.0""#));
    assert!(read("LICENSE-MIT").contains("Permission is hereby granted"));
    assert!(read("LICENSE-APACHE").contains("Apache License"));
    let changelog = read("CHANGELOG.md");
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        changelog.contains("## [Unreleased]") || changelog.contains(&format!("## [{version}]")),
        "CHANGELOG.md has no section for {version} or Unreleased"
    );
}
