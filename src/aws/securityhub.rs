//! Security Hub as `rekey audit --push security-hub` uses it: findings imported in
//! batches of 100 (`BatchImportFindings`' limit), one batch at a time (AWS allows 10
//! calls a second in bursts of 30; the SDK's retry paces beyond that), and the findings
//! rekey imported before (`GetFindings`, active ones of rekey's generator), so that one
//! which no longer holds is archived and resolved rather than left open.

use std::collections::HashSet;

use aws_sdk_securityhub::types as hub;
use serde::Serialize;

use super::{Aws, AwsError, AwsErrorKind, Caller};

/// The ASFF version rekey writes.
pub(crate) const ASFF_VERSION: &str = "2018-10-08";

/// One finding in the AWS Security Finding Format, with the fields rekey fills;
/// serialized, it is ASFF JSON (`--output asff`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AsffFinding {
    /// Always [`ASFF_VERSION`].
    pub(crate) schema_version: &'static str,
    /// Stable across runs, so a re-run updates the finding instead of adding one.
    pub(crate) id: String,
    /// The custom integration of the hub's account:
    /// `arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default`.
    pub(crate) product_arn: String,
    /// The rule that found it (`rekey/audit/two_active_keys`).
    pub(crate) generator_id: String,
    /// The account the key is in.
    pub(crate) aws_account_id: String,
    /// `namespace/category/classifier`.
    pub(crate) types: Vec<String>,
    /// When the issue began to be possible (the key's creation: the same every run).
    pub(crate) created_at: String,
    /// This run.
    pub(crate) updated_at: String,
    /// `{Label}`.
    pub(crate) severity: AsffSeverity,
    /// At most 256 characters.
    pub(crate) title: String,
    /// At most 1024 characters.
    pub(crate) description: String,
    /// What fixes it.
    pub(crate) remediation: AsffRemediation,
    /// rekey's own fields (`rekey/finding`, `rekey/user`).
    pub(crate) product_fields: std::collections::BTreeMap<String, String>,
    /// The key (`AwsIamAccessKey`) or, for the root user's, the account (`AwsAccount`).
    pub(crate) resources: Vec<AsffResource>,
    /// `FAILED`, with the benchmark requirements it fails.
    pub(crate) compliance: AsffCompliance,
    /// `SUPPRESSED` for a finding an `--ignore` suppression covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) workflow: Option<AsffWorkflow>,
    /// `ACTIVE`.
    pub(crate) record_state: &'static str,
}

/// `Severity`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AsffSeverity {
    /// `INFORMATIONAL`, `LOW`, `MEDIUM`, `HIGH` or `CRITICAL`.
    pub(crate) label: &'static str,
}

/// `Remediation`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AsffRemediation {
    /// `{Text}`.
    pub(crate) recommendation: AsffRecommendation,
}

/// `Remediation.Recommendation`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AsffRecommendation {
    /// At most 512 characters: the command that fixes it.
    pub(crate) text: String,
}

/// One of `Resources`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AsffResource {
    /// `AwsIamAccessKey` or `AwsAccount`.
    #[serde(rename = "Type")]
    pub(crate) kind: &'static str,
    /// The key id, or `AWS::::Account:ID`.
    pub(crate) id: String,
    /// `aws`, `aws-cn` or `aws-us-gov`.
    pub(crate) partition: String,
    /// The run's region (IAM is global).
    pub(crate) region: String,
    /// For a key: `{AwsIamAccessKey: {...}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) details: Option<AsffDetails>,
}

/// `Resources[].Details`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AsffDetails {
    /// The key.
    pub(crate) aws_iam_access_key: AsffAccessKey,
}

/// `Details.AwsIamAccessKey`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AsffAccessKey {
    /// The key id.
    pub(crate) access_key_id: String,
    /// `Active` or `Inactive`.
    pub(crate) status: &'static str,
    /// Its creation.
    pub(crate) created_at: String,
    /// The user.
    pub(crate) principal_name: String,
    /// `IAMUser`.
    pub(crate) principal_type: &'static str,
    /// The account.
    pub(crate) account_id: String,
}

/// `Workflow`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AsffWorkflow {
    /// `NEW`, `NOTIFIED`, `SUPPRESSED` or `RESOLVED`.
    pub(crate) status: &'static str,
}

