//! The relay's HTTP service in process, over loopback TCP, in front of a
//! real relay: tokens, metrics, health and readiness, and what it does
//! with hostile requests (and that they leave the relay's players alone).
//! Also the key file and the rate limiter.

mod common;

use berth::Key;
use berth::engine::{MemoryNetwork, ServerConfig};
use berth::relay::{
    MatchInfo, RelayClient, RelayConfig, RelayEvent, RelayServer, Target, protocol_id,
};
use berth_relay::http::{HttpConfig, HttpService};
use berth_relay::key_file::{self, KeyFileError, KeyOrigin};
use berth_relay::operator::RelayOperator;
use berth_relay::rate_limit::RateLimiter;
use common::{DEADLINE, connect_with, exchange, get, post_token, scratch_dir, try_exchange};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn relay(ports: u16) -> Arc<RelayServer> {
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        protocol_id(),
        Key::from_bytes([9; 32]),
    )
    .ports(ports);
    Arc::new(RelayServer::bind(config, RelayConfig::default()).unwrap())
}

fn service(relay: &Arc<RelayServer>, config: HttpConfig) -> HttpService {
    let operator = Arc::new(RelayOperator::new(relay.clone(), 256));
    HttpService::start("127.0.0.1:0".parse().unwrap(), config, operator).unwrap()
}

#[test]
fn a_posted_token_connects_a_player() {
    let relay = relay(2);
    let http = service(&relay, HttpConfig::default());
    let (status, body) = post_token(http.local_addr());
    assert_eq!(status, 200);
    assert_eq!(body.len(), 2048);
    let mut player = connect_with(&body);
    player.disconnect(Instant::now());
    assert_eq!(http.stats().issued, 1);
    http.stop();
}

#[test]
fn each_path_takes_its_method_and_bad_requests_are_refused() {
    let relay = relay(1);
    let http = service(&relay, HttpConfig::default());
    let addr = http.local_addr();
    assert_eq!(
        exchange(addr, b"GET /token HTTP/1.1\r\nHost: r\r\n\r\n").0,
        405
    );
    assert_eq!(
        exchange(addr, b"POST /other HTTP/1.1\r\nHost: r\r\n\r\n").0,
        404
    );
    for path in ["/metrics", "/healthz", "/readyz"] {
        let post = format!("POST {path} HTTP/1.1\r\nHost: r\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(exchange(addr, post.as_bytes()).0, 405, "{path}");
    }
    // A body declared past 1 KiB is refused before it is sent.
    let big = b"POST /token HTTP/1.1\r\nHost: r\r\nContent-Length: 4096\r\n\r\n";
    assert_eq!(exchange(addr, big).0, 413);
    // Headers past 8 KiB are refused: 431, or a reset if the server closed
    // with some of them unread.
    let mut huge = b"GET /metrics HTTP/1.1\r\nHost: r\r\nX-Pad: ".to_vec();
    huge.extend_from_slice(&[b'a'; 16 << 10]);
    huge.extend_from_slice(b"\r\n\r\n");
    match try_exchange(addr, &huge) {
        Ok((status, _)) => assert_eq!(status, 431),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    // Garbage is no request at all.
    assert!(matches!(
        try_exchange(addr, b"\x16\x03\x01 not http\r\n\r\n"),
        Ok((400, _)) | Err(_)
    ));
    // A small body is read and ignored.
    let small = b"POST /token HTTP/1.1\r\nHost: r\r\nContent-Length: 5\r\n\r\nhello";
    assert_eq!(exchange(addr, small).0, 200);
    assert_eq!(http.stats().issued, 1);
}

#[test]
fn tokens_are_rate_limited_per_address() {
    let relay = relay(1);
    let config = HttpConfig {
        per_addr_per_sec: 1,
        burst: 2,
        ..HttpConfig::default()
    };
    let http = service(&relay, config);
    let codes: Vec<u16> = (0..6).map(|_| post_token(http.local_addr()).0).collect();
    assert_eq!(&codes[..2], [200, 200], "{codes:?}");
    assert!(codes.contains(&429), "{codes:?}");
    // Scrapes and health checks are not tokens: never rate-limited.
    for _ in 0..5 {
        assert_eq!(get(http.local_addr(), "/healthz").0, 200);
    }
}

#[test]
fn rate_limiter_refills_groups_ipv6_and_caps_its_table() {
    let mut limiter = RateLimiter::new(2, 2, 2);
    let t0 = Instant::now();
    let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    assert!(limiter.allow(a, t0) && limiter.allow(a, t0));
    assert!(!limiter.allow(a, t0));
    assert!(limiter.allow(a, t0 + Duration::from_millis(500)));
    // Two hosts of one /64 share a bucket.
    let (v6a, v6b) = (
        "2001:db8::1".parse().unwrap(),
        "2001:db8::2".parse().unwrap(),
    );
    assert!(limiter.allow(v6a, t0) && limiter.allow(v6b, t0));
    assert!(!limiter.allow(v6a, t0));
    // The table holds two addresses: a third is refused while both are active...
    let c = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3));
    assert!(!limiter.allow(c, t0 + Duration::from_millis(500)));
    // ...and let in once theirs have refilled and can be forgotten.
    assert!(limiter.allow(c, t0 + Duration::from_secs(5)));
}

