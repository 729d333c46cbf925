//! The arguments, as clap reads them: one struct per subcommand, the options several
//! share (`Selection`, `Choices`, `RunArgs`), and their help texts, which are also the
//! man page's. What they become for the commands is in [`super::options`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::complete;
use crate::config::manifest::duration::HumanDuration;

/// Rotate AWS IAM access keys everywhere they are stored, safely, in one command.
#[derive(Debug, Parser)]
#[command(name = "rekey", version = crate::VERSION, about, long_about = None)]
pub struct Cli {
    /// More output on stderr (-v: progress, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet", help_heading = "Global options")]
    pub(crate) verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub(crate) quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands, in the order of the workflow: set up, look, rotate, then the rest.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write a commented starter rekey.yaml from the profiles of the credentials file.
    Init(InitArgs),
    /// Trust a manifest as it is now: what it names that runs programs or sends to
    /// others (plugins, verify, notify, a shared bucket) is used only once trusted.
    Trust(TrustArgs),
    /// Show what apply would do, changing nothing (read calls only).
    Plan(PlanArgs),
    /// Rotate the keys: create, prove, write every sink, deactivate the old key.
    Apply(ApplyArgs),
    /// Answer a leak alert (an AWS Health event, a GitHub secret-scanning alert): the
    /// leak response (apply --compromised --quarantine) for exactly the profiles that
    /// hold an exposed key, and the exposed keys no profile holds named (or contained).
    Respond(RespondArgs),
    /// Show each profile's key, its age and last use, where its copies stand, and the
    /// old keys waiting for deletion. Read-only.
    Status(StatusArgs),
    /// Delete old keys whose grace period has ended.
    Prune(PruneArgs),
    /// Install, show or remove the daily upkeep (`rekey prune`, then `rekey apply`): a
    /// systemd user timer, else a crontab line; a launchd agent on macOS.
    Schedule(ScheduleArgs),
    /// Undo the last rotation of a profile during its grace period: old key active
    /// again, every sink restored, new key deleted.
    Rollback(RollbackArgs),
    /// Copy each profile's current key (the newest one AWS accepts) to the sinks holding
    /// another one, for a machine whose copies fell behind a rotation made elsewhere.
    /// Creates and deletes no key.
    Sync(SyncArgs),
    /// Finish or undo rotations that were interrupted (apply does this first, too).
    Recover(RecoverArgs),
    /// Every IAM user access key of an account, or of many (an organization's, through
    /// a role in each): age, last use, whether rekey manages it, and what needs acting on.
    /// Read-only.
    Audit(AuditArgs),
    /// Find every file that holds a copy of a key rekey knows (its id or its secret),
    /// and whether a sink keeps it current. Reads files, and asks STS whose each key is.
    Find(FindArgs),
    /// Install a git pre-commit hook that refuses a commit staging an AWS key
    /// (`rekey find --staged`).
    Hook(HookArgs),
    /// Print a key held in the keyring or in Secrets Manager as `credential_process`
    /// JSON (for ~/.aws/config).
    CredentialProcess(CredentialProcessArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(CompletionsArgs),
}

/// What every command that reads or changes keys runs with.
#[derive(Debug, Args)]
#[command(next_help_heading = "Run options")]
pub(crate) struct RunArgs {
    /// Where rekey keeps its journal, backups and pending deletions.
    #[arg(long, env = "REKEY_STATE_DIR", value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,
    /// How many profiles to plan and rotate at once. A rotation spends most of its time
    /// waiting for IAM to propagate its new key, so many run at once for the price of one.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) jobs: u16,
    /// How long to wait for another rekey process that is rotating the same user or
    /// writing the same file.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub(crate) lock_timeout: HumanDuration,
    /// How long to keep retrying calls AWS throttles (rekey paces itself to the rate
    /// AWS admits): throttling alone fails nothing while this lasts.
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub(crate) api_timeout: HumanDuration,
    /// Wait a random time up to this long before starting (e.g. 15m), so that a fleet of
    /// timers does not call AWS in step, as chef and puppet agents splay their runs.
    #[arg(long, value_name = "DURATION", default_value = "0")]
    pub(crate) splay: HumanDuration,
    /// A current code of the MFA device the profiles' `mfa_serial` names; without it
    /// rekey runs `mfa_command`, or asks on a terminal.
    #[arg(long, value_name = "CODE")]
    pub(crate) mfa_code: Option<String>,
    /// POST this run's events to this webhook URL (repeatable; apply, prune, status,
    /// sync, audit, respond, find), as the manifest's `notify:` does: for runs without one. A
    /// webhook URL is a credential and every local user can read a command line: prefer
    /// REKEY_NOTIFY_URL or --notify-url-file.
    #[arg(long, value_name = "URL", value_parser = webhook_url, env = "REKEY_NOTIFY_URL", hide_env_values = true)]
    pub(crate) notify: Vec<String>,
    /// Read a webhook URL for --notify from this file (its first line).
    #[arg(long, value_name = "FILE")]
    pub(crate) notify_url_file: Vec<PathBuf>,
    /// Trust the manifest for this run if its content has this SHA-256 (what `rekey
    /// trust` and an untrusted manifest's message print): how an unattended run trusts
    /// the manifest its operator reviewed. The path alone never trusts.
    #[arg(
        long,
        value_name = "HEX",
        env = "REKEY_MANIFEST_SHA256",
        hide_env_values = true
    )]
    pub(crate) manifest_sha256: Option<String>,
}

