//! Batched I/O over real loopback sockets (127.0.0.1 and ::1 only).
//!
//! Every wait is bounded: peers are std sockets with a read timeout, and
//! our sockets wait in a mio `Poll` with a deadline. Nothing sleeps.

use super::*;
use mio::{Events, Interest, Poll, Token};
use std::net::UdpSocket as StdSocket;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(5);
/// Kernel buffers big enough that no test datagram is dropped for room.
const BUFFER_LEN: usize = 4 << 20;

/// Which `recv`/`send` pair a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// The platform's own, with whatever offload the kernel has.
    Native,
    /// The platform's own, batching but with no GSO or GRO.
    NoOffload,
    /// The portable one-datagram-per-syscall path.
    OneAtATime,
}

use Backend::{Native, NoOffload, OneAtATime};

impl Backend {
    const ALL: [Self; 3] = [Native, NoOffload, OneAtATime];

    fn state(self, socket: &mio::net::UdpSocket) -> SocketState {
        match self {
            Native => SocketState::new(socket),
            NoOffload | OneAtATime => SocketState::without_offload(socket),
        }
    }

    fn recv(
        self,
        socket: &mio::net::UdpSocket,
        state: &SocketState,
        batch: &mut RecvBatch,
    ) -> io::Result<IoCount> {
        match self {
            Native | NoOffload => recv(socket, state, batch),
            OneAtATime => fallback::recv(socket, state, batch),
        }
    }

    fn send(
        self,
        socket: &mio::net::UdpSocket,
        state: &SocketState,
        batch: &mut SendBatch,
    ) -> io::Result<IoCount> {
        match self {
            Native | NoOffload => send(socket, state, batch),
            OneAtATime => fallback::send(socket, state, batch),
        }
    }
}

fn ours(addr: &str) -> mio::net::UdpSocket {
    let socket = mio::net::UdpSocket::bind(addr.parse().unwrap()).unwrap();
    let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(BUFFER_LEN);
    socket
}

fn peer(addr: &str) -> StdSocket {
    let socket = StdSocket::bind(addr).unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(BUFFER_LEN);
    socket
}

fn addr_of(socket: &StdSocket) -> SocketAddr {
    socket.local_addr().unwrap()
}

/// Distinct, checkable content: a tag and an index up front, then a pattern.
fn datagram(tag: u8, index: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| match i {
            0 => tag,
            1 => index as u8,
            2 => (index >> 8) as u8,
            _ => (i as u8) ^ (index as u8).wrapping_mul(31) ^ tag,
        })
        .collect()
}

fn queue(batch: &mut SendBatch, to: SocketAddr, bytes: &[u8]) {
    batch.push(to, &mut |buf: &mut [u8]| {
        buf[..bytes.len()].copy_from_slice(bytes);
        bytes.len()
    });
}

/// Sends until nothing is queued, failing at the deadline.
#[track_caller]
fn flush(
    backend: Backend,
    socket: &mio::net::UdpSocket,
    state: &SocketState,
    batch: &mut SendBatch,
) -> IoCount {
    let deadline = Instant::now() + TIMEOUT;
    let mut total = IoCount::default();
    while batch.pending() > 0 {
        total += backend.send(socket, state, batch).unwrap();
        assert!(
            Instant::now() < deadline,
            "send stuck with {} queued",
            batch.pending()
        );
    }
    total
}

/// Reads `n` datagrams on a peer, failing after the read timeout.
#[track_caller]
fn read(peer: &StdSocket, n: usize) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut buf = vec![0u8; 1 << 16];
    (0..n)
        .map(|i| {
            let (len, from) = peer
                .recv_from(&mut buf)
                .unwrap_or_else(|e| panic!("datagram {i} of {n} never came: {e}"));
            (from, buf[..len].to_vec())
        })
        .collect()
}

/// What one of our sockets received, with the counts of the calls.
#[derive(Debug, Default)]
struct Received {
    datagrams: Vec<(SocketAddr, Vec<u8>)>,
    count: IoCount,
    /// Slots filled across the calls: fewer than datagrams means GRO
    /// coalesced some.
    messages: usize,
}

