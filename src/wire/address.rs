//! Address records, as connect tokens carry them.
//!
//! | type byte | body | total |
//! |---|---|---|
//! | 1 (IPv4) | 4 octets in dotted order, port `u16` LE | 7 |
//! | 2 (IPv6) | 8 groups, each a `u16` LE of its value, port `u16` LE | 19 |
//!
//! The IPv6 groups are little-endian, not network order: `::1` ends in
//! `01 00` (netcode-spec §0). Any other type byte is an error.

use super::{Error, Reader, Writer};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

const TYPE_IPV4: u8 = 1;
const TYPE_IPV6: u8 = 2;

/// Encoded length of an IPv4 record.
pub const IPV4_LEN: usize = 7;
/// Encoded length of an IPv6 record.
pub const IPV6_LEN: usize = 19;

/// `addr` as a record carries it: IP and port, with IPv6 flow info and scope id cleared.
///
/// Token addresses and the server's own are compared in this form, so a
/// scope id on one side cannot stop a match the wire could never express.
pub const fn normalize(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(_) => addr,
        SocketAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(*v6.ip(), v6.port(), 0, 0)),
    }
}

/// The encoded length of `addr`'s record.
pub const fn encoded_len(addr: &SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(_) => IPV4_LEN,
        SocketAddr::V6(_) => IPV6_LEN,
    }
}

/// Reads one address record.
///
/// # Errors
///
/// [`Error::Truncated`], or [`Error::BadAddressType`] for a type byte other than 1 or 2.
pub fn parse(r: &mut Reader<'_>) -> Result<SocketAddr, Error> {
    match r.u8()? {
        TYPE_IPV4 => {
            let octets = *r.array::<4>()?;
            let port = r.u16()?;
            Ok(SocketAddrV4::new(Ipv4Addr::from(octets), port).into())
        }
        TYPE_IPV6 => {
            let mut groups = [0u16; 8];
            for group in &mut groups {
                *group = r.u16()?;
            }
            let port = r.u16()?;
            Ok(SocketAddrV6::new(Ipv6Addr::from(groups), port, 0, 0).into())
        }
        other => Err(Error::BadAddressType(other)),
    }
}

/// Writes one address record. IPv6 flow info and scope id are not carried.
///
/// # Errors
///
/// [`Error::BufferTooSmall`] when the record does not fit.
pub fn emit(addr: &SocketAddr, w: &mut Writer<'_>) -> Result<(), Error> {
    match addr {
        SocketAddr::V4(v4) => {
            w.u8(TYPE_IPV4)?;
            w.bytes(&v4.ip().octets())?;
        }
        SocketAddr::V6(v6) => {
            w.u8(TYPE_IPV6)?;
            for group in v6.ip().segments() {
                w.u16(group)?;
            }
        }
    }
    w.u16(addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    static IPV4_RECORD: [u8; 7] = [0x01, 0x7f, 0x00, 0x00, 0x01, 0x40, 0x9c];
    static IPV6_RECORD: [u8; 19] = [
        0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x50, 0xc3,
    ];

    #[test]
    fn parses_and_emits_reference_records() {
        let v4: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let v6: SocketAddr = "[::1]:50000".parse().unwrap();
        for (addr, bytes) in [(v4, &IPV4_RECORD[..]), (v6, &IPV6_RECORD[..])] {
            assert_eq!(parse(&mut Reader::new(bytes)).unwrap(), addr);
            let mut buf = [0u8; IPV6_LEN];
            let mut w = Writer::new(&mut buf);
            emit(&addr, &mut w).unwrap();
            assert_eq!(w.len(), encoded_len(&addr));
            assert_eq!(&buf[..bytes.len()], bytes);
        }
    }

    #[test]
    fn normalize_clears_what_the_record_cannot_carry() {
        let scoped = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 9, 7, 2));
        let plain = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 9, 0, 0));
        assert_eq!(normalize(scoped), plain);
        let v4: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(normalize(v4), v4);
    }

    #[test]
    fn rejects_unknown_type_and_every_truncation() {
        assert_eq!(
            parse(&mut Reader::new(&[3, 0, 0])),
            Err(Error::BadAddressType(3))
        );
        assert_eq!(parse(&mut Reader::new(&[0])), Err(Error::BadAddressType(0)));
        for record in [&IPV4_RECORD[..], &IPV6_RECORD[..]] {
            for len in 0..record.len() {
                assert!(parse(&mut Reader::new(&record[..len])).is_err());
            }
        }
    }
}