/// `rekey trust`.
#[derive(Debug, Args)]
pub(crate) struct TrustArgs {
    /// The manifest (default: the one a command run here would use).
    #[arg(value_name = "FILE")]
    pub(crate) manifest: Option<PathBuf>,
    /// List every trusted manifest, and whether it is still as it was trusted.
    #[arg(long, conflicts_with_all = ["manifest", "revoke"])]
    pub(crate) list: bool,
    /// Forget the manifest's trust.
    #[arg(long)]
    pub(crate) revoke: bool,
    /// Where rekey keeps its records.
    #[arg(long, env = "REKEY_STATE_DIR", value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,
}

/// Which profiles to work on.
#[derive(Debug, Args)]
pub(crate) struct Selection {
    /// The manifest (default: $REKEY_MANIFEST, else rekey.yaml in this folder or the
    /// nearest parent up to home or a repository root, else every static-key profile of
    /// the shared credentials file).
    #[arg(long, value_name = "FILE")]
    pub(crate) manifest: Option<PathBuf>,
    /// Only this profile (repeatable).
    #[arg(long = "profile", value_name = "NAME", add = complete::profiles())]
    pub(crate) profiles: Vec<String>,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// For people.
    Text,
    /// For programs; see the README for the schema.
    Json,
}

/// `rekey plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// Which profiles.
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// The choices that change apply's plan.
    #[command(flatten)]
    pub(crate) choices: Choices,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
    /// Exit 0 when there is nothing to do, 2 when changes are planned, 1 on error.
    #[arg(long)]
    pub(crate) detailed_exitcode: bool,
    /// Open MFA sessions for profiles with mfa_serial, to read their keys in IAM (asks
    /// for a code, or runs mfa_command: the code is used up). Implied by --mfa-code.
    #[arg(long)]
    pub(crate) mfa: bool,
    /// How to run.
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// What changes the plan: `apply` takes these, and `plan` shows what they would do.
#[derive(Debug, Args)]
pub(crate) struct Choices {
    /// Override the grace period before old keys are deleted (e.g. 7d, 0).
    #[arg(long, value_name = "DURATION", conflicts_with = "compromised")]
    pub(crate) grace: Option<HumanDuration>,
    /// Rotate every selected key now, whatever max_age says (the old key keeps its grace
    /// period, unlike --compromised).
    #[arg(long)]
    pub(crate) now: bool,
    /// Leak response: replace every selected key now, whatever max_age says, and delete
    /// each old key as soon as its replacement works and is written (grace 0). Lists
    /// each replaced key's last use, to look for misuse.
    #[arg(long)]
    pub(crate) compromised: bool,
    /// Make room for the new key: delete an inactive key that rekey did not deactivate,
    /// or end the grace period of the last rotation's old key (its rollback with it).
    /// Active keys are never deleted.
    #[arg(long)]
    pub(crate) make_room: bool,
    /// Rotate a key even though another manifest, which writes places this run does not,
    /// rotated it last (those places then keep the old key).
    #[arg(long)]
    pub(crate) ignore_manifest: bool,
    /// Rotate a key even though a copy of it was found in a place no sink writes (that
    /// copy then keeps the old key): under the manifest's scan: roots, or, without a
    /// manifest, in the home folder.
    #[arg(long)]
    pub(crate) allow_uncovered: bool,
    /// Do not search for other copies of the keys (default mode searches the home
    /// folder, a manifest its scan: roots): for machines where no copy can be, like CI.
    #[arg(long)]
    pub(crate) no_scan: bool,
    /// With --compromised: how long AWS may still accept a deleted old key (it does for
    /// a few seconds) before rekey calls the response failed.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub(crate) revocation_timeout: HumanDuration,
    /// With --compromised: deactivate (never delete: it is evidence) any key of the user
    /// this run did not create and no place holds, found once the old key is refused,
    /// and contain what CloudTrail shows the leaked key made (users, their keys and
    /// console passwords, roles), as `respond` does.
    #[arg(long)]
    pub(crate) quarantine: bool,
    /// With --compromised: leave the user's sessions alone. By default every session the
    /// user opened before the response (GetSessionToken, GetFederationToken) is revoked
    /// by an inline deny policy on aws:TokenIssueTime (needs iam:PutUserPolicy).
    #[arg(long)]
    pub(crate) keep_sessions: bool,
    /// With --compromised: sign the users' IAM calls as this AWS profile (an
    /// administrator), as `via:` does in a manifest: the way on for a user AWS has
    /// quarantined, whose own key may no longer create or delete keys.
    #[arg(long, value_name = "PROFILE", requires = "compromised", add = complete::profiles())]
    pub(crate) via: Option<String>,
    /// With --compromised: once the old key is replaced and refused, detach AWS's
    /// quarantine policy (every AWSCompromisedKeyQuarantine version) from the user, and
    /// prove the new key can do what the user last did. By default it stays, named with
    /// the command that detaches it.
    #[arg(long, requires = "compromised")]
    pub(crate) lift_quarantine: bool,
    /// With --compromised: for the response's duration, a service control policy on the
    /// user's account denying everything to the user and to what CloudTrail shows the
    /// leaked key made (AWS Organizations; signed as --org-via). Needs an administrator
    /// signing the response (--via, or the manifest's via:).
    #[arg(long, requires_all = ["compromised", "org_via"])]
    pub(crate) fence: bool,
    /// With --fence: the AWS profile that signs in the organization's management account.
    #[arg(long, value_name = "PROFILE", requires = "fence", add = complete::profiles())]
    pub(crate) org_via: Option<String>,
    /// With --fence: leave the fence standing after the response (named in the report).
    #[arg(long, requires = "fence")]
    pub(crate) keep_fence: bool,
    /// The regions whose CloudTrail history is read for what the leaked key did
    /// (comma-separated; default: us-east-1, where IAM's and STS's calls are recorded,
    /// and the run's own region).
    #[arg(
        long,
        requires = "compromised",
        value_name = "REGION,REGION",
        value_delimiter = ','
    )]
    pub(crate) regions: Vec<String>,
}