/// Receives until `n` datagrams came, waiting in a `Poll` between tries,
/// failing at the deadline.
#[track_caller]
fn receive_with(
    socket: &mut mio::net::UdpSocket,
    n: usize,
    mut recv: impl FnMut(&mio::net::UdpSocket, &mut RecvBatch) -> io::Result<IoCount>,
) -> Received {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(4);
    poll.registry()
        .register(socket, Token(0), Interest::READABLE)
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let mut batch = RecvBatch::new();
    let mut received = Received::default();
    while received.datagrams.len() < n {
        let count = recv(socket, &mut batch).unwrap();
        received.count += count;
        received.messages += batch.filled;
        batch.for_each(|from, bytes| received.datagrams.push((from, bytes.to_vec())));
        if count.datagrams == 0 {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("{} of {n} datagrams came", received.datagrams.len()));
            poll.poll(&mut events, Some(left)).unwrap();
        }
    }
    poll.registry().deregister(socket).unwrap();
    assert_eq!(received.datagrams.len(), n, "more datagrams than sent");
    received
}

#[track_caller]
fn receive(
    backend: Backend,
    socket: &mut mio::net::UdpSocket,
    state: &SocketState,
    n: usize,
) -> Received {
    receive_with(socket, n, |socket, batch| {
        backend.recv(socket, state, batch)
    })
}

/// Queues `lens.len()` datagrams tagged `tag` to `to`, returning them.
fn queue_all(batch: &mut SendBatch, to: SocketAddr, tag: u8, lens: &[usize]) -> Vec<Vec<u8>> {
    lens.iter()
        .enumerate()
        .map(|(i, &len)| {
            let bytes = datagram(tag, i, len);
            queue(batch, to, &bytes);
            bytes
        })
        .collect()
}

#[track_caller]
fn assert_payloads(got: &[(SocketAddr, Vec<u8>)], from: SocketAddr, want: &[Vec<u8>]) {
    assert_eq!(got.len(), want.len());
    for (i, ((source, bytes), want)) in got.iter().zip(want).enumerate() {
        assert_eq!(*source, from, "datagram {i} source");
        assert!(
            bytes == want,
            "datagram {i}: {} bytes, wanted {}",
            bytes.len(),
            want.len()
        );
    }
}

/// 100 datagrams of mixed sizes to 3 destinations, in runs (so GSO has
/// something to coalesce) and interleaved.
fn mixed_sizes_to_three_destinations(backend: Backend, ip: &str) {
    let socket = ours(&format!("{ip}:0"));
    let state = backend.state(&socket);
    let peers = [0, 1, 2].map(|_| peer(&format!("{ip}:0")));
    let mut batch = SendBatch::new();
    let mut want: [Vec<Vec<u8>>; 3] = Default::default();
    let mut total = 0;
    for i in 0..100 {
        let to = (i / 7 + i / 50) % 3;
        let len = match i % 9 {
            4 => 1 + (i * 37) % 1225,
            8 => 1225,
            _ => 1200,
        };
        let bytes = datagram(to as u8, want[to].len(), len);
        queue(&mut batch, addr_of(&peers[to]), &bytes);
        want[to].push(bytes);
        total += len;
    }
    let count = flush(backend, &socket, &state, &mut batch);
    assert_eq!(count.datagrams, 100);
    assert_eq!(count.bytes, total as u64);
    assert_eq!(count.dropped, 0);
    if backend != OneAtATime {
        assert!(count.syscalls < count.datagrams, "{count:?}");
    }
    let from = socket.local_addr().unwrap();
    for (peer, want) in peers.iter().zip(&want) {
        assert_payloads(&read(peer, want.len()), from, want);
    }
}

#[test]
fn mixed_sizes_to_three_destinations_arrive_in_order() {
    mixed_sizes_to_three_destinations(Native, "127.0.0.1");
}

#[test]
fn mixed_sizes_to_three_destinations_without_offload() {
    mixed_sizes_to_three_destinations(NoOffload, "127.0.0.1");
}

#[test]
fn mixed_sizes_to_three_destinations_one_at_a_time() {
    mixed_sizes_to_three_destinations(OneAtATime, "127.0.0.1");
}

#[test]
fn ipv6_sends_mixed_sizes_to_three_destinations() {
    for backend in Backend::ALL {
        mixed_sizes_to_three_destinations(backend, "[::1]");
    }
}

