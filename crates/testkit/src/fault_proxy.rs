//! A fault-injecting HTTP proxy between the AWS SDK and moto, for tests that break things on
//! purpose.
//!
//! It listens on a free 127.0.0.1 port (point `AWS_ENDPOINT_URL` at [`FaultProxy::endpoint`])
//! and forwards every request to moto. For a chosen share of requests it disturbs instead:
//!
//! - **before forwarding** (moto never sees the request, so a retry is always safe): a
//!   throttling error shaped as each protocol answers it, HTTP 500, HTTP 503, a connection
//!   reset (TCP RST after reading the request), or a delay before forwarding;
//! - **after forwarding** (moto processed the request, the client never learns the answer: the
//!   case where a retried create can make a duplicate): the answer replaced by a reset
//!   ([`Fault::LostResponse`]) or by HTTP 500 ([`Fault::ErrorAfterForward`]).
//!
//! Which request is disturbed, and how, is drawn from a seeded generator keyed by the request's
//! arrival number, so a run is reproducible up to the order in which concurrent requests
//! arrive; the seed is printed to stderr when the proxy starts (`CLAWFORM_FAULT_SEED` sets it).
//!
//! For crash tests the proxy can also hold the N-th request (before or after forwarding it) and
//! tell the test, which then kills the client at a point chosen by request count rather than by
//! time: [`FaultProxy::wait_held`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One way of disturbing a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// A throttling error as the service's protocol sends it (JSON `ThrottlingException`, EC2
    /// `RequestLimitExceeded` with 503, query `Throttling` with 400, S3 `SlowDown`), not
    /// forwarded.
    Throttle,
    /// HTTP 500 with the protocol's `InternalError` body, not forwarded.
    InternalError,
    /// HTTP 503 with the protocol's `ServiceUnavailable` body, not forwarded.
    Unavailable,
    /// The connection is reset (TCP RST) after the request is read, not forwarded.
    Reset,
    /// Forwarded after a delay of 50 to 400 ms.
    Delay,
    /// Forwarded; moto's answer is dropped and the connection reset.
    LostResponse,
    /// Forwarded; moto's answer is replaced by HTTP 500.
    ErrorAfterForward,
}

impl Fault {
    /// Whether moto processes the request before the client sees the fault.
    pub fn after_forwarding(self) -> bool {
        matches!(self, Fault::LostResponse | Fault::ErrorAfterForward)
    }

    /// Every fault that happens before moto sees the request (a retry is always safe).
    pub const BEFORE_FORWARDING: [Fault; 5] = [Fault::Throttle, Fault::InternalError, Fault::Unavailable, Fault::Reset, Fault::Delay];
}

/// Where a held request waits (crash tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Hold the request before moto sees it.
    BeforeForwarding,
    /// Forward it, then hold moto's answer (moto has done the work; the client never hears).
    AfterForwarding,
}

/// How the proxy disturbs requests.
#[derive(Debug, Clone)]
pub struct FaultConfig {
    /// Seed of the generator; `None` takes `CLAWFORM_FAULT_SEED` or the clock (printed).
    pub seed: Option<u64>,
    /// Share of requests disturbed, from 0.0 to 1.0.
    pub share: f64,
    /// The faults to choose from (uniformly) for a disturbed request.
    pub faults: Vec<Fault>,
    /// Operations (`ec2 CreateVpc`) never disturbed *after* forwarding: those a lost answer
    /// would duplicate whatever the client does (a create with no idempotency token and no
    /// unique name). A request drawn for such a fault is forwarded untouched. An entry ending
    /// in `*` is a prefix (`ec2 Create*`).
    pub spare_after_forwarding: Vec<String>,
    /// Hold the request with this arrival number (1-based) until [`FaultProxy::release`]
    /// (never, if the test kills the client instead).
    pub hold: Option<(u64, Hold)>,
    /// Every request waits this long before it is forwarded: a stand-in for AWS's round trip,
    /// which moto on loopback does not have (benchmarks of parallel applies).
    pub latency: Duration,
}

