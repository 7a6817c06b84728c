//! The node agent: runs inside a relay process and keeps its record in
//! the `berth_nodes` bucket, every [`HEARTBEAT`]; deletes it on a clean
//! exit. It runs on a tokio runtime of its own, on its own thread, beside
//! the relay's port threads.

use crate::nats::{Fleet, NatsOptions};
use crate::record::NodeRecord;
use berth::relay::RelayServer;
use berth_webtransport::WebTransportServer;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// How often a node writes its record.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How often the agent looks whether the node started draining, which it
/// publishes at once (fronts must stop placing players there).
const LOOK_EVERY: Duration = Duration::from_millis(200);

/// A running agent; dropping it deletes the record and stops the thread.
#[derive(Debug)]
pub struct NodeAgent {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl NodeAgent {
    /// Starts publishing `relay`'s record as node `node`, with its
    /// `webtransport` addresses and certificate hashes when it serves
    /// browsers.
    ///
    /// # Errors
    ///
    /// When the runtime or its thread cannot start. NATS being down is not
    /// an error: the agent keeps trying, and logs it.
    pub fn start(
        options: NatsOptions,
        node: String,
        relay: Arc<RelayServer>,
        webtransport: Option<WebTransportServer>,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("berth-fleet-agent".into())
            .spawn(move || {
                let node = Node {
                    id: node,
                    epoch,
                    relay,
                    webtransport,
                };
                runtime.block_on(heartbeat(options, node, stopped));
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for NodeAgent {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What `relay` says of itself now.
/// The node the agent speaks for.
struct Node {
    id: String,
    epoch: u64,
    relay: Arc<RelayServer>,
    webtransport: Option<WebTransportServer>,
}

impl Node {
    /// What the node says of itself now: the certificate hashes too, so a
    /// rotation reaches the fronts within a heartbeat.
    fn record(&self) -> NodeRecord {
        let server = self.relay.server();
        let webtransport = match &self.webtransport {
            Some(_) => server.transport_addrs(1).unwrap_or_default().to_vec(),
            None => Vec::new(),
        };
        NodeRecord {
            node: self.id.clone(),
            epoch: self.epoch,
            ports: server.public_addrs().to_vec(),
            loads: server
                .loads()
                .iter()
                .map(|&l| u32::try_from(l).unwrap_or(u32::MAX))
                .collect(),
            rooms: u32::try_from(self.relay.stats().rooms).unwrap_or(u32::MAX),
            draining: self.relay.is_draining(),
            webtransport,
            certificate_hashes: self
                .webtransport
                .as_ref()
                .map(WebTransportServer::certificate_hashes)
                .unwrap_or_default(),
        }
    }
}

async fn heartbeat(options: NatsOptions, node: Node, mut stop: oneshot::Receiver<()>) {
    let Node { id, relay, .. } = &node;
    let mut fleet: Option<Fleet> = None;
    let mut registered = false;
    let mut published: Option<(tokio::time::Instant, bool)> = None;
    let mut ticks = tokio::time::interval(LOOK_EVERY);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = ticks.tick() => {}
        }
        let draining = relay.is_draining();
        let due = published
            .is_none_or(|(at, was_draining)| at.elapsed() >= HEARTBEAT || was_draining != draining);
        if !due {
            continue;
        }
        if fleet.is_none() {
            match Fleet::connect(&options).await {
                Ok(connected) => {
                    tracing::info!(node = %id, "fleet agent connected to NATS");
                    fleet = Some(connected);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "fleet agent cannot reach NATS; retrying");
                    continue;
                }
            }
        }
        if let Some(fleet) = &fleet {
            match fleet.publish(&node.record()).await {
                Ok(()) => {
                    if !registered {
                        registered = true;
                        tracing::info!(node = %id, "registered with the fleet");
                    }
                    if draining && published.is_none_or(|(_, was)| !was) {
                        tracing::info!(node = %id, "published: draining");
                    }
                    published = Some((tokio::time::Instant::now(), draining));
                }
                Err(e) => {
                    registered = false;
                    published = Some((tokio::time::Instant::now(), draining));
                    tracing::warn!(error = %e, "node record not written");
                }
            }
        }
    }
    if let Some(fleet) = &fleet {
        match fleet.remove(id).await {
            Ok(()) => tracing::info!(node = %id, "node record removed"),
            Err(e) => tracing::warn!(error = %e, "node record not removed; it will age out"),
        }
    }
}
