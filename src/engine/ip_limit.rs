//! A cap on connected peers per IP address, over all ports.
//!
//! Touched when a peer connects or leaves, never per packet. IPv6 addresses
//! count by their /64, which one host usually holds whole.

use ahash::AHashMap;
use parking_lot::Mutex;
use std::net::{IpAddr, Ipv6Addr};

/// Connected peers per address, with a limit.
#[derive(Debug)]
pub(crate) struct IpLimit {
    limit: Option<u32>,
    /// Only addresses with a connected peer; as many entries as peers at most.
    counts: Mutex<AHashMap<IpAddr, u32>>,
}

/// The key an address counts under: itself, or its /64 for IPv6.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }
}

impl IpLimit {
    /// At most `limit` peers per address; `None` for no limit.
    pub(crate) fn new(limit: Option<u32>) -> Self {
        Self {
            limit,
            counts: Mutex::new(AHashMap::new()),
        }
    }

    /// Counts a new peer from `ip`; false (and nothing counted) when its
    /// address is at the limit.
    pub(crate) fn admit(&self, ip: IpAddr) -> bool {
        let Some(limit) = self.limit else {
            return true;
        };
        let mut counts = self.counts.lock();
        let count = counts.entry(key(ip)).or_insert(0);
        if *count >= limit {
            if *count == 0 {
                counts.remove(&key(ip));
            }
            return false;
        }
        *count += 1;
        true
    }

    /// Uncounts a peer from `ip` that [`IpLimit::admit`] let in.
    pub(crate) fn release(&self, ip: IpAddr) {
        if self.limit.is_none() {
            return;
        }
        let mut counts = self.counts.lock();
        let key = key(ip);
        if let Some(count) = counts.get_mut(&key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_limit_and_no_more_until_one_leaves() {
        let limit = IpLimit::new(Some(2));
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        assert!(limit.admit(ip) && limit.admit(ip));
        assert!(!limit.admit(ip));
        assert!(limit.admit("203.0.113.6".parse().unwrap()));
        limit.release(ip);
        assert!(limit.admit(ip));
    }

    #[test]
    fn ipv6_counts_by_its_64_and_the_table_empties() {
        let limit = IpLimit::new(Some(1));
        assert!(limit.admit("2001:db8::1".parse().unwrap()));
        assert!(!limit.admit("2001:db8::2".parse().unwrap()));
        assert!(limit.admit("2001:db8:0:1::1".parse().unwrap()));
        limit.release("2001:db8::1".parse().unwrap());
        limit.release("2001:db8:0:1::1".parse().unwrap());
        assert!(limit.counts.lock().is_empty());
    }

    #[test]
    fn no_limit_counts_nothing() {
        let limit = IpLimit::new(None);
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        assert!((0..1000).all(|_| limit.admit(ip)));
        assert!(limit.counts.lock().is_empty());
    }
}
