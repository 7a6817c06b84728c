//! What the relay binary tells its operator: the start line, the periodic
//! stats line, the final counters, and error chains.

use crate::http::{HttpService, METRICS_PATH, TOKEN_PATH, TokenStats};
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
pub(crate) fn started(relay: &RelayServer, http: &HttpService) {
    let server = relay.server();
    let bound = join(server.local_addrs());
    let public = join(server.public_addrs());
    tracing::info!(%bound, %public, "relay running; Ctrl-C drains and stops it");
    say(format_args!(
        "relay on {bound} (tokens name {public}); token service on http://{addr}{TOKEN_PATH}, metrics on http://{addr}{METRICS_PATH}",
        addr = http.local_addr()
    ));
}

/// The second start line, when browsers are served: each port's
/// WebTransport URL.
pub(crate) fn webtransport_started(relay: &RelayServer) {
    let urls: Vec<String> = relay
        .server()
        .transport_addrs(1)
        .unwrap_or_default()
        .iter()
        .map(|&addr| berth_webtransport::WebTransportServer::url(addr))
        .collect();
    tracing::info!(urls = %urls.join(","), "serving browsers over WebTransport");
    say(format_args!(
        "webtransport on {}; tokens from POST /token?transport=webtransport",
        urls.join(",")
    ));
}

/// Writes one line on stdout; a closed stdout (a reader that went away,
/// `| head -1`) loses the line instead of panicking the relay at exit.
pub fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// What the stats line reports, to tell whether anything changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatsKey {
    relay: RelayStats,
    packets: (u64, u64),
    peers: Vec<usize>,
    tokens: TokenStats,
}

/// Logs rooms, players, messages, peers and packets per port, players
/// dropped as too slow, how long datagrams wait in the relay (since start,
/// from the kernel's arrival stamp to the send that followed), and tokens;
/// only when something changed since `last`, what the last line said.
/// Returns what this one says.
pub(crate) fn stats_line(
    relay: &RelayServer,
    http: &HttpService,
    last: Option<StatsKey>,
) -> Option<StatsKey> {
    let relay_stats = relay.stats();
    let ports = relay.server().stats();
    let tokens = http.stats();
    let key = StatsKey {
        relay: relay_stats,
        packets: ports
            .iter()
            .fold((0, 0), |(i, o), p| (i + p.packets_in, o + p.packets_out)),
        peers: ports.iter().map(|p| p.peers).collect(),
        tokens,
    };
    if last.as_ref() == Some(&key) {
        return last;
    }
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
    Some(key)
}

/// Prints the counters at shutdown on stdout.
pub(crate) fn final_stats(relay: RelayStats, tokens: TokenStats, ports: &[PortStats]) {
    say(format_args!(
        "final: rooms {}, players {}, forwarded {}, dropped {}; tokens issued {}, rate-limited {}, refused as full {}, other refusals {}",
        relay.rooms,
        relay.players,
        relay.forwarded,
        relay.dropped,
        tokens.issued,
        tokens.rate_limited,
        tokens.full,
        tokens.refused,
    ));
    for p in ports {
        say(format_args!(
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
        ));
    }
}
