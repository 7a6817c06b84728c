//! The server side: a tokio runtime of its own running one WebTransport
//! endpoint per berth port, each handed to the port's thread as one more
//! [`Transport`].

use crate::cert::{CertificateError, CertificateSource, Certificates, Issued};
use crate::inbound::Inbound;
use crate::ip_sessions::IpSessions;
use crate::runtime::Runtime;
use crate::session::{self, SessionLimits};
use crate::stats::{Counters, WebTransportStats};
use berth::engine::transport::{IoCount, RecvBatch, Registration, SendBatch, Sent, Transport};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use web_transport_quinn::Session;
use web_transport_quinn::quinn::{self, Endpoint};

/// How a [`WebTransportServer`] listens and what it tolerates.
#[derive(Debug, Clone)]
#[must_use]
pub struct WebTransportConfig {
    pub(crate) bind: SocketAddr,
    pub(crate) public: Option<SocketAddr>,
    pub(crate) certificates: CertificateSource,
    pub(crate) limits: SessionLimits,
    pub(crate) max_sessions_per_ip: u32,
    pub(crate) worker_threads: usize,
}

impl WebTransportConfig {
    /// Port 0 listens at `bind` (UDP, for QUIC), port *i* at its port
    /// number plus *i*; self-signed certificates name `bind`'s IP and
    /// `localhost`.
    pub fn new(bind: SocketAddr) -> Self {
        let mut names = vec!["localhost".to_string()];
        if !bind.ip().is_unspecified() {
            names.push(bind.ip().to_string());
        }
        Self {
            bind,
            public: None,
            certificates: CertificateSource::self_signed(names),
            limits: SessionLimits::default(),
            max_sessions_per_ip: 16,
            worker_threads: 1,
        }
    }

    /// The address browsers reach port 0 at (port *i* at its port number
    /// plus *i*): what tokens name and URLs hold, and a name of the
    /// self-signed certificates. Default: the bound address, which must
    /// then not be unspecified.
    pub fn public(mut self, addr: SocketAddr) -> Self {
        self.public = Some(addr);
        if let CertificateSource::SelfSigned { names, .. } = &mut self.certificates {
            let ip = addr.ip().to_string();
            if !names.contains(&ip) {
                names.push(ip);
            }
        }
        self
    }

    /// Where the TLS certificate comes from. Default: self-signed,
    /// rotated every 6 days, hashes served with tokens.
    pub fn certificates(mut self, source: CertificateSource) -> Self {
        self.certificates = source;
        self
    }

    /// At most `n` sessions at once from one IP address (an IPv6 /64),
    /// over all ports; further connection attempts are refused before
    /// their TLS handshake. Default 16.
    pub const fn max_sessions_per_ip(mut self, n: u32) -> Self {
        self.max_sessions_per_ip = n;
        self
    }

    /// At most `n` sessions at once on one port. Default 1024.
    pub const fn max_sessions_per_port(mut self, n: usize) -> Self {
        self.limits.max_sessions = n;
        self
    }

    /// A session that has sent no datagram this long after it opened is
    /// closed. Default 5 s.
    pub const fn first_datagram_timeout(mut self, timeout: Duration) -> Self {
        self.limits.first_datagram = timeout;
        self
    }

    /// A session that has sent no datagram for this long is closed (a
    /// netcode client sends one at least every 100 ms). Default 10 s.
    pub const fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle = timeout;
        self
    }

    /// Threads of the runtime that runs QUIC for every port. Default 1.
    pub const fn worker_threads(mut self, n: usize) -> Self {
        self.worker_threads = n;
        self
    }
}

/// Why a [`WebTransportServer`] could not start, or a port could not bind.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The certificate could not be made or loaded.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// The runtime, or a port's socket, could not be set up.
    #[error("cannot start WebTransport: {0}")]
    Io(#[from] io::Error),
}

/// WebTransport for a berth server: one endpoint per port, on a runtime
/// of its own. Cheap to clone; every clone is the same server.
///
/// Hand it to [`berth::engine::ServerConfig::add_transport`] through
/// [`WebTransportServer::port`], then issue browser players tokens with
/// [`berth::engine::Server::issue_token_via`] for that transport, and
/// send them [`WebTransportServer::url`] and
/// [`WebTransportServer::certificate_hashes`] beside the token.
#[derive(Debug, Clone)]
pub struct WebTransportServer {
    shared: Arc<Shared>,
}

