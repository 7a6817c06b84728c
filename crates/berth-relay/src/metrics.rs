//! The relay's metrics as OpenMetrics text (what Prometheus scrapes), from
//! one snapshot of its counters per scrape.
//!
//! Per port (label `port`): packets and bytes each way, drops by reason
//! (label `reason`), peers, players dropped as too slow, wakes, whether its
//! thread runs, and how long datagrams waited in it (a histogram). For the
//! relay: rooms, players, forwarded and dropped messages. For the HTTP
//! service: tokens issued and token requests refused, by reason.

use crate::http::TokenStats;
use berth::engine::{LatencyHistogram, PortStats};
use berth::proto::server::DropReason;
use berth::relay::{RelayServer, RelayStats};
use berth_webtransport::WebTransportStats;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::fmt::Error;
use std::time::Duration;

/// Upper bounds of the dwell histogram's buckets (the last is +Inf).
const DWELL_BOUNDS: [Duration; 12] = [
    Duration::from_micros(10),
    Duration::from_micros(25),
    Duration::from_micros(50),
    Duration::from_micros(100),
    Duration::from_micros(250),
    Duration::from_micros(500),
    Duration::from_millis(1),
    Duration::from_micros(2500),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(25),
    Duration::from_millis(100),
];

/// Everything one scrape reports, read once.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Each port's counters, port 0 first.
    pub ports: Vec<PortStats>,
    /// Whether each port's thread is still running.
    pub running: Vec<bool>,
    /// The relay's counters.
    pub relay: RelayStats,
    /// The HTTP service's token counters.
    pub tokens: TokenStats,
    /// WebTransport's counters, when the relay serves browsers.
    pub webtransport: Option<WebTransportStats>,
}

impl Snapshot {
    /// Reads `relay`'s counters now, with the HTTP service's `tokens`.
    pub fn of(relay: &RelayServer, tokens: TokenStats) -> Self {
        let server = relay.server();
        let ports = server.stats();
        let running = (0..ports.len())
            .map(|port| u16::try_from(port).is_ok_and(|port| server.is_port_running(port)))
            .collect();
        Self {
            ports,
            running,
            relay: relay.stats(),
            tokens,
            webtransport: None,
        }
    }

    /// The same, with WebTransport's counters.
    #[must_use]
    pub const fn with_webtransport(mut self, stats: WebTransportStats) -> Self {
        self.webtransport = Some(stats);
        self
    }

    /// The OpenMetrics text of this snapshot, `# EOF` included.
    pub fn render(self) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self));
        let mut text = String::new();
        // Writing into a String cannot fail; an empty answer if it ever did.
        if prometheus_client::encoding::text::encode(&mut text, &registry).is_err() {
            text.clear();
        }
        text
    }
}

/// `UnknownSource` as `unknown_source`: a label value in Prometheus style.
fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// `value` as a gauge's value, saturating.
fn gauge(value: usize) -> ConstGauge {
    ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX))
}

