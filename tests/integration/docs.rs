//! The documentation tells the truth about the code (issue 20, point 6; issue 32, point
//! 7): the options table of docs/guide.md lists exactly the options clap knows, and each
//! command it names for an option takes that option; the exit-code table, the state
//! directory's folders, the list of JSON schemas and sinks/README.md's sinks follow the
//! code they describe.

use std::collections::BTreeSet;

use clap::CommandFactory;

/// (options, commands) of each row of the options table: every `--long` in the first
/// cell, and the commands a clause of the description starts with (`` `plan`, `apply`: ``).
fn table_rows() -> Vec<(Vec<String>, Vec<String>)> {
    let guide = read("docs/guide.md");
    let table = guide
        .split("## Options")
        .nth(1)
        .expect("docs/guide.md has an Options section");
    let commands: Vec<String> = rekey::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|row| {
            let mut cells = row.trim_matches('|').splitn(2, " | ");
            let (names, description) = (cells.next().unwrap(), cells.next().unwrap_or_default());
            let options = names
                .split('`')
                .filter_map(|t| t.strip_prefix("--"))
                .map(|t| t.split([' ', '\\']).next().unwrap().to_owned())
                .collect();
            let named = description
                .split(';')
                .filter_map(|clause| clause.split_once(':').map(|(head, _)| head))
                .flat_map(|head| head.split('`').map(str::to_owned).collect::<Vec<_>>())
                .filter(|word| commands.contains(word))
                .collect();
            (options, named)
        })
        .collect()
}

/// Every long option of `command` (its own and the global ones).
fn options_of(command: &clap::Command) -> BTreeSet<String> {
    command
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_owned))
        .filter(|l| l != "help" && l != "version")
        .collect()
}

#[test]
fn the_options_table_lists_exactly_the_options_clap_knows() {
    let cli = rekey::cli::Cli::command();
    let mut known = options_of(&cli);
    for sub in cli.get_subcommands() {
        known.extend(options_of(sub));
    }
    let documented: BTreeSet<String> = table_rows().into_iter().flat_map(|(o, _)| o).collect();
    let missing: Vec<&String> = known.difference(&documented).collect();
    let stale: Vec<&String> = documented.difference(&known).collect();
    assert!(
        missing.is_empty(),
        "options not in docs/guide.md's table: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "options in the table that rekey does not take: {stale:?}"
    );
}

