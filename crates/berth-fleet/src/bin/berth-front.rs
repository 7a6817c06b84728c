//! `berth-front`: a stateless token front of a berth fleet. It answers
//! `POST /token` by placing the player on a node through NATS and minting
//! a token for that node's ports.

use berth_fleet::args::NatsAuth;
use berth_fleet::front::FrontOperator;
use berth_relay::cli::LogFormat;
use berth_relay::http::{HttpConfig, HttpService, METRICS_PATH, TOKEN_PATH};
use berth_relay::{key_file, say};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// The front's flags.
#[derive(Debug, Parser)]
#[command(
    name = "berth-front",
    version,
    about = "A token front of a berth fleet: places players on relay nodes through NATS JetStream KV",
    after_help = "POST /token with the body a player would send the relay (a RequestMatch message, \
                  docs/wire.md) answers with a 2048-byte connect token naming only the chosen \
                  node's ports: 400 for a bad request, 503 when no node takes rooms or NATS is \
                  down, 429 past the per-address rate. GET /metrics, /healthz, /readyz as the \
                  relay's. Every flag can also be set with the environment variable shown beside it."
)]
struct FrontCli {
    /// TCP address of the HTTP service.
    #[arg(long, env = "BERTH_HTTP", value_name = "IP:PORT")]
    http: SocketAddr,
    /// The fleet's NATS server (JetStream enabled), nats://HOST:PORT or tls://HOST:PORT.
    #[arg(long, env = "BERTH_NATS", value_name = "URL")]
    nats: String,
    /// The fleet's private key file, the one every node reads (mode 0600). It never goes into NATS.
    #[arg(long, env = "BERTH_KEY_FILE", value_name = "PATH")]
    key_file: PathBuf,
    #[command(flatten)]
    auth: NatsAuth,
    /// Tokens one client address (an IPv4 address or an IPv6 /64) may get per second.
    #[arg(long, env = "BERTH_TOKEN_RATE", value_name = "N", default_value_t = 5)]
    token_rate: u32,
    /// Tokens one client address may get at once before the rate applies.
    #[arg(
        long,
        env = "BERTH_TOKEN_BURST",
        value_name = "N",
        default_value_t = 10
    )]
    token_burst: u32,
    /// How log lines are written to stderr: text or json.
    #[arg(long, env = "BERTH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

fn main() -> ExitCode {
    let cli = FrontCli::parse();
    berth_relay::cli::init_logging(cli.log_format);
    let key = match key_file::load_or_create(&cli.key_file) {
        Ok((key, key_file::KeyOrigin::Loaded)) => key,
        Ok((_, key_file::KeyOrigin::Created)) => {
            eprintln!(
                "error: {} did not exist; a front must use the fleet's key (a new one was written there, \
                 give the same file to every node and front)",
                cli.key_file.display()
            );
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let operator = Arc::new(FrontOperator::new(
        cli.auth.options(&cli.nats, "berth-front"),
        key,
    ));
    let config = HttpConfig {
        max_body_len: 512,
        per_addr_per_sec: cli.token_rate,
        burst: cli.token_burst,
        ..HttpConfig::default()
    };
    let http = match HttpService::start(cli.http, config, operator.clone()) {
        Ok(http) => http,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    }) {
        eprintln!("error: cannot catch Ctrl-C: {e}");
        return ExitCode::FAILURE;
    }
    let addr = http.local_addr();
    say(format_args!(
        "front on http://{addr}{TOKEN_PATH}, metrics on http://{addr}{METRICS_PATH}"
    ));
    let _ = stop_rx.recv();
    let tokens = http.stats();
    http.stop();
    let counts = operator.counts();
    say(format_args!(
        "final: tokens issued {}, placements {}, claim conflicts {}, dead node records {}",
        tokens.issued, counts.placed, counts.conflicts, counts.dead_nodes
    ));
    ExitCode::SUCCESS
}
