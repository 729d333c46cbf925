//! A webhook notification: a POST of `{"text": …, "rekey": EVENT}`, which Slack,
//! Mattermost and Teams incoming webhooks accept (they show `text`).

use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::Event;

/// POSTs `event` to `url`; a 2xx answer within `timeout` is success.
pub(super) async fn post(url: &str, event: &Event, timeout: Duration) -> Result<(), String> {
    let body = serde_json::json!({
        "text": format!("rekey on {}: {}", event.host, event.text),
        "rekey": event,
    })
    .to_string();
    let client = client()?;
    let request = hyper::Request::post(url)
        .header("content-type", "application/json")
        .header("user-agent", concat!("rekey/", env!("CARGO_PKG_VERSION")))
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let answer = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| format!("no answer within {} s", timeout.as_secs()))?
        .map_err(|e| format!("{e}"))?;
    match answer.status() {
        status if status.is_success() => Ok(()),
        status => Err(format!("answered {status}")),
    }
}

/// An HTTP(S) client sending JSON bodies.
type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The run's one HTTP client: the system's roots are read once, not per attempt.
fn client() -> Result<&'static HttpsClient, String> {
    static CLIENT: OnceLock<Result<HttpsClient, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
                .map_err(|e| format!("no TLS roots: {e}"))?
                .https_or_http()
                .enable_http1()
                .build();
            Ok(Client::builder(TokioExecutor::new()).build(https))
        })
        .as_ref()
        .map_err(Clone::clone)
}
