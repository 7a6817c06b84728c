//! The relay's HTTP service: `POST /token` answers with a 2048-byte connect
//! token, `GET /metrics` with Prometheus (OpenMetrics) text, `GET /healthz`
//! and `GET /readyz` with 200 or 503 and the reason.
//!
//! HTTP/1.1 by hyper on a one-thread tokio runtime of its own, so a slow
//! or hostile client costs a task, never a thread. Every request is
//! bounded: headers within 8 KiB and [`HttpConfig::header_timeout`],
//! bodies within [`HttpConfig::max_body_len`] (what the token request
//! asks for; a lone relay ignores it), one request per connection, each
//! connection within [`HttpConfig::connection_timeout`], and at most
//! [`HttpConfig::max_connections`] at once (past that, new connections
//! wait in the kernel's backlog). Tokens are rate-limited per client
//! address ([`crate::rate_limit`]); a scrape or a health check is bounded
//! by the same connection limits and costs one snapshot of the counters.
//!
//! It knows nothing of the relay: it asks an [`Operator`] for each answer.

use crate::rate_limit::RateLimiter;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, oneshot};

/// Where players get tokens (POST).
pub const TOKEN_PATH: &str = "/token";
/// Where Prometheus scrapes (GET).
pub const METRICS_PATH: &str = "/metrics";
/// Liveness: every port thread running (GET).
pub const HEALTH_PATH: &str = "/healthz";
/// Readiness: taking new players (GET).
pub const READY_PATH: &str = "/readyz";
/// The OpenMetrics text format's content type.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// hyper's smallest allowed read buffer, and our cap on request headers.
const MAX_HEADER_LEN: usize = 8192;
/// Most request headers.
const MAX_HEADERS: usize = 32;

/// Why no token was made.
#[derive(Debug)]
#[non_exhaustive]
pub enum Refusal {
    /// Every port is full, or the relay is draining: answered with 503.
    Full,
    /// The request asked for something malformed or unsupported: 400 with
    /// the reason.
    BadRequest(String),
    /// The request names something that does not exist (a lobby code, a
    /// room to rejoin): 404 with the reason.
    NotFound(String),
    /// A service the answer needs is down (the fleet's NATS): 503 with the
    /// reason and `Retry-After: 1`.
    Unavailable(String),
    /// Something else went wrong (logged, answered with 500).
    Failed(String),
}

/// What [`Operator::issue`] returns: the token's bytes, later.
pub type Issue<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, Refusal>> + Send + 'a>>;

/// A token for a browser player and where it connects with it, answered
/// to `POST /token?transport=webtransport` as JSON:
/// `{"token": base64, "url": "https://…/", "certificateHashes": [base64, …]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebTransportToken {
    /// The 2048-byte connect token, naming the WebTransport addresses.
    pub token: Vec<u8>,
    /// The URL the browser opens: the token's first address.
    pub url: String,
    /// SHA-256 hashes for `serverCertificateHashes` (empty for a
    /// certificate from a CA the browser trusts).
    pub certificate_hashes: Vec<[u8; 32]>,
}

impl WebTransportToken {
    /// The JSON body answered to the browser.
    pub fn to_json(&self) -> String {
        use base64::Engine as _;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        serde_json::json!({
            "token": b64(&self.token),
            "url": self.url,
            "certificateHashes": self.certificate_hashes.iter().map(|h| b64(h)).collect::<Vec<_>>(),
        })
        .to_string()
    }
}

/// What [`Operator::issue_webtransport`] returns, later.
pub type WebTransportIssue<'a> =
    Pin<Box<dyn Future<Output = Result<WebTransportToken, Refusal>> + Send + 'a>>;

/// What the service asks of the relay behind it.
pub trait Operator: Send + Sync {
    /// One player's connect token (its 2048 bytes) for `request`, the
    /// request's body (at most [`HttpConfig::max_body_len`] bytes). Called
    /// once per request the rate limit allows; it may await other services.
    ///
    /// # Errors
    ///
    /// [`Refusal`] when no token can be made.
    fn issue(&self, request: Bytes) -> Issue<'_>;

    /// As [`Operator::issue`], for a browser player over WebTransport.
    /// Default: refused, for a relay that serves none.
    fn issue_webtransport(&self, request: Bytes) -> WebTransportIssue<'_> {
        let _ = request;
        Box::pin(std::future::ready(Err(Refusal::BadRequest(
            "this relay serves no WebTransport".into(),
        ))))
    }

    /// The metrics, as OpenMetrics text; `tokens` are this service's own
    /// counters, to include.
    fn metrics(&self, tokens: TokenStats) -> String;

    /// Whether the relay is alive: every port thread running.
    ///
    /// # Errors
    ///
    /// Why not, for the 503's body.
    fn health(&self) -> Result<(), String>;

    /// Whether the relay takes new players: not draining, some port
    /// running.
    ///
    /// # Errors
    ///
    /// Why not, for the 503's body.
    fn readiness(&self) -> Result<(), String>;
}

