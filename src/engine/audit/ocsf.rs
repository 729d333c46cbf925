//! An audit's findings as OCSF Compliance Findings (class 2003 of the Open Cybersecurity
//! Schema Framework 1.5, as Prowler writes them) for security data lakes (Amazon
//! Security Lake, Splunk, …): the same findings as the ASFF ones, each its own event,
//! with the same id.

use serde_json::{json, Value};

use crate::aws::securityhub::AsffFinding;

/// The OCSF version the events follow.
pub(crate) const OCSF_VERSION: &str = "1.5.0";

/// `finding` as an OCSF Compliance Finding event.
pub(crate) fn event(finding: &AsffFinding) -> Value {
    let (severity_id, severity) = match finding.severity.label {
        "INFORMATIONAL" => (1, "Informational"),
        "LOW" => (2, "Low"),
        "MEDIUM" => (3, "Medium"),
        "HIGH" => (4, "High"),
        "CRITICAL" => (5, "Critical"),
        _ => (0, "Unknown"),
    };
    let (status_id, status) = match finding.workflow.as_ref().map(|w| w.status) {
        Some("SUPPRESSED") => (3, "Suppressed"),
        _ => (1, "New"),
    };
    let requirements = &finding.compliance.related_requirements;
    let mut standards: Vec<&str> = (requirements.iter())
        .filter_map(|r| r.split_once('/').map(|(standard, _)| standard))
        .collect();
    standards.dedup();
    let created = millis(&finding.created_at);
    let now = millis(&finding.updated_at);
    let resource = &finding.resources[0];
    json!({
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2003,
        "class_name": "Compliance Finding",
        "type_uid": 200_301,
        "type_name": "Compliance Finding: Create",
        "time": now,
        "time_dt": finding.updated_at,
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "message": finding.description,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {
                "name": "rekey",
                "vendor_name": "rekey",
                "uid": "rekey",
                "version": env!("CARGO_PKG_VERSION"),
            },
            "event_code": finding.product_fields.get("rekey/finding"),
            "profiles": ["cloud"],
        },
        "finding_info": {
            "uid": finding.id,
            "title": finding.title,
            "desc": finding.description,
            "types": finding.types,
            "created_time": created,
            "created_time_dt": finding.created_at,
            "modified_time": now,
            "modified_time_dt": finding.updated_at,
        },
        "compliance": {
            "status_id": 3,
            "status": "Fail",
            "requirements": requirements,
            "standards": standards,
        },
        "remediation": {"desc": finding.remediation.recommendation.text},
        "resources": [{
            "type": resource.kind,
            "uid": resource.id,
            "name": finding.product_fields.get("rekey/user").unwrap_or(&resource.id),
            "region": resource.region,
            "cloud_partition": resource.partition,
            "data": resource.details,
        }],
        "cloud": {
            "provider": "AWS",
            "region": resource.region,
            "account": {"uid": finding.aws_account_id, "type": "AWS Account", "type_id": 10},
        },
    })
}

/// Milliseconds since the epoch (OCSF's `timestamp_t`) of an RFC 3339 time.
fn millis(rfc3339: &str) -> i64 {
    crate::time::parse_rfc3339(rfc3339)
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