/// `rekey apply`.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// Which profiles.
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// The choices that change the plan.
    #[command(flatten)]
    pub(crate) choices: Choices,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
    /// How to run.
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// `rekey respond`.
#[derive(Debug, Args)]
pub(crate) struct RespondArgs {
    /// The alert, a JSON file or - for stdin: an AWS Health event as EventBridge
    /// delivers it (AWS_RISK_CREDENTIALS_EXPOSED), or a GitHub secret-scanning alert
    /// (alone, under `alert`, or as a repository_dispatch client_payload).
    #[arg(long, value_name = "FILE|-")]
    pub(crate) event: PathBuf,
    /// The manifest (default: $REKEY_MANIFEST, else the nearest rekey.yaml, else every
    /// static-key profile of the shared credentials file).
    #[arg(long, value_name = "FILE")]
    pub(crate) manifest: Option<PathBuf>,
    /// An administrator's AWS profile that signs the response's IAM calls, as `via:`
    /// does in a manifest: the way on for a user AWS has quarantined. With
    /// --deactivate-unknown it also finds the user of an exposed key no profile holds
    /// and deactivates that key.
    #[arg(long, value_name = "PROFILE", add = complete::profiles())]
    pub(crate) via: Option<String>,
    /// Deactivate an exposed key that no profile holds (signed as --via; its user found
    /// through IAM), and revoke that user's older sessions. Whatever uses the key stops
    /// working: it is contained, not replaced.
    #[arg(long, requires = "via")]
    pub(crate) deactivate_unknown: bool,
    /// Leave the users' sessions alone (by default every session issued before the
    /// response is revoked).
    #[arg(long)]
    pub(crate) keep_sessions: bool,
    /// Once an exposed key is replaced and refused, detach AWS's quarantine policy
    /// (every AWSCompromisedKeyQuarantine version) from its user, and prove the new key
    /// can do what the user last did (needs --via: the quarantine denies the user the
    /// detach). By default it stays, named with the command that detaches it.
    #[arg(long, requires = "via")]
    pub(crate) lift_quarantine: bool,
    /// Report what CloudTrail shows the leaked key made (users, their keys and console
    /// passwords, roles, policy changes) without containing any of it. By default each
    /// user and role it made is denied everything, their keys deactivated and console
    /// passwords deleted, never deleted themselves (evidence).
    #[arg(long)]
    pub(crate) no_contain: bool,
    /// For the response's duration, a service control policy on the
    /// user's account denying everything to the user and to what CloudTrail shows the
    /// leaked key made (AWS Organizations; signed as --org-via). Needs an administrator
    /// signing the response (--via, or the manifest's via:).
    #[arg(long, requires = "org_via")]
    pub(crate) fence: bool,
    /// With --fence: the AWS profile that signs in the organization's management account.
    #[arg(long, value_name = "PROFILE", requires = "fence", add = complete::profiles())]
    pub(crate) org_via: Option<String>,
    /// With --fence: leave the fence standing after the response (named in the report).
    #[arg(long, requires = "fence")]
    pub(crate) keep_fence: bool,
    /// The regions whose CloudTrail history is read for what the leaked key did
    /// (comma-separated; default: us-east-1, where IAM's and STS's calls are recorded,
    /// and the run's own region).
    #[arg(long, value_name = "REGION,REGION", value_delimiter = ',')]
    pub(crate) regions: Vec<String>,
    /// Let an unknown active key of a user be deleted, once deactivated and reported, so
    /// that user's leaked key can be replaced (IAM allows two keys).
    #[arg(long)]
    pub(crate) make_room: bool,
    /// How long AWS may still accept a deleted old key before the response fails.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub(crate) revocation_timeout: HumanDuration,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
    /// How to run.
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// `rekey prune`.
#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Which profiles.
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// Deactivate an old key whose overlap period is over even if IAM saw it used after
    /// the rotation (something may still depend on it).
    #[arg(long)]
    pub(crate) force: bool,
    /// End the selected old keys' grace (and overlap) periods now: each is deleted (or
    /// deactivated) at once if every other rule of prune allows it (unused since the
    /// rotation, no place holds it, IAM backs rekey's record).
    #[arg(long)]
    pub(crate) now: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
    /// How to run.
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// `rekey rollback`.
#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    /// The profile whose last rotation to undo (or as `--profile NAME`).
    #[arg(
        value_name = "PROFILE",
        required_unless_present = "profile",
        conflicts_with = "profile",
        add = complete::profiles()
    )]
    pub(crate) positional: Option<String>,
    /// The profile whose last rotation to undo.
    #[arg(long, value_name = "NAME", add = complete::profiles())]
    pub(crate) profile: Option<String>,
    /// The manifest naming the profile (default: as for plan).
    #[arg(long, value_name = "FILE")]
    pub(crate) manifest: Option<PathBuf>,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// During an overlap period, delete the new key even if IAM saw it used after the
    /// rotation (other machines may have picked it up).
    #[arg(long)]
    pub(crate) force: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
    /// How to run.
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// `rekey status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Which profiles.
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
    /// Exit 2 when a key is past max_age, a copy drifts or a deletion is overdue (for
    /// monitors and scheduled jobs), 0 when all is well, 1 on error.
    #[arg(long)]
    pub(crate) detailed_exitcode: bool,
    /// How to run.
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// `rekey audit`'s output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AuditOutput {
    /// A table for people, most severe first.
    Text,
    /// One JSON document (docs/schemas/audit.schema.json).
    Json,
    /// A row per key.
    Csv,
    /// AWS Security Finding Format: a JSON array of findings, as Security Hub's
    /// BatchImportFindings takes them.
    Asff,
    /// OCSF 1.5 Compliance Findings (class 2003): a JSON array of events.
    Ocsf,
    /// One self-contained HTML page: a summary per account, a chart of key ages, the
    /// findings sortable and filterable with their fixes.
    Html,
}

