//! CloudTrail's event history, kept by the fault proxy (moto keeps none): every IAM and
//! STS call the proxy forwards becomes an event, and `LookupEvents` is answered as AWS
//! documents it: by one lookup attribute (`AccessKeyId`, `EventName`, `Username`),
//! within `StartTime`..`EndTime`, newest first, in pages of at most 50 with a
//! `NextToken`; an event shows only once `lag` has passed since its call (AWS's history
//! lags the calls by minutes).

use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

/// The recorded calls.
#[derive(Default)]
pub struct Trail {
    events: Vec<Recorded>,
    /// How long after its call an event shows in `LookupEvents`.
    pub lag: Duration,
}

struct Recorded {
    at: SystemTime,
    recorded: Instant,
    name: String,
    source: String,
    key_id: String,
    region: String,
    request: Value,
    response: Value,
    error: Option<String>,
}

impl Trail {
    /// Records a forwarded query-protocol call (`form`, its body) and its `answer`.
    pub fn record(
        &mut self,
        name: &str,
        service: &str,
        key_id: &str,
        region: &str,
        form: &str,
        answer: &[u8],
    ) {
        let answer = String::from_utf8_lossy(answer);
        let ok = answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200");
        let between = |from: &str, to: &str| {
            let start = answer.find(from)? + from.len();
            let end = answer[start..].find(to)? + start;
            Some(answer[start..end].to_owned())
        };
        let mut request = serde_json::Map::new();
        for pair in form.split('&') {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            if key == "Action" || key == "Version" {
                continue;
            }
            // CloudTrail names request parameters in lower camel case.
            let mut name = key.to_owned();
            name[..1].make_ascii_lowercase();
            request.insert(name, Value::String(super::form_decode(value)));
        }
        let response = match (name, between("<AccessKeyId>", "</AccessKeyId>")) {
            ("CreateAccessKey", Some(id)) if ok => json!({"accessKey": {
                "accessKeyId": id,
                "userName": between("<UserName>", "</UserName>"),
                "status": "Active",
            }}),
            _ => Value::Null,
        };
        self.events.push(Recorded {
            at: SystemTime::now(),
            recorded: Instant::now(),
            name: name.to_owned(),
            source: format!("{service}.amazonaws.com"),
            key_id: key_id.to_owned(),
            region: region.to_owned(),
            request: Value::Object(request),
            response,
            error: (!ok).then(|| between("<Code>", "</Code>").unwrap_or_default()),
        });
    }

    /// The answer to a `LookupEvents` request `body` (JSON) made in `region`, as AWS
    /// gives it: each region's history holds the calls recorded there.
    pub fn lookup(&self, region: &str, body: &str) -> String {
        let asked: Value = serde_json::from_str(body).unwrap_or_default();
        let attribute = &asked["LookupAttributes"][0];
        let (key, value) = (
            attribute["AttributeKey"].as_str().unwrap_or_default(),
            attribute["AttributeValue"].as_str().unwrap_or_default(),
        );
        let seconds = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
        };
        let start = asked["StartTime"].as_f64().unwrap_or(0.0);
        let end = asked["EndTime"].as_f64().unwrap_or(f64::MAX);
        let max = asked["MaxResults"].as_u64().unwrap_or(50).min(50) as usize;
        let skip: usize = asked["NextToken"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let mut matching: Vec<&Recorded> = self
            .events
            .iter()
            .filter(|e| e.recorded.elapsed() >= self.lag && e.region == region)
            .filter(|e| (start..=end).contains(&seconds(e.at)))
            .filter(|e| match key {
                "AccessKeyId" => e.key_id == value,
                "EventName" => e.name == value,
                _ => false,
            })
            .collect();
        matching.reverse(); // newest first
        let page: Vec<Value> = matching
            .iter()
            .skip(skip)
            .take(max)
            .enumerate()
            .map(|(n, e)| {
                let read_only = ["Get", "List", "Describe"]
                    .iter()
                    .any(|p| e.name.starts_with(p));
                let full = json!({
                    "eventVersion": "1.08",
                    "eventTime": crate::support::rfc3339(e.at),
                    "eventSource": e.source,
                    "eventName": e.name,
                    "awsRegion": e.region,
                    "sourceIPAddress": "203.0.113.7",
                    "userIdentity": {"type": "IAMUser", "accessKeyId": e.key_id},
                    "requestParameters": e.request,
                    "responseElements": e.response,
                    "errorCode": e.error,
                    "readOnly": read_only,
                });
                json!({
                    "EventId": format!("{:08x}-proxy", skip + n),
                    "EventName": e.name,
                    "ReadOnly": read_only.to_string(),
                    "AccessKeyId": e.key_id,
                    "EventTime": seconds(e.at),
                    "EventSource": e.source,
                    "Resources": resources(&e.request, &e.response),
                    "CloudTrailEvent": full.to_string(),
                })
            })
            .collect();
        let mut answer = json!({ "Events": page });
        if matching.len() > skip + max {
            answer["NextToken"] = Value::String((skip + max).to_string());
        }
        answer.to_string()
    }
}

/// The resources an IAM call names, as CloudTrail lists them.
fn resources(request: &Value, response: &Value) -> Vec<Value> {
    let mut named = Vec::new();
    for (field, kind) in [
        ("userName", "AWS::IAM::User"),
        ("roleName", "AWS::IAM::Role"),
        ("groupName", "AWS::IAM::Group"),
        ("policyArn", "AWS::IAM::Policy"),
    ] {
        if let Some(name) = request[field].as_str() {
            named.push(json!({"ResourceType": kind, "ResourceName": name}));
        }
    }
    if let Some(id) = response["accessKey"]["accessKeyId"].as_str() {
        named.push(json!({"ResourceType": "AWS::IAM::AccessKey", "ResourceName": id}));
    }
    named
}