#[test]
fn a_silent_client_is_dropped_and_does_not_block_others() {
    let relay = relay(1);
    let config = HttpConfig {
        header_timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    };
    let http = service(&relay, config);
    let mut silent = TcpStream::connect(http.local_addr()).unwrap();
    silent.set_read_timeout(Some(DEADLINE)).unwrap();
    assert_eq!(post_token(http.local_addr()).0, 200);
    assert_eq!(get(http.local_addr(), "/metrics").0, 200);
    // The server gives up on the silent one: EOF (or a 408) well before DEADLINE.
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = silent.read_to_end(&mut rest);
    assert!(
        started.elapsed() < DEADLINE,
        "the silent connection was held"
    );
}

#[cfg(unix)]
#[test]
fn key_file_is_made_private_and_checked() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("key-file");
    // Missing folders are made, private.
    let path = dir.join("state").join("berth").join("relay.key");
    let (key, origin) = key_file::load_or_create(&path).unwrap();
    assert_eq!(origin, KeyOrigin::Created);
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
    let folder = std::fs::metadata(path.parent().unwrap()).unwrap();
    assert_eq!(folder.permissions().mode() & 0o777, 0o700);
    let (again, origin) = key_file::load_or_create(&path).unwrap();
    assert_eq!((again, origin), (key, KeyOrigin::Loaded));

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = key_file::load_or_create(&path).unwrap_err();
    assert!(
        matches!(err, KeyFileError::TooOpen { mode: 0o644, .. }),
        "{err}"
    );

    let short = dir.join("short.key");
    std::fs::write(&short, [1u8; 31]).unwrap();
    std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = key_file::load_or_create(&short).unwrap_err();
    assert!(
        matches!(err, KeyFileError::WrongLength { len: 31, .. }),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A sample's labels, by name.
type Labels = BTreeMap<String, String>;

/// One sample line of OpenMetrics text: its name, labels and value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: Labels,
    value: f64,
}