#[test]
fn ipv6_receives_from_two_peers() {
    for backend in Backend::ALL {
        let mut socket = ours("[::1]:0");
        let state = backend.state(&socket);
        let to = socket.local_addr().unwrap();
        let peers = [peer("[::1]:0"), peer("[::1]:0")];
        let mut want = [Vec::new(), Vec::new()];
        for i in 0..40 {
            let bytes = datagram(i as u8 % 2, i, 100 + i * 20);
            peers[i % 2].send_to(&bytes, to).unwrap();
            want[i % 2].push(bytes);
        }
        let got = receive(backend, &mut socket, &state, 40).datagrams;
        for (peer, want) in peers.iter().zip(&want) {
            let from: Vec<_> = got
                .iter()
                .filter(|(a, _)| *a == addr_of(peer))
                .cloned()
                .collect();
            assert_payloads(&from, addr_of(peer), want);
        }
    }
}

#[test]
fn recv_takes_many_datagrams_per_syscall() {
    for backend in [Native, NoOffload] {
        let mut socket = ours("127.0.0.1:0");
        let state = backend.state(&socket);
        assert_eq!(state.max_batch(), BATCH_LEN);
        let sender = peer("127.0.0.1:0");
        let to = socket.local_addr().unwrap();
        let want: Vec<_> = (0..100).map(|i| datagram(7, i, 60 + i)).collect();
        for bytes in &want {
            sender.send_to(bytes, to).unwrap();
        }
        let received = receive(backend, &mut socket, &state, want.len());
        assert_payloads(&received.datagrams, addr_of(&sender), &want);
        let count = received.count;
        assert_eq!(count.datagrams, 100);
        assert!(count.syscalls < count.datagrams, "{count:?}");
    }
}

#[test]
fn empty_socket_receives_nothing() {
    for backend in Backend::ALL {
        let socket = ours("127.0.0.1:0");
        let state = backend.state(&socket);
        let mut batch = RecvBatch::new();
        let count = backend.recv(&socket, &state, &mut batch).unwrap();
        assert_eq!(count.datagrams, 0);
        assert_eq!(count.syscalls, 1);
        batch.for_each(|_, _| panic!("nothing was sent"));
    }
}

#[test]
fn gso_run_arrives_as_separate_datagrams() {
    let socket = ours("127.0.0.1:0");
    let state = SocketState::new(&socket);
    let receiver = peer("127.0.0.1:0");
    let mut batch = SendBatch::new();
    let want = queue_all(&mut batch, addr_of(&receiver), 1, &[1200; 40]);
    let count = flush(Native, &socket, &state, &mut batch);
    assert_eq!(count.datagrams, 40);
    assert_eq!(count.bytes, 40 * 1200);
    if state.gso_segments() > 1 {
        assert_eq!(count.syscalls, 1, "one GSO message");
    }
    assert_payloads(&read(&receiver, 40), socket.local_addr().unwrap(), &want);
}

#[test]
fn gso_runs_longer_than_the_kernel_takes_are_split() {
    // 100 × 1200 bytes is over 64 KiB; 100 × 100 is over 64 segments; a
    // shorter datagram ends a run.
    let socket = ours("127.0.0.1:0");
    let state = SocketState::new(&socket);
    let receiver = peer("127.0.0.1:0");
    let mut lens = vec![1200; 100];
    lens.extend([100; 100]);
    lens.push(40);
    lens.extend([100; 3]);
    let mut batch = SendBatch::new();
    let want = queue_all(&mut batch, addr_of(&receiver), 2, &lens);
    let count = flush(Native, &socket, &state, &mut batch);
    assert_eq!(count.datagrams, lens.len() as u64);
    assert_eq!(count.dropped, 0);
    assert_payloads(
        &read(&receiver, lens.len()),
        socket.local_addr().unwrap(),
        &want,
    );
}

