//! A fault-injecting HTTP proxy in front of moto, answering in AWS's own error format.
//!
//! It forwards each request to moto (one request per connection) unless a fault is set
//! for its `Action`: throttling bursts, 5xx answers, connection resets before or after
//! moto saw the request, added latency, `AccessDenied`, and what moto does not do but
//! AWS does:
//! - propagation per service: a key created through the proxy is refused with
//!   `InvalidClientTokenId` by STS for a while and by IAM for a (possibly longer) while,
//!   as real AWS does (STS has been seen to accept a new key seconds before IAM);
//! - inactive and deleted keys are refused: a key the proxy saw deactivated
//!   (`UpdateAccessKey` with `Status=Inactive`) is refused with `InvalidClientTokenId`
//!   until it is reactivated, and one it saw deleted for good; with `revocation_lag`,
//!   only once that long has passed (AWS accepts a deleted key for a few seconds).
//!
//! - a role that does not exist cannot be assumed: `AssumeRole` answers `AccessDenied`
//!   unless the role is in its account (moto lets anyone assume any role);
//! - sessions revoked by a user's inline policy: a request signed with a session from
//!   `GetSessionToken` is refused (`AccessDenied`, an explicit deny) when a policy the
//!   proxy saw put on the session's user denies everything to sessions whose
//!   `aws:TokenIssueTime` is before a date (moto does not evaluate policies).
//!
//! - CloudTrail's event history ([`trail`]): every IAM and STS call forwarded is an
//!   event, and `LookupEvents` is answered from them (moto keeps no history).
//!
//! Error bodies are AWS's query-protocol XML (`ErrorResponse`/`Error`/`Code`).

pub mod trail;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::moto;

/// What the proxy does wrong, per `Action` (e.g. `CreateAccessKey`).
#[derive(Default)]
pub struct Faults {
    /// Answer `Throttling` to the next N requests of the action.
    pub throttle: HashMap<&'static str, u32>,
    /// Answer this status (500, 503) to the next N requests of the action.
    pub server_error: HashMap<&'static str, (u16, u32)>,
    /// Close the connection, unanswered and unforwarded, for the next N requests.
    pub reset: HashMap<&'static str, u32>,
    /// Forward the next N requests, then close the connection without the answer.
    pub lose_answer: HashMap<&'static str, u32>,
    /// Forward requests of these actions, then spoil the JSON of a successful answer
    /// (its first `{` made `[`) so the SDK cannot parse it; the answer's body, secret
    /// and all, is otherwise what the service said.
    pub garble: HashSet<&'static str>,
    /// Answer `AccessDenied` to every request of these actions.
    pub deny: HashSet<&'static str>,
    /// If set, IAM answers `AccessDenied` to requests signed by any other key id (only
    /// an admin may manage keys; the users themselves have no IAM permissions).
    pub iam_only_for: Option<String>,
    /// IAM denies requests without a session token (a policy requiring MFA, which only
    /// a session from GetSessionToken with a code satisfies).
    pub mfa_required: bool,
    /// GetSessionToken accepts only this code (AWS's AccessDenied otherwise).
    pub mfa_code: Option<String>,
    /// Wait this long before answering anything.
    pub latency: Duration,
    /// Wait this long before forwarding a request of the action (holds a chosen call,
    /// to widen a race window).
    pub slow: HashMap<&'static str, Duration>,
    /// STS refuses requests signed with a new key this long after its creation.
    pub sts_propagation: Duration,
    /// IAM refuses requests signed with a new key this long after its creation.
    pub iam_propagation: Duration,
    /// Every other service (Secrets Manager, SSM) refuses requests signed with a new key
    /// this long after its creation.
    pub store_propagation: Duration,
    /// (pass, refuse): of the requests of the action signed with a key created through
    /// the proxy, let `pass` through, then refuse the next `refuse`, whatever the key's
    /// age (a replica that has not heard of the key yet).
    pub refuse_new_key: HashMap<&'static str, (u32, u32)>,
    /// IAM admits this many calls per second (a token bucket holding one second's
    /// worth), and answers the others `Throttling`, as IAM does past an account's rate.
    pub iam_rate: Option<f64>,
    /// The rate limit's bucket: tokens left, and when it was last filled.
    iam_bucket: Option<(f64, Instant)>,
    /// How many requests were answered `Throttling` (by `iam_rate` or `throttle`).
    pub throttled: usize,
    /// `ListAccessKeys` answers as they were this long ago (IAM's lists are eventually
    /// consistent: right after a create or delete a list can show the old keys). The
    /// request still reaches moto, whose answer is kept for later.
    pub stale_list: Option<Duration>,
    /// `ListAccessKeys` answers seen, per user, with when.
    lists: Vec<(String, Instant, Vec<u8>)>,
    /// `GetCredentialReport` shows the root user with this many active access keys (AWS's
    /// report always has the root user's row; moto's has none).
    pub root_active_keys: Option<u32>,
    /// `ListServiceSpecificCredentials` answers these per user, as (id, service, status,
    /// creation in RFC 3339): moto has no service-specific credentials.
    pub service_credentials: HashMap<String, Vec<(String, String, String, String)>>,
    /// Extra keys `ListAccessKeys` shows for a user (IAM enforces its two-key quota
    /// eventually: a user was seen with eight).
    pub phantom_keys: HashMap<String, Vec<String>>,
    /// Key ids seen in `CreateAccessKey` answers, with when.
    created: HashMap<String, Instant>,
    /// Session key ids from `GetSessionToken` answers, with the key that asked: a session
    /// acts as its user (for `iam_only_for`).
    sessions: HashMap<String, String>,
    /// Each session's user and when it was issued (its `aws:TokenIssueTime`).
    issued: HashMap<String, (String, std::time::SystemTime)>,
    /// The inline policies put on each user, by name (the last one put).
    policies: HashMap<String, HashMap<String, String>>,
    /// Key ids deactivated (refused until reactivated) or deleted through the proxy,
    /// with when.
    inactive: HashMap<String, Instant>,
    /// A deactivated or deleted key is still accepted this long (AWS: a deleted key
    /// works for a few seconds; measured 3-4 s in 2025).
    pub revocation_lag: Duration,
    /// An attacker holding the deleted key: the moment a key is deleted, a key is made
    /// for its user (as a script using the leaked key would, while it still works).
    pub attacker: bool,
    /// The keys the attacker made.
    pub attacker_keys: Vec<String>,
    /// The account that owns every bucket (moto's, unless set): S3 refuses a request
    /// whose `x-amz-expected-bucket-owner` names another, as AWS does (moto ignores it).
    pub bucket_owner: Option<String>,
    /// S3 requests that named no expected bucket owner.
    pub s3_without_owner: usize,
    /// CloudTrail's event history of the calls forwarded (see [`trail`]).
    pub trail: trail::Trail,
    /// Every action that reached the proxy, in order.
    pub seen: Vec<String>,
    /// The service each of them was signed for, in the same order.
    seen_services: Vec<String>,
}

