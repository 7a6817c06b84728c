//! What the HTTP service asks of a relay, answered by a [`RelayServer`].

use crate::http::{Issue, Operator, Refusal, TokenStats, WebTransportIssue, WebTransportToken};
use crate::metrics::Snapshot;
use crate::report;
use berth::relay::RelayServer;
use berth::{OsRandom, Random};
use berth_webtransport::WebTransportServer;
use hyper::body::Bytes;
use std::sync::Arc;

/// A [`RelayServer`] behind the HTTP service: tokens placed on its
/// least-loaded port, its metrics, its health and readiness.
#[derive(Debug)]
pub struct RelayOperator {
    relay: Arc<RelayServer>,
    max_peers: usize,
    webtransport: Option<WebTransportServer>,
}

impl RelayOperator {
    /// Answers for `relay`, whose ports take at most `max_peers` players
    /// each (past that on every port, token requests get 503).
    pub const fn new(relay: Arc<RelayServer>, max_peers: usize) -> Self {
        Self {
            relay,
            max_peers,
            webtransport: None,
        }
    }

    /// Also answers browser players, whose tokens name `webtransport`'s
    /// addresses: the relay's transport 1.
    pub fn with_webtransport(mut self, webtransport: WebTransportServer) -> Self {
        self.webtransport = Some(webtransport);
        self
    }

    /// A token on the relay's least-loaded port, for a fresh client id.
    fn token(&self) -> Result<Vec<u8>, Refusal> {
        Ok(self.token_via(0)?.to_bytes().to_vec())
    }

    /// A token for a browser player, with its URL and certificate hashes.
    fn webtransport_token(&self) -> Result<WebTransportToken, Refusal> {
        let Some(webtransport) = &self.webtransport else {
            return Err(Refusal::BadRequest(
                "this relay serves no WebTransport".into(),
            ));
        };
        let token = self.token_via(1)?;
        let Some(&first) = token.server_addresses.as_slice().first() else {
            return Err(Refusal::Failed("a token without an address".into()));
        };
        Ok(WebTransportToken {
            token: token.to_bytes().to_vec(),
            url: WebTransportServer::url(first),
            certificate_hashes: webtransport.certificate_hashes(),
        })
    }

    /// A token for `transport`'s addresses on the least-loaded port.
    fn token_via(&self, transport: usize) -> Result<berth::ConnectToken, Refusal> {
        let server = self.relay.server();
        if self.relay.is_draining() || server.loads().iter().all(|&load| load >= self.max_peers) {
            return Err(Refusal::Full);
        }
        let mut id = [0u8; 8];
        OsRandom.fill(&mut id);
        let client_id = u64::from_le_bytes(id);
        let token = self
            .relay
            .issue_token_via(transport, client_id)
            .map_err(|e| Refusal::Failed(report::chain(&e)))?;
        tracing::debug!(client_id, transport, "issued a token");
        Ok(token)
    }
}

impl Operator for RelayOperator {
    fn issue(&self, _request: Bytes) -> Issue<'_> {
        Box::pin(std::future::ready(self.token()))
    }

    fn issue_webtransport(&self, _request: Bytes) -> WebTransportIssue<'_> {
        Box::pin(std::future::ready(self.webtransport_token()))
    }

    fn metrics(&self, tokens: TokenStats) -> String {
        let snapshot = Snapshot::of(&self.relay, tokens);
        match &self.webtransport {
            Some(wt) => snapshot.with_webtransport(wt.stats()).render(),
            None => snapshot.render(),
        }
    }

    fn health(&self) -> Result<(), String> {
        let server = self.relay.server();
        let stopped: Vec<String> = (0..server.local_addrs().len())
            .filter_map(|port| u16::try_from(port).ok())
            .filter(|&port| !server.is_port_running(port))
            .map(|port| port.to_string())
            .collect();
        if stopped.is_empty() {
            Ok(())
        } else {
            Err(format!("port threads stopped: {}", stopped.join(",")))
        }
    }

    fn readiness(&self) -> Result<(), String> {
        if self.relay.is_draining() {
            return Err("draining: no new players".into());
        }
        let server = self.relay.server();
        let any_running = (0..server.local_addrs().len())
            .filter_map(|port| u16::try_from(port).ok())
            .any(|port| server.is_port_running(port));
        if any_running {
            Ok(())
        } else {
            Err("no port is running".into())
        }
    }
}