/// Parses OpenMetrics text strictly, as a scraper would refuse it: every
/// family declared by `# HELP` and `# TYPE` before its samples, every
/// sample named after a declared family with its type's suffix, labels
/// well formed and unique, values numbers, histogram buckets cumulative
/// and ending at `+Inf` with the count, and `# EOF` last.
fn parse_openmetrics(text: &str) -> Vec<Sample> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "no EOF marker");
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(!help.is_empty(), "{line}");
            assert!(
                !types.contains_key(name),
                "HELP after TYPE or twice: {line}"
            );
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(matches!(kind, "counter" | "gauge" | "histogram"), "{line}");
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "{line}"
            );
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment: {line}");
        let (series, value) = line.rsplit_once(' ').expect("a sample: series value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels closed");
                let mut labels = BTreeMap::new();
                for pair in body.split(',') {
                    let (key, quoted) = pair.split_once('=').expect("key=value");
                    assert!(
                        key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                        "{line}"
                    );
                    let value = quoted
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .expect("a quoted label value");
                    assert!(
                        labels.insert(key.to_owned(), value.to_owned()).is_none(),
                        "{line}"
                    );
                }
                (name, labels)
            }
            None => (series, BTreeMap::new()),
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        let family = ["_total", "_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                let base = name.strip_suffix(suffix)?;
                types.contains_key(base).then_some(base)
            })
            .unwrap_or(name);
        let kind = types
            .get(family)
            .unwrap_or_else(|| panic!("a sample before its TYPE: {line}"));
        match kind.as_str() {
            "counter" => assert!(name.ends_with("_total") && value >= 0.0, "{line}"),
            "gauge" => assert_eq!(name, family, "{line}"),
            _ => assert!(name != family, "{line}"),
        }
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    // Histograms: per label set, buckets rise to +Inf, which is the count.
    let mut buckets: BTreeMap<(String, Labels), Vec<(String, f64)>> = BTreeMap::new();
    for sample in samples.iter().filter(|s| s.name.ends_with("_bucket")) {
        let mut labels = sample.labels.clone();
        let le = labels.remove("le").expect("a bucket's le");
        let family = sample.name.trim_end_matches("_bucket").to_owned();
        buckets
            .entry((family, labels))
            .or_default()
            .push((le, sample.value));
    }
    for ((family, labels), series) in &buckets {
        assert!(
            series.windows(2).all(|w| w[0].1 <= w[1].1),
            "{family} not cumulative"
        );
        let (last_le, last) = series.last().unwrap();
        assert_eq!(last_le, "+Inf", "{family}");
        let count = samples
            .iter()
            .find(|s| s.name == format!("{family}_count") && s.labels == *labels)
            .expect("a histogram's count");
        assert_eq!(count.value, *last, "{family}: +Inf bucket against count");
    }
    samples
}

/// The value of `name` with `labels` among `samples`.
#[track_caller]
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == labels)
        .unwrap_or_else(|| panic!("no {name} {labels:?}"))
        .value
}

#[test]
fn metrics_parse_strictly_and_move_with_traffic() {
    let relay = relay(2);
    let http = service(&relay, HttpConfig::default());
    let addr = http.local_addr();
    let (status, text) = get(addr, "/metrics");
    assert_eq!(status, 200);
    let before = parse_openmetrics(&text);
    assert_eq!(value(&before, "berth_tokens_issued_total", &[]), 0.0);
    assert_eq!(value(&before, "berth_port_running", &[("port", "1")]), 1.0);
    assert_eq!(value(&before, "berth_port_peers", &[("port", "0")]), 0.0);
    assert_eq!(
        value(
            &before,
            "berth_port_dropped_total",
            &[("port", "0"), ("reason", "malformed")]
        ),
        0.0
    );

    // A player connects; the ports publish their counters every 100 ms.
    let (_, token) = post_token(addr);
    let mut player = connect_with(&token);
    let deadline = Instant::now() + DEADLINE;
    let after = loop {
        let samples = parse_openmetrics(&get(addr, "/metrics").1);
        let received: f64 = ["0", "1"]
            .iter()
            .map(|port| {
                value(
                    &samples,
                    "berth_port_packets_received_total",
                    &[("port", port)],
                )
            })
            .sum();
        let peers: f64 = ["0", "1"]
            .iter()
            .map(|port| value(&samples, "berth_port_peers", &[("port", port)]))
            .sum();
        if received > 0.0 && peers == 1.0 {
            break samples;
        }
        assert!(Instant::now() < deadline, "the counters never moved");
        player.update(Instant::now());
        player
            .wait(Instant::now() + Duration::from_millis(5))
            .unwrap();
    };
    assert_eq!(value(&after, "berth_tokens_issued_total", &[]), 1.0);
    let dwelt: f64 = ["0", "1"]
        .iter()
        .map(|port| value(&after, "berth_port_dwell_seconds_count", &[("port", port)]))
        .sum();
    assert!(dwelt > 0.0, "the handshake's datagrams were timed");
    player.disconnect(Instant::now());
}