/// Limits of the HTTP service.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Tokens per second one address (an IPv4 address or an IPv6 /64) may have.
    pub per_addr_per_sec: u32,
    /// Tokens one address may have at once before the rate applies.
    pub burst: u32,
    /// Addresses the rate limiter tracks; past it, new ones get 429.
    pub max_addrs: usize,
    /// Connections served at once.
    pub max_connections: usize,
    /// Time a client has to send its request headers.
    pub header_timeout: Duration,
    /// Time a connection may last in all.
    pub connection_timeout: Duration,
    /// Most bytes of a token request's body; more is refused with 413.
    pub max_body_len: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            per_addr_per_sec: 5,
            burst: 10,
            max_addrs: 65_536,
            max_connections: 256,
            header_timeout: Duration::from_secs(5),
            connection_timeout: Duration::from_secs(10),
            max_body_len: 1024,
        }
    }
}

/// Could not start the HTTP service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The listening socket could not be opened.
    #[error("cannot listen for HTTP requests on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The runtime or its thread could not be started.
    #[error("cannot start the HTTP service")]
    Start(#[source] std::io::Error),
}

/// Requests answered since start, by outcome.
#[derive(Debug, Default)]
struct Counters {
    issued: AtomicU64,
    rate_limited: AtomicU64,
    full: AtomicU64,
    refused: AtomicU64,
}

/// A snapshot of the token requests answered, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenStats {
    /// Tokens handed out (200).
    pub issued: u64,
    /// Requests over their address's rate (429).
    pub rate_limited: u64,
    /// Requests met with every port full or the relay draining (503).
    pub full: u64,
    /// Other requests: wrong path, method or body, or a failed issue.
    pub refused: u64,
}

/// What every connection shares.
struct State {
    operator: Arc<dyn Operator>,
    limiter: Mutex<RateLimiter>,
    counters: Counters,
    max_body_len: usize,
}

/// The running HTTP service; [`HttpService::stop`] (or drop) ends it.
#[derive(Debug)]
pub struct HttpService {
    local_addr: SocketAddr,
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").finish_non_exhaustive()
    }
}

impl HttpService {
    /// Listens on `bind` and answers from `operator` on a thread of its own.
    ///
    /// # Errors
    ///
    /// [`HttpError`] when the address cannot be bound or the runtime
    /// cannot start.
    pub fn start(
        bind: SocketAddr,
        config: HttpConfig,
        operator: Arc<dyn Operator>,
    ) -> Result<Self, HttpError> {
        let bind_error = |source| HttpError::Bind { addr: bind, source };
        let listener = std::net::TcpListener::bind(bind).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(HttpError::Start)?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(bind_error)?
        };
        let state = Arc::new(State {
            operator,
            limiter: Mutex::new(RateLimiter::new(
                config.per_addr_per_sec,
                config.burst,
                config.max_addrs,
            )),
            counters: Counters::default(),
            max_body_len: config.max_body_len,
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let served = state.clone();
        let thread = std::thread::Builder::new()
            .name("berth-http".into())
            .spawn(move || runtime.block_on(serve(listener, served, config, stop_rx)))
            .map_err(HttpError::Start)?;
        Ok(Self {
            local_addr,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The address it listens on (with the port the OS chose, for port 0).
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Token requests answered so far.
    pub fn stats(&self) -> TokenStats {
        self.state.stats()
    }

    /// Stops listening, drops connections in progress, and waits for the thread.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the HTTP service thread panicked");
            }
        }
    }
}

impl Drop for HttpService {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Accepts connections until `stop` fires, each within the config's bounds.
async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    config: HttpConfig,
    mut stop: oneshot::Receiver<()>,
) {
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    loop {
        let permit = tokio::select! {
            _ = &mut stop => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, say: back off rather than spin.
                    tracing::warn!(error = %e, "HTTP service cannot accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let state = state.clone();
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_timeout)
            .max_buf_size(MAX_HEADER_LEN)
            .max_headers(MAX_HEADERS)
            .keep_alive(false);
        let limit = config.connection_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let ip = peer.ip();
            let service = service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(state.respond(request, ip).await) }
            });
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(limit, connection).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "HTTP request failed"),
                Err(_) => tracing::debug!(%peer, "HTTP connection timed out"),
            }
        });
    }
    tracing::debug!("HTTP service stopped");
}