/// A running proxy; it lives as long as the test process.
pub struct FaultProxy {
    pub endpoint: String,
    faults: Arc<Mutex<Faults>>,
}

impl FaultProxy {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let faults = Arc::new(Mutex::new(Faults::default()));
        let shared = faults.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let faults = shared.clone();
                std::thread::spawn(move || serve(client, &faults));
            }
        });
        Self { endpoint, faults }
    }

    /// Both services refuse a new key for `delay` after its creation.
    pub fn propagation(&self, delay: Duration) {
        self.set(|f| {
            f.sts_propagation = delay;
            f.iam_propagation = delay;
        });
    }

    /// Changes the faults.
    /// The keys the attacker made (see `Faults::attacker`).
    pub fn attacker_keys(&self) -> Vec<String> {
        self.faults.lock().unwrap().attacker_keys.clone()
    }

    pub fn set(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut self.faults.lock().unwrap());
    }

    /// How many S3 requests named no expected bucket owner.
    pub fn s3_without_owner(&self) -> usize {
        self.faults.lock().unwrap().s3_without_owner
    }

    /// How many requests signed for `service` (`iam`, `sts`) reached the proxy.
    pub fn seen_service(&self, service: &str) -> usize {
        let f = self.faults.lock().unwrap();
        f.seen_services.iter().filter(|s| *s == service).count()
    }

    /// Every action that reached the proxy, in order.
    pub fn seen(&self) -> Vec<String> {
        self.faults.lock().unwrap().seen.clone()
    }

    /// How many requests the proxy answered `Throttling`.
    pub fn throttled(&self) -> usize {
        self.faults.lock().unwrap().throttled
    }

    /// How many requests of `action` reached the proxy.
    pub fn count(&self, action: &str) -> usize {
        self.faults
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|a| *a == action)
            .count()
    }
}

