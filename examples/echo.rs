//! An echo server and client over berth, and a token maker.
//!
//! ```text
//! echo server --bind 127.0.0.1:40000 --ports 4 --key <64 hex> --protocol-id 0x1122334455667788 --secs 30
//! echo client --server 127.0.0.1:40000 --key <64 hex> --protocol-id 0x1122334455667788 --count 1000 --size 100
//! echo token  --server 127.0.0.1:40000,127.0.0.1:40001 --key <64 hex> --protocol-id 0x1122334455667788 --out token.bin
//! echo demo   # a 4-port server and 8 clients in one process
//! ```
//!
//! The server echoes every payload to its sender (raw mode: one netcode
//! payload per message), until Ctrl-C or `--secs`, then disconnects its
//! peers, stops and prints its counters. The client connects, sends
//! `--count` payloads of `--size` bytes, checks every echo, and exits 0 on
//! success. Any standard netcode.io 1.02 client can talk to the server.
//! Logs go to stderr; set `RUST_LOG=debug` for more.

use berth::engine::{Client, Context, Handler, PeerId, Server, ServerConfig};
use berth::proto::channel::ChannelId;
use berth::proto::server::DropReason;
use berth::{ConnectToken, ConnectTokenBuilder, Key};
use clap::{Args, Parser, Subcommand};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "berth echo server, client and token maker")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Echo every payload back to its sender.
    Server(ServerArgs),
    /// Connect, send payloads, and check every echo.
    Client(ClientArgs),
    /// Write a standard 2048-byte connect token to a file.
    Token(TokenArgs),
    /// Run a server and several clients in one process, and report.
    Demo(DemoArgs),
}

#[derive(Args)]
struct DemoArgs {
    /// Number of server ports.
    #[arg(long, default_value_t = 4)]
    ports: u16,
    /// Number of clients, each on its own thread.
    #[arg(long, default_value_t = 8)]
    clients: u32,
    /// Payloads per client.
    #[arg(long, default_value_t = 10_000)]
    count: u32,
    /// Bytes per payload, 8..=1200.
    #[arg(long, default_value_t = 1200, value_parser = clap::value_parser!(u16).range(8..=1200))]
    size: u16,
}

/// What every command needs to agree with the server.
#[derive(Args)]
struct Secret {
    /// The private key shared by server and token maker: 64 hex digits.
    #[arg(long, value_parser = parse_key)]
    key: Key,
    /// The game's protocol id, decimal or 0x-hex.
    #[arg(long, value_parser = parse_id)]
    protocol_id: u64,
}

#[derive(Args)]
struct ServerArgs {
    /// First address to bind; further ports follow it.
    #[arg(long)]
    bind: SocketAddr,
    /// Number of ports, one thread each.
    #[arg(long, default_value_t = 1)]
    ports: u16,
    /// Address clients reach the first port at, if not the bind address.
    #[arg(long)]
    public: Option<SocketAddr>,
    /// Client slots per port.
    #[arg(long, default_value_t = 256)]
    max_clients: usize,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    secs: Option<u64>,
    #[command(flatten)]
    secret: Secret,
}

#[derive(Args)]
struct ClientArgs {
    /// The server's address (used when no --token is given).
    #[arg(long)]
    server: SocketAddr,
    /// A 2048-byte token file from `echo token`; without it the client makes its own.
    #[arg(long)]
    token: Option<PathBuf>,
    /// Payloads to send.
    #[arg(long, default_value_t = 100)]
    count: u32,
    /// Bytes per payload, 8..=1200.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(8..=1200))]
    size: u16,
    #[command(flatten)]
    secret: Secret,
}

#[derive(Args)]
struct TokenArgs {
    /// Server addresses, comma-separated, tried in order.
    #[arg(long, value_delimiter = ',', required = true)]
    server: Vec<SocketAddr>,
    /// The client's id.
    #[arg(long, default_value_t = 1)]
    client_id: u64,
    /// Where to write the token.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    secret: Secret,
}

fn parse_key(s: &str) -> Result<Key, String> {
    let s = s.trim();
    if s.len() != 64 || !s.is_ascii() {
        return Err(format!(
            "a key is 64 hex digits, got {} characters",
            s.len()
        ));
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte =
            u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|e| format!("not hex: {e}"))?;
    }
    Ok(Key::from_bytes(key))
}

fn parse_id(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|e| format!("not a decimal or 0x-hex u64: {e}"))
}

