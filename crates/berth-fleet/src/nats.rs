//! The fleet's view of NATS JetStream KV: where nodes publish their
//! records and fronts claim rooms. Every bucket is bounded in bytes and in
//! age at creation.

use crate::claim::{self, Claim, Step, Unplaced};
use crate::record::{DEAD_AFTER, NodeRecord, PlayerTransport, is_valid_node_id};
use async_nats::jetstream::{self, kv};
use berth::relay::protocol::{LOBBY_CODE_LEN, LobbyCode};
use berth::{OsRandom, Random};
use bytes::Bytes;
use futures_util::StreamExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where nodes publish their records, keyed by node id.
pub const NODES_BUCKET: &str = "berth_nodes";
/// Where fronts claim rooms.
pub const ROOMS_BUCKET: &str = "berth_rooms";
/// How long any KV call may take before it counts as NATS being down.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Tries at a claim when other fronts keep writing first.
const CLAIM_TRIES: usize = 8;
/// Most node records read at once.
const MAX_NODES: usize = 1024;

/// How to reach NATS. Credentials come from the command line or the
/// environment; for TLS, use a `tls://` URL (the server's certificate is
/// checked against the system's roots).
#[derive(Debug, Clone, Default)]
pub struct NatsOptions {
    /// The server's URL, `nats://host:port` (or `tls://`).
    pub url: String,
    /// User and password, if the server asks for them.
    pub user: Option<(String, String)>,
    /// A token, if the server asks for one.
    pub token: Option<String>,
    /// The client's name on the server (for its monitoring).
    pub name: String,
}

/// What went wrong with NATS.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// No connection to NATS, or a call that did not complete.
    #[error("NATS unavailable: {0}")]
    Unavailable(String),
    /// No live node a player connecting this way can reach takes new
    /// rooms.
    #[error("no live node serving {0} takes new rooms")]
    NoNode(PlayerTransport),
    /// The player's room or lobby is on a node the player cannot reach;
    /// nothing was written.
    #[error("the room is on node {node}, which serves no {transport}")]
    Unreachable {
        /// The node holding the open room.
        node: String,
        /// How the player connects.
        transport: PlayerTransport,
    },
    /// Every try at a claim met another front's write.
    #[error("claim contended {0} times")]
    Contended(usize),
}

fn unavailable(e: impl std::fmt::Display) -> FleetError {
    FleetError::Unavailable(e.to_string())
}

/// Counters of what placement did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PlacementCounts {
    /// Seats placed.
    pub placed: u64,
    /// Writes that lost to another front's and were retried.
    pub conflicts: u64,
    /// Records seen from dead nodes (older than [`DEAD_AFTER`]).
    pub dead_nodes: u64,
    /// Records or claims ignored as garbage.
    pub garbage: u64,
}

/// The fleet's two buckets.
#[derive(Debug, Clone)]
pub struct Fleet {
    nodes: kv::Store,
    rooms: kv::Store,
}