impl Faults {
    /// Whether `key_id` is a session that an inline policy of its user denies: one whose
    /// statement denies every action when `aws:TokenIssueTime` is before a date later
    /// than the session's issue (AWS's way to revoke older sessions). GetCallerIdentity
    /// is never denied, as in AWS.
    fn session_revoked(&self, key_id: &str) -> bool {
        let Some((user, issued)) = self.issued.get(key_id) else {
            return false;
        };
        let policies = self.policies.get(user).into_iter().flat_map(|p| p.values());
        policies
            .filter_map(|text| serde_json::from_str::<serde_json::Value>(text).ok())
            .flat_map(|doc| doc["Statement"].as_array().cloned().unwrap_or_default())
            .filter(|st| st["Effect"] == "Deny" && st["Action"] == "*")
            .filter_map(|st| {
                let date = st["Condition"]["DateLessThan"]["aws:TokenIssueTime"].as_str()?;
                let date = aws_sdk_iam::primitives::DateTime::from_str(
                    date,
                    aws_sdk_iam::primitives::DateTimeFormat::DateTime,
                )
                .ok()?;
                std::time::SystemTime::try_from(date).ok()
            })
            .any(|before| *issued < before)
    }

    /// Whether `iam_rate` admits one more IAM call now (always, without a rate).
    fn admit_iam(&mut self) -> bool {
        let Some(rate) = self.iam_rate else {
            return true;
        };
        let now = Instant::now();
        let capacity = rate.max(1.0);
        let (tokens, filled) = self.iam_bucket.unwrap_or((capacity, now));
        let tokens = (tokens + now.duration_since(filled).as_secs_f64() * rate).min(capacity);
        let admitted = tokens >= 1.0;
        self.iam_bucket = Some((if admitted { tokens - 1.0 } else { tokens }, now));
        admitted
    }
}

fn take(counter: &mut HashMap<&'static str, u32>, action: &str) -> bool {
    match counter.get_mut(action) {
        Some(n) if *n > 0 => {
            *n -= 1;
            true
        }
        _ => false,
    }
}

