//! A native client over WebTransport: what a browser does, from Rust, for
//! tests, benchmarks and tools.

use crate::cert::sha256;
use crate::inbound::Inbound;
use crate::runtime::Runtime;
use crate::session::peer_addr;
use berth::engine::transport::{IoCount, RecvBatch, Registration, SendBatch, Sent, Transport};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use web_transport_quinn::Session;
use web_transport_quinn::quinn::{self, rustls};

/// Why a [`WebTransportClient`] could not connect.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The runtime or the socket could not be set up.
    #[error("cannot start the client: {0}")]
    Io(#[from] io::Error),
    /// The URL is not an `https://IP:PORT/` one.
    #[error("not a WebTransport URL with an IP address: {0}")]
    BadUrl(String),
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
    session: Session,
    inbound: Arc<Inbound>,
    server: SocketAddr,
    local: SocketAddr,
    unsent: u64,
    /// Declared last: dropped after the session, so the close is sent.
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
    /// [`ConnectError`]: a URL without an IP address, no runtime or
    /// socket, or no session.
    pub fn connect(
        url: &str,
        certificate_hashes: &[[u8; 32]],
        timeout: Duration,
    ) -> Result<Self, ConnectError> {
        let parsed = url::Url::parse(url).map_err(|e| ConnectError::BadUrl(e.to_string()))?;
        let server = parsed
            .socket_addrs(|| Some(443))
            .ok()
            .and_then(|addrs| addrs.first().copied())
            .ok_or_else(|| ConnectError::BadUrl(url.to_string()))?;
        let runtime = Runtime::new("berth-wt-client", 1)?;
        let config = client_config(certificate_hashes)?;
        let connected = runtime.block_on(async move {
            let bind = if server.is_ipv4() {
                SocketAddr::from(([0, 0, 0, 0], 0))
            } else {
                SocketAddr::from(([0u16; 8], 0))
            };
            let endpoint = quinn::Endpoint::client(bind)?;
            let local = endpoint.local_addr()?;
            let open = async {
                let connection = endpoint
                    .connect_with(config, server, &server.ip().to_string())
                    .map_err(|e| ConnectError::Session(e.to_string()))?
                    .await
                    .map_err(|e| ConnectError::Session(e.to_string()))?;
                Session::connect(connection, parsed)
                    .await
                    .map_err(|e| ConnectError::Session(e.to_string()))
            };
            let session = tokio::time::timeout(timeout, open)
                .await
                .map_err(|_| ConnectError::Session("timed out".into()))??;
            Ok::<_, ConnectError>((session, local))
        });
        let (session, local) =
            connected.ok_or_else(|| ConnectError::Session("no runtime".into()))??;
        let inbound = Arc::new(Inbound::default());
        let server = peer_addr(session.remote_address());
        let reader = session.clone();
        let queue = inbound.clone();
        runtime.spawn(async move {
            while let Ok(datagram) = reader.read_datagram().await {
                // A full queue drops, as a full socket buffer would.
                let _ = queue.push(server, datagram);
            }
        });
        Ok(Self {
            session,
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

    /// The session underneath, for tools and tests that speak to a server
    /// directly: raw datagrams, streams, the close reason.
    pub const fn session(&self) -> &Session {
        &self.session
    }

    /// Runs `task` on the client's runtime until it completes (for calls
    /// on [`WebTransportClient::session`] that wait).
    pub fn block_on<T>(&self, task: impl std::future::Future<Output = T>) -> Option<T> {
        self._runtime.block_on(task)
    }

    /// Closes the session now, with `reason`.
    pub fn close(&self, reason: &str) {
        self.session.close(0, reason.as_bytes());
    }
}

/// TLS 1.3 that trusts a certificate by its SHA-256 alone, as browsers do
/// with `serverCertificateHashes`, with HTTP/3's ALPN and berth's QUIC settings.
///
/// web-transport-quinn pins hashes only inside its `ClientBuilder`, which
/// binds an endpoint of its own and takes no transport settings (berth
/// needs its initial MTU and datagram buffers), so the verifier is here.
pub(crate) fn client_config(
    certificate_hashes: &[[u8; 32]],
) -> Result<quinn::ClientConfig, ConnectError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedHashes {
        hashes: certificate_hashes.to_vec(),
        provider: provider.clone(),
    });
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| ConnectError::Session(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    tls.alpn_protocols = vec![web_transport_quinn::ALPN.as_bytes().to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| ConnectError::Session(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(Arc::new(crate::transport_config(Duration::from_secs(10))));
    Ok(config)
}

/// Accepts the server's certificate when its SHA-256 is pinned; its
/// handshake signature is still checked.
#[derive(Debug)]
struct PinnedHashes {
    hashes: Vec<[u8; 32]>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for PinnedHashes {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if self.hashes.contains(&sha256(end_entity)) {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &rustls::pki_types::CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        // TLS 1.3 only (the config allows no other version).
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
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
        let session = &self.session;
        let unsent = &mut self.unsent;
        Ok(from.drain(|_, bytes| {
            match session.send_datagram(bytes::Bytes::copy_from_slice(bytes)) {
                Ok(()) => Sent::Sent,
                Err(_) => {
                    *unsent += 1;
                    Sent::Dropped
                }
            }
        }))
    }
}

impl Drop for WebTransportClient {
    fn drop(&mut self) {
        self.close("client closing");
    }
}
