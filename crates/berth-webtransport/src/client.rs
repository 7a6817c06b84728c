//! A native client over WebTransport: what a browser does, from Rust, for
//! tests, benchmarks and tools.

use crate::inbound::Inbound;
use crate::runtime::Runtime;
use crate::session::peer_addr;
use berth::engine::transport::{IoCount, RecvBatch, Registration, SendBatch, Sent, Transport};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wtransport::tls::Sha256Digest;
use wtransport::{ClientConfig, Connection, Endpoint};

/// Why a [`WebTransportClient`] could not connect.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The runtime or the socket could not be set up.
    #[error("cannot start the client: {0}")]
    Io(#[from] io::Error),
    /// The server could not be reached, or its certificate matched none
    /// of the hashes.
    #[error("cannot open a WebTransport session: {0}")]
    Session(String),
}

/// A WebTransport session to a berth server as a client [`Transport`]:
/// give it to [`berth::engine::Client::with_transport`] or
/// [`berth::relay::RelayClient::with_transport`] and connect with a token
/// issued for the server's WebTransport transport. Every datagram goes to
/// the session, whatever address the client names.
#[derive(Debug)]
pub struct WebTransportClient {
    connection: Connection,
    inbound: Arc<Inbound>,
    server: SocketAddr,
    local: SocketAddr,
    unsent: u64,
    /// Declared last: dropped after the connection, so the close is sent.
    _runtime: Runtime,
}

impl WebTransportClient {
    /// Opens a session to `url` (say `https://127.0.0.1:4433/`), trusting
    /// a certificate whose SHA-256 is one of `certificate_hashes`, as a
    /// browser does with `serverCertificateHashes`. Blocks until the
    /// session opens or `timeout` passes.
    ///
    /// # Errors
    ///
    /// [`ConnectError`]: no runtime or socket, or no session.
    pub fn connect(
        url: &str,
        certificate_hashes: &[[u8; 32]],
        timeout: Duration,
    ) -> Result<Self, ConnectError> {
        let runtime = Runtime::new("berth-wt-client", 1)?;
        let config = ClientConfig::builder()
            .with_bind_default()
            .with_server_certificate_hashes(
                certificate_hashes.iter().copied().map(Sha256Digest::new),
            )
            .max_idle_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| ConnectError::Session(e.to_string()))?
            .keep_alive_interval(Some(Duration::from_secs(2)))
            .build();
        let url = url.to_string();
        let connected = runtime.block_on(async move {
            let mut config = config;
            let mut transport = wtransport::quinn::TransportConfig::default();
            transport
                .max_idle_timeout(Duration::from_secs(10).try_into().ok())
                .keep_alive_interval(Some(Duration::from_secs(2)))
                .initial_mtu(crate::INITIAL_MTU)
                .datagram_receive_buffer_size(Some(256 * 1024));
            config
                .quic_config_mut()
                .transport_config(Arc::new(transport));
            let endpoint = Endpoint::client(config)?;
            let local = endpoint.local_addr()?;
            let connection = tokio::time::timeout(timeout, endpoint.connect(url))
                .await
                .map_err(|_| ConnectError::Session("timed out".into()))?
                .map_err(|e| ConnectError::Session(e.to_string()))?;
            Ok::<_, ConnectError>((connection, local))
        });
        let (connection, local) =
            connected.ok_or_else(|| ConnectError::Session("no runtime".into()))??;
        let inbound = Arc::new(Inbound::default());
        let server = peer_addr(connection.remote_address());
        let reader = connection.clone();
        let queue = inbound.clone();
        runtime.spawn(async move {
            while let Ok(datagram) = reader.receive_datagram().await {
                // A full queue drops, as a full socket buffer would.
                let _ = queue.push(server, &datagram.payload());
            }
        });
        Ok(Self {
            connection,
            inbound,
            server,
            local,
            unsent: 0,
            _runtime: runtime,
        })
    }

    /// The server's address as this client sees it.
    pub const fn server_addr(&self) -> SocketAddr {
        self.server
    }

    /// Datagrams QUIC would not take (too large for the path yet, or the
    /// session closed).
    pub const fn unsent(&self) -> u64 {
        self.unsent
    }

    /// Closes the session now, with `reason`.
    pub fn close(&self, reason: &str) {
        self.connection.close(0u32.into(), reason.as_bytes());
    }
}

impl Transport for WebTransportClient {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    fn register(&mut self, registration: &Registration<'_>) -> io::Result<()> {
        self.inbound.set_waker(registration.waker());
        Ok(())
    }

    fn recv(&mut self, _now: Instant, into: &mut RecvBatch) -> io::Result<IoCount> {
        Ok(self.inbound.drain_into(into))
    }

    fn send(&mut self, _now: Instant, from: &mut SendBatch) -> io::Result<IoCount> {
        let connection = &self.connection;
        let unsent = &mut self.unsent;
        Ok(
            from.drain(|_, bytes| match connection.send_datagram(bytes) {
                Ok(()) => Sent::Sent,
                Err(_) => {
                    *unsent += 1;
                    Sent::Dropped
                }
            }),
        )
    }
}

impl Drop for WebTransportClient {
    fn drop(&mut self) {
        self.close("client closing");
    }
}
