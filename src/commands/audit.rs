//! `rekey audit`: every IAM user access key of one account or many, with what needs
//! acting on (see `engine::audit`), as a table, JSON or CSV.

use std::time::Duration;

use anyhow::{bail, Result};

use super::{Context, Outcome};
use crate::engine::audit::findings::Thresholds;
use crate::engine::audit::{self, Scope};
use crate::report::audit::{self as told, AuditReport};
use crate::report::{emit, Output};

/// How `rekey audit` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// A table for people.
    Text,
    /// One JSON document.
    Json,
    /// A row per key.
    Csv,
    /// AWS Security Finding Format (a JSON array).
    Asff,
    /// OCSF Compliance Findings (a JSON array).
    Ocsf,
    /// One self-contained HTML page.
    Html,
}

/// Where findings are sent besides the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Push {
    /// Security Hub in the run's region, of the signer's account or `via`'s.
    SecurityHub {
        /// `--hub-via`.
        via: Option<String>,
    },
}

/// What `rekey audit` is asked.
pub(crate) struct Options {
    /// The AWS profile that signs (`None`: the SDK's default chain).
    pub(crate) via: Option<String>,
    /// Which accounts.
    pub(crate) scope: Scope,
    /// `--max-age`.
    pub(crate) max_age: Duration,
    /// `--unused`.
    pub(crate) unused: Duration,
    /// How to print.
    pub(crate) format: Format,
    /// Exit 2 on any finding.
    pub(crate) detailed_exitcode: bool,
    /// `--push`.
    pub(crate) push: Option<Push>,
    /// `--all-credentials`: every user's SSH public keys and service-specific
    /// credentials too.
    pub(crate) all_credentials: bool,
    /// `--ignore`'s suppressions.
    pub(crate) suppressions: Vec<audit::suppress::Suppression>,
    /// `--benchmark`: whose thresholds `max_age` and `unused` are, and whose controls'
    /// verdicts are reported per account.
    pub(crate) benchmark: Option<audit::benchmark::Benchmark>,
}

/// Runs `rekey audit`. Exit 1 when an account could not be audited (the others are
/// still printed), else 2 with `--detailed-exitcode` on any finding.
pub(crate) async fn run(ctx: &Context, args: Options) -> Result<Outcome> {
    // The manifest here is read only for its `notify:`: an untrusted one stops the
    // audit before it starts, not after the findings are in.
    let targets = ctx.notify_targets(&Default::default())?;
    let aws = ctx.aws().await;
    let signer = match &args.via {
        Some(profile) => aws.via(profile).await?,
        None => aws.default_chain().await?,
    };
    // Asked once: the audit's own account, and the hub's when the signer pushes.
    let signer_identity = signer.identity().await?;
    let limits = Thresholds {
        max_age: args.max_age,
        unused: args.unused,
    };
    // What this machine's rekey recorded (none if its state dir cannot be read: the
    // audit then judges by IAM's tags alone).
    let known = match ctx.state() {
        Ok(state) => audit::Known {
            pending: state.all_pending().unwrap_or_default(),
            state: Some(state.clone()),
        },
        Err(_) => audit::Known::default(),
    };
    let reach = (ctx.jobs, args.all_credentials);
    let signed = (&signer, signer_identity.account.as_str());
    let mut accounts = audit::audit(&aws, signed, &args.scope, limits, reach, &known).await?;
    audit::suppress::apply(&mut accounts, &args.suppressions, crate::time::now());
    if let Some(benchmark) = args.benchmark {
        for account in &mut accounts {
            account.compliance = audit::benchmark::verdicts(benchmark, account);
        }
    }
    let mut report = AuditReport {
        schema: 1,
        benchmark: args.benchmark,
        max_age_days: args.max_age.as_secs() / 86_400,
        unused_days: args.unused.as_secs() / 86_400,
        accounts,
        security_hub: None,
    };
    // The hub's credentials, and whose they are.
    let hub = match &args.push {
        Some(Push::SecurityHub { via: Some(profile) }) => {
            let hub = aws.via(profile).await?;
            let identity = hub.identity().await?;
            Some((hub, identity))
        }
        Some(Push::SecurityHub { via: None }) => Some((signer.clone(), signer_identity.clone())),
        None => None,
    };
    let asff = match (hub.as_ref(), args.format) {
        (None, Format::Asff | Format::Ocsf | Format::Html) => {
            Some(asff_findings(&aws, &signer_identity, &report))
        }
        (Some((_, identity)), _) => Some(asff_findings(&aws, identity, &report)),
        (None, _) => None,
    };
    if let (Some((hub, _)), Some(asff)) = (&hub, &asff) {
        report.security_hub = Some(push(&aws, hub, asff, &report).await?);
    }
    ctx.tell(&targets, crate::notify::events::audit(&report))
        .await;
    match args.format {
        Format::Text => emit(Output::Text, &report, || told::table(&report))?,
        Format::Json => emit(Output::Json, &report, String::new)?,
        Format::Csv => {
            let csv = told::csv(&report)?;
            emit(Output::Text, &report, || csv)?
        }
        Format::Asff => emit(Output::Json, &asff_only(&asff), String::new)?,
        Format::Ocsf => {
            let events: Vec<_> = asff_only(&asff).iter().map(audit::ocsf::event).collect();
            emit(Output::Json, &events, String::new)?
        }
        Format::Html => {
            let page = crate::report::audit_html::page(&report, asff_only(&asff));
            emit(Output::Text, &report, || page)?
        }
    }
    // These formats print the findings alone: what the hub took goes to stderr.
    let findings_alone = matches!(args.format, Format::Asff | Format::Ocsf | Format::Html);
    if let (true, Some(pushed)) = (findings_alone, &report.security_hub) {
        eprintln!("{}", told::pushed_line(pushed));
    }
    if let Some(pushed) = &report.security_hub {
        if !pushed.failed.is_empty() {
            bail!(
                "Security Hub refused {}: {}",
                crate::report::count(pushed.failed.len(), "finding"),
                pushed.failed.join("; ")
            );
        }
    }
    let unreachable: Vec<&str> = report
        .unreachable()
        .iter()
        .map(|a| a.account.as_str())
        .collect();
    if !unreachable.is_empty() {
        bail!(
            "{} could not be audited: {} (see above)",
            crate::report::count(unreachable.len(), "account"),
            unreachable.join(", ")
        );
    }
    Ok(match args.detailed_exitcode && report.has_findings() {
        true => Outcome::NeedsAttention,
        false => Outcome::Success,
    })
}