impl Fleet {
    /// Connects and opens (or creates) the buckets.
    ///
    /// # Errors
    ///
    /// [`FleetError::Unavailable`] when NATS cannot be reached or has no
    /// JetStream.
    pub async fn connect(options: &NatsOptions) -> Result<Self, FleetError> {
        let mut connect = async_nats::ConnectOptions::new()
            .name(&options.name)
            .connection_timeout(CALL_TIMEOUT)
            .request_timeout(Some(CALL_TIMEOUT));
        if let Some((user, password)) = &options.user {
            connect = connect.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &options.token {
            connect = connect.token(token.clone());
        }
        let client = connect.connect(&options.url).await.map_err(unavailable)?;
        let mut js = jetstream::new(client);
        js.set_timeout(CALL_TIMEOUT);
        let nodes = bucket(&js, NODES_BUCKET, Duration::from_secs(60), 1 << 20).await?;
        let rooms = bucket(&js, ROOMS_BUCKET, Duration::from_secs(3600), 16 << 20).await?;
        Ok(Self { nodes, rooms })
    }

    /// Publishes `record` under its node id.
    ///
    /// # Errors
    ///
    /// [`FleetError::Unavailable`].
    pub async fn publish(&self, record: &NodeRecord) -> Result<(), FleetError> {
        self.nodes
            .put(&record.node, Bytes::from(record.to_bytes()))
            .await
            .map(drop)
            .map_err(unavailable)
    }

    /// Removes node `node`'s record (its clean exit).
    ///
    /// # Errors
    ///
    /// [`FleetError::Unavailable`].
    pub async fn remove(&self, node: &str) -> Result<(), FleetError> {
        self.nodes.delete(node).await.map_err(unavailable)
    }

    /// The records of live nodes (written within [`DEAD_AFTER`]); garbage
    /// and dead records are counted in `counts` and skipped.
    ///
    /// # Errors
    ///
    /// [`FleetError::Unavailable`].
    pub async fn live_nodes(
        &self,
        counts: &mut PlacementCounts,
    ) -> Result<Vec<NodeRecord>, FleetError> {
        let mut keys = self.nodes.keys().await.map_err(unavailable)?;
        let mut names = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(unavailable)?;
            if names.len() < MAX_NODES && is_valid_node_id(&key) {
                names.push(key);
            }
        }
        let now = unix_nanos(SystemTime::now());
        let mut live = Vec::with_capacity(names.len());
        for name in names {
            let Some(entry) = self.nodes.entry(name.clone()).await.map_err(unavailable)? else {
                continue;
            };
            if entry.operation != kv::Operation::Put {
                continue;
            }
            let age = now.saturating_sub(entry.created.unix_timestamp_nanos());
            if age > DEAD_AFTER.as_nanos() as i128 {
                counts.dead_nodes += 1;
                continue;
            }
            match NodeRecord::parse(&entry.value, &name) {
                Ok(record) => live.push(record),
                Err(e) => {
                    counts.garbage += 1;
                    tracing::warn!(node = %name, error = %e, "ignoring a node record");
                }
            }
        }
        Ok(live)
    }

    /// Places one seat, for a player connecting over `transport`, of a
    /// match room of `seats` for the MatchInfo whose wire encoding is
    /// `match_info`: the node every player of that room is sent to, and the
    /// room's claim (its fleet id in `room`). A new room is also recorded
    /// under `room.<id>`, for rejoins.
    ///
    /// # Errors
    ///
    /// [`FleetError`]: NATS down, no live node the player can reach, the
    /// open room on a node the player cannot reach, or a claim contended
    /// past its tries.
    pub async fn place_match(
        &self,
        match_info: &[u8],
        transport: PlayerTransport,
        seats: u8,
        counts: &mut PlacementCounts,
    ) -> Result<(NodeRecord, Claim), FleetError> {
        let key = claim::open_key(match_info);
        let live = self.live_nodes(counts).await?;
        for _ in 0..CLAIM_TRIES {
            let entry = self.rooms.entry(key.clone()).await.map_err(unavailable)?;
            let current = entry
                .as_ref()
                .filter(|e| e.operation == kv::Operation::Put)
                .map(|e| Claim::parse(&e.value));
            if matches!(current, Some(None)) {
                counts.garbage += 1;
            }
            let step = claim::decide(current, &live, transport, seats, random_room(), |open| {
                claim::less_loaded_of_two(open, [random_index(), random_index()])
            })
            .map_err(|unplaced| match unplaced {
                Unplaced::NoNode => FleetError::NoNode(transport),
                Unplaced::Unreachable(node) => FleetError::Unreachable { node, transport },
            })?;
            let value = Bytes::from(step.claim().to_bytes());
            let written = match (&step, &entry) {
                (Step::Create(_), _) | (_, None) => self
                    .rooms
                    .create(&key, value)
                    .await
                    .map_err(|e| e.kind() == kv::CreateErrorKind::AlreadyExists),
                (Step::Join(_) | Step::Replace(_), Some(entry)) => self
                    .rooms
                    .update(&key, value, entry.revision)
                    .await
                    .map_err(|e| e.kind() == kv::UpdateErrorKind::WrongLastRevision),
            };
            match written {
                Ok(_) => {
                    counts.placed += 1;
                    let claim = step.claim().clone();
                    if !matches!(step, Step::Join(_)) {
                        let record = Claim {
                            seated: claim.seats,
                            ..claim.clone()
                        };
                        self.rooms
                            .put(room_key(claim.room), Bytes::from(record.to_bytes()))
                            .await
                            .map_err(unavailable)?;
                    }
                    let node = live
                        .into_iter()
                        .find(|n| n.node == claim.node)
                        .ok_or(FleetError::NoNode(transport))?;
                    return Ok((node, claim));
                }
                Err(true) => counts.conflicts += 1,
                Err(false) => return Err(FleetError::Unavailable(format!("claim {key} failed"))),
            }
        }
        Err(FleetError::Contended(CLAIM_TRIES))
    }
}

