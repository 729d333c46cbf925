//! The arguments turned into each command's plain options (`From`), and the run's
//! context from the run options: the only place that knows both clap's structs and the
//! commands' types.

use super::args::*;
use super::prompt;
use crate::commands;
use crate::engine::audit::Scope;
use crate::report;

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

impl Choices {
    fn overrides(&self) -> commands::Choices {
        commands::Choices {
            grace: self.grace.map(|g| g.0),
            now: self.now,
            compromised: self.compromised,
            make_room: self.make_room,
            ignore_manifest: self.ignore_manifest,
            allow_uncovered: self.allow_uncovered,
            search_home: !self.no_scan,
            no_scan: self.no_scan,
            revocation_timeout: self.revocation_timeout.0,
            quarantine: self.quarantine,
            keep_sessions: self.keep_sessions,
            via: self.via.clone(),
            lift_quarantine: self.lift_quarantine,
            read_quarantine: false,
            no_contain: false,
            fence: self.org_via.clone().filter(|_| self.fence),
            keep_fence: self.keep_fence,
            regions: self.regions.clone(),
        }
    }
}

impl RunArgs {
    /// Waits a random part of `--splay`, then gives the context to run with.
    pub(super) async fn start(&self, quiet: bool) -> anyhow::Result<commands::Context> {
        let ctx = self.context(quiet)?;
        if !self.splay.0.is_zero() {
            let wait = self.splay.0.mul_f64(fastrand::f64());
            tracing::info!("waiting {}s before starting (--splay)", wait.as_secs());
            tokio::time::sleep(wait).await;
        }
        Ok(ctx)
    }

    fn context(&self, quiet: bool) -> anyhow::Result<commands::Context> {
        use crate::config::manifest::{Notify, WebhookUrl};
        let jobs = usize::from(self.jobs);
        let mut ctx =
            commands::Context::new(self.state_dir.clone(), self.lock_timeout.0, jobs, quiet);
        ctx.mfa_code = self.mfa_code.clone();
        ctx.mfa_prompt = Some(std::sync::Arc::new(prompt::Terminal));
        ctx.api_timeout = self.api_timeout.0;
        let mut urls = self.notify.clone();
        for file in &self.notify_url_file {
            urls.push(url_from_file(file)?);
        }
        ctx.notify = urls
            .into_iter()
            .map(|url| Notify::Webhook(WebhookUrl(url)))
            .collect();
        if let Some(pin) = &self.manifest_sha256 {
            ctx.manifest_pin = Some(pin.trim().to_ascii_lowercase());
        }
        Ok(ctx)
    }
}

/// `--notify-url-file`'s URL: the file's first line, checked as `--notify`'s. Neither
/// the URL nor the line is ever shown: it is a credential.
fn url_from_file(file: &std::path::Path) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let text = std::fs::read_to_string(file).with_context(|| {
        format!(
            "cannot read --notify-url-file {}",
            rekey_sinks::shown::path(file)
        )
    })?;
    let line = text.lines().next().unwrap_or_default().trim();
    webhook_url(line).map_err(|why| {
        anyhow::anyhow!(
            "--notify-url-file {}: its first line is {why}",
            rekey_sinks::shown::path(file)
        )
    })
}

impl From<PlanArgs> for commands::plan::Options {
    fn from(args: PlanArgs) -> Self {
        Self {
            mfa: args.mfa || args.run.mfa_code.is_some(),
            selection: args.selection.into(),
            choices: args.choices.overrides(),
            output: args.output.into(),
            detailed_exitcode: args.detailed_exitcode,
        }
    }
}

impl From<ApplyArgs> for commands::apply::Options {
    fn from(args: ApplyArgs) -> Self {
        Self {
            selection: args.selection.into(),
            choices: args.choices.overrides(),
            yes: args.yes,
            output: args.output.into(),
        }
    }
}

impl From<RespondArgs> for commands::respond::Options {
    fn from(args: RespondArgs) -> Self {
        Self {
            event: args.event,
            manifest: args.manifest,
            via: args.via.clone(),
            deactivate_unknown: args.deactivate_unknown,
            choices: commands::Choices {
                via: args.via.clone(),
                lift_quarantine: args.lift_quarantine,
                no_contain: args.no_contain,
                fence: args.org_via.clone().filter(|_| args.fence),
                keep_fence: args.keep_fence,
                regions: args.regions.clone(),
                compromised: true,
                quarantine: true,
                make_room: args.make_room,
                keep_sessions: args.keep_sessions,
                revocation_timeout: args.revocation_timeout.0,
                ..commands::Choices::default()
            },
            output: args.output.into(),
        }
    }
}

impl From<PruneArgs> for commands::prune::Options {
    fn from(args: PruneArgs) -> Self {
        Self {
            selection: args.selection.into(),
            yes: args.yes,
            force: args.force,
            now: args.now,
            output: args.output.into(),
        }
    }
}

impl From<SyncArgs> for commands::sync::Options {
    fn from(args: SyncArgs) -> Self {
        Self {
            selection: args.selection.into(),
            yes: args.yes,
            undo: args.undo,
            output: args.output.into(),
        }
    }
}

impl From<RecoverArgs> for commands::recover::Options {
    fn from(args: RecoverArgs) -> Self {
        Self {
            selection: args.selection.into(),
            output: args.output.into(),
            force: args.force,
        }
    }
}

impl TryFrom<AuditArgs> for commands::audit::Options {
    type Error = anyhow::Error;