#[test]
fn runs_respect_segment_byte_and_destination_limits() {
    let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
    let b: SocketAddr = "127.0.0.1:2000".parse().unwrap();
    let runs = |queued: &[(SocketAddr, usize)], max_segments: usize| {
        let mut batch = SendBatch::new();
        for &(to, len) in queued {
            queue(&mut batch, to, &vec![0; len]);
        }
        let mut runs = Vec::new();
        let mut next = 0;
        while let Some(run) = gso::next_run(&batch, next, max_segments) {
            assert_eq!(run.to, batch.meta[next].to);
            assert_eq!(run.start, batch.meta[next].start);
            next += run.segments;
            runs.push((run.segments, run.len));
        }
        assert_eq!(next, queued.len());
        runs
    };
    let max = gso::MAX_GSO_SEGMENTS;
    assert_eq!(
        runs(&[(a, 1200); 100], max),
        [(54, 54 * 1200), (46, 46 * 1200)],
        "64 KiB"
    );
    assert_eq!(
        runs(&[(a, 100); 70], max),
        [(64, 6400), (6, 600)],
        "64 segments"
    );
    assert_eq!(
        runs(&[(a, 1200), (a, 1200), (a, 500), (a, 1200)], max),
        [(3, 2900), (1, 1200)],
        "a shorter datagram ends a run"
    );
    assert_eq!(
        runs(&[(a, 500), (a, 1200)], max),
        [(1, 500), (1, 1200)],
        "a longer one starts one"
    );
    assert_eq!(
        runs(&[(a, 1200), (b, 1200), (a, 1200), (a, 1200)], max),
        [(1, 1200), (1, 1200), (2, 2400)],
        "one destination per run"
    );
    assert_eq!(runs(&[(a, 1200); 3], 1), [(1, 1200); 3], "GSO off");
    assert!(gso::MAX_GSO_BYTES < usize::from(u16::MAX));
}

#[test]
fn gro_splits_coalesced_datagrams() {
    let mut receiver = ours("127.0.0.1:0");
    let state = SocketState::new(&receiver);
    let to = receiver.local_addr().unwrap();
    let senders = [ours("127.0.0.1:0"), ours("127.0.0.1:0")];
    let mut want = [Vec::new(), Vec::new()];
    for (tag, (sender, want)) in senders.iter().zip(&mut want).enumerate() {
        let sender_state = SocketState::new(sender);
        let mut batch = SendBatch::new();
        let mut lens = vec![1200; 39];
        lens.push(500);
        lens.extend([700; 20]);
        *want = queue_all(&mut batch, to, tag as u8, &lens);
        flush(Native, sender, &sender_state, &mut batch);
    }
    let received = receive(Native, &mut receiver, &state, 120);
    for (sender, want) in senders.iter().zip(&want) {
        let from = sender.local_addr().unwrap();
        let got: Vec<_> = received
            .datagrams
            .iter()
            .filter(|(a, _)| *a == from)
            .cloned()
            .collect();
        assert_payloads(&got, from, want);
    }
    assert_eq!(received.count.datagrams, 120);
    if state.is_gro_enabled() {
        assert!(
            received.messages < 120,
            "GRO coalesced nothing: {received:?}"
        );
        eprintln!("GRO: 120 datagrams in {} messages", received.messages);
    }
}

/// A socket bound to 127.0.0.1 through IPv6 (a v4-mapped address), so it
/// sees IPv4 peers as `::ffff:127.0.0.1` without listening beyond loopback.
fn dual_stack_socket() -> mio::net::UdpSocket {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    socket.set_only_v6(false).unwrap();
    socket.set_nonblocking(true).unwrap();
    let addr: SocketAddr = "[::ffff:127.0.0.1]:0".parse().unwrap();
    socket.bind(&addr.into()).unwrap();
    mio::net::UdpSocket::from_std(socket.into())
}

#[test]
fn dual_stack_socket_sees_ipv4_peers_as_ipv4() {
    for backend in Backend::ALL {
        let mut socket = dual_stack_socket();
        let state = backend.state(&socket);
        assert!(state.dual_stack);
        let local = socket.local_addr().unwrap();
        let to = SocketAddr::from((Ipv4Addr::LOCALHOST, local.port()));
        let other = peer("127.0.0.1:0");
        let want: Vec<_> = (0..10).map(|i| datagram(3, i, 100)).collect();
        for bytes in &want {
            other.send_to(bytes, to).unwrap();
        }
        let got = receive(backend, &mut socket, &state, want.len()).datagrams;
        assert_payloads(&got, addr_of(&other), &want);

        // Replies go to the plain IPv4 address we reported.
        let mut batch = SendBatch::new();
        let replies = queue_all(&mut batch, got[0].0, 4, &[1200, 1200, 1200, 30]);
        flush(backend, &socket, &state, &mut batch);
        assert_payloads(&read(&other, replies.len()), to, &replies);
    }
}

