//! The relay binary: a matchmaker and relay on `--ports` UDP ports, and an
//! HTTP service that hands out connect tokens for it.
//!
//! ```text
//! relay --bind 0.0.0.0:40000 --ports 4 --public 203.0.113.7:40000 \
//!       --key-file relay.key --token-http 127.0.0.1:8080 [--max-peers 256]
//! curl -X POST --output token.bin http://127.0.0.1:8080/token
//! ```
//!
//! Logs go to stderr (`RUST_LOG`, default `info`), with a stats line every
//! 10 s. Ctrl-C stops the token service, drains the relay (no new
//! matches), disconnects every player, prints the final counters on
//! stdout and exits 0; a second Ctrl-C exits at once.

mod key_file;
mod rate_limit;
mod report;
mod token_http;

use berth::engine::ServerConfig;
use berth::relay::{RelayConfig, RelayServer, protocol_id};
use berth::{OsRandom, Random};
use clap::Parser;
use key_file::KeyOrigin;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use token_http::{Refusal, TokenHttp, TokenHttpConfig};

/// How often the stats line is logged.
const STATS_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Parser)]
#[command(
    name = "relay",
    about = "berth matchmaker and relay, with an HTTP service for connect tokens",
    after_help = "Players get a token with `POST /token` on --token-http (200: the 2048 raw token bytes, \
                  application/octet-stream; 429 past 5 tokens per second per address, bursts of 10; \
                  503 when every port is full), then connect to the relay with it. \
                  Logs go to stderr; RUST_LOG sets the filter (default: info). \
                  Ctrl-C drains and stops the relay and prints its final counters; a second Ctrl-C exits at once."
)]
struct Cli {
    /// UDP address of the first port; port i binds this port number plus i.
    /// An IP of 0.0.0.0 or [::] listens on every interface (then --public is required).
    #[arg(long, value_name = "IP:PORT")]
    bind: SocketAddr,
    /// Number of UDP ports, each served by its own thread. Tokens place each
    /// player on the least-loaded port.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    ports: u16,
    /// Address players reach port 0 at (port i at this port number plus i),
    /// written into every token: IP:PORT, or HOST:PORT resolved once at start.
    /// Needed behind NAT or when binding 0.0.0.0; defaults to the bound addresses.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_public)]
    public: Option<SocketAddr>,
    /// File holding the private key that seals tokens: 32 raw bytes, mode 0600.
    /// Created with a random key when missing; refused when it has another
    /// length or group or others may read it. The key is never logged.
    #[arg(long, value_name = "PATH")]
    key_file: PathBuf,
    /// TCP address of the token service (POST /token). Bind it to a private
    /// address, or put it behind your own authenticating proxy: anyone who
    /// reaches it can get tokens.
    #[arg(long, value_name = "IP:PORT")]
    token_http: SocketAddr,
    /// Most players connected to one port at once (connected players plus
    /// tokens issued for it in the last 30 s); a full port refuses further
    /// connections, and when every port is full the token service answers 503.
    /// The relay holds up to ports x max-peers players; each slot costs about 2.5 KiB.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_peers: u32,
    /// Most players connected at once from one IP address (IPv6: one /64),
    /// over all ports; more are turned away as they connect. Players behind
    /// one NAT share an address, so leave room for a household or a LAN party.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_peers_per_ip: u32,
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

fn run(cli: Cli) -> Result<(), String> {
    if cli.bind.ip().is_unspecified() && cli.public.is_none() {
        return Err(format!(
            "--bind {} listens on every interface, so tokens need --public HOST:PORT to tell players where to go",
            cli.bind
        ));
    }
    let (key, origin) = key_file::load_or_create(&cli.key_file).map_err(|e| report::chain(&e))?;
    match origin {
        KeyOrigin::Created => {
            tracing::info!(path = %cli.key_file.display(), "created a new key file (mode 0600)")
        }
        KeyOrigin::Loaded => tracing::info!(path = %cli.key_file.display(), "read the key file"),
    }
    let max_peers = cli.max_peers as usize;
    let mut config = ServerConfig::new(cli.bind, protocol_id(), key)
        .ports(cli.ports)
        .max_clients_per_port(max_peers)
        .max_peers_per_ip(cli.max_peers_per_ip);
    if let Some(public) = cli.public {
        config = config.public(public);
    }
    let relay =
        Arc::new(RelayServer::bind(config, RelayConfig::default()).map_err(|e| report::chain(&e))?);

    let issuing = relay.clone();
    let issuer = Arc::new(move || {
        if issuing
            .server()
            .loads()
            .iter()
            .all(|&load| load >= max_peers)
        {
            return Err(Refusal::Full);
        }
        let mut id = [0u8; 8];
        OsRandom.fill(&mut id);
        let client_id = u64::from_le_bytes(id);
        let token = issuing
            .issue_token(client_id)
            .map_err(|e| Refusal::Failed(report::chain(&e)))?;
        tracing::debug!(client_id, "issued a token");
        Ok(token.to_bytes().to_vec())
    });
    let http = TokenHttp::start(cli.token_http, TokenHttpConfig::default(), issuer)
        .map_err(|e| report::chain(&e))?;

    report::started(&relay, &http);
    let stop = catch_ctrl_c()?;
    let mut next_stats = Instant::now() + STATS_INTERVAL;
    loop {
        let wait = next_stats.saturating_duration_since(Instant::now());
        match stop.recv_timeout(wait) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                report::stats_line(&relay, &http);
                next_stats += STATS_INTERVAL;
            }
            Ok(()) | Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
    }

    tracing::info!("stopping: no new tokens or matches; disconnecting players");
    let tokens = http.stats();
    http.stop();
    relay.drain();
    let relay_stats = relay.stats();
    // The token service's issuer held the other reference; it is stopped now.
    let ports = match Arc::try_unwrap(relay) {
        Ok(relay) => relay.shutdown(),
        Err(relay) => {
            tracing::warn!(
                "the relay is still shared; reporting its counters without a clean shutdown"
            );
            relay.server().stats()
        }
    };
    report::final_stats(relay_stats, tokens, &ports);
    Ok(())
}

/// Sends once on the first Ctrl-C; exits the process on the second.
fn catch_ctrl_c() -> Result<crossbeam_channel::Receiver<()>, String> {
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
    let presses = AtomicUsize::new(0);
    ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::SeqCst) == 0 {
            let _ = stop_tx.try_send(());
        } else {
            eprintln!("second Ctrl-C: exiting without a clean shutdown");
            std::process::exit(130);
        }
    })
    .map_err(|e| format!("cannot catch Ctrl-C: {e}"))?;
    Ok(stop_rx)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