impl FaultConfig {
    /// Forwards everything untouched.
    pub fn pass_through() -> FaultConfig {
        FaultConfig { seed: Some(0), share: 0.0, faults: vec![], spare_after_forwarding: vec![], hold: None, latency: Duration::ZERO }
    }
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The seed in use.
    pub seed: u64,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

#[derive(Default)]
struct Shared {
    requests: AtomicU64,
    counts: Mutex<BTreeMap<Fault, u64>>,
    disturbed: Mutex<Vec<(u64, Fault, String)>>,
    upstream_errors: AtomicU64,
    held: Mutex<Option<String>>,
    held_signal: Condvar,
    released: Released,
}

struct Released(tokio::sync::watch::Sender<bool>);

impl Default for Released {
    fn default() -> Self {
        Released(tokio::sync::watch::channel(false).0)
    }
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (`http://127.0.0.1:PORT`) on a free loopback port.
    pub fn start(upstream: &str, config: FaultConfig) -> FaultProxy {
        let seed = config.seed.or_else(|| std::env::var("CLAWFORM_FAULT_SEED").ok().and_then(|s| s.parse().ok())).unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
            nanos as u64 ^ u64::from(std::process::id())
        });
        let shared = Arc::new(Shared::default());
        let state = Arc::new(ProxyState { upstream: upstream.trim_end_matches('/').to_string(), seed, config, shared: shared.clone(), client: http_client() });
        let (runtime, port) = serve_on_loopback("fault-proxy", state, serve);
        eprintln!("fault proxy on 127.0.0.1:{port} -> {upstream}, seed {seed} (set CLAWFORM_FAULT_SEED={seed} to repeat)");
        FaultProxy { endpoint: format!("http://127.0.0.1:{port}"), seed, shared, runtime: Some(runtime) }
    }

    /// Requests seen so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// How many requests each fault disturbed.
    pub fn counts(&self) -> BTreeMap<Fault, u64> {
        self.shared.counts.lock().expect("counts lock").clone()
    }

    /// Requests disturbed: how many in all.
    pub fn disturbed_total(&self) -> u64 {
        self.counts().values().sum()
    }

    /// Every disturbed request: arrival number, fault, operation (`ec2 CreateVpc`).
    pub fn disturbed(&self) -> Vec<(u64, Fault, String)> {
        self.shared.disturbed.lock().expect("log lock").clone()
    }

    /// Requests that could not be forwarded because moto failed (these are not injected faults;
    /// a test expects none).
    pub fn upstream_errors(&self) -> u64 {
        self.shared.upstream_errors.load(Ordering::SeqCst)
    }

    /// Waits until the request chosen by [`FaultConfig::hold`] is held; returns its operation,
    /// or `None` when `timeout` passes first (the client made fewer requests).
    pub fn wait_held(&self, timeout: Duration) -> Option<String> {
        let guard = self.shared.held.lock().expect("hold lock");
        let (guard, _) = self.shared.held_signal.wait_timeout_while(guard, timeout, |h| h.is_none()).expect("hold lock");
        guard.clone()
    }

    /// Like [`FaultProxy::wait_held`], but also returns `None` as soon as `gone` says the client
    /// ended (checked every 20 ms).
    pub fn wait_held_or(&self, timeout: Duration, mut gone: impl FnMut() -> bool) -> Option<String> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Some(op) = self.wait_held(Duration::from_millis(20)) {
                return Some(op);
            }
            if gone() {
                return self.wait_held(Duration::from_millis(0));
            }
        }
        None
    }
}

