//! A token front: the relay's token service (`berth_relay::http`) with a
//! fleet-aware operator. It reads what the player asks for, places it on a
//! node through NATS KV, and mints a token naming only that node's ports,
//! least loaded first, sealed with the key every node shares. Fronts keep
//! no state of their own: any number can run side by side.

use crate::agent::HEARTBEAT;
use crate::nats::{Fleet, FleetError, NatsOptions, PlacementCounts};
use crate::record::{DEAD_AFTER, NodeRecord, PlayerTransport};
use berth::relay::protocol::{ClientMessage, MAX_PLAYERS, TokenRoom};
use berth::relay::{FleetRejoin, protocol_id};
use berth::{ConnectToken, ConnectTokenBuilder, Key, OsRandom, Random};
use berth_relay::http::{
    Issue, Operator, Refusal, TokenStats, WebTransportIssue, WebTransportToken,
};
use berth_webtransport::WebTransportServer;
use bytes::Bytes;
use parking_lot::Mutex;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The longest a placement may take before the player gets a 503.
const PLACE_TIMEOUT: Duration = Duration::from_secs(4);
/// The connection timeout fleet tokens carry: longer than a dead node's
/// record takes to age out (its last heartbeat, then [`DEAD_AFTER`]), so a
/// player who timed out on a dead node is never sent back to it.
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(DEAD_AFTER.as_secs() + HEARTBEAT.as_secs());

/// Places players on the fleet's nodes; see the module docs.
#[derive(Debug)]
pub struct FrontOperator {
    options: NatsOptions,
    key: Key,
    /// Checks rejoin secrets with the fleet's key.
    rejoin: FleetRejoin,
    /// The connection, made on first use and kept (the client reconnects
    /// by itself); `None` until NATS was first reached.
    fleet: tokio::sync::Mutex<Option<Fleet>>,
    counts: Mutex<PlacementCounts>,
    /// Browsers refused because no live node where they were to play
    /// serves WebTransport: a fleet that should run `--webtransport` on
    /// every node and does not.
    browsers_unplaced: AtomicU64,
    /// Why the last placement could not reach NATS, if it could not.
    down: Mutex<Option<String>>,
}

impl FrontOperator {
    /// A front on NATS at `options`, sealing tokens with `key`.
    pub fn new(options: NatsOptions, key: Key) -> Self {
        Self {
            options,
            rejoin: FleetRejoin::new(key.clone()),
            key,
            fleet: tokio::sync::Mutex::new(None),
            counts: Mutex::new(PlacementCounts::default()),
            browsers_unplaced: AtomicU64::new(0),
            down: Mutex::new(None),
        }
    }

    /// What placement has counted so far.
    pub fn counts(&self) -> PlacementCounts {
        *self.counts.lock()
    }

    async fn fleet(&self) -> Result<Fleet, FleetError> {
        let mut fleet = self.fleet.lock().await;
        if let Some(fleet) = &*fleet {
            return Ok(fleet.clone());
        }
        let connected = Fleet::connect(&self.options).await?;
        *fleet = Some(connected.clone());
        Ok(connected)
    }

    /// A UDP player's token, on the node placement chose.
    async fn place(&self, request: Bytes) -> Result<Vec<u8>, Refusal> {
        let (node, room) = self.placed(request, PlayerTransport::Udp).await?;
        let token = self.token(&node.node, node.ports_by_load(), room)?;
        Ok(token.to_bytes().to_vec())
    }

    /// A browser player's token, URL and certificate hashes, on the node
    /// placement chose: one serving WebTransport, or a refusal with nothing
    /// written (a fleet for browsers runs `--webtransport` on every node).
    async fn place_browser(&self, request: Bytes) -> Result<WebTransportToken, Refusal> {
        let (node, room) = self.placed(request, PlayerTransport::WebTransport).await?;
        let addrs = node.webtransport_by_load();
        // Placement chose a node serving WebTransport: it has an address.
        let Some(&first) = addrs.first() else {
            return Err(Refusal::Failed(format!(
                "node {} published no WebTransport address",
                node.node
            )));
        };
        let token = self.token(&node.node, addrs, room)?;
        Ok(WebTransportToken {
            token: token.to_bytes().to_vec(),
            url: WebTransportServer::url(first),
            certificate_hashes: node.certificate_hashes,
        })
    }