#[test]
fn refused_datagrams_are_dropped_and_counted() {
    for backend in Backend::ALL {
        let socket = ours("127.0.0.1:0");
        let state = backend.state(&socket);
        let receiver = peer("127.0.0.1:0");
        let port_zero: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let ipv6: SocketAddr = "[::1]:9".parse().unwrap();
        let mut batch = SendBatch::new();
        let mut want = Vec::new();
        for (i, to) in [
            addr_of(&receiver),
            port_zero,
            addr_of(&receiver),
            ipv6,
            addr_of(&receiver),
        ]
        .into_iter()
        .enumerate()
        {
            let bytes = datagram(5, i, 300);
            queue(&mut batch, to, &bytes);
            if to == addr_of(&receiver) {
                want.push(bytes);
            }
        }
        let count = backend.send(&socket, &state, &mut batch).unwrap();
        assert_eq!(batch.pending(), 0, "{backend:?}");
        assert_eq!((count.datagrams, count.dropped), (3, 2), "{backend:?}");
        assert_payloads(&read(&receiver, 3), socket.local_addr().unwrap(), &want);
    }
}

#[test]
fn refused_gso_run_is_dropped_and_gso_stays_on() {
    let socket = ours("127.0.0.1:0");
    let state = SocketState::new(&socket);
    let gso = state.gso_segments();
    let receiver = peer("127.0.0.1:0");
    let mut batch = SendBatch::new();
    queue_all(&mut batch, "127.0.0.1:0".parse().unwrap(), 6, &[100; 3]);
    let want = queue_all(&mut batch, addr_of(&receiver), 6, &[1200; 40]);
    let count = send(&socket, &state, &mut batch).unwrap();
    assert_eq!(batch.pending(), 0);
    assert_eq!((count.datagrams, count.dropped), (40, 3));
    assert_eq!(
        state.gso_segments(),
        gso,
        "port 0 is the destination's fault, not GSO's"
    );
    assert_payloads(&read(&receiver, 40), socket.local_addr().unwrap(), &want);
}

#[test]
fn gso_error_turns_gso_off_and_resends() {
    let socket = ours("127.0.0.1:0");
    let state = SocketState::new(&socket);
    if state.gso_segments() == 1 {
        eprintln!("no UDP GSO on this kernel; nothing to turn off");
        return;
    }
    let receiver = peer("127.0.0.1:0");
    let mut batch = SendBatch::new();
    let want = queue_all(&mut batch, addr_of(&receiver), 8, &[1200; 40]);
    // As a NIC without checksum offload answers: EIO for any GSO message.
    let count = linux::send_with(&socket, &state, &mut batch, |_, segments| {
        (segments > 1).then(|| Err(io::Error::from_raw_os_error(libc::EIO)))
    })
    .unwrap();
    assert_eq!(state.gso_segments(), 1);
    assert_eq!(batch.pending(), 0);
    assert_eq!((count.datagrams, count.dropped), (40, 0));
    assert_payloads(&read(&receiver, 40), socket.local_addr().unwrap(), &want);
}

/// Two peers, datagrams alternating between them: no GSO runs, so each
/// datagram is one message.
fn alternating(batch: &mut SendBatch, peers: &[StdSocket; 2], n: usize) -> [Vec<Vec<u8>>; 2] {
    let mut want: [Vec<Vec<u8>>; 2] = Default::default();
    for i in 0..n {
        let bytes = datagram(i as u8 % 2, i, 200 + i);
        queue(batch, addr_of(&peers[i % 2]), &bytes);
        want[i % 2].push(bytes);
    }
    want
}

#[test]
fn enosys_from_sendmmsg_switches_to_one_at_a_time() {
    let socket = ours("127.0.0.1:0");
    let state = SocketState::new(&socket);
    let peers = [peer("127.0.0.1:0"), peer("127.0.0.1:0")];
    let mut batch = SendBatch::new();
    let want = alternating(&mut batch, &peers, 20);
    let count = linux::send_with(&socket, &state, &mut batch, |messages, _| {
        (messages > 1).then(|| Err(io::Error::from_raw_os_error(libc::ENOSYS)))
    })
    .unwrap();
    assert_eq!(state.max_batch(), 1);
    assert_eq!((count.datagrams, count.syscalls), (20, 21));
    let from = socket.local_addr().unwrap();
    for (peer, want) in peers.iter().zip(&want) {
        assert_payloads(&read(peer, want.len()), from, want);
    }
}

