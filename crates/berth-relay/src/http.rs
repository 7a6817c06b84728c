//! The token service: `POST /token` answers with a 2048-byte connect token.
//!
//! HTTP/1.1 by hyper on a one-thread tokio runtime of its own, so a slow
//! or hostile client costs a task, never a thread. Every request is
//! bounded: headers within 8 KiB and [`TokenHttpConfig::header_timeout`],
//! bodies (ignored) within 1 KiB, one request per connection, each
//! connection within [`TokenHttpConfig::connection_timeout`], and at most
//! [`TokenHttpConfig::max_connections`] at once (past that, new
//! connections wait in the kernel's backlog). Tokens are rate-limited per
//! client address ([`crate::rate_limit`]).
//!
//! It knows nothing of the relay: it calls an [`Issuer`] for each token.

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
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, oneshot};

/// The only path served.
pub(crate) const TOKEN_PATH: &str = "/token";
/// Most request-body bytes read (and thrown away); more is refused with 413.
const MAX_BODY_LEN: usize = 1024;
/// hyper's smallest allowed read buffer, and our cap on request headers.
const MAX_HEADER_LEN: usize = 8192;
/// Most request headers.
const MAX_HEADERS: usize = 32;

/// Why the issuer made no token.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Every port is full: answered with 503.
    Full,
    /// Something else went wrong (logged, answered with 500).
    Failed(String),
}

/// Makes one token's 2048 bytes; called once per allowed request.
pub(crate) type Issuer = dyn Fn() -> Result<Vec<u8>, Refusal> + Send + Sync;

/// Limits of the token service.
#[derive(Debug, Clone)]
pub(crate) struct TokenHttpConfig {
    /// Tokens per second one address (an IPv4 address or an IPv6 /64) may have.
    pub(crate) per_addr_per_sec: u32,
    /// Tokens one address may have at once before the rate applies.
    pub(crate) burst: u32,
    /// Addresses the rate limiter tracks; past it, new ones get 429.
    pub(crate) max_addrs: usize,
    /// Connections served at once.
    pub(crate) max_connections: usize,
    /// Time a client has to send its request headers.
    pub(crate) header_timeout: Duration,
    /// Time a connection may last in all.
    pub(crate) connection_timeout: Duration,
}

impl Default for TokenHttpConfig {
    fn default() -> Self {
        Self {
            per_addr_per_sec: 5,
            burst: 10,
            max_addrs: 65_536,
            max_connections: 256,
            header_timeout: Duration::from_secs(5),
            connection_timeout: Duration::from_secs(10),
        }
    }
}

/// Could not start the token service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum TokenHttpError {
    /// The listening socket could not be opened.
    #[error("cannot listen for token requests on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The runtime or its thread could not be started.
    #[error("cannot start the token service")]
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

/// A snapshot of the token service's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TokenHttpStats {
    /// Tokens handed out (200).
    pub(crate) issued: u64,
    /// Requests over their address's rate (429).
    pub(crate) rate_limited: u64,
    /// Requests met with every port full (503).
    pub(crate) full: u64,
    /// Other requests: wrong path, method or body, or a failed issue.
    pub(crate) refused: u64,
}

/// What every connection shares.
struct State {
    issuer: Arc<Issuer>,
    limiter: Mutex<RateLimiter>,
    counters: Counters,
}

/// The running token service; [`TokenHttp::stop`] (or drop) ends it.
#[derive(Debug)]
pub(crate) struct TokenHttp {
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

impl TokenHttp {
    /// Listens on `bind` and serves tokens from `issuer` on a thread of its own.
    ///
    /// # Errors
    ///
    /// [`TokenHttpError`] when the address cannot be bound or the runtime
    /// cannot start.
    pub(crate) fn start(
        bind: SocketAddr,
        config: TokenHttpConfig,
        issuer: Arc<Issuer>,
    ) -> Result<Self, TokenHttpError> {
        let bind_error = |source| TokenHttpError::Bind { addr: bind, source };
        let listener = std::net::TcpListener::bind(bind).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(TokenHttpError::Start)?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(bind_error)?
        };
        let state = Arc::new(State {
            issuer,
            limiter: Mutex::new(RateLimiter::new(
                config.per_addr_per_sec,
                config.burst,
                config.max_addrs,
            )),
            counters: Counters::default(),
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let served = state.clone();
        let thread = std::thread::Builder::new()
            .name("token-http".into())
            .spawn(move || runtime.block_on(serve(listener, served, config, stop_rx)))
            .map_err(TokenHttpError::Start)?;
        Ok(Self {
            local_addr,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The address it listens on (with the port the OS chose, for port 0).
    pub(crate) const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Requests answered so far.
    pub(crate) fn stats(&self) -> TokenHttpStats {
        let c = &self.state.counters;
        TokenHttpStats {
            issued: c.issued.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            full: c.full.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
        }
    }

    /// Stops listening, drops connections in progress, and waits for the thread.
    pub(crate) fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the token service thread panicked");
            }
        }
    }
}

impl Drop for TokenHttp {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Accepts connections until `stop` fires, each within the config's bounds.
async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    config: TokenHttpConfig,
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
                    tracing::warn!(error = %e, "token service cannot accept");
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
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "token request failed"),
                Err(_) => tracing::debug!(%peer, "token connection timed out"),
            }
        });
    }
    tracing::debug!("token service stopped");
}

impl State {
    /// Answers one request from `ip`.
    async fn respond(&self, request: Request<Incoming>, ip: IpAddr) -> Response<Full<Bytes>> {
        if request.uri().path() != TOKEN_PATH {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return reply(StatusCode::NOT_FOUND, "not found; POST /token\n");
        }
        if request.method() != Method::POST {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            let mut response = reply(StatusCode::METHOD_NOT_ALLOWED, "use POST\n");
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        if !self.limiter.lock().allow(ip, Instant::now()) {
            self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
            let mut response = reply(StatusCode::TOO_MANY_REQUESTS, "too many token requests\n");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        let declared = hyper::body::Body::size_hint(request.body()).lower();
        if declared > MAX_BODY_LEN as u64 {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return reply(StatusCode::PAYLOAD_TOO_LARGE, "the request needs no body\n");
        }
        // Read (and drop) a small body, so closing the socket does not reset
        // it under the client before it has read the answer.
        if let Err(e) = Limited::new(request.into_body(), MAX_BODY_LEN)
            .collect()
            .await
        {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return if e.downcast_ref::<LengthLimitError>().is_some() {
                reply(StatusCode::PAYLOAD_TOO_LARGE, "the request needs no body\n")
            } else {
                reply(StatusCode::BAD_REQUEST, "unreadable request body\n")
            };
        }
        match (self.issuer)() {
            Ok(token) => {
                self.counters.issued.fetch_add(1, Ordering::Relaxed);
                let mut response = Response::new(Full::new(Bytes::from(token)));
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
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
            Err(Refusal::Failed(e)) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "cannot issue a token");
                reply(StatusCode::INTERNAL_SERVER_ERROR, "cannot issue a token\n")
            }
        }
    }
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