struct Shared {
    config: WebTransportConfig,
    runtime: Runtime,
    certificates: Certificates,
    ip_sessions: Arc<IpSessions>,
    counters: Arc<Counters>,
    endpoints: Mutex<Vec<Endpoint>>,
    /// Turns true when the server closes: accept loops and sessions end.
    shutdown: watch::Sender<bool>,
}

impl WebTransportServer {
    /// Makes (or loads) the certificate and starts the runtime; ports bind
    /// when [`WebTransportServer::port`] is called.
    ///
    /// # Errors
    ///
    /// [`StartError`]: a bad certificate source, or no runtime.
    pub fn start(config: WebTransportConfig) -> Result<Self, StartError> {
        let certificates = Certificates::new(config.certificates.clone())?;
        let runtime = Runtime::new("berth-webtransport", config.worker_threads)?;
        let shared = Arc::new(Shared {
            ip_sessions: IpSessions::new(config.max_sessions_per_ip),
            config,
            runtime,
            certificates,
            counters: Arc::default(),
            endpoints: Mutex::new(Vec::new()),
            shutdown: watch::Sender::new(false),
        });
        if let Some(period) = shared.certificates.rotation_period() {
            let weak = Arc::downgrade(&shared);
            shared.runtime.spawn(async move {
                loop {
                    tokio::time::sleep(period).await;
                    let Some(shared) = weak.upgrade() else { return };
                    shared.rotate();
                }
            });
        }
        Ok(Self { shared })
    }

    /// Binds port `index`'s endpoint (at the configured port number plus
    /// `index`, or any free one when that is 0) and returns it as a
    /// transport for that port's thread.
    ///
    /// # Errors
    ///
    /// When the UDP socket cannot be bound.
    pub fn port(&self, index: u16) -> io::Result<WebTransportPort> {
        let shared = &self.shared;
        let mut bind = shared.config.bind;
        if bind.port() != 0 {
            bind.set_port(bind.port().checked_add(index).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "port number past 65535")
            })?);
        }
        let endpoint = {
            let _guard = shared.runtime.enter();
            Endpoint::server(
                server_config(shared.certificates.current(), &shared.config)?,
                bind,
            )?
        };
        let bound = endpoint.local_addr()?;
        let local = shared.config.public.map_or(bound, |public| {
            SocketAddr::new(public.ip(), public.port().saturating_add(index))
        });
        shared.endpoints.lock().push(endpoint.clone());
        let port = Arc::new(PortShared {
            inbound: Inbound::default(),
            sessions: RwLock::new(HashMap::new()),
        });
        shared.runtime.spawn(session::accept_loop(
            endpoint.clone(),
            port.clone(),
            shared.ip_sessions.clone(),
            shared.counters.clone(),
            shared.config.limits,
            shared.shutdown.subscribe(),
        ));
        tracing::info!(port = index, %bound, url = Self::url(local), "WebTransport port listening");
        Ok(WebTransportPort {
            local,
            port,
            counters: shared.counters.clone(),
            _server: self.clone(),
        })
    }

    /// The URL a browser opens to reach a port at `addr`, the address a
    /// token for this transport names: `https://<addr>/`.
    pub fn url(addr: SocketAddr) -> String {
        format!("https://{addr}/")
    }

    /// SHA-256 hashes for a browser's `serverCertificateHashes`: the
    /// certificate presented now and the next one. Empty for a
    /// CA-issued certificate.
    pub fn certificate_hashes(&self) -> Vec<[u8; 32]> {
        self.shared.certificates.hashes()
    }

    /// Makes the next certificate the one presented now, as the timer
    /// does every rotation period (for tests and operators).
    pub fn rotate_certificates(&self) {
        self.shared.rotate();
    }

    /// Counters over every port.
    pub fn stats(&self) -> WebTransportStats {
        self.shared.counters.snapshot()
    }

    /// Closes every session, telling each peer why, and stops accepting
    /// new ones; returns at once, while the closes are still on their way.
    /// (Dropping the last handle, with the ports, also ends them.)
    pub fn close(&self) {
        self.shared.shutdown.send_replace(true);
    }

    /// Closes every session as [`WebTransportServer::close`] does, then
    /// waits, at most `within`, until each has ended: its peer has the code
    /// and reason (`0`, "server closing"), or its close timed out. Returns
    /// whether every session had ended by then. Blocks the calling thread:
    /// call it on a process's way out, not from async code.
    ///
    /// ```no_run
    /// # use berth_webtransport::{WebTransportConfig, WebTransportServer};
    /// # use std::time::Duration;
    /// # let server = WebTransportServer::start(WebTransportConfig::new("127.0.0.1:4433".parse().unwrap())).unwrap();
    /// if !server.close_and_wait(Duration::from_secs(2)) {
    ///     eprintln!("some browsers may not have heard why");
    /// }
    /// ```
    pub fn close_and_wait(&self, within: Duration) -> bool {
        self.close();
        self.shared
            .ip_sessions
            .wait_until_empty(Instant::now() + within)
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebTransportServer")
            .field("config", &self.config)
            .field("ports", &self.endpoints.lock().len())
            .field("stats", &self.counters.snapshot())
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn rotate(&self) {
        let config = self
            .certificates
            .rotate()
            .map_err(|e| e.to_string())
            .and_then(|next| server_config(next, &self.config).map_err(|e| e.to_string()));
        match config {
            Ok(config) => {
                // Sessions open now keep their connections; new ones meet
                // the new certificate.
                for endpoint in self.endpoints.lock().iter() {
                    endpoint.set_server_config(Some(config.clone()));
                }
                tracing::info!("WebTransport certificate rotated");
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot present the next certificate; keeping the current one")
            }
        }
    }
}