/// Where `rekey audit --push` sends findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AuditPush {
    /// AWS Security Hub (BatchImportFindings), in the run's region.
    SecurityHub,
}

/// The benchmarks `rekey audit --benchmark` judges by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AuditBenchmark {
    /// CIS AWS Foundations Benchmark v3.0 and v7.0.
    Cis,
    /// AWS Foundational Security Best Practices.
    Fsbp,
}

/// `rekey find`'s output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FindOutput {
    /// For people.
    Text,
    /// One JSON document (docs/schemas/find.schema.json).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and CI dashboards: a result per copy.
    Sarif,
}

/// `rekey audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// The AWS profile that signs (any profile the AWS SDK understands; default: the
    /// SDK's default credential chain).
    #[arg(long, value_name = "PROFILE", add = complete::profiles())]
    pub(crate) via: Option<String>,
    /// Every ACTIVE account of the organization the signer's account manages
    /// (organizations:ListAccounts), through --role in each.
    #[arg(long, requires = "role", conflicts_with = "accounts")]
    pub(crate) org: bool,
    /// These accounts (comma-separated ids), through --role in each.
    #[arg(long, value_name = "ID,ID", value_delimiter = ',', requires = "role")]
    pub(crate) accounts: Vec<String>,
    /// The role to assume in each account (e.g. OrganizationAccountAccessRole); the
    /// signer's own account is read directly.
    #[arg(long, value_name = "NAME")]
    pub(crate) role: Option<String>,
    /// An active key older than this is a finding.
    #[arg(long, value_name = "DURATION", default_value = "90d")]
    pub(crate) max_age: HumanDuration,
    /// Judge by a benchmark: its thresholds for the findings (keys rotated within 90
    /// days; unused 45 days for CIS, 90 for FSBP) and a pass or fail per control per
    /// account.
    #[arg(long, value_enum, conflicts_with_all = ["max_age", "unused"])]
    pub(crate) benchmark: Option<AuditBenchmark>,
    /// Suppressions: a YAML list of {account?, user?, key_id?, finding?, reason,
    /// expires}. A suppressed finding is shown as such and not counted; an expired
    /// suppression is a finding.
    #[arg(long, value_name = "FILE")]
    pub(crate) ignore: Option<PathBuf>,
    /// An active key unused this long is a finding.
    #[arg(long, value_name = "DURATION", default_value = "30d")]
    pub(crate) unused: HumanDuration,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = AuditOutput::Text)]
    pub(crate) output: AuditOutput,
    /// Exit 2 on any finding, 0 when there is none, 1 when an account could not be
    /// audited.
    #[arg(long)]
    pub(crate) detailed_exitcode: bool,
    /// Also read every user's SSH public keys and service-specific credentials
    /// (CodeCommit, Bedrock API keys), which the credential report does not show: two
    /// more IAM calls per user.
    #[arg(long)]
    pub(crate) all_credentials: bool,
    /// Send the findings there too (ASFF; findings of earlier runs that no longer hold
    /// are archived and resolved).
    #[arg(long, value_enum)]
    pub(crate) push: Option<AuditPush>,
    /// The profile whose account's hub receives the findings (a delegated
    /// administrator's; default: the signer's).
    #[arg(long, value_name = "PROFILE", requires = "push", add = complete::profiles())]
    pub(crate) hub_via: Option<String>,
    /// How to run (--jobs: accounts at once).
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// `rekey hook`.
#[derive(Debug, Args)]
pub(crate) struct HookArgs {
    /// What to do.
    #[arg(value_enum)]
    pub(crate) action: HookAction,
    /// Replace a pre-commit hook rekey did not write.
    #[arg(long)]
    pub(crate) force: bool,
}

