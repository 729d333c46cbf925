//! The command line: arguments (clap), dispatch to [`crate::commands`], and the one
//! place results become exit codes. clap's types live only here: each command gets plain
//! options converted from its arguments.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands::{self, Outcome};
use crate::config::manifest::duration::HumanDuration;
use crate::report;

/// Rotate AWS IAM access keys everywhere they are stored, safely, in one command.
#[derive(Debug, Parser)]
#[command(name = "rekey", version, about, long_about = None)]
pub struct Cli {
    /// Where rekey keeps its journal, backups and pending deletions.
    #[arg(long, global = true, env = "REKEY_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// More output on stderr (-v: progress, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// How many profiles to plan and rotate at once. A rotation spends most of its time
    /// waiting for IAM to propagate its new key, so many run at once for the price of one.
    #[arg(long, short = 'j', global = true, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// How long to wait for another rekey process that is rotating the same user or
    /// writing the same file.
    #[arg(long, global = true, value_name = "DURATION", default_value = "10s")]
    pub lock_timeout: HumanDuration,
    /// A current code of the MFA device the profiles' `mfa_serial` names (apply, prune,
    /// rollback); without it rekey runs `mfa_command`, or asks on a terminal.
    #[arg(long, global = true, value_name = "CODE")]
    pub mfa_code: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what apply would do, changing nothing (read calls only).
    Plan(PlanArgs),
    /// Rotate the keys: create, prove, write every sink, deactivate the old key.
    Apply(ApplyArgs),
    /// Delete old keys whose grace period has ended.
    Prune(PruneArgs),
    /// Undo the last rotation of a profile during its grace period: old key active
    /// again, every sink restored, new key deleted.
    Rollback(RollbackArgs),
    /// Show each profile's key, its age and last use, where its copies stand, and the
    /// old keys waiting for deletion. Read-only.
    Status(StatusArgs),
    /// Copy each profile's current key (the newest one AWS accepts) to the sinks holding
    /// another one, for a machine whose copies fell behind a rotation made elsewhere.
    /// Creates and deletes no key.
    Sync(SyncArgs),
    /// Write a commented starter rekey.yaml from the profiles of the credentials file.
    Init(InitArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(CompletionsArgs),
    /// Finish or undo rotations that were interrupted (apply does this first, too).
    Recover(RecoverArgs),
    /// Print a key held in the keyring or in Secrets Manager as `credential_process`
    /// JSON (for ~/.aws/config).
    CredentialProcess(CredentialProcessArgs),
}

/// Which profiles to work on.
#[derive(Debug, Args)]
pub struct Selection {
    /// The manifest (default: ./rekey.yaml if present, else every static-key profile of
    /// the shared credentials file).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Only this profile (repeatable).
    #[arg(long = "profile", value_name = "NAME")]
    pub profiles: Vec<String>,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// For people.
    Text,
    /// For programs; see the README for the schema.
    Json,
}

/// `rekey plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Which profiles.
    #[command(flatten)]
    pub selection: Selection,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Exit 0 when there is nothing to do, 2 when changes are planned, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Show what `apply --compromised` would do.
    #[arg(long)]
    pub compromised: bool,
}

/// `rekey apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Which profiles.
    #[command(flatten)]
    pub selection: Selection,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Override the grace period before old keys are deleted (e.g. 7d, 0).
    #[arg(long, value_name = "DURATION", conflicts_with = "compromised")]
    pub grace: Option<HumanDuration>,
    /// Leak response: replace every selected key now, whatever max_age says, and delete
    /// each old key as soon as its replacement works and is written (grace 0). Lists
    /// each replaced key's last use, to look for misuse.
    #[arg(long)]
    pub compromised: bool,
    /// Delete an inactive key that rekey did not deactivate when a user has no room for
    /// a new key (IAM allows two). Active keys are never deleted.
    #[arg(long)]
    pub make_room: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// `rekey prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Which profiles.
    #[command(flatten)]
    pub selection: Selection,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Deactivate an old key whose overlap period is over even if IAM saw it used after
    /// the rotation (something may still depend on it).
    #[arg(long)]
    pub force: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// `rekey rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The profile whose last rotation to undo.
    pub profile: String,
    /// The manifest naming the profile (default ./rekey.yaml, else default mode).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// During an overlap period, delete the new key even if IAM saw it used after the
    /// rotation (other machines may have picked it up).
    #[arg(long)]
    pub force: bool,
}

