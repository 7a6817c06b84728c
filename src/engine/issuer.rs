//! Issuing connect tokens that steer each new peer to the least-loaded port.
//!
//! A token names every port, least loaded first, so a standard netcode
//! client tries the emptiest port and falls back to the next if it is full:
//! placement needs nothing from the client. Issuing reserves a place on the
//! first port until the token expires; the peer's arrival turns the
//! reservation into a connection. A token made elsewhere works on whichever
//! port it names, and counts there when it connects. A port that has
//! failed ([`Placement::close`]) is named by no token issued after.

use super::balancer::Balancer;
use crate::crypto::Key;
use crate::sync::{AtomicBool, Ordering};
use crate::token_builder::{ConnectTokenBuilder, TokenError};
use crate::wire::connect_token::{ConnectToken, MAX_SERVERS, UserData};
use ahash::RandomState;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A place held on a port for a token not yet used.
#[derive(Debug, Clone, Copy)]
struct Reservation {
    port: usize,
    expires: Instant,
}

/// Port loads and the reservations behind them.
///
/// The counters are lock-free ([`Balancer`]); the reservation table takes a
/// lock only when a token is issued and when a peer connects or leaves,
/// never per packet.
#[derive(Debug)]
pub(crate) struct Placement {
    balancer: Balancer,
    /// Per port: it has failed and takes no new peers.
    closed: Box<[AtomicBool]>,
    // Keyed by client id, which the token issuer (the application) chooses.
    reservations: Mutex<HashMap<u64, Reservation, RandomState>>,
}

impl Placement {
    pub(crate) fn new(ports: usize) -> Self {
        Self {
            balancer: Balancer::new(ports),
            closed: (0..ports).map(|_| AtomicBool::new(false)).collect(),
            reservations: Mutex::new(HashMap::with_hasher(RandomState::new())),
        }
    }

    /// Takes `port` out of placement for good: it has failed.
    pub(crate) fn close(&self, port: usize) {
        if let Some(closed) = self.closed.get(port) {
            closed.store(true, Ordering::Release);
        }
    }

    /// Whether `port` still takes new peers.
    pub(crate) fn is_open(&self, port: usize) -> bool {
        self.closed
            .get(port)
            .is_some_and(|closed| !closed.load(Ordering::Acquire))
    }

    /// Reserves a place for `client_id` on the least-loaded open port,
    /// until `expires`; `None` when every port has failed.
    fn reserve(&self, client_id: u64, now: Instant, expires: Instant) -> Option<usize> {
        let mut reservations = self.reservations.lock();
        reservations.retain(|_, r| {
            let live = r.expires > now;
            if !live {
                self.balancer.release(r.port);
            }
            live
        });
        let port = self.balancer.place_among(|port| self.is_open(port))?;
        if let Some(old) = reservations.insert(client_id, Reservation { port, expires }) {
            // A second token for the same client replaces the first.
            self.balancer.release(old.port);
        }
        Some(port)
    }

    /// A peer connected on `port`: its reservation there becomes its place,
    /// or it takes a new one.
    pub(crate) fn connected(&self, port: usize, client_id: u64) {
        let mut reservations = self.reservations.lock();
        match reservations.get(&client_id) {
            Some(r) if r.port == port => {
                reservations.remove(&client_id);
            }
            _ => self.balancer.add(port),
        }
    }

    /// A peer left `port`.
    pub(crate) fn disconnected(&self, port: usize) {
        self.balancer.release(port);
    }

    /// Connected plus reserved, per port.
    pub(crate) fn loads(&self) -> Vec<usize> {
        self.balancer.loads()
    }
}

/// Makes tokens for a multi-port server.
#[derive(Debug)]
pub(crate) struct Issuer {
    pub(crate) protocol_id: u64,
    pub(crate) private_key: Key,
    /// Per transport (0: the ports' UDP or memory sockets, then those added
    /// with [`crate::engine::ServerConfig::add_transport`]), the address
    /// tokens name for each port.
    pub(crate) public: Vec<Vec<SocketAddr>>,
    pub(crate) expiry: Duration,
    pub(crate) timeout: Option<Duration>,
}

impl Issuer {
    /// A token for `client_id` that names each port's address on
    /// `transport`, least-loaded port first, and no failed port.
    ///
    /// # Errors
    ///
    /// [`TokenError::NoServers`] when every port has failed, or there is no
    /// such transport.
    pub(crate) fn issue(
        &self,
        placement: &Placement,
        transport: usize,
        client_id: u64,
        user_data: UserData,
    ) -> Result<ConnectToken, TokenError> {
        let public = self.public.get(transport).ok_or(TokenError::NoServers)?;
        let now = Instant::now();
        let first = placement.reserve(client_id, now, now + self.expiry);
        let loads = placement.loads();
        let mut others: Vec<usize> = (0..public.len())
            .filter(|&p| Some(p) != first && placement.is_open(p))
            .collect();
        others.sort_by_key(|&p| (loads.get(p).copied().unwrap_or(usize::MAX), p));
        let mut builder = ConnectTokenBuilder::new(self.protocol_id, client_id)
            .expire_after(self.expiry)
            .timeout(self.timeout)
            .user_data(user_data);
        for port in first.into_iter().chain(others).take(MAX_SERVERS) {
            if let Some(addr) = public.get(port) {
                builder = builder.server(*addr);
            }
        }
        builder.build(&self.private_key)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn reservations_lapse_and_connections_replace_them() {
        let placement = Placement::new(2);
        let t0 = Instant::now();
        let a = placement
            .reserve(1, t0, t0 + Duration::from_secs(1))
            .unwrap();
        let b = placement
            .reserve(2, t0, t0 + Duration::from_secs(1))
            .unwrap();
        assert_ne!(a, b);
        placement.connected(a, 1);
        assert_eq!(placement.loads(), [1, 1]);
        // Client 2's reservation lapses when the next token is issued after expiry.
        let later = t0 + Duration::from_secs(2);
        placement.reserve(3, later, later + Duration::from_secs(1));
        assert_eq!(placement.loads().iter().sum::<usize>(), 2);
        placement.disconnected(a);
        assert_eq!(placement.loads().iter().sum::<usize>(), 1);
    }

    #[test]
    fn a_closed_port_gets_no_new_peers_and_none_open_gets_none() {
        let placement = Placement::new(2);
        let t0 = Instant::now();
        let expires = t0 + Duration::from_secs(1);
        placement.close(0);
        assert_eq!(placement.reserve(1, t0, expires), Some(1));
        assert_eq!(placement.reserve(2, t0, expires), Some(1));
        placement.close(1);
        assert_eq!(placement.reserve(3, t0, expires), None);
        assert_eq!(placement.loads(), [0, 2]);
    }

    #[test]
    fn a_peer_with_a_foreign_token_counts_where_it_lands() {
        let placement = Placement::new(3);
        placement.connected(2, 99);
        assert_eq!(placement.loads(), [0, 0, 1]);
    }
}