/// What `rekey hook` does.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum HookAction {
    /// Write the repository's pre-commit hook.
    Install,
}

/// `rekey find`.
#[derive(Debug, Args)]
pub(crate) struct FindArgs {
    /// Folders to search (default: the home folder).
    #[arg(value_name = "PATH")]
    pub(crate) roots: Vec<PathBuf>,
    /// Search the current git repository's staged changes instead (what the next commit
    /// adds): exit 1 naming each file and line that holds a known key, an unknown
    /// AKIA/ASIA id or a known secret. What `rekey hook install`'s pre-commit hook runs.
    #[arg(long, conflicts_with_all = ["roots", "output", "detailed_exitcode", "history"])]
    pub(crate) staged: bool,
    /// Also search the history of every git repository under the folders (and of the
    /// one a folder is in): every blob reachable from any ref, the reflog and the
    /// stash, once each, with the commits that introduced it and whether they were
    /// pushed (a pushed key is leaked).
    #[arg(long)]
    pub(crate) history: bool,
    /// Whose keys to look for.
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// Skip what .gitignore files ignore (not by default: .env files are usually
    /// ignored by git, and they are what this looks for).
    #[arg(long)]
    pub(crate) respect_gitignore: bool,
    /// Stay on each root's file system.
    #[arg(long)]
    pub(crate) one_file_system: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = FindOutput::Text)]
    pub(crate) output: FindOutput,
    /// Exit 2 when a profile's current key has a copy no sink writes (it would go
    /// stale at the next rotation), 0 otherwise, 1 on error.
    #[arg(long)]
    pub(crate) detailed_exitcode: bool,
    /// How to run (the state dir with rekey's records of old keys; --notify).
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// `rekey init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Where to write it.
    #[arg(long, value_name = "FILE", default_value = "rekey.yaml")]
    pub(crate) manifest: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    pub(crate) force: bool,
    /// Also look for each key's other copies under these folders (none given: the
    /// project, i.e. the repository holding the manifest or else its folder, and
    /// ~/.aws) and list each as a sink, or as a comment where rekey cannot edit it; the
    /// folders become the manifest's scan:.
    #[arg(long, value_name = "PATH", num_args = 0..)]
    pub(crate) scan: Option<Vec<PathBuf>>,
    /// Where rekey keeps its records (the manifest written is recorded as trusted).
    #[arg(long, env = "REKEY_STATE_DIR", value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,
}