impl FaultProxy {
    /// Lets the held request go on (forwarded, or its answer delivered).
    pub fn release(&self) {
        self.shared.released.0.send_replace(true);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Runs `serve` for every connection to a free 127.0.0.1 port, on a runtime of its own (so a
/// test may start a proxy from inside its own runtime); returns the runtime, which stops the
/// proxy when shut down, and the port.
pub(crate) fn serve_on_loopback<S, F, Fut>(name: &str, state: Arc<S>, serve: F) -> (tokio::runtime::Runtime, u16)
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name(name).enable_all().build().expect("a runtime for the proxy");
    // Bound with std, outside any runtime.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port for the proxy");
    listener.set_nonblocking(true).expect("a non-blocking listener");
    let port = listener.local_addr().expect("the proxy's address").port();
    runtime.spawn(async move {
        let listener = TcpListener::from_std(listener).expect("the listener joins the proxy's runtime");
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            tokio::spawn(serve(state.clone(), stream));
        }
    });
    (runtime, port)
}

/// A rendering of fault counts for test output: `throttle 12, reset 9, …`.
pub fn describe_counts(counts: &BTreeMap<Fault, u64>) -> String {
    counts.iter().map(|(f, n)| format!("{f:?} {n}")).collect::<Vec<_>>().join(", ")
}

struct ProxyState {
    upstream: String,
    seed: u64,
    config: FaultConfig,
    shared: Arc<Shared>,
    client: HttpClient,
}

/// SplitMix64 of `seed` and `n`: one independent draw per request number.
fn draw(seed: u64, n: u64, salt: u64) -> u64 {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED69);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl ProxyState {
    fn choose(&self, n: u64) -> Option<Fault> {
        if self.config.faults.is_empty() || self.config.share <= 0.0 {
            return None;
        }
        let roll = (draw(self.seed, n, 1) >> 11) as f64 / (1u64 << 53) as f64;
        if roll >= self.config.share {
            return None;
        }
        let pick = draw(self.seed, n, 2) as usize % self.config.faults.len();
        Some(self.config.faults[pick])
    }

    fn record(&self, n: u64, fault: Fault, operation: &str) {
        *self.shared.counts.lock().expect("counts lock").entry(fault).or_default() += 1;
        self.shared.disturbed.lock().expect("log lock").push((n, fault, operation.to_string()));
    }
}

/// A request as read from the client.
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    /// The signing name of the service (`ec2`, `ecs`, `elasticloadbalancing`…), from the
    /// credential scope of the SigV4 `Authorization` header.
    pub(crate) fn service(&self) -> String {
        let auth = self.header("authorization").unwrap_or_default();
        auth.split("Credential=").nth(1).and_then(|c| c.split(',').next()).and_then(|scope| scope.split('/').nth(3)).unwrap_or("unknown").to_string()
    }

    /// `ec2 CreateVpc`, `ecs CreateService`, or the method and path (S3).
    pub(crate) fn operation(&self) -> String {
        let service = self.service();
        if let Some(target) = self.header("x-amz-target") {
            return format!("{service} {}", target.rsplit('.').next().unwrap_or(&target));
        }
        let body = String::from_utf8_lossy(&self.body);
        if let Some(action) = body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
            return format!("{service} {action}");
        }
        format!("{service} {} {}", self.method, self.path)
    }
}

pub(crate) enum Read {
    Request(Request),
    Closed,
}

/// Reads one HTTP/1.1 request (the SDK sends `Content-Length` bodies for these protocols).
pub(crate) async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<Read> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut headers);
        if let httparse::Status::Complete(head_len) = parsed.parse(buffer).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))? {
            let method = parsed.method.unwrap_or("GET").to_string();
            let path = parsed.path.unwrap_or("/").to_string();
            let headers: Vec<(String, Vec<u8>)> = parsed.headers.iter().map(|h| (h.name.to_string(), h.value.to_vec())).collect();
            if headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && !v.eq_ignore_ascii_case(b"identity")) {
                return Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "the fault proxy does not read chunked request bodies"));
            }
            let length: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| std::str::from_utf8(v).ok()?.trim().parse().ok())
                .unwrap_or(0);
            while buffer.len() < head_len + length {
                let mut chunk = [0u8; 16 * 1024];
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "client closed mid-request"));
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            let body = buffer[head_len..head_len + length].to_vec();
            buffer.drain(..head_len + length);
            return Ok(Read::Request(Request { method, path, headers, body }));
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Read::Closed);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

