//! Fetching a connect token from the relay's HTTP endpoint.
//!
//! One `POST /token` over HTTP/1.1 with `Connection: close`; the answer's
//! body is the 2048-byte token. The relay is the only server this talks
//! to, so a plain request on a `TcpStream` (bounded in size and time) is
//! all it needs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Bytes of a connect token.
const TOKEN_LEN: usize = 2048;
/// The most bytes read from the endpoint: headers and a token.
const MAX_RESPONSE_LEN: u64 = 16 * 1024;

/// Asks the relay at `endpoint` for a token.
pub(crate) fn fetch(endpoint: SocketAddr) -> Result<[u8; TOKEN_LEN], String> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&endpoint, timeout)
        .map_err(|e| format!("cannot reach the token endpoint {endpoint}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "POST /token HTTP/1.1\r\nHost: {endpoint}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("token request failed: {e}"))?;
    let mut response = Vec::new();
    stream
        .take(MAX_RESPONSE_LEN)
        .read_to_end(&mut response)
        .map_err(|e| format!("token response failed: {e}"))?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the token endpoint sent no HTTP response")?;
    let (head, body) = response.split_at(split + 4);
    let status = String::from_utf8_lossy(head.split(|&b| b == b'\r').next().unwrap_or_default())
        .into_owned();
    if !status.contains(" 200 ") {
        return Err(format!("the token endpoint said: {status}"));
    }
    body.try_into().map_err(|_| {
        format!(
            "expected a {TOKEN_LEN}-byte token, got {} bytes",
            body.len()
        )
    })
}