/// The report's findings in ASFF for the hub of `identity`'s account (whose the hub's
/// credentials are: its product ARN and partition come from them), and that product ARN.
fn asff_findings(
    aws: &crate::aws::Aws,
    identity: &crate::aws::Identity,
    report: &AuditReport,
) -> (Vec<crate::aws::securityhub::AsffFinding>, String) {
    let partition = identity.arn.split(':').nth(1).unwrap_or("aws").to_owned();
    let product_arn = aws.hub_product_arn(&partition, &identity.account);
    let target = audit::asff::Hub {
        product_arn: product_arn.clone(),
        partition,
        region: aws.region_name(),
    };
    let thresholds = (report.max_age_days, report.unused_days);
    let now = crate::time::now();
    let findings = audit::asff::findings(&report.accounts, &target, thresholds, now);
    (findings, product_arn)
}

/// Sends `findings` to `hub`'s Security Hub (`product_arn`'s); earlier findings of the
/// accounts `report` audited that no longer hold are resolved.
async fn push(
    aws: &crate::aws::Aws,
    hub: &crate::aws::Caller,
    (findings, product_arn): &(Vec<crate::aws::securityhub::AsffFinding>, String),
    report: &AuditReport,
) -> Result<crate::aws::securityhub::Pushed> {
    let audited: Vec<String> = (report.accounts.iter())
        .filter(|a| a.error.is_none())
        .map(|a| a.account.clone())
        .collect();
    let prefix = audit::asff::GENERATOR_PREFIX;
    let now = crate::time::rfc3339(crate::time::now());
    let pushed = aws
        .push_findings(hub, product_arn, (prefix, &audited), findings, &now)
        .await?;
    Ok(pushed)
}

/// The findings of [`asff_findings`], if made.
fn asff_only(
    asff: &Option<(Vec<crate::aws::securityhub::AsffFinding>, String)>,
) -> &[crate::aws::securityhub::AsffFinding] {
    asff.as_ref().map(|(f, _)| f.as_slice()).unwrap_or_default()
}