#[test]
fn health_fails_when_a_port_thread_dies_and_readiness_when_draining() {
    let network = MemoryNetwork::new(berth::engine::Faults::default());
    let config = ServerConfig::new(
        "10.7.0.1:40000".parse().unwrap(),
        protocol_id(),
        Key::from_bytes([9; 32]),
    )
    .ports(2)
    .in_memory(&network);
    let relay = Arc::new(RelayServer::bind(config, RelayConfig::default()).unwrap());
    let http = service(&relay, HttpConfig::default());
    let addr = http.local_addr();
    assert_eq!(get(addr, "/healthz"), (200, "ok\n".to_owned()));
    assert_eq!(get(addr, "/readyz"), (200, "ready\n".to_owned()));

    assert!(network.fail("10.7.0.1:40001".parse().unwrap()));
    // The port stops on its next wake, which the failure itself rings.
    let deadline = Instant::now() + DEADLINE;
    let (status, why) = loop {
        let (status, why) = get(addr, "/healthz");
        if status != 200 {
            break (status, why);
        }
        assert!(
            Instant::now() < deadline,
            "the failed port was never reported"
        );
    };
    assert_eq!(status, 503);
    assert!(why.contains("port threads stopped: 1"), "{why}");
    let samples = parse_openmetrics(&get(addr, "/metrics").1);
    assert_eq!(value(&samples, "berth_port_running", &[("port", "1")]), 0.0);
    assert_eq!(value(&samples, "berth_port_running", &[("port", "0")]), 1.0);
    // Port 0 still takes players.
    assert_eq!(get(addr, "/readyz").0, 200);

    relay.drain();
    let (status, why) = get(addr, "/readyz");
    assert_eq!(status, 503);
    assert!(why.contains("draining"), "{why}");
    assert_eq!(post_token(addr).0, 503, "no tokens while draining");
}

