//! A NAT rig in Linux network namespaces, for direct-play (hole punching) tests.
//!
//! ```text
//! cA 10.0.1.2 ─ lan rA wan 203.0.113.10 ─┐
//!                                         br0 203.0.113.1 (pub: the relay)
//! cB 10.0.2.2 ─ lan rB wan 203.0.113.20 ─┘
//! ```
//!
//! Needs root, `ip` (iproute2) and `iptables` (either backend); `conntrack` only for
//! [`Rig::exec`] inspection. Tests spawn a thread per side, call [`Rig::enter`] on it, and
//! bind sockets there. Every rig has its own namespaces, so rigs may run in parallel.

use nix::sched::{CloneFlags, setns};
use std::fs::File;
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How a router maps its client's outgoing UDP flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nat {
    /// Port-restricted cone: one public port per local socket, whatever the destination;
    /// unsolicited inbound is dropped. Hole punching works.
    Cone,
    /// Symmetric: a random public port per destination. Hole punching fails.
    Symmetric,
}

/// One namespace of a [`Rig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The public network: the relay at [`relay_ip`], bridged to both routers.
    Public,
    /// The client behind router A (10.0.1.2).
    ClientA,
    /// The client behind router B (10.0.2.2).
    ClientB,
    /// Router A: NAT between 10.0.1.0/24 and 203.0.113.10.
    RouterA,
    /// Router B: NAT between 10.0.2.0/24 and 203.0.113.20.
    RouterB,
}

impl Side {
    const ALL: [Self; 5] = [
        Self::Public,
        Self::RouterA,
        Self::RouterB,
        Self::ClientA,
        Self::ClientB,
    ];

    fn suffix(self) -> &'static str {
        match self {
            Self::Public => "pub",
            Self::ClientA => "cA",
            Self::ClientB => "cB",
            Self::RouterA => "rA",
            Self::RouterB => "rB",
        }
    }
}

/// The relay's address, on the public bridge.
pub fn relay_ip() -> Ipv4Addr {
    Ipv4Addr::new(203, 0, 113, 1)
}

/// The public (WAN) address of a side: its router's for clients and routers, the relay's
/// for [`Side::Public`].
pub fn public_ip(side: Side) -> Ipv4Addr {
    match side {
        Side::Public => relay_ip(),
        Side::RouterA | Side::ClientA => Ipv4Addr::new(203, 0, 113, 10),
        Side::RouterB | Side::ClientB => Ipv4Addr::new(203, 0, 113, 20),
    }
}

/// Five namespaces wired as in the module docs; [`Drop`] deletes them.
#[derive(Debug)]
pub struct Rig {
    prefix: String,
    /// Namespaces made so far, deleted on drop (also after a failed build).
    made: Vec<String>,
}

