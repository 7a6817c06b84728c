//! The command line: flags, the `BERTH_*` variables behind each, and the
//! logging they set up.

use clap::{Parser, ValueEnum};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

/// The relay's flags; each may also be given as the environment variable
/// named in `--help` (a flag on the command line wins).
#[derive(Debug, Parser)]
#[command(
    name = "berth-relay",
    version,
    about = "berth matchmaker and relay, with an HTTP service for connect tokens, metrics and health",
    after_help = "HTTP (on --http): POST /token gives a player a connect token (200: the 2048 raw token bytes, \
                  application/octet-stream; 429 past 5 tokens per second per address, bursts of 10; \
                  503 when every port is full or the relay is draining); GET /metrics is Prometheus \
                  (OpenMetrics) text; GET /healthz is 200 while every port runs; GET /readyz is 200 \
                  while the relay takes new players. \
                  Every flag can also be set with the environment variable shown beside it. \
                  Logs go to stderr; RUST_LOG sets the filter (default: info). \
                  Ctrl-C drains and stops the relay and prints its final counters; a second Ctrl-C exits at once."
)]
pub struct Cli {
    /// UDP address of the first port; port i binds this port number plus i.
    /// An unspecified IP (0.0.0.0, or :: for IPv6) listens on every interface
    /// (then --public is required).
    #[arg(long, env = "BERTH_BIND", value_name = "IP:PORT")]
    pub bind: SocketAddr,
    /// Number of UDP ports, each served by its own thread. Tokens place each
    /// player on the least-loaded port.
    #[arg(long, env = "BERTH_PORTS", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub ports: u16,
    /// Address players reach port 0 at (port i at this port number plus i),
    /// written into every token: IP:PORT, or HOST:PORT resolved once at start.
    /// Needed behind NAT or when binding 0.0.0.0; defaults to the bound addresses.
    #[arg(long, env = "BERTH_PUBLIC", value_name = "HOST:PORT", value_parser = parse_public)]
    pub public: Option<SocketAddr>,
    /// File holding the private key that seals tokens: 32 raw bytes, mode 0600.
    /// Created with a random key when missing (its folder too, mode 0700);
    /// refused when it has another length or group or others may read it.
    /// The key is never logged. Default: $XDG_STATE_HOME/berth/relay.key, or
    /// ~/.local/state/berth/relay.key.
    #[arg(long, env = "BERTH_KEY_FILE", value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// TCP address of the HTTP service (POST /token, GET /metrics, /healthz,
    /// /readyz). Bind it to a private address, or put it behind your own
    /// authenticating proxy: anyone who reaches it can get tokens.
    #[arg(long, alias = "token-http", env = "BERTH_HTTP", value_name = "IP:PORT")]
    pub http: SocketAddr,
    /// Most players connected to one port at once (connected players plus
    /// tokens issued for it in the last 30 s); a full port refuses further
    /// connections, and when every port is full the token service answers 503.
    /// The relay holds up to ports x max-peers players; each slot costs about 2.5 KiB.
    #[arg(long, env = "BERTH_MAX_PEERS", value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_peers: u32,
    /// Most players connected at once from one IP address (IPv6: one /64),
    /// over all ports; more are turned away as they connect. Players behind
    /// one NAT share an address, so leave room for a household or a LAN party.
    #[arg(long, env = "BERTH_MAX_PEERS_PER_IP", value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_peers_per_ip: u32,
    /// Allow direct play: introduce players who both consented (and whose
    /// room allows it) to each other, showing each the other's address, so
    /// they can punch through their NATs and stop using the relay's
    /// bandwidth. Without it, the relay shows no one's address.
    #[arg(long, env = "BERTH_DIRECT_PLAY")]
    pub direct_play: bool,
    /// Also serve browser players over WebTransport (HTTP/3 datagrams) on
    /// this UDP address, port i at this port number plus i, in the same
    /// rooms as UDP players. `POST /token?transport=webtransport` then
    /// answers JSON: the token (base64), the URL and the certificate
    /// hashes for `serverCertificateHashes`. Without --webtransport-cert,
    /// certificates are self-signed (ECDSA P-256, valid under 14 days)
    /// and rotated every 6 days.
    #[arg(long, value_name = "IP:PORT", env = "BERTH_WEBTRANSPORT")]
    pub webtransport: Option<SocketAddr>,
    /// Address browsers reach WebTransport port 0 at (port i at this port
    /// number plus i): needed when --webtransport binds 0.0.0.0 or sits
    /// behind NAT. Self-signed certificates name its IP.
    #[arg(long, value_name = "IP:PORT", env = "BERTH_WEBTRANSPORT_PUBLIC")]
    pub webtransport_public: Option<SocketAddr>,
    /// A CA-issued certificate chain (PEM) for WebTransport, in place of
    /// self-signed ones; needs --webtransport-key. Refused at start when
    /// expired.
    #[arg(
        long,
        value_name = "PATH",
        env = "BERTH_WEBTRANSPORT_CERT",
        requires = "webtransport_key"
    )]
    pub webtransport_cert: Option<PathBuf>,
    /// The private key (PKCS#8 PEM) of --webtransport-cert.
    #[arg(
        long,
        value_name = "PATH",
        env = "BERTH_WEBTRANSPORT_KEY",
        requires = "webtransport_cert"
    )]
    pub webtransport_key: Option<PathBuf>,
    /// On Ctrl-C or SIGTERM, first drain for up to this many seconds: take
    /// no new matches or tokens, and let the rooms under way finish, then
    /// stop. 0 (the default) stops at once, disconnecting every player. A
    /// second signal always stops at once.
    #[arg(
        long,
        env = "BERTH_DRAIN_SECS",
        value_name = "SECS",
        default_value_t = 0
    )]
    pub drain_secs: u64,
    /// How log lines are written to stderr: `text` (coloured only on a
    /// terminal) or `json` (one object per line, for log collectors).
    #[arg(long, env = "BERTH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines; colour only when stderr is a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

impl Cli {
    /// The key file to use: `--key-file`, or the default outside any
    /// source tree.
    pub fn key_path(&self) -> PathBuf {
        self.key_file.clone().unwrap_or_else(default_key_path)
    }
}

/// `$XDG_STATE_HOME/berth/relay.key`, else `~/.local/state/berth/relay.key`,
/// else `relay.key` in the working directory (no home to put it in).
pub fn default_key_path() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|dir| !dir.is_empty())
                .map(|home| PathBuf::from(home).join(".local").join("state"))
        });
    match state {
        Some(state) => state.join("berth").join("relay.key"),
        None => PathBuf::from("relay.key"),
    }
}

/// `--public`: an IP address and port, or a host name resolved now (its first address).
fn parse_public(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    s.to_socket_addrs()
        .map_err(|e| format!("cannot resolve {s}: {e}"))?
        .next()
        .ok_or_else(|| format!("{s} resolves to no address"))
}

/// Logs to stderr in `format`, filtered by `RUST_LOG` (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder.json().init(),
    }
}
