//! Opening a port's UDP socket.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;

/// Binds a non-blocking UDP socket at `addr` with `buffer_len`-byte kernel buffers.
///
/// IPv6 sockets are IPv6-only, so an IPv4 and an IPv6 socket can share a
/// port number. A buffer size the kernel refuses is logged and left at the
/// kernel's choice: small buffers drop bursts, but the socket still works.
pub(crate) fn bind(addr: SocketAddr, buffer_len: usize) -> io::Result<mio::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    if let Err(e) = socket.set_recv_buffer_size(buffer_len) {
        tracing::debug!(%addr, error = %e, "kernel refused the receive buffer size");
    }
    if let Err(e) = socket.set_send_buffer_size(buffer_len) {
        tracing::debug!(%addr, error = %e, "kernel refused the send buffer size");
    }
    socket.bind(&addr.into())?;
    Ok(mio::net::UdpSocket::from_std(socket.into()))
}