/// `Compliance`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AsffCompliance {
    /// `FAILED`.
    pub(crate) status: &'static str,
    /// `CIS AWS Foundations Benchmark v3.0.0/1.14`, `AWS Foundational Security Best
    /// Practices v1.0.0/IAM.3`, … (at most 32).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) related_requirements: Vec<String>,
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub(crate) struct Pushed {
    /// The hub's product ARN the findings were imported under.
    pub(crate) product_arn: String,
    /// Findings imported (new or updated).
    pub(crate) imported: usize,
    /// Findings of earlier runs that no longer hold, archived and resolved.
    pub(crate) resolved: usize,
    /// Findings the hub refused: `id: message`.
    pub(crate) failed: Vec<String>,
}

impl Aws {
    /// The product ARN of `account`'s own integration in the run's region.
    pub(crate) fn hub_product_arn(&self, partition: &str, account: &str) -> String {
        let region = self.region_name();
        format!("arn:{partition}:securityhub:{region}:{account}:product/{account}/default")
    }

    /// The run's region, where the findings' resources are said to be.
    pub(crate) fn region_name(&self) -> String {
        self.base
            .region()
            .map_or(super::FALLBACK_REGION, |r| r.as_ref())
            .to_owned()
    }

    /// Imports `findings` into `caller`'s hub, then archives and resolves the active
    /// findings of rekey's generator (`generator_prefix`) for `accounts` under
    /// `product_arn` that `findings` no longer has.
    pub(crate) async fn push_findings(
        &self,
        caller: &Caller,
        product_arn: &str,
        (generator_prefix, accounts): (&str, &[String]),
        findings: &[AsffFinding],
        now: &str,
    ) -> Result<Pushed, AwsError> {
        let client = self.hub_client(caller);
        let fresh: HashSet<&str> = findings.iter().map(|f| f.id.as_str()).collect();
        let earlier = previous(&client, product_arn, generator_prefix).await?;
        let stale: Vec<hub::AwsSecurityFinding> = (earlier.into_iter())
            .filter(|f| {
                f.aws_account_id
                    .as_ref()
                    .is_some_and(|a| accounts.contains(a))
            })
            .filter(|f| !f.id.as_deref().is_some_and(|id| fresh.contains(id)))
            .map(|f| resolved(f, now))
            .collect();
        let mut pushed = Pushed {
            product_arn: product_arn.to_owned(),
            ..Pushed::default()
        };
        let current: Vec<hub::AwsSecurityFinding> = findings.iter().map(to_sdk).collect();
        for (batch, resolving) in
            (current.chunks(100).map(|b| (b, false))).chain(stale.chunks(100).map(|b| (b, true)))
        {
            let answer = client
                .batch_import_findings()
                .set_findings(Some(batch.to_vec()))
                .send()
                .await
                .map_err(|e| hub_error("securityhub:BatchImportFindings", e))?;
            let accepted = usize::try_from(answer.success_count().unwrap_or(0)).unwrap_or(0);
            match resolving {
                true => pushed.resolved += accepted,
                false => pushed.imported += accepted,
            }
            pushed
                .failed
                .extend(answer.failed_findings().iter().map(|f| {
                    let id = f.id().unwrap_or("?");
                    format!("{id}: {}", f.error_message().unwrap_or("refused"))
                }));
        }
        Ok(pushed)
    }

    fn hub_client(&self, caller: &Caller) -> aws_sdk_securityhub::Client {
        let config = aws_sdk_securityhub::config::Builder::from(&self.base)
            .credentials_provider(caller.credentials.clone())
            .interceptor(self.clock.clone())
            .interceptor(rekey_sinks::call_log::CallLog)
            .build();
        aws_sdk_securityhub::Client::from_conf(config)
    }
}

/// The active findings of rekey's generator under `product_arn` (every page). The hub
/// is asked to filter; what it returns is filtered again. (The SDK's reader of a
/// finding is built optimized even in debug builds: see Cargo.toml.)
async fn previous(
    client: &aws_sdk_securityhub::Client,
    product_arn: &str,
    generator_prefix: &str,
) -> Result<Vec<hub::AwsSecurityFinding>, AwsError> {
    let filter = |value: &str, comparison: &str| {
        hub::StringFilter::builder()
            .value(value)
            .comparison(hub::StringFilterComparison::from(comparison))
            .build()
    };
    let filters = hub::AwsSecurityFindingFilters::builder()
        .product_arn(filter(product_arn, "EQUALS"))
        .generator_id(filter(generator_prefix, "PREFIX"))
        .record_state(filter("ACTIVE", "EQUALS"))
        .build();
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .get_findings()
            .filters(filters.clone())
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| hub_error("securityhub:GetFindings", e))?;
        found.extend(
            page.findings()
                .iter()
                .filter(|f| {
                    f.product_arn.as_deref() == Some(product_arn)
                        && (f.generator_id.as_deref())
                            .is_some_and(|g| g.starts_with(generator_prefix))
                        && f.record_state == Some(hub::RecordState::Active)
                })
                .cloned(),
        );
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => return Ok(found),
        }
    }
}