#[test]
fn a_webtransport_token_comes_as_json_and_its_session_connects() {
    use base64::Engine as _;
    use berth::engine::transport::Transport;
    use berth::relay::RelayClient;
    use berth_webtransport::{WebTransportClient, WebTransportConfig, WebTransportServer};

    let wt =
        WebTransportServer::start(WebTransportConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
    let ports = wt.clone();
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        protocol_id(),
        Key::from_bytes([9; 32]),
    )
    .add_transport(move |port| Ok(Box::new(ports.port(port)?) as Box<dyn Transport>));
    let relay = Arc::new(RelayServer::bind(config, RelayConfig::default()).unwrap());
    let operator = Arc::new(RelayOperator::new(relay.clone(), 256).with_webtransport(wt.clone()));
    let http = HttpService::start(
        "127.0.0.1:0".parse().unwrap(),
        HttpConfig::default(),
        operator,
    )
    .unwrap();

    let (status, body) = exchange(
        http.local_addr(),
        b"POST /token?transport=webtransport HTTP/1.1\r\nHost: relay\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    };
    let token = b64(&json["token"]);
    assert_eq!(token.len(), 2048);
    let hashes: Vec<[u8; 32]> = json["certificateHashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| b64(h).try_into().unwrap())
        .collect();
    assert_eq!(hashes, wt.certificate_hashes());
    let url = json["url"].as_str().unwrap();
    let wt_addr = relay.server().transport_addrs(1).unwrap()[0];
    assert_eq!(url, format!("https://{wt_addr}/"));

    let session = WebTransportClient::connect(url, &hashes, DEADLINE).unwrap();
    let mut player = RelayClient::with_transport(Box::new(session));
    player.connect_bytes(Instant::now(), &token);
    let deadline = Instant::now() + DEADLINE;
    while !player.is_connected() {
        assert!(
            Instant::now() < deadline,
            "the browser-like player did not connect"
        );
        player.update(Instant::now());
        player
            .wait(Instant::now() + Duration::from_millis(1))
            .unwrap();
    }

    // The session shows in the metrics, which still parse strictly.
    let (status, text) = get(http.local_addr(), "/metrics");
    assert_eq!(status, 200);
    let samples = parse_openmetrics(&text);
    assert_eq!(
        value(&samples, "berth_webtransport_sessions_opened_total", &[]),
        1.0
    );
    assert_eq!(
        value(&samples, "berth_webtransport_sessions_open", &[]),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "berth_webtransport_refused_total",
            &[("reason", "silent")]
        ),
        0.0
    );

    // The plain token still comes as bytes; an unknown query is refused.
    assert_eq!(post_token(http.local_addr()).1.len(), 2048);
    let (status, _) = exchange(
        http.local_addr(),
        b"POST /token?transport=carrier-pigeon HTTP/1.1\r\nHost: relay\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(status, 400);
    http.stop();
}

#[test]
fn a_relay_without_webtransport_refuses_a_browser_token_request() {
    let relay = relay(1);
    let http = service(&relay, HttpConfig::default());
    let (status, body) = exchange(
        http.local_addr(),
        b"POST /token?transport=webtransport HTTP/1.1\r\nHost: relay\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("no WebTransport"));
    http.stop();
}

/// Counts a scraper out when it ends, even by a panic.
struct Done(Arc<AtomicUsize>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[test]
fn a_crowd_of_scrapers_and_silent_connections_leaves_the_players_untouched() {
    let relay = relay(1);
    let config = HttpConfig {
        max_connections: 16,
        header_timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    };
    let http = service(&relay, config);
    let addr = http.local_addr();
    let info = MatchInfo {
        player_count: 2,
        match_data: b"crowd".to_vec(),
    };
    let mut players: Vec<RelayClient> = (0..2).map(|_| connect_with(&post_token(addr).1)).collect();
    for player in &mut players {
        player.request_match(&info).unwrap();
    }
    let deadline = Instant::now() + DEADLINE;
    let mut matched = 0;
    while matched < 2 {
        assert!(Instant::now() < deadline, "the players were not matched");
        for player in &mut players {
            player.update(Instant::now());
            while let Some(event) = player.poll_event() {
                matched += usize::from(matches!(event, RelayEvent::Matched { .. }));
            }
        }
        players[0]
            .wait(Instant::now() + Duration::from_millis(1))
            .unwrap();
    }

    // The crowd: 64 connections that send half a request and then
    // nothing (four times the connection limit), and 8 scrapers of 25
    // scrapes each, all at once.
    let silent: Vec<TcpStream> = (0..64)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
            stream.set_read_timeout(Some(DEADLINE)).unwrap();
            stream
        })
        .collect();
    let scraping = Arc::new(AtomicUsize::new(8));
    let scrapers: Vec<_> = (0..8)
        .map(|_| {
            let scraping = scraping.clone();
            std::thread::spawn(move || {
                let _done = Done(scraping);
                (0..25).map(|_| get(addr, "/metrics").0).collect::<Vec<_>>()
            })
        })
        .collect();

    // Meanwhile the players trade numbered reliable messages, one each a
    // pass, until the crowd is gone and 300 went each way.
    let mut sent = 0u32;
    let mut received: [Vec<u32>; 2] = [Vec::new(), Vec::new()];
    let deadline = Instant::now() + DEADLINE;
    while received.iter().any(|r| r.len() < sent as usize)
        || scraping.load(Ordering::Relaxed) > 0
        || sent < 300
    {
        assert!(
            Instant::now() < deadline,
            "the players stalled: {sent} sent each, {:?} received",
            received.each_ref().map(Vec::len)
        );
        let sending = scraping.load(Ordering::Relaxed) > 0 || sent < 300;
        for (i, player) in players.iter_mut().enumerate() {
            if sending {
                player
                    .send_to(Target::AllOthers, &sent.to_le_bytes(), true)
                    .unwrap();
            }
            player.update(Instant::now());
            while let Some(event) = player.poll_event() {
                if let RelayEvent::Received { data, reliable, .. } = event {
                    assert!(reliable);
                    received[i].push(u32::from_le_bytes(data[..4].try_into().unwrap()));
                }
            }
        }
        sent += u32::from(sending);
        players[0]
            .wait(Instant::now() + Duration::from_millis(1))
            .unwrap();
    }
    // Each got every message of the other, exactly once and in order.
    for got in &received {
        assert_eq!(*got, (0..sent).collect::<Vec<_>>());
    }
    // Every scrape was answered, in time.
    for scraper in scrapers {
        assert!(scraper.join().unwrap().iter().all(|&status| status == 200));
    }
    // Every silent connection was let go (EOF, or a 408).
    for mut stream in silent {
        let started = Instant::now();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        assert!(started.elapsed() < DEADLINE, "a silent connection was held");
    }
    for player in &mut players {
        player.disconnect(Instant::now());
    }
    http.stop();
}
