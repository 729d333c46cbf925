//! CloudTrail's event history as a leak response reads it: every call one access key
//! made (`cloudtrail:LookupEvents` by `AccessKeyId`), one region at a time. IAM and STS
//! calls are global and recorded in us-east-1; other services' in their own region.
//! `LookupEvents` allows about two calls a second per account and region, so pages of
//! one region are asked at most that often. The history lags the calls by minutes: what
//! it returns is what has arrived, not all that happened.

use std::time::{Duration, SystemTime};

use super::{Aws, AwsError, AwsErrorKind, Caller};

/// Between two `LookupEvents` calls of one region (AWS allows 2 per second).
const PAGE_INTERVAL: Duration = Duration::from_millis(500);

/// One event of the history.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TrailEvent {
    /// When the call was made.
    pub(crate) time: SystemTime,
    /// The API call, e.g. `CreateUser`.
    pub(crate) name: String,
    /// The service, e.g. `iam.amazonaws.com`.
    pub(crate) source: String,
    /// The region it was recorded in.
    pub(crate) region: String,
    /// Whether the call only read.
    pub(crate) read_only: bool,
    /// Where it came from (`sourceIPAddress`).
    pub(crate) source_ip: Option<String>,
    /// The resources it names, as (type, name): `("AWS::IAM::User", "evil")`.
    pub(crate) resources: Vec<(String, String)>,
    /// Its `requestParameters` (`Null` when none).
    pub(crate) request: serde_json::Value,
    /// Its `responseElements` (`Null` when none).
    pub(crate) response: serde_json::Value,
    /// Its `errorCode`, when the call failed.
    pub(crate) error: Option<String>,
}

impl Aws {
    /// Every event of `key_id` recorded in `region` from `start` to `end` (every page),
    /// read as `caller`.
    pub(crate) async fn lookup_events(
        &self,
        caller: &Caller,
        region: &str,
        key_id: &str,
        (start, end): (SystemTime, SystemTime),
    ) -> Result<Vec<TrailEvent>, AwsError> {
        #[cfg(test)]
        if self.fake.is_some() {
            return Ok(Vec::new());
        }
        let config = aws_sdk_cloudtrail::config::Builder::from(&self.base)
            .credentials_provider(caller.credentials.clone())
            .region(aws_config::Region::new(region.to_owned()))
            .interceptor(self.clock.clone())
            .interceptor(rekey_sinks::call_log::CallLog)
            .build();
        let client = aws_sdk_cloudtrail::Client::from_conf(config);
        let attribute = aws_sdk_cloudtrail::types::LookupAttribute::builder()
            .attribute_key(aws_sdk_cloudtrail::types::LookupAttributeKey::AccessKeyId)
            .attribute_value(key_id)
            .build()
            .map_err(|e| AwsError {
                operation: "cloudtrail:LookupEvents",
                kind: AwsErrorKind::Other,
                message: e.to_string(),
            })?;
        let mut events = Vec::new();
        let mut token = None;
        loop {
            let page = client
                .lookup_events()
                .lookup_attributes(attribute.clone())
                .start_time(start.into())
                .end_time(end.into())
                .max_results(50)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("cloudtrail:LookupEvents", e))?;
            events.extend(page.events().iter().map(|e| event(e, region)));
            match page.next_token() {
                Some(next) => token = Some(next.to_owned()),
                None => return Ok(events),
            }
            tokio::time::sleep(PAGE_INTERVAL).await;
        }
    }
}

/// One event as rekey reads it: the summary fields, and the rest from the full record
/// (`CloudTrailEvent`, a JSON string).
fn event(e: &aws_sdk_cloudtrail::types::Event, region: &str) -> TrailEvent {
    let full: serde_json::Value = e
        .cloud_trail_event()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    let text = |field: &str| full[field].as_str().map(str::to_owned);
    TrailEvent {
        time: (e.event_time().and_then(|t| SystemTime::try_from(*t).ok()))
            .unwrap_or(SystemTime::UNIX_EPOCH),
        name: e.event_name().unwrap_or_default().to_owned(),
        source: e.event_source().unwrap_or_default().to_owned(),
        region: text("awsRegion").unwrap_or_else(|| region.to_owned()),
        read_only: e.read_only() == Some("true"),
        source_ip: text("sourceIPAddress"),
        resources: (e.resources().iter())
            .map(|r| {
                let kind = r.resource_type().unwrap_or_default().to_owned();
                (kind, r.resource_name().unwrap_or_default().to_owned())
            })
            .collect(),
        request: full["requestParameters"].clone(),
        response: full["responseElements"].clone(),
        error: text("errorCode"),
    }
}
