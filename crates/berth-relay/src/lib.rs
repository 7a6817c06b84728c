//! The berth relay server: a matchmaker and relay on `--ports` UDP ports,
//! and an HTTP service for its operator and its players.
//!
//! ```text
//! cargo install --path crates/berth-relay
//! berth-relay --bind 0.0.0.0:40000 --ports 4 --public 203.0.113.7:40000 --http 127.0.0.1:8080
//! curl -X POST --output token.bin http://127.0.0.1:8080/token   # a player's connect token
//! curl http://127.0.0.1:8080/metrics                            # Prometheus (OpenMetrics) text
//! curl http://127.0.0.1:8080/healthz                            # 200 while every port runs
//! curl http://127.0.0.1:8080/readyz                             # 200 while it takes new players
//! ```
//!
//! Every flag can also come from an environment variable (`BERTH_BIND`,
//! `BERTH_PORTS`, ...; `--help` names each). Logs go to stderr as text
//! (colour only on a terminal) or JSON lines (`--log-format json`), filtered
//! by `RUST_LOG` (default `info`), with a stats line every 10 s when
//! something changed. Ctrl-C stops the HTTP service, drains the relay (no
//! new matches), disconnects every player, prints the final counters on
//! stdout and exits 0; a second Ctrl-C exits at once.
//!
//! The modules are public for the crate's tests and for embedding the
//! service beside a relay of your own; the binary is what most users run.

pub mod cli;
pub mod http;
pub mod key_file;
pub mod metrics;
pub mod operator;
pub mod rate_limit;
mod report;
mod run;

pub use report::say;
pub use run::Attachment;

use clap::Parser;
use std::process::ExitCode;

/// Runs the relay binary: parses the command line (and `BERTH_*`
/// variables), sets up logging, serves until Ctrl-C. Errors are printed on
/// stderr, with a non-zero exit.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cli::init_logging(cli.log_format);
    match run::run(cli, |_, _| Ok(Box::new(()))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the relay as [`main`] does, with `cli` already parsed (and logging
/// set up), calling `attach` once the relay is up, with its WebTransport
/// server when it serves browsers. What `attach` returns lives while the
/// relay serves and is dropped when it stops, after the relay began
/// draining: a fleet's node agent attaches itself this way.
pub fn run_with(
    cli: cli::Cli,
    attach: impl FnOnce(
        &std::sync::Arc<berth::relay::RelayServer>,
        Option<&berth_webtransport::WebTransportServer>,
    ) -> Result<Attachment, String>,
) -> ExitCode {
    match run::run(cli, attach) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