/// `rekey schedule`.
#[derive(Debug, Args)]
pub(crate) struct ScheduleArgs {
    /// What to do.
    #[arg(value_enum)]
    pub(crate) action: ScheduleAction,
    /// Where (default: systemd where a user manager runs, else cron; launchd on macOS).
    #[arg(long, value_enum)]
    pub(crate) backend: Option<ScheduleBackend>,
    /// Print what would be written and run, and where; change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// The longest random delay before each day's run, so many machines do not call
    /// AWS at once.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub(crate) splay: HumanDuration,
    /// The manifest the upkeep uses (default: the one a command run here would use).
    #[arg(long, value_name = "FILE")]
    pub(crate) manifest: Option<PathBuf>,
    /// The state directory (default: `$REKEY_STATE_DIR`, else `$XDG_STATE_HOME/rekey`).
    #[arg(long, value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,
}

/// What `rekey schedule` does.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum ScheduleAction {
    /// Write and start the daily upkeep.
    Install,
    /// Show what is installed.
    Show,
    /// Stop and remove it.
    Remove,
}

/// What runs the upkeep.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum ScheduleBackend {
    /// A systemd user timer.
    Systemd,
    /// A crontab line.
    Cron,
    /// A launchd agent (macOS).
    Launchd,
}

/// `rekey completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    pub(crate) shell: clap_complete::Shell,
}

