//! What the HTTP service asks of a relay, answered by a [`RelayServer`].

use crate::http::{Issue, Operator, Refusal, TokenStats};
use crate::metrics::Snapshot;
use crate::report;
use berth::relay::RelayServer;
use berth::{OsRandom, Random};
use hyper::body::Bytes;
use std::sync::Arc;

/// A [`RelayServer`] behind the HTTP service: tokens placed on its
/// least-loaded port, its metrics, its health and readiness.
#[derive(Debug)]
pub struct RelayOperator {
    relay: Arc<RelayServer>,
    max_peers: usize,
}

impl RelayOperator {
    /// Answers for `relay`, whose ports take at most `max_peers` players
    /// each (past that on every port, token requests get 503).
    pub const fn new(relay: Arc<RelayServer>, max_peers: usize) -> Self {
        Self { relay, max_peers }
    }

    /// A token on the relay's least-loaded port, for a fresh client id.
    fn token(&self) -> Result<Vec<u8>, Refusal> {
        let server = self.relay.server();
        if self.relay.is_draining() || server.loads().iter().all(|&load| load >= self.max_peers) {
            return Err(Refusal::Full);
        }
        let mut id = [0u8; 8];
        OsRandom.fill(&mut id);
        let client_id = u64::from_le_bytes(id);
        let token = self
            .relay
            .issue_token(client_id)
            .map_err(|e| Refusal::Failed(report::chain(&e)))?;
        tracing::debug!(client_id, "issued a token");
        Ok(token.to_bytes().to_vec())
    }
}

impl Operator for RelayOperator {
    fn issue(&self, _request: Bytes) -> Issue<'_> {
        Box::pin(std::future::ready(self.token()))
    }

    fn metrics(&self, tokens: TokenStats) -> String {
        Snapshot::of(&self.relay, tokens).render()
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