#[test]
fn enosys_from_recvmmsg_switches_to_one_at_a_time() {
    let mut socket = ours("127.0.0.1:0");
    let state = SocketState::new(&socket);
    let sender = peer("127.0.0.1:0");
    let want: Vec<_> = (0..10).map(|i| datagram(9, i, 500)).collect();
    for bytes in &want {
        sender.send_to(bytes, socket.local_addr().unwrap()).unwrap();
    }
    let received = receive_with(&mut socket, want.len(), |socket, batch| {
        linux::recv_with(socket, &state, batch, |wanted| {
            (wanted > 1).then(|| io::Error::from_raw_os_error(libc::ENOSYS))
        })
    });
    assert_eq!(state.max_batch(), 1);
    assert_payloads(&received.datagrams, addr_of(&sender), &want);
}

#[test]
fn would_block_leaves_datagrams_queued() {
    // Loopback never fills a send buffer (the kernel releases each datagram
    // as it hands it to the receiver), so the full socket is simulated: the
    // kernel takes 5 messages, then says EAGAIN.
    let socket = ours("127.0.0.1:0");
    let state = SocketState::new(&socket);
    let peers = [peer("127.0.0.1:0"), peer("127.0.0.1:0")];
    let mut batch = SendBatch::new();
    let want = alternating(&mut batch, &peers, 20);
    let mut calls = 0;
    let count = linux::send_with(&socket, &state, &mut batch, |_, _| {
        calls += 1;
        Some(match calls {
            1 => Ok(5),
            _ => Err(io::ErrorKind::WouldBlock.into()),
        })
    })
    .unwrap();
    assert_eq!((count.datagrams, count.dropped), (5, 0));
    assert_eq!(batch.pending(), 15);
    let from = socket.local_addr().unwrap();
    assert_payloads(&read(&peers[0], 3), from, &want[0][..3]);
    assert_payloads(&read(&peers[1], 2), from, &want[1][..2]);

    // Room again: the rest follows, in order.
    let count = send(&socket, &state, &mut batch).unwrap();
    assert_eq!(count.datagrams, 15);
    assert_eq!(batch.pending(), 0);
    assert_payloads(&read(&peers[0], 7), from, &want[0][3..]);
    assert_payloads(&read(&peers[1], 8), from, &want[1][2..]);
}

#[test]
fn tiny_send_buffer_loses_nothing() {
    // The real-socket version of the test above: with the smallest send
    // buffer, whatever the socket does not take stays queued until the
    // receiver is drained and we send again. (On loopback the kernel takes
    // everything at once, so this exercises EAGAIN only where it occurs.)
    for backend in Backend::ALL {
        let socket = ours("127.0.0.1:0");
        socket2::SockRef::from(&socket)
            .set_send_buffer_size(1)
            .unwrap();
        let state = backend.state(&socket);
        let receiver = peer("127.0.0.1:0");
        let mut batch = SendBatch::new();
        let want = queue_all(&mut batch, addr_of(&receiver), 10, &[1200; 300]);
        let deadline = Instant::now() + TIMEOUT;
        let mut got = Vec::new();
        while batch.pending() > 0 || got.len() < want.len() {
            assert!(Instant::now() < deadline, "stuck at {} received", got.len());
            let count = backend.send(&socket, &state, &mut batch).unwrap();
            assert_eq!(count.dropped, 0);
            got.extend(read(&receiver, count.datagrams as usize));
        }
        assert_payloads(&got, socket.local_addr().unwrap(), &want);
    }
}

#[test]
fn oversized_datagram_is_cut_to_the_slot() {
    for backend in [NoOffload, OneAtATime] {
        let mut socket = ours("127.0.0.1:0");
        let state = backend.state(&socket);
        let sender = peer("127.0.0.1:0");
        sender
            .send_to(&[1; 3000], socket.local_addr().unwrap())
            .unwrap();
        sender
            .send_to(&[2; 10], socket.local_addr().unwrap())
            .unwrap();
        let got = receive(backend, &mut socket, &state, 2).datagrams;
        assert_eq!(
            got[0].1, [1; SLOT_LEN],
            "{backend:?}: longer than any netcode packet"
        );
        assert_eq!(got[1].1, [2; 10]);
    }
}