#[test]
fn each_command_the_table_names_for_an_option_takes_it() {
    let cli = rekey::cli::Cli::command();
    let mut wrong = Vec::new();
    for (options, commands) in table_rows() {
        for command in &commands {
            let sub = cli.find_subcommand(command).unwrap();
            let takes = options_of(sub);
            for option in &options {
                if !takes.contains(option) && !options_of(&cli).contains(option) {
                    wrong.push(format!("{command} --{option}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "the table says these exist: {wrong:?}");
}

/// The repository's root.
fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap()
}

/// The text of `doc`'s section under `heading` (to the next heading of that level).
fn section(doc: &str, heading: &str) -> String {
    let level = heading.split(' ').next().unwrap();
    let after = doc
        .split(&format!("\n{heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no `{heading}` section"));
    after
        .split(&format!("\n{level} "))
        .next()
        .unwrap()
        .to_owned()
}

/// Issue 32, point 7: the exit-code table names, in each code's row, every command whose
/// code returns that outcome (read from src/commands/), so a new exit cannot go
/// undocumented.
#[test]
fn the_exit_code_table_names_every_command_that_exits_so() {
    let table = section(&read("docs/guide.md"), "## Exit codes");
    let row = |code: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("| {code} |")))
            .unwrap_or_else(|| panic!("no row for exit code {code}"))
            .to_owned()
    };
    for (code, outcomes) in [
        (
            "2",
            &["Outcome::ChangesPlanned", "Outcome::NeedsAttention"][..],
        ),
        ("130", &["Outcome::Interrupted"][..]),
    ] {
        let row = row(code);
        let mut commands = Vec::new();
        for entry in std::fs::read_dir(root().join("src/commands"))
            .unwrap()
            .flatten()
        {
            let name = entry
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned();
            let text = std::fs::read_to_string(entry.path()).unwrap();
            if name != "mod" && outcomes.iter().any(|o| text.contains(o)) {
                commands.push(name.replace('_', "-"));
            }
        }
        assert!(!commands.is_empty(), "no command exits {code}?");
        for command in commands {
            assert!(
                row.contains(&format!("`{command}")),
                "exit code {code}: `{command}` returns it but its row does not say so: {row}"
            );
        }
    }
}

/// Issue 32, point 7: the guide's state-directory section names exactly the folders the
/// state module makes (read from src/state/).
#[test]
fn the_state_directory_section_names_every_folder() {
    let mut folders = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("src/state"))
        .unwrap()
        .flatten()
    {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        // `self.path(&["journal", …])`, `state.root().join("locks")`, and a path made
        // with `format!("responses/{…}")`.
        for pattern in ["path(&[\"", "root().join(\"", "format!(\""] {
            for (at, _) in text.match_indices(pattern) {
                let rest = &text[at + pattern.len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                // A whole literal names a folder (`"journal"`, not `"fleet.key"`); in a
                // `format!` only a literal that goes on with `/{` does.
                let after = &rest[name.len()..];
                let folder = match pattern {
                    "format!(\"" => after.starts_with("/{"),
                    _ => after.starts_with('"'),
                };
                if !name.is_empty() && folder {
                    folders.insert(name);
                }
            }
        }
    }
    assert!(folders.len() >= 10, "found too few folders: {folders:?}");
    let text = section(&read("docs/guide.md"), "## State directory");
    for folder in &folders {
        assert!(
            text.contains(&format!("`{folder}/`")),
            "the state dir's `{folder}/` is not in docs/guide.md's State directory section"
        );
    }
    let named: BTreeSet<String> = text
        .split('`')
        .filter_map(|t| t.strip_suffix('/'))
        .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(str::to_owned)
        .collect();
    let unknown: Vec<&String> = named.difference(&folders).collect();
    assert!(
        unknown.is_empty(),
        "the guide names folders the state dir has not: {unknown:?}"
    );
}

/// Issue 32, point 7: docs/json.md lists every committed schema of the JSON output.
#[test]
fn the_json_page_names_every_output_schema() {
    let page = read("docs/json.md");
    for entry in std::fs::read_dir(root().join("docs/schemas"))
        .unwrap()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(command) = name.strip_suffix(".schema.json") else {
            continue;
        };
        // The manifest's and the notification event's schemas have their own pages.
        if ["rekey", "manifest", "notify-event"].contains(&command) {
            continue;
        }
        assert!(
            page.contains(&format!("`{command}`")) || page.contains(&format!("`{name}`")),
            "docs/json.md does not list docs/schemas/{name}"
        );
    }
}

/// Issue 32, point 7: sinks/README.md lists exactly the sink folders of sinks/src.
#[test]
fn the_sinks_readme_lists_every_sink() {
    let readme = read("sinks/README.md");
    let listed: BTreeSet<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("- `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    let folders: BTreeSet<String> = std::fs::read_dir(root().join("sinks/src"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        listed, folders,
        "sinks/README.md's list against sinks/src's folders"
    );
}

/// Issue 32, point 4: ARCHITECTURE.md's code map follows the folders: every file of
/// `src/engine/` is named (by its path, or in its folder's row), and every `src/…` path
/// the map names exists.
#[test]
fn the_code_map_follows_the_engines_folders() {
    let map = section(&read("ARCHITECTURE.md"), "## Code map");
    let rows: Vec<&str> = map.lines().filter(|l| l.starts_with("| `")).collect();
    for row in &rows {
        let path = row.split('`').nth(1).unwrap();
        if path.starts_with("src/") || path.starts_with("sinks/") {
            assert!(
                root().join(path).exists(),
                "the code map names {path}, which does not exist"
            );
        }
    }
    let engine = root().join("src/engine");
    for file in crate::layers::rust_files(&engine) {
        let relative = file.strip_prefix(root()).unwrap().display().to_string();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name == "mod.rs" || name == "tests.rs" {
            continue;
        }
        let folder = format!(
            "{}/",
            file.parent()
                .unwrap()
                .strip_prefix(root())
                .unwrap()
                .display()
        );
        let named = rows.iter().any(|row| {
            let path = row.split('`').nth(1).unwrap();
            path == relative || (path == folder && row.contains(&format!("`{name}`")))
        });
        assert!(named, "ARCHITECTURE.md's code map does not name {relative}");
    }
}