/// Encodes one metric family with a value per port.
fn per_port<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    ports: &[PortStats],
    value: impl Fn(&PortStats) -> M,
) -> Result<(), Error> {
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    for port in ports {
        let labels = [("port", port.port.to_string())];
        value(port).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Encodes one metric with no labels.
fn single<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    metric: &M,
) -> Result<(), Error> {
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// The dwell histogram's buckets, each holding its own (not cumulative) count.
fn dwell_buckets(dwell: &LatencyHistogram) -> Vec<(f64, u64)> {
    let mut below = 0;
    let mut buckets: Vec<(f64, u64)> = DWELL_BOUNDS
        .iter()
        .map(|&bound| {
            let upto = dwell.count_up_to(bound);
            let own = upto.saturating_sub(below);
            below = upto;
            (bound.as_secs_f64(), own)
        })
        .collect();
    buckets.push((f64::MAX, dwell.count().saturating_sub(below)));
    buckets
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), Error> {
        use MetricType::{Counter, Gauge};
        let ports = &self.ports;
        let e = &mut encoder;
        per_port(
            e,
            "berth_port_packets_received",
            "Datagrams received.",
            Counter,
            ports,
            |p| ConstCounter::new(p.packets_in),
        )?;
        per_port(
            e,
            "berth_port_packets_sent",
            "Datagrams sent.",
            Counter,
            ports,
            |p| ConstCounter::new(p.packets_out),
        )?;
        per_port(
            e,
            "berth_port_bytes_received",
            "Bytes received.",
            Counter,
            ports,
            |p| ConstCounter::new(p.bytes_in),
        )?;
        per_port(
            e,
            "berth_port_bytes_sent",
            "Bytes sent.",
            Counter,
            ports,
            |p| ConstCounter::new(p.bytes_out),
        )?;
        per_port(
            e,
            "berth_port_peers",
            "Connected peers.",
            Gauge,
            ports,
            |p| gauge(p.peers),
        )?;
        per_port(
            e,
            "berth_port_too_slow",
            "Peers disconnected for not keeping up with messages they must not miss.",
            Counter,
            ports,
            |p| ConstCounter::new(p.too_slow),
        )?;
        per_port(
            e,
            "berth_port_wakes",
            "Wakes of the port's thread.",
            Counter,
            ports,
            |p| ConstCounter::new(p.wakes),
        )?;
        {
            let mut family = e.encode_descriptor(
                "berth_port_running",
                "1 while the port's thread runs, 0 once it has stopped (a failed socket).",
                None,
                Gauge,
            )?;
            for (port, running) in ports.iter().zip(&self.running) {
                let labels = [("port", port.port.to_string())];
                gauge(usize::from(*running)).encode(family.encode_family(&labels)?)?;
            }
        }
        {
            let mut family = e.encode_descriptor(
                "berth_port_dropped",
                "Datagrams dropped unread, by reason (hostile, stale or over a limit).",
                None,
                Counter,
            )?;
            for port in ports {
                for reason in DropReason::ALL {
                    let labels = [
                        ("port", port.port.to_string()),
                        ("reason", snake_case(&format!("{reason:?}"))),
                    ];
                    ConstCounter::new(port.protocol.dropped(reason))
                        .encode(family.encode_family(&labels)?)?;
                }
            }
        }
        {
            let mut family = e.encode_descriptor(
                "berth_port_dwell_seconds",
                "How long datagrams waited in the port, from the kernel's arrival stamp to the send that followed.",
                None,
                MetricType::Histogram,
            )?;
            for port in ports {
                let labels = [("port", port.port.to_string())];
                family
                    .encode_family(&labels)?
                    .encode_histogram::<NoLabelSet>(
                        port.dwell.total().as_secs_f64(),
                        port.dwell.count(),
                        &dwell_buckets(&port.dwell),
                        None,
                    )?;
            }
        }
        let relay = &self.relay;
        single(
            e,
            "berth_relay_rooms",
            "Rooms held: waiting, lobbies and matches.",
            &gauge(relay.rooms),
        )?;
        single(
            e,
            "berth_relay_players",
            "Players seated in rooms.",
            &gauge(relay.players),
        )?;
        single(
            e,
            "berth_relay_forwarded",
            "Proxied messages delivered to a player's channel.",
            &ConstCounter::new(relay.forwarded),
        )?;
        single(
            e,
            "berth_relay_dropped",
            "Messages dropped: bad, on an unknown channel, over a budget, or for a player not in a match.",
            &ConstCounter::new(relay.dropped),
        )?;
        let tokens = &self.tokens;
        single(
            e,
            "berth_tokens_issued",
            "Connect tokens handed out.",
            &ConstCounter::new(tokens.issued),
        )?;
        let mut family = e.encode_descriptor(
            "berth_token_requests_refused",
            "Token requests refused, by reason.",
            None,
            Counter,
        )?;
        for (reason, count) in [
            ("rate_limited", tokens.rate_limited),
            ("full", tokens.full),
            ("other", tokens.refused),
        ] {
            let labels = [("reason", reason)];
            ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
        }
        if let Some(wt) = &self.webtransport {
            encode_webtransport(e, wt)?;
        }
        Ok(())
    }
}

/// WebTransport's sessions and what it refused or closed, by reason.
fn encode_webtransport(e: &mut DescriptorEncoder<'_>, wt: &WebTransportStats) -> Result<(), Error> {
    single(
        e,
        "berth_webtransport_sessions_opened",
        "WebTransport sessions accepted.",
        &ConstCounter::new(wt.sessions_opened),
    )?;
    single(
        e,
        "berth_webtransport_sessions_open",
        "WebTransport sessions open now.",
        &ConstGauge::new(i64::try_from(wt.sessions_open).unwrap_or(i64::MAX)),
    )?;
    let mut family = e.encode_descriptor(
        "berth_webtransport_refused",
        "WebTransport connection attempts, sessions and datagrams refused or closed, by reason.",
        None,
        MetricType::Counter,
    )?;
    for (reason, count) in [
        ("per_ip", wt.refused_per_ip),
        ("port_full", wt.refused_full),
        ("address_in_use", wt.refused_address_in_use),
        ("handshake_failed", wt.handshakes_failed),
        ("silent", wt.closed_silent),
        ("idle", wt.closed_idle),
        ("stream_opened", wt.closed_stream),
        ("datagram_oversized", wt.datagrams_oversized),
        ("queue_full", wt.datagrams_queue_full),
        ("unsent", wt.datagrams_unsent),
    ] {
        let labels = [("reason", reason)];
        ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}