impl Fleet {
    /// Opens a lobby of `seats`, for a host connecting over `transport`,
    /// on a node the host can reach: claims a fresh code fleet-wide with a
    /// KV create (a code taken by any front is never reused while its claim
    /// lives) under `lobby.<CODE>`.
    ///
    /// # Errors
    ///
    /// [`FleetError`]: NATS down, no live node the host can reach, or no
    /// free code in eight draws.
    pub async fn create_lobby(
        &self,
        transport: PlayerTransport,
        seats: u8,
        counts: &mut PlacementCounts,
    ) -> Result<(LobbyCode, NodeRecord), FleetError> {
        let live = self.live_nodes(counts).await?;
        let open = open_nodes(&live, transport);
        let node = claim::less_loaded_of_two(&open, [random_index(), random_index()])
            .and_then(|i| open.get(i).copied())
            .ok_or(FleetError::NoNode(transport))?;
        let claim = Claim {
            node: node.node.clone(),
            epoch: node.epoch,
            seated: 1,
            seats,
            room: 0,
        };
        for _ in 0..CLAIM_TRIES {
            let mut random = [0u8; LOBBY_CODE_LEN];
            OsRandom.fill(&mut random);
            let code = LobbyCode::from_random(random);
            let key = format!("lobby.{code}");
            match self.rooms.create(&key, Bytes::from(claim.to_bytes())).await {
                Ok(_) => {
                    counts.placed += 1;
                    return Ok((code, node.clone()));
                }
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => counts.conflicts += 1,
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(FleetError::Contended(CLAIM_TRIES))
    }

    /// The live node holding lobby `code`; `None` when no lobby has that
    /// code, or its node is gone. Writes nothing.
    ///
    /// # Errors
    ///
    /// [`FleetError::Unavailable`], or [`FleetError::Unreachable`] when a
    /// player connecting over `transport` cannot reach the lobby's node.
    pub async fn find_lobby(
        &self,
        code: LobbyCode,
        transport: PlayerTransport,
        counts: &mut PlacementCounts,
    ) -> Result<Option<NodeRecord>, FleetError> {
        let entry = self
            .rooms
            .entry(format!("lobby.{code}"))
            .await
            .map_err(unavailable)?;
        let Some(claim) = entry
            .filter(|e| e.operation == kv::Operation::Put)
            .and_then(|e| Claim::parse(&e.value))
        else {
            return Ok(None);
        };
        let live = self.live_nodes(counts).await?;
        let owner = live
            .into_iter()
            .find(|n| n.node == claim.node && n.epoch == claim.epoch);
        owner.map(|owner| reachable(owner, transport)).transpose()
    }
}

impl Fleet {
    /// Where the players of fleet room `room` rejoin it: its node if that
    /// is live, else a live node chosen like a new room's among those a
    /// player connecting over `transport` can reach, recorded with a
    /// revision-checked update (so every player of the room lands on the
    /// same one). `None` when no room has that id (it is gone). Returns
    /// the node and the room's seats.
    ///
    /// # Errors
    ///
    /// [`FleetError`]: NATS down, no live node the player can reach, the
    /// room's live node one it cannot reach, or contended past its tries.
    pub async fn rejoin_room(
        &self,
        room: u64,
        transport: PlayerTransport,
        counts: &mut PlacementCounts,
    ) -> Result<Option<(NodeRecord, u8)>, FleetError> {
        let key = room_key(room);
        let live = self.live_nodes(counts).await?;
        for _ in 0..CLAIM_TRIES {
            let Some(entry) = self
                .rooms
                .entry(key.clone())
                .await
                .map_err(unavailable)?
                .filter(|e| e.operation == kv::Operation::Put)
            else {
                return Ok(None);
            };
            let Some(record) = Claim::parse(&entry.value).filter(|c| c.room == room) else {
                counts.garbage += 1;
                return Ok(None);
            };
            let owner = live
                .iter()
                .find(|n| n.node == record.node && n.epoch == record.epoch && !n.draining);
            if let Some(owner) = owner {
                return Ok(Some((reachable(owner.clone(), transport)?, record.seats)));
            }
            let open = open_nodes(&live, transport);
            let node = claim::less_loaded_of_two(&open, [random_index(), random_index()])
                .and_then(|i| open.get(i).copied())
                .ok_or(FleetError::NoNode(transport))?;
            let moved = Claim {
                node: node.node.clone(),
                epoch: node.epoch,
                ..record
            };
            match self
                .rooms
                .update(&key, Bytes::from(moved.to_bytes()), entry.revision)
                .await
            {
                Ok(_) => {
                    counts.placed += 1;
                    return Ok(Some((node.clone(), moved.seats)));
                }
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                    counts.conflicts += 1;
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(FleetError::Contended(CLAIM_TRIES))
    }
}

/// `node`, if a player connecting over `transport` can reach it.
fn reachable(node: NodeRecord, transport: PlayerTransport) -> Result<NodeRecord, FleetError> {
    if node.serves(transport) {
        Ok(node)
    } else {
        Err(FleetError::Unreachable {
            node: node.node,
            transport,
        })
    }
}

/// The nodes of `live` that take new rooms and that a player connecting
/// over `transport` can reach.
fn open_nodes(live: &[NodeRecord], transport: PlayerTransport) -> Vec<&NodeRecord> {
    live.iter()
        .filter(|n| !n.draining && n.serves(transport))
        .collect()
}

/// The bucket key of fleet room `room`'s record.
fn room_key(room: u64) -> String {
    format!("room.{room:016x}")
}

/// A fresh fleet room id.
fn random_room() -> u64 {
    let mut random = [0u8; 8];
    OsRandom.fill(&mut random);
    u64::from_le_bytes(random)
}

/// A random index for the two-choice draw.
fn random_index() -> usize {
    let mut random = [0u8; 8];
    OsRandom.fill(&mut random);
    u64::from_le_bytes(random) as usize
}

/// Opens bucket `name`, creating it with these bounds if it is missing.
///
/// The bucket's stream is made directly, with the KV conventions
/// (`KV_<name>`, subjects `$KV.<name>.>`, one value per key, rollups,
/// direct gets, discard new): async-nats's own bucket creation first reads
/// account fields that nats-server 2.9 (Debian's) does not send.
async fn bucket(
    js: &jetstream::Context,
    name: &str,
    max_age: Duration,
    max_bytes: i64,
) -> Result<kv::Store, FleetError> {
    if let Ok(store) = js.get_key_value(name).await {
        return Ok(store);
    }
    let created = js
        .create_stream(jetstream::stream::Config {
            name: format!("KV_{name}"),
            subjects: vec![format!("$KV.{name}.>")],
            max_messages_per_subject: 1,
            max_bytes,
            max_age,
            max_message_size: 4096,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: jetstream::stream::DiscardPolicy::New,
            ..Default::default()
        })
        .await;
    if let Err(e) = created {
        // Another process may have made it in between: only a bucket that
        // still cannot be opened is an error.
        tracing::debug!(bucket = name, error = %e, "bucket not created here");
    }
    js.get_key_value(name).await.map_err(unavailable)
}

/// `time` in nanoseconds since the Unix epoch.
fn unix_nanos(time: SystemTime) -> i128 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}