fn serve(mut client: TcpStream, faults: &Mutex<Faults>) {
    let Some(request) = read_request(&mut client) else {
        return;
    };
    // Query protocol (IAM, STS): `Action=` in the body; JSON protocol (Secrets Manager,
    // SSM): `X-Amz-Target: secretsmanager.PutSecretValue`.
    let target = header(&request.head, "x-amz-target");
    let json = target.is_some();
    // S3's REST protocol names the action by the method: `S3:PUT`, `S3:GET`, `S3:DELETE`.
    let method = request
        .head
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    let action = match &target {
        Some(target) => target.rsplit('.').next().unwrap_or_default().to_owned(),
        None if request.head.contains("/s3/aws4_request") => format!("S3:{method}"),
        None => field(&request.body, "Action").unwrap_or_default(),
    };
    // `Credential=AKID/20261201/us-east-1/iam/aws4_request`: the key and the service.
    let scope: Vec<&str> = request
        .head
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split([',', ' ', '\r']).next())
        .unwrap_or_default()
        .split('/')
        .collect();
    let key_id = scope.first().copied().unwrap_or_default().to_owned();
    let region = scope.get(2).copied().unwrap_or_default().to_owned();
    let service = scope.get(3).copied().unwrap_or_default();
    // Asked before the faults are locked: it calls moto.
    let missing_role = (action == "AssumeRole")
        .then(|| field(&request.body, "RoleArn").map(|arn| form_decode(&arn)))
        .flatten()
        .filter(|arn| {
            let (account, name) = role_of(arn);
            !moto().role_exists(account, name)
        });

    enum Do {
        Answer(u16, &'static str, String),
        /// A JSON-protocol answer the proxy gives itself (CloudTrail's history).
        Reply(String),
        /// A query-protocol (XML) answer the proxy gives itself (IAM's service-specific
        /// credentials, which moto does not have).
        ReplyXml(String),
        Reset,
        Forward {
            lose_answer: bool,
            garble: bool,
        },
    }
    let s3 = action.starts_with("S3:");
    let expected_owner = header(&request.head, "x-amz-expected-bucket-owner");
    let (todo, latency) = {
        let mut f = faults.lock().unwrap();
        f.seen.push(action.clone());
        if s3 && expected_owner.is_none() {
            f.s3_without_owner += 1;
        }
        let owner = f
            .bucket_owner
            .clone()
            .unwrap_or_else(|| "123456789012".into());
        let wrong_owner = s3 && expected_owner.is_some_and(|expected| expected != owner);
        f.seen_services.push(service.to_owned());
        let delay = match service {
            "sts" => f.sts_propagation,
            "iam" => f.iam_propagation,
            _ => f.store_propagation,
        };
        let is_new = f.created.contains_key(&key_id);
        let propagating = f
            .created
            .get(&key_id)
            .is_some_and(|at| at.elapsed() < delay);
        let refused = is_new
            && match f.refuse_new_key.get_mut(action.as_str()) {
                Some((pass, _)) if *pass > 0 => {
                    *pass -= 1;
                    false
                }
                Some((_, refuse)) if *refuse > 0 => {
                    *refuse -= 1;
                    true
                }
                _ => false,
            };
        let revoked = f
            .inactive
            .get(&key_id)
            .is_some_and(|at| at.elapsed() >= f.revocation_lag);
        let todo = if propagating || refused || revoked {
            Do::Answer(
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.".into(),
            )
        } else if action == "GetSessionToken"
            && f.mfa_code
                .as_ref()
                .is_some_and(|code| field(&request.body, "TokenCode").as_ref() != Some(code))
        {
            Do::Answer(
                403,
                "AccessDenied",
                "MultiFactorAuthentication failed with invalid MFA one time pass code.".into(),
            )
        } else if wrong_owner {
            Do::Answer(403, "AccessDenied", "Access Denied".into())
        } else if let Some(arn) = &missing_role {
            Do::Answer(
                403,
                "AccessDenied",
                format!("User: arn:aws:iam::123456789012:user/x is not authorized to perform: sts:AssumeRole on resource: {arn}"),
            )
        } else if f.deny.contains(action.as_str())
            || (action != "GetCallerIdentity" && f.session_revoked(&key_id))
            || (service == "iam"
                && f.iam_only_for
                    .as_ref()
                    .is_some_and(|admin| *admin != *f.sessions.get(&key_id).unwrap_or(&key_id)))
            || (service == "iam"
                && f.mfa_required
                && !request
                    .head
                    .to_ascii_lowercase()
                    .contains("x-amz-security-token:"))
        {
            Do::Answer(
                403,
                "AccessDenied",
                format!("User: arn:aws:iam::123456789012:user/x is not authorized to perform: iam:{action}"),
            )
        } else if take(&mut f.throttle, &action) || (service == "iam" && !f.admit_iam()) {
            f.throttled += 1;
            Do::Answer(400, "Throttling", "Rate exceeded".into())
        } else if let Some((status, n)) = f
            .server_error
            .get_mut(action.as_str())
            .filter(|(_, n)| *n > 0)
        {
            *n -= 1;
            let status = *status;
            Do::Answer(
                status,
                if status == 503 {
                    "ServiceUnavailable"
                } else {
                    "InternalFailure"
                },
                "try again".into(),
            )
        } else if take(&mut f.reset, &action) {
            Do::Reset
        } else if action == "LookupEvents" {
            Do::Reply(f.trail.lookup(&region, &request.body))
        } else if action == "ListServiceSpecificCredentials" {
            let user = field(&request.body, "UserName").unwrap_or_default();
            Do::ReplyXml(service_credentials(&user, f.service_credentials.get(&user)))
        } else {
            Do::Forward {
                lose_answer: take(&mut f.lose_answer, &action),
                garble: f.garble.contains(action.as_str()),
            }
        };
        (
            todo,
            f.latency + f.slow.get(action.as_str()).copied().unwrap_or_default(),
        )
    };
    std::thread::sleep(latency); // the injected latency itself
    match todo {
        Do::Reset => {}
        Do::Reply(body) => {
            let _ = write!(
                client,
                "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Do::ReplyXml(body) => {
            let _ = write!(
                client,
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Do::Answer(status, code, message) if json => {
            // AWS's JSON-protocol error: the code in `__type`.
            let code = match code {
                "AccessDenied" => "AccessDeniedException",
                "InvalidClientTokenId" => "UnrecognizedClientException",
                "Throttling" => "ThrottlingException",
                other => other,
            };
            let body = format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}");
            let _ = write!(
                client,
                "HTTP/1.1 {status} Fault\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Do::Answer(status, code, message) if s3 => {
            // S3's REST error: `<Error>` at the top, no `ErrorResponse`.
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>rekey-fault</RequestId></Error>"
            );
            let _ = write!(
                client,
                "HTTP/1.1 {status} Fault\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Do::Answer(status, code, message) => {
            let body = format!(
                "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
                 <Code>{code}</Code><Message>{message}</Message></Error><RequestId>rekey-fault</RequestId></ErrorResponse>"
            );
            let _ = write!(
                client,
                "HTTP/1.1 {status} Fault\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Do::Forward {
            lose_answer,
            garble,
        } => {
            let mut answer = forward(&request);
            let succeeded =
                answer.starts_with(b"HTTP/1.1 200") || answer.starts_with(b"HTTP/1.0 200");
            if service == "iam" || service == "sts" {
                let mut f = faults.lock().unwrap();
                f.trail
                    .record(&action, service, &key_id, &region, &request.body, &answer);
            }
            if action == "GetSessionToken" {
                if let Some(id) = between(&answer, "<AccessKeyId>", "</AccessKeyId>") {
                    let issued = std::time::SystemTime::now();
                    let user = moto().user_of_key(&key_id);
                    let mut f = faults.lock().unwrap();
                    f.sessions.insert(id.clone(), key_id.clone());
                    if let Some(user) = user {
                        f.issued.insert(id, (user, issued));
                    }
                }
            }
            if action == "PutUserPolicy" && succeeded {
                let form = |name| field(&request.body, name).map(|v| form_decode(&v));
                if let (Some(user), Some(name), Some(doc)) =
                    (form("UserName"), form("PolicyName"), form("PolicyDocument"))
                {
                    let mut f = faults.lock().unwrap();
                    f.policies.entry(user).or_default().insert(name, doc);
                }
            }
            if action == "CreateAccessKey" {
                if let Some(id) = between(&answer, "<AccessKeyId>", "</AccessKeyId>") {
                    faults.lock().unwrap().created.insert(id, Instant::now());
                }
            }
            if action == "DeleteAccessKey" && succeeded {
                if let Some(id) = field(&request.body, "AccessKeyId") {
                    faults.lock().unwrap().inactive.insert(id, Instant::now());
                }
                let attacker = std::mem::take(&mut faults.lock().unwrap().attacker);
                if let (true, Some(user)) = (attacker, field(&request.body, "UserName")) {
                    let made = moto().create_key(&user).id;
                    faults.lock().unwrap().attacker_keys.push(made);
                }
            }
            if action == "UpdateAccessKey" && succeeded {
                if let Some(id) = field(&request.body, "AccessKeyId") {
                    let mut f = faults.lock().unwrap();
                    match field(&request.body, "Status").as_deref() {
                        Some("Inactive") => f.inactive.insert(id, Instant::now()),
                        _ => f.inactive.remove(&id),
                    };
                }
            }
            if action == "GetCredentialReport" && succeeded {
                if let Some(active) = faults.lock().unwrap().root_active_keys {
                    answer = with_root_row(&answer, active);
                }
            }
            if action == "ListAccessKeys" && succeeded {
                let user = field(&request.body, "UserName").unwrap_or_default();
                let mut f = faults.lock().unwrap();
                f.lists.push((user.clone(), Instant::now(), answer.clone()));
                if let Some(lag) = f.stale_list {
                    let now = Instant::now();
                    let of_user = || f.lists.iter().filter(|(u, _, _)| *u == user);
                    let then = of_user()
                        .rfind(|(_, at, _)| now.duration_since(*at) >= lag)
                        .or_else(|| of_user().next());
                    if let Some((_, _, old)) = then {
                        answer = old.clone();
                    }
                }
                if let Some(extra) = f.phantom_keys.get(&user) {
                    answer = with_phantom_keys(&answer, &user, extra);
                }
            }
            if garble && succeeded {
                let body = answer.windows(4).position(|w| w == b"\r\n\r\n");
                if let Some(brace) =
                    body.and_then(|at| answer[at..].iter().position(|&b| b == b'{').map(|i| at + i))
                {
                    answer[brace] = b'[';
                }
            }
            if !lose_answer {
                let _ = client.write_all(&answer);
            }
        }
    }
}

struct Request {
    head: String,
    body: String,
}

/// The value of header `name` (lower case) in a request head.
fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim().eq_ignore_ascii_case(name)).then(|| value.trim().to_owned())
    })
}