#[test]
fn send_batch_resets_once_everything_is_sent() {
    let mut batch = SendBatch::new();
    let to: SocketAddr = "127.0.0.1:9".parse().unwrap();
    queue(&mut batch, to, &[1; 10]);
    batch.push(to, &mut |_| 0);
    queue(&mut batch, to, &[2; 20]);
    assert_eq!(batch.pending(), 2, "an empty emit queues nothing");
    assert_eq!(batch.meta[1].start, 10, "datagrams lie back to back");
    batch.advance(1);
    assert_eq!(batch.front(), Some((to, &[2u8; 20][..])));
    batch.advance(1);
    assert_eq!(batch.pending(), 0);
    assert_eq!(batch.used, 0, "the buffer is reused from the start");
    assert!(!batch.arena.is_empty(), "its storage is kept, not freed");
}

#[test]
fn addresses_are_normalized_for_the_socket_family() {
    let v4 = ours("127.0.0.1:0");
    let v6 = ours("[::1]:0");
    let dual = dual_stack_socket();
    let (v4, v6, dual) = (
        SocketState::without_offload(&v4),
        SocketState::without_offload(&v6),
        SocketState::without_offload(&dual),
    );
    let plain: SocketAddr = "127.0.0.1:5".parse().unwrap();
    let mapped: SocketAddr = "[::ffff:127.0.0.1]:5".parse().unwrap();
    let loopback6: SocketAddr = "[::1]:5".parse().unwrap();
    assert!(!v6.dual_stack && dual.dual_stack);
    assert_eq!(dual.normalize(mapped), plain);
    assert_eq!(v6.normalize(mapped), mapped, "IPv6-only: leave it be");
    assert_eq!(dual.normalize(loopback6), loopback6);
    assert_eq!(dual.destination(plain), mapped);
    assert_eq!(v4.destination(mapped), plain);
    assert_eq!(v4.destination(plain), plain);
    assert_eq!(v6.destination(loopback6), loopback6);
}

#[test]
fn arrival_stamps_fall_between_send_and_receive() {
    for backend in [Native, NoOffload] {
        let mut socket = ours("127.0.0.1:0");
        let mut state = backend.state(&socket);
        assert!(state.enable_arrival_times(&socket), "Linux stamps arrivals");
        let sender = peer("127.0.0.1:0");
        let to = socket.local_addr().unwrap();
        let before = std::time::SystemTime::now();
        for i in 0..20 {
            sender.send_to(&datagram(9, i, 100), to).unwrap();
        }
        let mut stamps = Vec::new();
        receive_with(&mut socket, 20, |socket, batch| {
            let count = backend.recv(socket, &state, batch)?;
            stamps.extend(batch.arrivals());
            Ok(count)
        });
        let after = std::time::SystemTime::now();
        let stamped: u64 = stamps.iter().map(|&(_, n)| n).sum();
        assert_eq!(stamped, 20, "{backend:?}: every datagram is stamped once");
        for (at, _) in stamps {
            assert!(
                before <= at && at <= after,
                "{backend:?}: {at:?} outside the test"
            );
        }
    }
}

#[test]
fn a_socket_without_stamps_reports_no_arrivals() {
    let mut socket = ours("127.0.0.1:0");
    let state = Native.state(&socket);
    let sender = peer("127.0.0.1:0");
    sender
        .send_to(&datagram(1, 0, 50), socket.local_addr().unwrap())
        .unwrap();
    receive_with(&mut socket, 1, |socket, batch| {
        let count = Native.recv(socket, &state, batch)?;
        assert_eq!(batch.arrivals().count(), 0);
        Ok(count)
    });
}

#[test]
fn only_errors_a_socket_cannot_recover_from_break_it() {
    assert!(!is_socket_broken(&io::Error::from(
        io::ErrorKind::WouldBlock
    )));
    assert!(!is_socket_broken(&io::Error::from(
        io::ErrorKind::Interrupted
    )));
    assert!(!is_socket_broken(&io::Error::from(
        io::ErrorKind::ConnectionRefused
    )));
    #[cfg(unix)]
    {
        assert!(is_socket_broken(&io::Error::from_raw_os_error(libc::EBADF)));
        assert!(!is_socket_broken(&io::Error::from_raw_os_error(
            libc::ENOBUFS
        )));
        assert!(!is_socket_broken(&io::Error::from_raw_os_error(
            libc::ECONNREFUSED
        )));
    }
}