/// `rekey status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Which profiles.
    #[command(flatten)]
    pub selection: Selection,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Exit 2 when a key is past max_age, a copy drifts or a deletion is overdue (for
    /// monitors and scheduled jobs), 0 when all is well, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// `rekey init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(long, value_name = "FILE", default_value = "rekey.yaml")]
    pub manifest: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

/// `rekey completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

/// `rekey sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Which profiles.
    #[command(flatten)]
    pub selection: Selection,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Put back what the last sync replaced, where the key it wrote is still held (for a
    /// synced key deleted since, by a rollback elsewhere).
    #[arg(long)]
    pub undo: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// `rekey recover`.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// Which profiles.
    #[command(flatten)]
    pub selection: Selection,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// `rekey credential-process`: either a manifest profile's keyring sink, or an entry
/// named directly (which needs no manifest: the form to use in ~/.aws/config).
#[derive(Debug, Args)]
pub struct CredentialProcessArgs {
    /// The profile whose (first) keyring sink to read.
    #[arg(
        long,
        required_unless_present_any = ["account", "secret_id"],
        conflicts_with_all = ["account", "secret_id"]
    )]
    pub profile: Option<String>,
    /// The manifest naming the profile (default ./rekey.yaml).
    #[arg(long, value_name = "FILE", requires = "profile")]
    pub manifest: Option<PathBuf>,
    /// The keyring service (default `rekey`), with --account.
    #[arg(long, requires = "account")]
    pub service: Option<String>,
    /// The keyring account.
    #[arg(long, conflicts_with = "secret_id")]
    pub account: Option<String>,
    /// A Secrets Manager secret (name or ARN) written by a `secretsmanager` sink.
    #[arg(long, requires = "via")]
    pub secret_id: Option<String>,
    /// The secret's region (default: the AWS SDK's).
    #[arg(long, requires = "secret_id")]
    pub region: Option<String>,
    /// The AWS profile that reads the secret (never the profile whose
    /// credential_process this is: that would call itself).
    #[arg(long, requires = "secret_id")]
    pub via: Option<String>,
}

impl From<Selection> for commands::Selection {
    fn from(args: Selection) -> Self {
        Self {
            manifest: args.manifest,
            profiles: args.profiles,
        }
    }
}

impl From<Output> for report::Output {
    fn from(output: Output) -> Self {
        match output {
            Output::Text => report::Output::Text,
            Output::Json => report::Output::Json,
        }
    }
}

/// Runs the command `cli` names, with its arguments turned into the command's options.
async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let jobs = usize::from(cli.jobs);
    let mut ctx = commands::Context::new(cli.state_dir, cli.lock_timeout.0, jobs, cli.quiet);
    ctx.mfa_code = cli.mfa_code;
    match cli.command {
        Command::Plan(args) => {
            let options = commands::plan::Options {
                selection: args.selection.into(),
                output: args.output.into(),
                detailed_exitcode: args.detailed_exitcode,
                compromised: args.compromised,
            };
            commands::plan::run(&ctx, options).await
        }
        Command::Apply(args) => {
            let options = commands::apply::Options {
                selection: args.selection.into(),
                yes: args.yes,
                grace: args.grace.map(|g| g.0),
                make_room: args.make_room,
                compromised: args.compromised,
                output: args.output.into(),
            };
            commands::apply::run(&ctx, options).await
        }
        Command::Prune(args) => {
            let options = commands::prune::Options {
                selection: args.selection.into(),
                yes: args.yes,
                force: args.force,
                output: args.output.into(),
            };
            commands::prune::run(&ctx, options).await
        }
        Command::Sync(args) => {
            let options = commands::sync::Options {
                selection: args.selection.into(),
                yes: args.yes,
                undo: args.undo,
                output: args.output.into(),
            };
            commands::sync::run(&ctx, options).await
        }
        Command::Recover(args) => {
            let options = commands::recover::Options {
                selection: args.selection.into(),
                output: args.output.into(),
            };
            commands::recover::run(&ctx, options).await
        }
        Command::Status(args) => {
            let options = commands::status::Options {
                selection: args.selection.into(),
                output: args.output.into(),
                detailed_exitcode: args.detailed_exitcode,
            };
            commands::status::run(&ctx, options).await
        }
        Command::Rollback(args) => {
            let options = commands::rollback::Options {
                profile: args.profile,
                manifest: args.manifest,
                yes: args.yes,
                force: args.force,
            };
            commands::rollback::run(&ctx, options).await
        }
        Command::Init(args) => {
            let options = commands::init::Options {
                manifest: args.manifest,
                force: args.force,
            };
            commands::init::run(&ctx, options)
        }
        Command::Completions(args) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut command, "rekey", &mut std::io::stdout());
            Ok(Outcome::Success)
        }
        Command::CredentialProcess(args) => {
            let options = commands::credential_process::Options {
                profile: args.profile,
                manifest: args.manifest,
                service: args.service,
                account: args.account,
                secret: args
                    .secret_id
                    .map(|secret_id| commands::credential_process::Secret {
                        secret_id,
                        region: args.region,
                        via: args.via.unwrap_or_default(),
                    }),
            };
            commands::credential_process::run(&ctx, options).await
        }
    }
}

/// Parses the arguments, runs the command, and maps the result to an exit code:
/// 0 success, 1 any failure (with a one-line cause on stderr), 2 changes planned.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli);
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
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr. Other crates (the AWS SDK) log only errors, even with `-vv`: their
/// debug output includes request details rekey has no reason to show, and their
/// warnings (e.g. "config file not found") are noise for rekey's users.
fn init_tracing(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "error,rekey=warn,rekey_sinks=warn",
        (false, 1) => "error,rekey=info,rekey_sinks=info",
        (false, _) => "error,rekey=debug,rekey_sinks=debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        // On a terminal, unless NO_COLOR is set (the rule `console` applies to stdout).
        .with_ansi(console::colors_enabled_stderr())
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