/// `finding`, no longer holding: archived (on which Security Hub resolves a finding
/// whose workflow is NEW or NOTIFIED; the workflow is set RESOLVED too, which a finding
/// provider may do while no one has changed it), its compliance PASSED.
fn resolved(mut finding: hub::AwsSecurityFinding, now: &str) -> hub::AwsSecurityFinding {
    finding.updated_at = Some(now.to_owned());
    finding.record_state = Some(hub::RecordState::Archived);
    finding.workflow = Some(
        hub::Workflow::builder()
            .status(hub::WorkflowStatus::Resolved)
            .build(),
    );
    let requirements = (finding.compliance.as_ref())
        .map(|c| c.related_requirements().to_vec())
        .unwrap_or_default();
    finding.compliance = Some(
        hub::Compliance::builder()
            .status(hub::ComplianceStatus::Passed)
            .set_related_requirements(Some(requirements).filter(|r| !r.is_empty()))
            .build(),
    );
    finding
}

/// rekey's finding as the SDK's.
fn to_sdk(f: &AsffFinding) -> hub::AwsSecurityFinding {
    let resources = f.resources.iter().map(|r| {
        let details = r.details.as_ref().map(|d| {
            let key = &d.aws_iam_access_key;
            hub::ResourceDetails::builder()
                .aws_iam_access_key(
                    hub::AwsIamAccessKeyDetails::builder()
                        .access_key_id(&key.access_key_id)
                        .status(hub::AwsIamAccessKeyStatus::from(key.status))
                        .created_at(&key.created_at)
                        .principal_name(&key.principal_name)
                        .principal_type(key.principal_type)
                        .account_id(&key.account_id)
                        .build(),
                )
                .build()
        });
        hub::Resource::builder()
            .r#type(r.kind)
            .id(&r.id)
            .partition(hub::Partition::from(r.partition.as_str()))
            .region(&r.region)
            .set_details(details)
            .build()
    });
    hub::AwsSecurityFinding::builder()
        .schema_version(f.schema_version)
        .id(&f.id)
        .product_arn(&f.product_arn)
        .generator_id(&f.generator_id)
        .aws_account_id(&f.aws_account_id)
        .set_types(Some(f.types.clone()))
        .created_at(&f.created_at)
        .updated_at(&f.updated_at)
        .severity(
            hub::Severity::builder()
                .label(hub::SeverityLabel::from(f.severity.label))
                .build(),
        )
        .title(&f.title)
        .description(&f.description)
        .remediation(
            hub::Remediation::builder()
                .recommendation(
                    hub::Recommendation::builder()
                        .text(&f.remediation.recommendation.text)
                        .build(),
                )
                .build(),
        )
        .set_product_fields(Some(f.product_fields.clone().into_iter().collect()))
        .set_resources(Some(resources.collect()))
        .compliance(
            hub::Compliance::builder()
                .status(hub::ComplianceStatus::from(f.compliance.status))
                .set_related_requirements(
                    Some(f.compliance.related_requirements.clone()).filter(|r| !r.is_empty()),
                )
                .build(),
        )
        .set_workflow(f.workflow.as_ref().map(|w| {
            hub::Workflow::builder()
                .status(hub::WorkflowStatus::from(w.status))
                .build()
        }))
        .record_state(hub::RecordState::from(f.record_state))
        .build()
}

/// A Security Hub error, with what to do when the hub is not enabled.
fn hub_error<E>(
    operation: &'static str,
    error: aws_sdk_securityhub::error::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> AwsError
where
    E: aws_sdk_securityhub::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let not_enabled = error
        .as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "InvalidAccessException");
    let mut failed = AwsError::from_sdk(operation, error);
    if not_enabled {
        failed.kind = AwsErrorKind::Other;
        failed.message.push_str(
            " (Security Hub is not enabled for this account and region: `aws securityhub enable-security-hub`, or push with --hub-via to the delegated administrator's)",
        );
    }
    failed
}