/// `rekey sync`.
#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// Which profiles.
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// Put back what the last sync replaced, where the key it wrote is still held (for a
    /// synced key deleted since, by a rollback elsewhere).
    #[arg(long)]
    pub(crate) undo: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
    /// How to run.
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// `rekey recover`.
#[derive(Debug, Args)]
pub(crate) struct RecoverArgs {
    /// Which profiles.
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// With `state: s3://…`, undo a rotation even if the run that held its lease stopped
    /// renewing it less than two lease periods ago (it may only be paused; by default
    /// the undo waits for it). Use once that machine is known to be stopped.
    #[arg(long)]
    pub(crate) force: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
    /// How to run.
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// `rekey credential-process`: either a manifest profile's keyring sink, or an entry
/// named directly (which needs no manifest: the form to use in ~/.aws/config).
#[derive(Debug, Args)]
pub(crate) struct CredentialProcessArgs {
    /// The profile whose (first) keyring sink to read.
    #[arg(
        long,
        required_unless_present_any = ["account", "secret_id"],
        conflicts_with_all = ["account", "secret_id"],
        add = complete::profiles()
    )]
    pub(crate) profile: Option<String>,
    /// The manifest naming the profile (default: as for plan).
    #[arg(long, value_name = "FILE", requires = "profile")]
    pub(crate) manifest: Option<PathBuf>,
    /// The keyring service (default `rekey`), with --account.
    #[arg(long, requires = "account")]
    pub(crate) service: Option<String>,
    /// The keyring account.
    #[arg(long, conflicts_with = "secret_id")]
    pub(crate) account: Option<String>,
    /// A Secrets Manager secret (name or ARN) written by a `secretsmanager` sink.
    #[arg(long, requires = "via")]
    pub(crate) secret_id: Option<String>,
    /// The secret's region (default: the AWS SDK's).
    #[arg(long, requires = "secret_id")]
    pub(crate) region: Option<String>,
    /// The AWS profile that reads the secret (never the profile whose
    /// credential_process this is: that would call itself).
    #[arg(long, requires = "secret_id")]
    pub(crate) via: Option<String>,
}

/// `--notify`'s URL, checked as the manifest's `notify: - webhook:` is.
pub(super) fn webhook_url(url: &str) -> Result<String, String> {
    crate::config::manifest::WebhookUrl::try_from(url.to_owned())
        .map(|u| u.0)
        .map_err(str::to_owned)
}