fn read_request(client: &mut TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(client.try_clone().ok()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        // One request per connection: the client must not wait to reuse it.
        if !line.to_ascii_lowercase().starts_with("connection:") {
            head.push_str(&line);
        }
    }
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        head,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn forward(request: &Request) -> Vec<u8> {
    let address = moto().endpoint.trim_start_matches("http://").to_owned();
    let mut upstream = TcpStream::connect(address).unwrap();
    let _ = write!(
        upstream,
        "{}Connection: close\r\n\r\n{}",
        request.head, request.body
    );
    let mut answer = Vec::new();
    let _ = upstream.read_to_end(&mut answer);
    answer
}

/// A form field of a query-protocol body (`Action=CreateAccessKey&Version=…`).
/// A `ListAccessKeys` answer that also lists `extra` (Active, created now), with its
/// `Content-Length` fixed.
/// A credential report answer with the root user's row AWS always has (moto's has
/// none), showing `active` active access keys.
fn with_root_row(answer: &[u8], active: u32) -> Vec<u8> {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return answer.to_vec();
    };
    let Some(encoded) = between(body.as_bytes(), "<Content>", "</Content>") else {
        return answer.to_vec();
    };
    let csv = aws_smithy_types::base64::decode(&encoded).unwrap_or_default();
    let csv = String::from_utf8_lossy(&csv);
    let Some((header, rows)) = csv.split_once('\n') else {
        return answer.to_vec();
    };
    let key = |n: u32| match active >= n {
        true => "true,2020-01-01T00:00:00+00:00,N/A,N/A,N/A",
        false => "false,N/A,N/A,N/A,N/A",
    };
    let root = format!(
        "<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,N/A,not_supported,not_supported,true,{},{},N/A,N/A,N/A,N/A",
        key(1),
        key(2)
    );
    let csv = format!("{header}\n{root}\n{rows}");
    let body = body.replacen(
        &encoded,
        &aws_smithy_types::base64::encode(csv.as_bytes()),
        1,
    );
    with_body(head, &body)
}