/// Sends every message back where it came from.
struct Echo;

impl Handler for Echo {
    fn message(&mut self, ctx: &mut Context<'_>, peer: PeerId, channel: ChannelId, bytes: &[u8]) {
        if let Err(e) = ctx.send(peer, channel, bytes) {
            tracing::debug!(%peer, error = %e, "echo failed");
        }
    }
}

fn server(args: ServerArgs) -> Result<(), String> {
    let mut config = ServerConfig::new(args.bind, args.secret.protocol_id, args.secret.key)
        .ports(args.ports)
        .max_clients_per_port(args.max_clients)
        .raw();
    if let Some(public) = args.public {
        config = config.public(public);
    }
    let server = Server::bind_with_handler(config, |_| Echo)
        .map_err(|e| format!("{e}: {}", source_chain(&e)))?;
    let addrs: Vec<String> = server
        .local_addrs()
        .iter()
        .map(ToString::to_string)
        .collect();
    tracing::info!(ports = %addrs.join(", "), "echo server running; Ctrl-C stops it");

    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
    ctrlc::set_handler(move || {
        let _ = stop_tx.try_send(());
    })
    .map_err(|e| format!("cannot catch Ctrl-C: {e}"))?;
    match args.secs {
        Some(secs) => {
            let _ = stop_rx.recv_timeout(Duration::from_secs(secs));
        }
        None => {
            let _ = stop_rx.recv();
        }
    }

    tracing::info!("stopping: disconnecting peers");
    for s in server.shutdown() {
        println!(
            "port {}: peers {}, in {} pkts / {} B, out {} pkts / {} B, {:.1} pkts/recv syscall, {:.1} pkts/send syscall, \
             handshakes {}, payloads {}, dropped {}, rate-limited {}",
            s.port,
            s.peers,
            s.packets_in,
            s.bytes_in,
            s.packets_out,
            s.bytes_out,
            s.packets_per_recv_syscall(),
            s.packets_per_send_syscall(),
            s.protocol.connects,
            s.protocol.payloads_in,
            s.protocol.dropped_total(),
            s.protocol.dropped(DropReason::RateLimited),
        );
    }
    Ok(())
}

fn client(args: ClientArgs) -> Result<(), String> {
    let token = match &args.token {
        Some(path) => {
            let bytes =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            ConnectToken::parse(&bytes)
                .map_err(|e| format!("{} is not a connect token: {e}", path.display()))?
        }
        None => ConnectTokenBuilder::new(args.secret.protocol_id, std::process::id().into())
            .server(args.server)
            .build(&args.secret.key)
            .map_err(|e| e.to_string())?,
    };
    let report = run_client(token, args.count, usize::from(args.size))?;
    println!("{report}");
    Ok(())
}

/// Connects with `token`, sends `count` payloads of `size` bytes with at
/// most 32 unanswered, checks every echo, and describes how it went.
fn run_client(token: ConnectToken, count: u32, size: usize) -> Result<String, String> {
    let first = token
        .server_addresses
        .as_slice()
        .first()
        .copied()
        .ok_or("a token with no server")?;
    let bind: SocketAddr = if first.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    }
    .parse()
    .map_err(|_| "bad bind")?;
    let mut client = Client::bind(bind)
        .map_err(|e| format!("cannot open a socket: {e}"))?
        .raw();
    client.connect(Instant::now(), token);

    let started = Instant::now();
    let connect_deadline = started + Duration::from_secs(10);
    while !client.is_connected() {
        client.update(Instant::now());
        if client.state().is_error() || Instant::now() > connect_deadline {
            return Err(format!(
                "could not connect to {first}: {:?} (state {})",
                client.state(),
                client.state().code()
            ));
        }
        pace();
    }
    let connected = started.elapsed();

    let mut in_flight: VecDeque<Vec<u8>> = VecDeque::new();
    let (mut sent, mut echoed) = (0u32, 0u32);
    let mut last_progress = Instant::now();
    while echoed < count {
        let now = Instant::now();
        client.update(now);
        let mut progressed = false;
        while let Some(echo) = client.recv() {
            let expected = in_flight.pop_front().ok_or("an echo nobody sent")?;
            if echo.bytes != expected {
                return Err(format!("echo {echoed} differs from what was sent"));
            }
            echoed += 1;
            progressed = true;
        }
        while sent < count && in_flight.len() < 32 {
            let payload = payload(sent, size);
            client
                .send(now, ChannelId::RAW, &payload)
                .map_err(|e| format!("send failed: {e}"))?;
            in_flight.push_back(payload);
            sent += 1;
            progressed = true;
        }
        if progressed {
            last_progress = now;
        } else if now - last_progress > Duration::from_secs(5) {
            return Err(format!(
                "no echo for 5 s: {echoed} of {} received (a payload was lost)",
                count
            ));
        } else {
            pace();
        }
        if !client.is_connected() {
            return Err(format!(
                "connection lost: {:?} after {echoed} echoes",
                client.state()
            ));
        }
    }
    let total = started.elapsed() - connected;
    client.disconnect(Instant::now());
    Ok(format!(
        "{count} echoes of {size} bytes from {first} in {:.3} s (connect {:.1} ms, {:.0} round trips/s)",
        total.as_secs_f64(),
        connected.as_secs_f64() * 1000.0,
        f64::from(count) / total.as_secs_f64(),
    ))
}