async fn serve(state: Arc<ProxyState>, mut stream: TcpStream) {
    let mut buffer = Vec::new();
    loop {
        let request = match read_request(&mut stream, &mut buffer).await {
            Ok(Read::Request(r)) => r,
            Ok(Read::Closed) | Err(_) => return,
        };
        let n = state.shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let operation = request.operation();
        let hold = state.config.hold.filter(|(at, _)| *at == n).map(|(_, h)| h);
        if hold == Some(Hold::BeforeForwarding) {
            hold_until_released(&state, &operation).await;
        }
        if !state.config.latency.is_zero() {
            tokio::time::sleep(state.config.latency).await;
        }
        let spared = |op: &str| state.config.spare_after_forwarding.iter().any(|s| s.strip_suffix('*').map_or(s == op, |prefix| op.starts_with(prefix)));
        let fault = state.choose(n).filter(|f| !(f.after_forwarding() && spared(&operation)));
        if let Some(f) = fault {
            state.record(n, f, &operation);
        }
        let answer = match fault {
            Some(Fault::Throttle) => error_answer(&request, ErrorShape::Throttle),
            Some(Fault::InternalError) => error_answer(&request, ErrorShape::Internal),
            Some(Fault::Unavailable) => error_answer(&request, ErrorShape::Unavailable),
            Some(Fault::Reset) => return reset(stream),
            Some(Fault::Delay) => {
                let ms = 50 + draw(state.seed, n, 3) % 350;
                tokio::time::sleep(Duration::from_millis(ms)).await;
                forward(&state, &request).await
            }
            Some(Fault::LostResponse) => {
                let _ = forward(&state, &request).await;
                return reset(stream);
            }
            Some(Fault::ErrorAfterForward) => {
                let _ = forward(&state, &request).await;
                error_answer(&request, ErrorShape::Internal)
            }
            None => forward(&state, &request).await,
        };
        if hold == Some(Hold::AfterForwarding) {
            hold_until_released(&state, &operation).await;
        }
        if stream.write_all(&answer).await.is_err() {
            return;
        }
    }
}

/// Tells the test which request is held, then waits for [`FaultProxy::release`] (a crash test
/// kills the client instead; the proxy's runtime ends with the proxy).
async fn hold_until_released(state: &ProxyState, operation: &str) {
    let mut released = state.shared.released.0.subscribe();
    *state.shared.held.lock().expect("hold lock") = Some(operation.to_string());
    state.shared.held_signal.notify_all();
    let _ = released.wait_for(|r| *r).await;
}

/// Closes the connection with a TCP RST (SO_LINGER with a zero timeout), not a clean FIN.
fn reset(stream: TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: the descriptor is open (owned by `stream`) and `linger` is a valid option value
    // of the size given.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(stream);
}

/// Sends the request to moto; returns moto's answer as bytes to write to the client.
async fn forward(state: &ProxyState, request: &Request) -> Vec<u8> {
    match exchange(&state.client, &state.upstream, request).await {
        Ok(answer) => answer.into_bytes(),
        Err(problem) => {
            state.shared.upstream_errors.fetch_add(1, Ordering::SeqCst);
            plain(502, &format!("the fault proxy {problem}"))
        }
    }
}

/// The HTTP client both proxies forward with.
pub(crate) type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub(crate) fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build_http()
}

/// moto's answer, kept apart so that a proxy may read or rewrite it before the client sees it.
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// Without hop-by-hop headers and without `content-length`, which [`Answer::into_bytes`]
    /// sets from the body (a rewritten body changes length).
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        let reason = hyper::StatusCode::from_u16(self.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
        let mut out = format!("HTTP/1.1 {} {reason}\r\n", self.status).into_bytes();
        for (k, v) in &self.headers {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(&self.body);
        out
    }
}

/// Sends the request to moto and reads its whole answer; the error says what failed
/// ("could not reach moto: …").
pub(crate) async fn exchange(client: &HttpClient, upstream: &str, request: &Request) -> Result<Answer, String> {
    let uri = format!("{upstream}{}", request.path);
    let mut builder = hyper::Request::builder().method(request.method.as_str()).uri(uri);
    for (k, v) in &request.headers {
        if !is_hop_by_hop(k) {
            builder = builder.header(k.as_str(), v.as_slice());
        }
    }
    let Ok(outgoing) = builder.body(Full::new(Bytes::from(request.body.clone()))) else {
        return Err("could not rebuild the request".into());
    };
    let response = client.request(outgoing).await.map_err(|e| format!("could not reach moto: {e}"))?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| format!("lost moto's answer: {e}"))?.to_bytes();
    let headers = parts
        .headers
        .iter()
        .filter(|(k, _)| !is_hop_by_hop(k.as_str()) && !k.as_str().eq_ignore_ascii_case("content-length"))
        .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
        .collect();
    Ok(Answer { status: parts.status.as_u16(), headers, body: body.to_vec() })
}

