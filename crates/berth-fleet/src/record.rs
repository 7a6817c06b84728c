//! A node's record in the `berth_nodes` bucket: where its ports are and
//! how busy it is. Written by the node's agent every 2 s; a record older
//! than [`DEAD_AFTER`] marks a dead node.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

/// A record this old means its node is dead.
pub const DEAD_AFTER: Duration = Duration::from_secs(6);
/// Most ports a record may name (a token names at most 32 servers).
pub const MAX_PORTS: usize = 32;
/// Longest node id.
pub const MAX_NODE_ID_LEN: usize = 64;
/// Most certificate hashes a record may carry (a node serves two).
pub const MAX_CERTIFICATE_HASHES: usize = 4;

/// What a node says of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The node's id, also its key in the bucket.
    pub node: String,
    /// When the node process started (Unix milliseconds): a restarted node
    /// is a new node to the fleet.
    pub epoch: u64,
    /// The public address of each port, port 0 first.
    pub ports: Vec<SocketAddr>,
    /// Players on each port (connected and expected), as `ports`.
    pub loads: Vec<u32>,
    /// Rooms held.
    pub rooms: u32,
    /// Draining: fronts place nothing new here.
    pub draining: bool,
    /// The WebTransport address of each port, as `ports`, when the node
    /// serves browsers (`--webtransport`); empty otherwise.
    #[serde(default)]
    pub webtransport: Vec<SocketAddr>,
    /// SHA-256 hashes of the node's WebTransport certificates, for a
    /// browser's `serverCertificateHashes` (the current and the next;
    /// empty for a CA's certificate).
    #[serde(default)]
    pub certificate_hashes: Vec<[u8; 32]>,
}

/// How a player connects to a node, and so which nodes can take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayerTransport {
    /// A native client over UDP: every node serves it.
    Udp,
    /// A browser over WebTransport: only nodes run with `--webtransport`.
    WebTransport,
}

impl std::fmt::Display for PlayerTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Udp => "UDP",
            Self::WebTransport => "WebTransport",
        })
    }
}

/// Why a record was ignored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Not a record at all.
    #[error("unreadable node record: {0}")]
    Unreadable(#[from] serde_json::Error),
    /// A record whose fields do not hold together.
    #[error("invalid node record: {0}")]
    Invalid(&'static str),
}

impl NodeRecord {
    /// Reads a record from a bucket value, refusing what a broken or
    /// hostile writer could put there.
    ///
    /// # Errors
    ///
    /// [`RecordError`] for anything but a record that holds together.
    pub fn parse(bytes: &[u8], key: &str) -> Result<Self, RecordError> {
        let record: Self = serde_json::from_slice(bytes)?;
        if record.node != key {
            return Err(RecordError::Invalid("node id differs from its key"));
        }
        if record.node.is_empty() || record.node.len() > MAX_NODE_ID_LEN {
            return Err(RecordError::Invalid("node id length"));
        }
        if record.ports.is_empty() || record.ports.len() > MAX_PORTS {
            return Err(RecordError::Invalid("port count"));
        }
        if record.loads.len() != record.ports.len() {
            return Err(RecordError::Invalid("a load per port"));
        }
        if !record.webtransport.is_empty() && record.webtransport.len() != record.ports.len() {
            return Err(RecordError::Invalid(
                "a WebTransport address per port, or none",
            ));
        }
        if record.certificate_hashes.len() > MAX_CERTIFICATE_HASHES {
            return Err(RecordError::Invalid("certificate hash count"));
        }
        Ok(record)
    }

    /// The record as a bucket value.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Players on the node.
    pub fn load(&self) -> u64 {
        self.loads.iter().map(|&l| u64::from(l)).sum()
    }

    /// Whether a player connecting over `transport` can reach this node.
    pub fn serves(&self, transport: PlayerTransport) -> bool {
        match transport {
            PlayerTransport::Udp => true,
            PlayerTransport::WebTransport => !self.webtransport.is_empty(),
        }
    }

    /// The ports' addresses, least loaded first: what a token names.
    pub fn ports_by_load(&self) -> Vec<SocketAddr> {
        by_load(&self.loads, &self.ports)
    }

    /// The ports' WebTransport addresses, least loaded first: what a
    /// browser's token names. Empty when the node serves no browsers.
    pub fn webtransport_by_load(&self) -> Vec<SocketAddr> {
        by_load(&self.loads, &self.webtransport)
    }
}

/// `addrs` (one per port) ordered by the ports' `loads`, least first.
fn by_load(loads: &[u32], addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let mut ports: Vec<(u32, SocketAddr)> =
        loads.iter().copied().zip(addrs.iter().copied()).collect();
    ports.sort_by_key(|(load, _)| *load);
    ports.into_iter().map(|(_, addr)| addr).collect()
}

/// Whether `id` may be a node id: a KV key token of letters, digits, `-`
/// and `_`, at most [`MAX_NODE_ID_LEN`] long.
pub fn is_valid_node_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_NODE_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> NodeRecord {
        NodeRecord {
            node: "n1".into(),
            epoch: 7,
            ports: vec![
                "127.0.0.2:4000".parse().unwrap(),
                "127.0.0.2:4001".parse().unwrap(),
            ],
            loads: vec![3, 1],
            rooms: 2,
            draining: false,
            webtransport: vec![
                "127.0.0.2:4400".parse().unwrap(),
                "127.0.0.2:4401".parse().unwrap(),
            ],
            certificate_hashes: vec![[1; 32], [2; 32]],
        }
    }

    #[test]
    fn a_record_round_trips_and_names_its_least_loaded_port_first() {
        let r = record();
        assert_eq!(NodeRecord::parse(&r.to_bytes(), "n1").unwrap(), r);
        assert_eq!(r.ports_by_load()[0].port(), 4001);
        assert_eq!(r.webtransport_by_load()[0].port(), 4401);
        assert_eq!(r.load(), 4);
        // A record from a node without WebTransport (or from before it) reads too.
        let old = br#"{"node":"n1","epoch":7,"ports":["127.0.0.2:4000"],"loads":[0],"rooms":0,"draining":false}"#;
        let old = NodeRecord::parse(old, "n1").unwrap();
        assert!(old.webtransport_by_load().is_empty() && old.certificate_hashes.is_empty());
    }

    #[test]
    fn garbage_and_inconsistent_records_are_refused() {
        assert!(NodeRecord::parse(b"\xff not json", "n1").is_err());
        assert!(NodeRecord::parse(b"{}", "n1").is_err());
        assert!(NodeRecord::parse(&record().to_bytes(), "n2").is_err());
        let mut r = record();
        r.loads.pop();
        assert!(NodeRecord::parse(&r.to_bytes(), "n1").is_err());
        let mut r = record();
        r.ports.clear();
        r.loads.clear();
        assert!(NodeRecord::parse(&r.to_bytes(), "n1").is_err());
        let mut r = record();
        r.webtransport.pop();
        assert!(NodeRecord::parse(&r.to_bytes(), "n1").is_err());
        let mut r = record();
        r.certificate_hashes = vec![[0; 32]; 5];
        assert!(NodeRecord::parse(&r.to_bytes(), "n1").is_err());
        assert!(!is_valid_node_id("a.b"));
        assert!(!is_valid_node_id(""));
        assert!(is_valid_node_id("node-1_a"));
    }
}