impl State {
    fn stats(&self) -> TokenStats {
        let c = &self.counters;
        TokenStats {
            issued: c.issued.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            full: c.full.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
        }
    }

    /// Answers one request from `ip`.
    async fn respond(&self, request: Request<Incoming>, ip: IpAddr) -> Response<Full<Bytes>> {
        let path = request.uri().path();
        if matches!(path, METRICS_PATH | HEALTH_PATH | READY_PATH) {
            if request.method() != Method::GET {
                return method_not_allowed("GET");
            }
            return match path {
                METRICS_PATH => {
                    let text = self.operator.metrics(self.stats());
                    let mut response = Response::new(Full::new(Bytes::from(text)));
                    response
                        .headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS));
                    response
                }
                HEALTH_PATH => check(self.operator.health(), "ok\n"),
                _ => check(self.operator.readiness(), "ready\n"),
            };
        }
        if path != TOKEN_PATH {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return reply(
                StatusCode::NOT_FOUND,
                "not found; POST /token, GET /metrics, /healthz or /readyz\n",
            );
        }
        if request.method() != Method::POST {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return method_not_allowed("POST");
        }
        let Some(webtransport) = wants_webtransport(request.uri().query()) else {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return reply(
                StatusCode::BAD_REQUEST,
                "unknown query; POST /token or /token?transport=webtransport\n",
            );
        };
        if !self.limiter.lock().allow(ip, Instant::now()) {
            self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
            let mut response = reply(StatusCode::TOO_MANY_REQUESTS, "too many token requests\n");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        let declared = hyper::body::Body::size_hint(request.body()).lower();
        if declared > self.max_body_len as u64 {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return reply(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
        }
        // Read the whole (small) body, also so that closing the socket does
        // not reset it under the client before it has read the answer.
        let body = match Limited::new(request.into_body(), self.max_body_len)
            .collect()
            .await
        {
            Ok(body) => body.to_bytes(),
            Err(e) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                return if e.downcast_ref::<LengthLimitError>().is_some() {
                    reply(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")
                } else {
                    reply(StatusCode::BAD_REQUEST, "unreadable request body\n")
                };
            }
        };
        let issued = if webtransport {
            self.operator
                .issue_webtransport(body)
                .await
                .map(|token| (token.to_json().into_bytes(), "application/json"))
        } else {
            self.operator
                .issue(body)
                .await
                .map(|token| (token, "application/octet-stream"))
        };
        match issued {
            Ok((body, content_type)) => {
                self.counters.issued.fetch_add(1, Ordering::Relaxed);
                let mut response = Response::new(Full::new(Bytes::from(body)));
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            Err(Refusal::Full) => {
                self.counters.full.fetch_add(1, Ordering::Relaxed);
                let mut response = reply(StatusCode::SERVICE_UNAVAILABLE, "relay full\n");
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                response
            }
            Err(Refusal::BadRequest(why)) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                reason(StatusCode::BAD_REQUEST, &why)
            }
            Err(Refusal::NotFound(why)) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                reason(StatusCode::NOT_FOUND, &why)
            }
            Err(Refusal::Unavailable(why)) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%why, "cannot place a player");
                let mut response = reason(StatusCode::SERVICE_UNAVAILABLE, &why);
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
            Err(Refusal::Failed(e)) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "cannot issue a token");
                reply(StatusCode::INTERNAL_SERVER_ERROR, "cannot issue a token\n")
            }
        }
    }
}

/// Whether a token request's query asks for a WebTransport token:
/// `None` for a query that is neither empty nor `transport=udp` or
/// `transport=webtransport`.
fn wants_webtransport(query: Option<&str>) -> Option<bool> {
    match query {
        None | Some("" | "transport=udp") => Some(false),
        Some("transport=webtransport") => Some(true),
        Some(_) => None,
    }
}

/// 405, naming the one method `allowed`.
fn method_not_allowed(allowed: &'static str) -> Response<Full<Bytes>> {
    let text = if allowed == "GET" {
        "use GET\n"
    } else {
        "use POST\n"
    };
    let mut response = reply(StatusCode::METHOD_NOT_ALLOWED, text);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed));
    response
}

/// 200 with `ok`, or 503 with the reason.
fn check(result: Result<(), String>, ok: &'static str) -> Response<Full<Bytes>> {
    match result {
        Ok(()) => reply(StatusCode::OK, ok),
        Err(why) => reason(StatusCode::SERVICE_UNAVAILABLE, &why),
    }
}

/// A plain-text answer with `status` and a reason of the moment.
fn reason(status: StatusCode, why: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{why}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A plain-text answer with `status`.
fn reply(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
