//! The command line: arguments (clap, [`args`]), what they become for the commands
//! ([`options`]), dispatch to [`crate::commands`], logging ([`log`]), completion
//! ([`complete`]), and the one place results become exit codes. clap's types live only
//! here: each command gets plain options converted from its arguments.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

mod args;
mod complete;
mod log;
mod options;
mod prompt;

pub use args::Cli;
use args::{Command, HookAction};

use crate::commands::{self, Outcome};
use crate::state::StateDir;

/// Runs the command `cli` names, with its arguments turned into the command's options.
async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let quiet = cli.quiet;
    // Commands without the run options: the state dir they name (or none), the defaults.
    let plain = |state_dir: Option<PathBuf>| {
        commands::Context::new(state_dir, StateDir::DEFAULT_LOCK_TIMEOUT, 1, quiet)
    };
    match cli.command {
        Command::Plan(args) => {
            commands::plan::run(&args.run.start(quiet).await?, args.into()).await
        }
        Command::Apply(args) => {
            commands::apply::run(&args.run.start(quiet).await?, args.into()).await
        }
        Command::Respond(args) => {
            commands::respond::run(&args.run.start(quiet).await?, args.into()).await
        }
        Command::Prune(args) => {
            commands::prune::run(&args.run.start(quiet).await?, args.into()).await
        }
        Command::Sync(args) => {
            commands::sync::run(&args.run.start(quiet).await?, args.into()).await
        }
        Command::Recover(args) => {
            commands::recover::run(&args.run.start(quiet).await?, args.into()).await
        }
        Command::Audit(args) => {
            let ctx = args.run.start(quiet).await?;
            commands::audit::run(&ctx, args.try_into()?).await
        }
        Command::Find(args) => {
            commands::find::run(&args.run.start(quiet).await?, args.into()).await
        }
        Command::Status(args) => {
            commands::status::run(&args.run.start(quiet).await?, args.into()).await
        }
        Command::Rollback(args) => {
            commands::rollback::run(&args.run.start(quiet).await?, args.into()).await
        }
        Command::Trust(args) => {
            commands::trust::run(&plain(args.state_dir.clone()), args.into()).await
        }
        Command::Init(args) => {
            commands::init::run(&plain(args.state_dir.clone()), args.into()).await
        }
        Command::Schedule(args) => {
            commands::schedule::run(&plain(args.state_dir.clone()), args.into()).await
        }
        Command::Hook(args) => match args.action {
            HookAction::Install => {
                commands::hook::install(commands::hook::Options { force: args.force })
            }
        },
        Command::Completions(args) => {
            let script = complete::script(args.shell)?;
            write_stdout(&script)?;
            Ok(Outcome::Success)
        }
        Command::CredentialProcess(args) => {
            commands::credential_process::run(&plain(None), args.into()).await
        }
    }
}

/// Writes `bytes` to stdout. A reader that went away (`rekey completions zsh | head`)
/// is not an error: it read what it wanted.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

/// Parses the arguments, runs the command, and maps the result to an exit code:
/// 0 success, 1 any failure (with a one-line cause on stderr), 2 changes planned.
pub fn main() -> ExitCode {
    complete::answer_the_shell();
    let cli = Cli::parse();
    let output = cli.command.output();
    log::init(cli.quiet, cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::ChangesPlanned | Outcome::NeedsAttention) => ExitCode::from(2),
        Ok(Outcome::Interrupted) => ExitCode::from(130),
        Err(e) => {
            let message = format!("{e:#}");
            crate::report::emit_failure(output, &message, commands::error_kind(&e));
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
