//! The relay's life: start the ports and the HTTP service, report, and
//! stop cleanly on Ctrl-C.

use crate::cli::Cli;
use crate::http::{HttpConfig, HttpService};
use crate::key_file::{self, KeyOrigin};
use crate::operator::RelayOperator;
use crate::report;
use berth::engine::ServerConfig;
use berth::relay::{RelayConfig, RelayServer, protocol_id};
use berth_webtransport::{CertificateSource, WebTransportConfig, WebTransportServer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How often the stats line may be logged (only when something changed).
const STATS_INTERVAL: Duration = Duration::from_secs(10);
/// The longest the relay waits on its way out for browsers' sessions to
/// hear why they close: each takes about a round trip, or 100 ms when its
/// peer does not answer.
const WEBTRANSPORT_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// What a caller of [`crate::run_with`] attaches to the running relay:
/// kept until the relay stops, and dropped once it is draining.
pub type Attachment = Box<dyn std::any::Any>;

/// Runs the relay until Ctrl-C (or SIGTERM), with `attach`'s attachment.
pub(crate) fn run(
    cli: Cli,
    attach: impl FnOnce(&Arc<RelayServer>, Option<&WebTransportServer>) -> Result<Attachment, String>,
) -> Result<(), String> {
    if cli.bind.ip().is_unspecified() && cli.public.is_none() {
        return Err(format!(
            "--bind {} listens on every interface, so tokens need --public HOST:PORT to tell players where to go",
            cli.bind
        ));
    }
    let key_path = cli.key_path();
    let (key, origin) = key_file::load_or_create(&key_path).map_err(|e| report::chain(&e))?;
    match origin {
        KeyOrigin::Created => {
            tracing::info!(path = %key_path.display(), "created a new key file (mode 0600)");
        }
        KeyOrigin::Loaded => tracing::info!(path = %key_path.display(), "read the key file"),
    }
    let max_peers = cli.max_peers as usize;
    let mut config = ServerConfig::new(cli.bind, protocol_id(), key)
        .ports(cli.ports)
        .max_clients_per_port(max_peers)
        .max_peers_per_ip(cli.max_peers_per_ip);
    if let Some(public) = cli.public {
        config = config.public(public);
    }
    let webtransport = match cli.webtransport {
        Some(bind) => Some(start_webtransport(&cli, bind)?),
        None => None,
    };
    if let Some(webtransport) = &webtransport {
        let ports = webtransport.clone();
        config = config.add_transport(move |port| {
            Ok(Box::new(ports.port(port)?) as Box<dyn berth::engine::transport::Transport>)
        });
    }
    let relay_config = RelayConfig::default().direct_play(cli.direct_play);
    let relay = Arc::new(RelayServer::bind(config, relay_config).map_err(|e| report::chain(&e))?);
    let mut operator = RelayOperator::new(relay.clone(), max_peers);
    if let Some(webtransport) = &webtransport {
        operator = operator.with_webtransport(webtransport.clone());
    }
    let operator = Arc::new(operator);
    let http = HttpService::start(cli.http, HttpConfig::default(), operator)
        .map_err(|e| report::chain(&e))?;
    let attachment = attach(&relay, webtransport.as_ref())?;

    // Caught before the start line goes out: whoever reads that line may
    // send Ctrl-C at once, and it must drain, not kill.
    let stop = catch_ctrl_c()?;
    report::started(&relay, &http);
    if webtransport.is_some() {
        report::webtransport_started(&relay);
    }
    let mut next_stats = Instant::now() + STATS_INTERVAL;
    let mut last_line = None;
    loop {
        let wait = next_stats.saturating_duration_since(Instant::now());
        match stop.recv_timeout(wait) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                last_line = report::stats_line(&relay, &http, last_line);
                next_stats += STATS_INTERVAL;
            }
            Ok(()) | Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
    }

    relay.drain();
    if cli.drain_secs > 0 {
        wait_for_rooms(&relay, Duration::from_secs(cli.drain_secs));
    }
    tracing::info!("stopping: no new tokens or matches; disconnecting players");
    let tokens = http.stats();
    http.stop();
    relay.drain();
    if let Some(webtransport) = &webtransport {
        // Browsers learn why (code 0, "server closing") before the process
        // ends; without the wait, the closes die with the runtime.
        if !webtransport.close_and_wait(WEBTRANSPORT_CLOSE_WAIT) {
            tracing::warn!("some WebTransport sessions had not closed; stopping anyway");
        }
    }
    drop(attachment);
    let relay_stats = relay.stats();
    // The HTTP service's operator held the other reference; it is stopped now.
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

/// Starts WebTransport at `bind` with the command line's certificate
/// settings; its ports bind with the relay's.
fn start_webtransport(cli: &Cli, bind: SocketAddr) -> Result<WebTransportServer, String> {
    let public = cli.webtransport_public;
    if bind.ip().is_unspecified() && public.is_none() {
        return Err(format!(
            "--webtransport {bind} listens on every interface, so browsers need --webtransport-public IP:PORT"
        ));
    }
    let mut config = WebTransportConfig::new(bind);
    if let Some(public) = public {
        config = config.public(public);
    }
    config = match (&cli.webtransport_cert, &cli.webtransport_key) {
        (Some(certificate), Some(key)) => config.certificates(CertificateSource::PemFiles {
            certificate: certificate.clone(),
            key: key.clone(),
        }),
        _ => config,
    };
    WebTransportServer::start(config).map_err(|e| report::chain(&e))
}

/// Waits, draining, until `relay` holds no room or `limit` has passed
/// (a second signal exits the process at once).
fn wait_for_rooms(relay: &RelayServer, limit: Duration) {
    let rooms = relay.stats().rooms;
    tracing::info!(
        rooms,
        limit_secs = limit.as_secs(),
        "draining: no new matches; waiting for the rooms under way to finish"
    );
    let deadline = Instant::now() + limit;
    while relay.stats().rooms > 0 {
        if Instant::now() >= deadline {
            tracing::warn!(
                rooms = relay.stats().rooms,
                "drain time is up; stopping with rooms still open"
            );
            return;
        }
        // A look five times a second; nothing else waits on it.
        std::thread::sleep(Duration::from_millis(200));
    }
    tracing::info!("drained: every room finished");
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