/// TLS 1.3 with `certificate`, HTTP/3's ALPN, and QUIC settings for a
/// port: berth's timeouts, and room for the largest netcode datagram from
/// the first packet on.
fn server_config(
    certificate: Issued,
    config: &WebTransportConfig,
) -> io::Result<quinn::ServerConfig> {
    let provider = Arc::new(quinn::rustls::crypto::ring::default_provider());
    let mut tls = quinn::rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&quinn::rustls::version::TLS13])
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certificate.chain, certificate.key)
        .map_err(io::Error::other)?;
    tls.alpn_protocols = vec![web_transport_quinn::ALPN.as_bytes().to_vec()];
    let crypto =
        quinn::crypto::rustls::QuicServerConfig::try_from(tls).map_err(io::Error::other)?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    server.transport_config(Arc::new(crate::transport_config(config.limits.quic_idle())));
    Ok(server)
}

/// What a port's thread and its sessions' tasks share.
#[derive(Debug)]
pub(crate) struct PortShared {
    /// Datagrams received, waiting for the port's thread.
    pub(crate) inbound: Inbound,
    /// Open sessions by the address the port knows their peer by.
    pub(crate) sessions: RwLock<HashMap<SocketAddr, Session>>,
}

/// One port's WebTransport endpoint as a [`Transport`]: each session is a
/// peer, known by the address its QUIC connection came from, and its
/// datagrams are netcode packets byte for byte.
#[derive(Debug)]
pub struct WebTransportPort {
    local: SocketAddr,
    port: Arc<PortShared>,
    counters: Arc<Counters>,
    /// Keeps the runtime running while the port's thread holds the port.
    _server: WebTransportServer,
}

impl WebTransportPort {
    /// The URL browsers open to reach this port.
    pub fn url(&self) -> String {
        WebTransportServer::url(self.local)
    }
}

impl Transport for WebTransportPort {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    fn register(&mut self, registration: &Registration<'_>) -> io::Result<()> {
        self.port.inbound.set_waker(registration.waker());
        Ok(())
    }

    fn recv(&mut self, _now: Instant, into: &mut RecvBatch) -> io::Result<IoCount> {
        Ok(self.port.inbound.drain_into(into))
    }

    fn send(&mut self, _now: Instant, from: &mut SendBatch) -> io::Result<IoCount> {
        let sessions = self.port.sessions.read();
        let counters = &self.counters;
        Ok(from.drain(|to, bytes| {
            match sessions
                .get(&to)
                .map(|session| session.send_datagram(bytes::Bytes::copy_from_slice(bytes)))
            {
                Some(Ok(())) => Sent::Sent,
                _ => {
                    Counters::bump(&counters.datagrams_unsent);
                    Sent::Dropped
                }
            }
        }))
    }
}