    /// Places the player `request` asks for, who connects over
    /// `transport`: its node, and the room the node is to open for it.
    async fn placed(
        &self,
        request: Bytes,
        transport: PlayerTransport,
    ) -> Result<(NodeRecord, Option<TokenRoom>), Refusal> {
        // Checked before any KV call: bad requests cost NATS nothing.
        let message = ClientMessage::parse(&request)
            .map_err(|e| Refusal::BadRequest(format!("unreadable request: {e}")))?;
        let seats = match &message {
            ClientMessage::RequestMatch(info) | ClientMessage::CreateLobby { info, .. } => {
                if info.player_count == 0 || info.player_count > MAX_PLAYERS {
                    return Err(Refusal::BadRequest(format!(
                        "player_count must be 1..={MAX_PLAYERS}"
                    )));
                }
                info.player_count
            }
            ClientMessage::JoinLobby(_) | ClientMessage::Rejoin(_) => 0,
            _ => {
                return Err(Refusal::BadRequest(
                    "send the RequestMatch, CreateLobby, JoinLobby or Rejoin message you mean to play with"
                        .into(),
                ));
            }
        };
        // A rejoin secret is checked with the fleet's key before NATS hears
        // of it: a forged one costs nothing.
        let rejoin = match &message {
            ClientMessage::Rejoin(secret) => match self.rejoin.open(secret) {
                Some(seat) => Some(seat),
                None => {
                    return Err(Refusal::BadRequest(
                        "not a rejoin secret of this fleet".into(),
                    ));
                }
            },
            _ => None,
        };
        let mut counts = PlacementCounts::default();
        // However NATS misbehaves (down, reconnecting, slow), the player
        // hears within PLACE_TIMEOUT, well inside the HTTP connection's.
        let placing = async {
            let fleet = self.fleet().await?;
            match message {
                ClientMessage::CreateLobby { .. } => {
                    let (code, node) = fleet.create_lobby(transport, seats, &mut counts).await?;
                    Ok(Some((node, Some(TokenRoom::LobbyHost(code)))))
                }
                ClientMessage::JoinLobby(code) => Ok(fleet
                    .find_lobby(code, transport, &mut counts)
                    .await?
                    .map(|node| (node, None))),
                ClientMessage::Rejoin(_) => {
                    let Some((room, _)) = rejoin else {
                        return Ok(None);
                    };
                    Ok(fleet
                        .rejoin_room(room, transport, &mut counts)
                        .await?
                        .map(|(node, seats)| (node, Some(TokenRoom::Rejoin { room, seats }))))
                }
                _ => {
                    let (node, claim) = fleet
                        .place_match(&request, transport, seats, &mut counts)
                        .await?;
                    let room = TokenRoom::Match {
                        room: claim.room,
                        seats: claim.seats,
                    };
                    Ok(Some((node, Some(room))))
                }
            }
        };
        let placed = tokio::time::timeout(PLACE_TIMEOUT, placing)
            .await
            .unwrap_or_else(|_| {
                Err(FleetError::Unavailable(format!(
                    "NATS did not answer within {PLACE_TIMEOUT:?}"
                )))
            });
        self.add(counts);
        let (node, room) = match placed {
            Ok(Some(placed)) => {
                *self.down.lock() = None;
                placed
            }
            Ok(None) if rejoin.is_some() => {
                return Err(Refusal::NotFound("the room is gone".into()));
            }
            Ok(None) => return Err(Refusal::NotFound("no such lobby".into())),
            Err(e @ (FleetError::NoNode(_) | FleetError::Unreachable { .. })) => {
                if transport == PlayerTransport::WebTransport {
                    self.browsers_unplaced.fetch_add(1, Ordering::Relaxed);
                }
                return Err(Refusal::Unavailable(e.to_string()));
            }
            Err(e) => {
                let why = e.to_string();
                *self.down.lock() = Some(why.clone());
                return Err(Refusal::Unavailable(why));
            }
        };
        Ok((node, room))
    }

    fn add(&self, more: PlacementCounts) {
        let mut counts = self.counts.lock();
        counts.placed += more.placed;
        counts.conflicts += more.conflicts;
        counts.dead_nodes += more.dead_nodes;
        counts.garbage += more.garbage;
    }

    /// A token naming only `node`'s `addrs` (its ports, least loaded
    /// first), and the `room` the node is to open for the player.
    fn token(
        &self,
        node: &str,
        addrs: Vec<SocketAddr>,
        room: Option<TokenRoom>,
    ) -> Result<ConnectToken, Refusal> {
        let mut id = [0u8; 8];
        OsRandom.fill(&mut id);
        let mut builder = ConnectTokenBuilder::new(protocol_id(), u64::from_le_bytes(id))
            .timeout(Some(TOKEN_TIMEOUT));
        if let Some(room) = room {
            builder = builder.user_data(room.to_user_data());
        }
        for addr in addrs {
            builder = builder.server(addr);
        }
        let token = builder
            .build(&self.key)
            .map_err(|e| Refusal::Failed(e.to_string()))?;
        tracing::debug!(%node, "placed a player");
        Ok(token)
    }
}

impl Operator for FrontOperator {
    fn issue(&self, request: Bytes) -> Issue<'_> {
        Box::pin(self.place(request))
    }

    fn issue_webtransport(&self, request: Bytes) -> WebTransportIssue<'_> {
        Box::pin(self.place_browser(request))
    }

    fn metrics(&self, tokens: TokenStats) -> String {
        let counts = self.counts();
        let mut registry = Registry::default();
        let counters = [
            (
                "berth_front_placements",
                "Seats placed on a node",
                counts.placed,
            ),
            (
                "berth_front_claim_conflicts",
                "Claims that lost to another front's write and were retried",
                counts.conflicts,
            ),
            (
                "berth_front_dead_node_records",
                "Node records seen older than the liveness limit",
                counts.dead_nodes,
            ),
            (
                "berth_front_garbage_entries",
                "Node records or claims ignored as unreadable",
                counts.garbage,
            ),
            (
                "berth_front_browsers_unplaced",
                "Browsers refused: no live node serving WebTransport where they were to play",
                self.browsers_unplaced.load(Ordering::Relaxed),
            ),
            ("berth_front_tokens_issued", "Tokens issued", tokens.issued),
            (
                "berth_front_tokens_rate_limited",
                "Token requests over their address's rate",
                tokens.rate_limited,
            ),
            (
                "berth_front_tokens_refused",
                "Token requests refused: bad, unplaceable or failed",
                tokens.refused + tokens.full,
            ),
        ];
        for (name, help, value) in counters {
            registry.register(name, help, ConstCounter::new(value));
        }
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &registry).is_err() {
            text.clear();
        }
        text
    }

    fn health(&self) -> Result<(), String> {
        Ok(())
    }

    fn readiness(&self) -> Result<(), String> {
        match &*self.down.lock() {
            Some(why) => Err(why.clone()),
            None => Ok(()),
        }
    }
}