/// Payload `i`: its index, then a pattern that depends on it.
fn payload(i: u32, size: usize) -> Vec<u8> {
    let mut p: Vec<u8> = (0..size)
        .map(|j| (j as u32).wrapping_mul(31).wrapping_add(i) as u8)
        .collect();
    p[..4].copy_from_slice(&i.to_le_bytes());
    p
}

/// A game loop's pause when there is nothing to do.
fn pace() {
    std::thread::sleep(Duration::from_micros(200));
}

fn token(args: TokenArgs) -> Result<(), String> {
    let mut builder = ConnectTokenBuilder::new(args.secret.protocol_id, args.client_id);
    for addr in &args.server {
        builder = builder.server(*addr);
    }
    let token = builder.build(&args.secret.key).map_err(|e| e.to_string())?;
    std::fs::write(&args.out, token.to_bytes())
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    println!(
        "wrote a 2048-byte token for client {} to {}",
        args.client_id,
        args.out.display()
    );
    Ok(())
}

fn demo(args: DemoArgs) -> Result<(), String> {
    let key = Key::from_bytes(std::array::from_fn(|i| i as u8));
    let protocol_id = berth::ProtocolId::new("berth-echo-demo")
        .version(1, 0)
        .finish();
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().map_err(|_| "bad address")?,
        protocol_id,
        key,
    )
    .ports(args.ports)
    .raw();
    let server = Server::bind_with_handler(config, |_| Echo)
        .map_err(|e| format!("{e}: {}", source_chain(&e)))?;
    println!(
        "echo server on {} ports ({}), {} clients x {} payloads of {} bytes",
        args.ports,
        server
            .local_addrs()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        args.clients,
        args.count,
        args.size
    );
    let started = Instant::now();
    let threads: Vec<_> = (0..args.clients)
        .map(|i| {
            let token = server.issue_token(u64::from(i) + 1, [0; 256]);
            let (count, size) = (args.count, usize::from(args.size));
            std::thread::spawn(move || run_client(token.map_err(|e| e.to_string())?, count, size))
        })
        .collect();
    let mut failed = false;
    for (i, thread) in threads.into_iter().enumerate() {
        match thread.join() {
            Ok(Ok(report)) => println!("client {i}: {report}"),
            Ok(Err(e)) => {
                failed = true;
                println!("client {i}: FAILED: {e}");
            }
            Err(_) => {
                failed = true;
                println!("client {i}: panicked");
            }
        }
    }
    let elapsed = started.elapsed();
    let stats = server.shutdown();
    let payloads: u64 = stats.iter().map(|s| s.protocol.payloads_in).sum();
    println!(
        "{payloads} payloads echoed in {:.2} s: {:.0} echoes/s",
        elapsed.as_secs_f64(),
        payloads as f64 / elapsed.as_secs_f64()
    );
    for s in &stats {
        println!(
            "port {}: {} handshakes, {} payloads, {:.1} pkts/recv syscall, {:.1} pkts/send syscall",
            s.port,
            s.protocol.connects,
            s.protocol.payloads_in,
            s.packets_per_recv_syscall(),
            s.packets_per_send_syscall()
        );
    }
    if failed {
        Err("some clients failed".into())
    } else {
        Ok(())
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = String::new();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(&s.to_string());
        source = s.source();
        if source.is_some() {
            out.push_str(": ");
        }
    }
    out
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Server(args) => server(args),
        Command::Client(args) => client(args),
        Command::Token(args) => token(args),
        Command::Demo(args) => demo(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