fn with_phantom_keys(answer: &[u8], user: &str, extra: &[String]) -> Vec<u8> {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return answer.to_vec();
    };
    let members: String = extra
        .iter()
        .map(|id| {
            format!(
                "<member><UserName>{user}</UserName><AccessKeyId>{id}</AccessKeyId>\
                 <Status>Active</Status><CreateDate>2026-01-01T00:00:00Z</CreateDate></member>"
            )
        })
        .collect();
    let body = body.replacen(
        "</AccessKeyMetadata>",
        &format!("{members}</AccessKeyMetadata>"),
        1,
    );
    with_body(head, &body)
}

/// An answer with `head` (its Content-Length set anew) and `body`.
fn with_body(head: &str, body: &str) -> Vec<u8> {
    let head: Vec<String> = head
        .split("\r\n")
        .map(|line| {
            if line.to_ascii_lowercase().starts_with("content-length:") {
                format!("Content-Length: {}", body.len())
            } else {
                line.to_owned()
            }
        })
        .collect();
    format!("{}\r\n\r\n{body}", head.join("\r\n")).into_bytes()
}

fn field(body: &str, name: &str) -> Option<String> {
    body.split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

/// The account and name of a role ARN (`arn:aws:iam::ACCOUNT:role/PATH/NAME`).
fn role_of(arn: &str) -> (&str, &str) {
    let account = arn.split(':').nth(4).unwrap_or_default();
    let name = arn.rsplit('/').next().unwrap_or_default();
    (account, name)
}

/// A form field's value, decoded (`+` a space, `%XX` a byte).
pub fn form_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn between(bytes: &[u8], start: &str, end: &str) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(text[from..to].to_owned())
}

/// IAM's `ListServiceSpecificCredentials` answer, as AWS documents it, for `user`'s
/// `credentials` (id, service, status, creation).
fn service_credentials(
    user: &str,
    credentials: Option<&Vec<(String, String, String, String)>>,
) -> String {
    let members: String = (credentials.into_iter().flatten())
        .map(|(id, service, status, created)| {
            format!(
                "<member><UserName>{user}</UserName><Status>{status}</Status>\
                 <ServiceUserName>{user}-at-123456789012</ServiceUserName>\
                 <CreateDate>{created}</CreateDate>\
                 <ServiceSpecificCredentialId>{id}</ServiceSpecificCredentialId>\
                 <ServiceName>{service}</ServiceName></member>"
            )
        })
        .collect();
    format!(
        "<ListServiceSpecificCredentialsResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
         <ListServiceSpecificCredentialsResult><ServiceSpecificCredentials>{members}\
         </ServiceSpecificCredentials></ListServiceSpecificCredentialsResult>\
         <ResponseMetadata><RequestId>rekey-proxy</RequestId></ResponseMetadata>\
         </ListServiceSpecificCredentialsResponse>"
    )
}