impl Rig {
    /// Builds a rig with router A doing `nat_a` and router B doing `nat_b`.
    pub fn build(nat_a: Nat, nat_b: Nat) -> Result<Self, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut rig = Self {
            prefix: format!("berth{}-{n}", std::process::id()),
            made: Vec::new(),
        };
        for side in Side::ALL {
            let ns = rig.name(side);
            let _ = sh(&format!("ip netns del {ns}")); // Left by a killed run with our pid.
            sh(&format!("ip netns add {ns}"))?;
            rig.made.push(ns.clone());
            sh(&format!("ip -n {ns} link set lo up"))?;
        }
        // Interface names are per namespace and made in place, so they need not be unique.
        let p = rig.name(Side::Public);
        sh(&format!("ip -n {p} link add br0 type bridge"))?;
        sh(&format!("ip -n {p} addr add {}/24 dev br0", relay_ip()))?;
        sh(&format!("ip -n {p} link set br0 up"))?;
        for (router, client, port, net, nat) in [
            (Side::RouterA, Side::ClientA, "pA", 1, nat_a),
            (Side::RouterB, Side::ClientB, "pB", 2, nat_b),
        ] {
            let (r, c, wan) = (rig.name(router), rig.name(client), public_ip(router));
            sh(&format!(
                "ip link add wan netns {r} type veth peer name {port} netns {p}"
            ))?;
            sh(&format!("ip -n {p} link set {port} master br0"))?;
            sh(&format!("ip -n {p} link set {port} up"))?;
            sh(&format!("ip -n {r} addr add {wan}/24 dev wan"))?;
            sh(&format!("ip -n {r} link set wan up"))?;
            sh(&format!(
                "ip link add lan netns {r} type veth peer name eth0 netns {c}"
            ))?;
            sh(&format!("ip -n {r} addr add 10.0.{net}.1/24 dev lan"))?;
            sh(&format!("ip -n {r} link set lan up"))?;
            sh(&format!("ip -n {c} addr add 10.0.{net}.2/24 dev eth0"))?;
            sh(&format!("ip -n {c} link set eth0 up"))?;
            sh(&format!("ip -n {c} route add default via 10.0.{net}.1"))?;
            rig.exec(
                router,
                &["sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"],
            )?;
            let random = if nat == Nat::Symmetric {
                " --random-fully"
            } else {
                ""
            };
            sh(&format!(
                "ip netns exec {r} iptables -w -t nat -A POSTROUTING -o wan -j MASQUERADE{random}"
            ))?;
            // Unsolicited inbound is addressed to the router itself, so it meets INPUT, not
            // FORWARD: without the INPUT drop its conntrack entry takes the port a punch needs.
            for chain in ["INPUT", "FORWARD"] {
                sh(&format!(
                    "ip netns exec {r} iptables -w -A {chain} -i wan -m conntrack --ctstate NEW -j DROP"
                ))?;
            }
        }
        Ok(rig)
    }

    /// Moves the current thread into `side`'s namespace; sockets it binds afterwards live
    /// there. Call it on a thread you spawned, not on the test's own thread. Panics on failure.
    pub fn enter(&self, side: Side) {
        let path = format!("/run/netns/{}", self.name(side));
        let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        setns(&file, CloneFlags::CLONE_NEWNET).unwrap_or_else(|e| panic!("setns {path}: {e}"));
    }

    /// Kills the direct path between `router` ([`Side::RouterA`] or [`Side::RouterB`]) and
    /// `peer_public`, both ways, in that router; the relay stays reachable. Panics on failure.
    pub fn cut(&self, router: Side, peer_public: Ipv4Addr) {
        assert!(
            matches!(router, Side::RouterA | Side::RouterB),
            "cut in a router, not {router:?}"
        );
        let r = self.name(router);
        for dir in ["-s", "-d"] {
            sh(&format!(
                "ip netns exec {r} iptables -w -I FORWARD {dir} {peer_public} -j DROP"
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// Runs `args` in `side`'s namespace (say `["conntrack", "-L"]`) and returns its stdout.
    pub fn exec(&self, side: Side, args: &[&str]) -> Result<String, String> {
        let ns = self.name(side);
        run(&[&["ip", "netns", "exec", ns.as_str()][..], args].concat())
    }

    fn name(&self, side: Side) -> String {
        format!("{}-{}", self.prefix, side.suffix())
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for ns in &self.made {
            let _ = sh(&format!("ip netns del {ns}"));
        }
    }
}

/// Whether rigs can be built here: `Err` holds a one-line reason (checked once per process).
pub fn available() -> Result<(), String> {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    AVAILABLE
        .get_or_init(|| {
            let status = std::fs::read_to_string("/proc/self/status")
                .map_err(|e| format!("/proc/self/status: {e}"))?;
            let euid = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1));
            if euid != Some("0") {
                return Err("network namespaces need root".into());
            }
            sh("ip -V").map_err(|e| format!("no iproute2: {e}"))?;
            sh("iptables --version").map_err(|e| format!("no iptables: {e}"))?;
            let ns = format!("berth{}-probe", std::process::id());
            sh(&format!("ip netns add {ns}"))?;
            let nat = sh(&format!(
                "ip netns exec {ns} iptables -w -t nat -A POSTROUTING -o lo -j MASQUERADE --random-fully"
            ));
            let _ = sh(&format!("ip netns del {ns}"));
            nat.map(drop)
        })
        .clone()
}

/// `Some(())` when rigs can be built. Otherwise panics if `BERTH_REQUIRE_NETNS` is set
/// (non-empty, not `0`), else prints `skipped <test>: <reason>` and returns `None`.
pub fn require_or_skip(test: &str) -> Option<()> {
    let Err(reason) = available() else {
        return Some(());
    };
    match std::env::var("BERTH_REQUIRE_NETNS") {
        Ok(v) if !v.is_empty() && v != "0" => {
            panic!("{test}: BERTH_REQUIRE_NETNS is set but {reason}")
        }
        _ => eprintln!("skipped {test}: {reason}"),
    }
    None
}

/// Runs a command line split on whitespace (no quoting); see [`run`].
fn sh(line: &str) -> Result<String, String> {
    run(&line.split_whitespace().collect::<Vec<_>>())
}

/// Runs a command and returns its stdout; the error names the command and carries its stderr.
fn run(args: &[&str]) -> Result<String, String> {
    let line = args.join(" ");
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("`{line}`: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stderr = stderr.trim().replace('\n', "; ");
        return Err(format!("`{line}` failed ({}): {stderr}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
