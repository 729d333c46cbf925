//! The documentation tells the truth about the CLI (issue 20, point 6): the options
//! table of docs/guide.md lists exactly the options clap knows, and each command it
//! names for an option takes that option.

use std::collections::BTreeSet;

use clap::CommandFactory;

/// (options, commands) of each row of the options table: every `--long` in the first
/// cell, and the commands a clause of the description starts with (`` `plan`, `apply`: ``).
fn table_rows() -> Vec<(Vec<String>, Vec<String>)> {
    let guide = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide.md"),
    )
    .unwrap();
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
