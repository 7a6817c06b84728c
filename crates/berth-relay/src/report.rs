//! What the relay binary tells its operator: the start line, the periodic
//! stats line, the final counters, and error chains.

use crate::token_http::{TOKEN_PATH, TokenHttp, TokenHttpStats};
use berth::engine::{LatencyHistogram, PortStats};
use berth::proto::server::DropReason;
use berth::relay::{RelayServer, RelayStats};

/// `e` and its sources, joined with ": ".
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Items joined with ",".
fn join<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Says where the relay listens, on stdout (one line, for scripts) and in the log.
pub(crate) fn started(relay: &RelayServer, http: &TokenHttp) {
    let server = relay.server();
    let bound = join(server.local_addrs());
    let public = join(server.public_addrs());
    tracing::info!(%bound, %public, "relay running; Ctrl-C drains and stops it");
    println!(
        "relay on {bound} (tokens name {public}); token service on http://{}{TOKEN_PATH}",
        http.local_addr()
    );
}

/// Logs rooms, players, messages, peers and packets per port, players
/// dropped as too slow, how long datagrams wait in the relay (since start,
/// from the kernel's arrival stamp to the send that followed), and tokens.
pub(crate) fn stats_line(relay: &RelayServer, http: &TokenHttp) {
    let relay_stats = relay.stats();
    let ports = relay.server().stats();
    let tokens = http.stats();
    let mut dwell = LatencyHistogram::default();
    for port in &ports {
        dwell.merge(&port.dwell);
    }
    let micros = |q| dwell.quantile(q).map_or(0, |d| d.as_micros());
    tracing::info!(
        rooms = relay_stats.rooms,
        players = relay_stats.players,
        forwarded = relay_stats.forwarded,
        dropped = relay_stats.dropped,
        peers = %join(ports.iter().map(|p| p.peers)),
        packets_in = %join(ports.iter().map(|p| p.packets_in)),
        packets_out = %join(ports.iter().map(|p| p.packets_out)),
        too_slow = ports.iter().map(|p| p.too_slow).sum::<u64>(),
        in_relay_p50_us = micros(0.5),
        in_relay_p99_us = micros(0.99),
        tokens = tokens.issued,
        rate_limited = tokens.rate_limited,
        "stats"
    );
}

/// Prints the counters at shutdown on stdout.
pub(crate) fn final_stats(relay: RelayStats, tokens: TokenHttpStats, ports: &[PortStats]) {
    println!(
        "final: rooms {}, players {}, forwarded {}, dropped {}; tokens issued {}, rate-limited {}, refused as full {}, other refusals {}",
        relay.rooms,
        relay.players,
        relay.forwarded,
        relay.dropped,
        tokens.issued,
        tokens.rate_limited,
        tokens.full,
        tokens.refused,
    );
    for p in ports {
        println!(
            "port {}: peers {}, handshakes {}, in {} pkts / {} B, out {} pkts / {} B, dropped {}, rate-limited {}",
            p.port,
            p.peers,
            p.protocol.connects,
            p.packets_in,
            p.bytes_in,
            p.packets_out,
            p.bytes_out,
            p.protocol.dropped_total(),
            p.protocol.dropped(DropReason::RateLimited),
        );
    }
}
