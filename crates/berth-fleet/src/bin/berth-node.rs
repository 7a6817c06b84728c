//! `berth-node`: the berth relay as a node of a fleet. Every flag of
//! `berth-relay`, plus `--fleet` and `--node-id`: the node keeps its record
//! in NATS for the fronts to place players on it.

use berth_fleet::agent::NodeAgent;
use berth_fleet::args::NatsAuth;
use berth_fleet::record::is_valid_node_id;
use clap::Parser;
use std::process::ExitCode;

/// The relay's flags and the fleet's.
#[derive(Debug, Parser)]
#[command(
    name = "berth-node",
    version,
    about = "A berth relay that is a node of a fleet: it publishes its record to NATS JetStream KV every 2 s for the fleet's fronts",
    after_help = "Every flag can also be set with the environment variable shown beside it. \
                  SIGTERM or Ctrl-C drains the node (fronts stop placing players on it), \
                  removes its record and stops it."
)]
struct NodeCli {
    #[command(flatten)]
    relay: berth_relay::cli::Cli,
    /// The fleet's NATS server (JetStream enabled), nats://HOST:PORT or tls://HOST:PORT.
    #[arg(long, env = "BERTH_FLEET", value_name = "URL")]
    fleet: String,
    /// This node's id in the fleet: letters, digits, '-' and '_', at most 64.
    #[arg(long, env = "BERTH_NODE_ID", value_name = "ID")]
    node_id: String,
    #[command(flatten)]
    auth: NatsAuth,
}

fn main() -> ExitCode {
    let cli = NodeCli::parse();
    berth_relay::cli::init_logging(cli.relay.log_format);
    if !is_valid_node_id(&cli.node_id) {
        eprintln!("error: --node-id must be 1..=64 letters, digits, '-' or '_'");
        return ExitCode::FAILURE;
    }
    let options = cli
        .auth
        .options(&cli.fleet, &format!("berth-node {}", cli.node_id));
    let node = cli.node_id;
    berth_relay::run_with(cli.relay, move |relay, webtransport| {
        let agent = NodeAgent::start(options, node, relay.clone(), webtransport.cloned())
            .map_err(|e| format!("cannot start the fleet agent: {e}"))?;
        Ok(Box::new(agent))
    })
}