fn is_hop_by_hop(name: &str) -> bool {
    ["connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "host"].iter().any(|h| name.eq_ignore_ascii_case(h))
}

pub(crate) fn plain(status: u16, text: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status} Error\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{text}", text.len()).into_bytes()
}

#[derive(Clone, Copy)]
enum ErrorShape {
    Throttle,
    Internal,
    Unavailable,
}

/// An error answer in the shape the request's protocol expects, so the SDK parses the code and
/// classifies it (throttling, or a transient server error) as AWS's would be.
fn error_answer(request: &Request, shape: ErrorShape) -> Vec<u8> {
    let (status, code) = if request.header("x-amz-target").is_some() {
        // awsJson 1.0/1.1 (ECS, Logs, Secrets Manager, ECR, Resource Groups Tagging).
        match shape {
            ErrorShape::Throttle => (400, "ThrottlingException"),
            ErrorShape::Internal => (500, "InternalFailure"),
            ErrorShape::Unavailable => (503, "ServiceUnavailable"),
        }
    } else {
        match (request.service().as_str(), shape) {
            ("ec2", ErrorShape::Throttle) => (503, "RequestLimitExceeded"),
            ("ec2", ErrorShape::Internal) => (500, "InternalError"),
            ("ec2", ErrorShape::Unavailable) => (503, "Unavailable"),
            ("s3", ErrorShape::Throttle) => (503, "SlowDown"),
            ("s3", ErrorShape::Internal) => (500, "InternalError"),
            ("s3", ErrorShape::Unavailable) => (503, "ServiceUnavailable"),
            // awsQuery (ELBv2, IAM, Auto Scaling, STS).
            (_, ErrorShape::Throttle) => (400, "Throttling"),
            (_, ErrorShape::Internal) => (500, "InternalFailure"),
            (_, ErrorShape::Unavailable) => (503, "ServiceUnavailable"),
        }
    };
    shaped_error(request, status, code, "injected by the clawform fault proxy", "fault-proxy")
}

/// An error answer with `code` and `message` in the body shape of the request's protocol: awsJson
/// (`__type`), EC2 (`<Response><Errors>`), S3 (`<Error>`), or awsQuery (`<ErrorResponse>`, whose
/// `Type` is `Receiver` for a 5xx and `Sender` otherwise).
pub(crate) fn shaped_error(request: &Request, status: u16, code: &str, message: &str, request_id: &str) -> Vec<u8> {
    let service = request.service();
    let (content_type, body): (String, String);
    if request.header("x-amz-target").is_some() {
        content_type = request.header("content-type").unwrap_or_else(|| "application/x-amz-json-1.1".into());
        body = format!(r#"{{"__type":"{code}","message":{}}}"#, serde_json::Value::from(message));
    } else if service == "ec2" {
        let message = xml_escape(message);
        content_type = "text/xml;charset=UTF-8".into();
        body = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"#
        );
    } else if service == "s3" {
        let message = xml_escape(message);
        content_type = "application/xml".into();
        body = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"#
        );
    } else {
        let message = xml_escape(message);
        let kind = if status >= 500 { "Receiver" } else { "Sender" };
        content_type = "text/xml".into();
        body = format!(
            r#"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"#
        );
    }
    format!(
        "HTTP/1.1 {status} Error\r\ncontent-type: {content_type}\r\nx-amzn-errortype: {code}\r\nx-amzn-requestid: {request_id}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_disturbs_the_same_requests_and_about_the_share_asked() {
        let config = FaultConfig { seed: Some(42), share: 0.2, faults: Fault::BEFORE_FORWARDING.to_vec(), ..FaultConfig::pass_through() };
        let state =
            ProxyState { upstream: String::new(), seed: 42, config, shared: Default::default(), client: Client::builder(TokioExecutor::new()).build_http() };
        let a: Vec<Option<Fault>> = (1..=10_000).map(|n| state.choose(n)).collect();
        let b: Vec<Option<Fault>> = (1..=10_000).map(|n| state.choose(n)).collect();
        assert_eq!(a, b);
        let disturbed = a.iter().filter(|f| f.is_some()).count();
        assert!((1_800..2_200).contains(&disturbed), "{disturbed} of 10000 disturbed at a 20% share");
        for f in Fault::BEFORE_FORWARDING {
            assert!(a.contains(&Some(f)), "{f:?} is never chosen");
        }
    }
}