    fn try_from(args: AuditArgs) -> anyhow::Result<Self> {
        let scope = match (args.org, args.role) {
            (true, Some(role)) => Scope::Organization { role },
            (false, Some(role)) if !args.accounts.is_empty() => Scope::Accounts {
                ids: args.accounts,
                role,
            },
            (_, Some(_)) => anyhow::bail!("--role needs --org or --accounts"),
            (_, None) => Scope::Own,
        };
        use crate::engine::audit::benchmark::Benchmark;
        let benchmark = args.benchmark.map(|b| match b {
            AuditBenchmark::Cis => Benchmark::Cis,
            AuditBenchmark::Fsbp => Benchmark::Fsbp,
        });
        let limits = benchmark.map(Benchmark::thresholds);
        Ok(Self {
            via: args.via,
            scope,
            max_age: limits.map_or(args.max_age.0, |l| l.max_age),
            unused: limits.map_or(args.unused.0, |l| l.unused),
            benchmark,
            format: match args.output {
                AuditOutput::Text => commands::audit::Format::Text,
                AuditOutput::Json => commands::audit::Format::Json,
                AuditOutput::Csv => commands::audit::Format::Csv,
                AuditOutput::Asff => commands::audit::Format::Asff,
                AuditOutput::Ocsf => commands::audit::Format::Ocsf,
                AuditOutput::Html => commands::audit::Format::Html,
            },
            detailed_exitcode: args.detailed_exitcode,
            all_credentials: args.all_credentials,
            push: args.push.map(
                |AuditPush::SecurityHub| commands::audit::Push::SecurityHub { via: args.hub_via },
            ),
            suppressions: match &args.ignore {
                None => Vec::new(),
                Some(file) => {
                    let shown = rekey_sinks::shown::path(file);
                    let text = std::fs::read_to_string(file)
                        .map_err(|e| anyhow::anyhow!("cannot read {shown}: {e}"))?;
                    crate::engine::audit::suppress::parse(&text)
                        .map_err(|e| anyhow::anyhow!("{shown}: {e}"))?
                }
            },
        })
    }
}

impl From<FindArgs> for commands::find::Options {
    fn from(args: FindArgs) -> Self {
        Self {
            selection: args.selection.into(),
            roots: args.roots,
            walk: crate::engine::find::WalkOptions {
                respect_gitignore: args.respect_gitignore,
                one_file_system: args.one_file_system,
                skip: Vec::new(),
                deadline: None,
                history: args.history,
            },
            output: match args.output {
                FindOutput::Text => report::Output::Text,
                FindOutput::Json | FindOutput::Sarif => report::Output::Json,
            },
            sarif: args.output == FindOutput::Sarif,
            detailed_exitcode: args.detailed_exitcode,
            staged: args.staged,
        }
    }
}

impl From<StatusArgs> for commands::status::Options {
    fn from(args: StatusArgs) -> Self {
        Self {
            selection: args.selection.into(),
            output: args.output.into(),
            detailed_exitcode: args.detailed_exitcode,
        }
    }
}

impl From<RollbackArgs> for commands::rollback::Options {
    fn from(args: RollbackArgs) -> Self {
        Self {
            profile: args
                .profile
                .or(args.positional)
                .expect("clap requires one of them"),
            manifest: args.manifest,
            yes: args.yes,
            force: args.force,
            output: args.output.into(),
        }
    }
}

impl From<TrustArgs> for commands::trust::Options {
    fn from(args: TrustArgs) -> Self {
        Self {
            manifest: args.manifest,
            list: args.list,
            revoke: args.revoke,
        }
    }
}

impl From<InitArgs> for commands::init::Options {
    fn from(args: InitArgs) -> Self {
        Self {
            manifest: args.manifest,
            force: args.force,
            scan: args.scan,
        }
    }
}

impl From<ScheduleArgs> for commands::schedule::Options {
    fn from(args: ScheduleArgs) -> Self {
        use commands::schedule::{Action, Backend};
        Self {
            action: match args.action {
                ScheduleAction::Install => Action::Install,
                ScheduleAction::Show => Action::Show,
                ScheduleAction::Remove => Action::Remove,
            },
            backend: args.backend.map(|b| match b {
                ScheduleBackend::Systemd => Backend::Systemd,
                ScheduleBackend::Cron => Backend::Cron,
                ScheduleBackend::Launchd => Backend::Launchd,
            }),
            dry_run: args.dry_run,
            splay: args.splay.0,
            manifest: args.manifest,
            state_dir: args.state_dir,
        }
    }
}

impl From<CredentialProcessArgs> for commands::credential_process::Options {
    fn from(args: CredentialProcessArgs) -> Self {
        Self {
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
        }
    }
}

impl Command {
    /// The output the command was asked for: where a failure's JSON document goes.
    pub(super) fn output(&self) -> report::Output {
        let output = match self {
            Command::Plan(a) => a.output,
            Command::Apply(a) => a.output,
            Command::Respond(a) => a.output,
            Command::Prune(a) => a.output,
            Command::Sync(a) => a.output,
            Command::Recover(a) => a.output,
            // A SARIF consumer takes no failure document: a failure is said on stderr.
            Command::Find(a) if a.output == FindOutput::Json => Output::Json,
            Command::Status(a) => a.output,
            Command::Rollback(a) => a.output,
            // Nor does an ASFF consumer (BatchImportFindings takes findings only).
            Command::Audit(a) if a.output == AuditOutput::Json => Output::Json,
            _ => Output::Text,
        };
        output.into()
    }
}
