//! Sessions per client address, bounded: one address (an IPv6 /64) cannot
//! hold more than its share of a port's sessions.

use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// Open sessions by address, over every port.
#[derive(Debug)]
pub(crate) struct IpSessions {
    limit: u32,
    open: Mutex<HashMap<IpAddr, u32>>,
    /// Told when the last session ends.
    emptied: Condvar,
}

/// One session counted against its address until dropped.
#[derive(Debug)]
pub(crate) struct IpSlot {
    sessions: Arc<IpSessions>,
    ip: IpAddr,
}

impl IpSessions {
    /// At most `limit` sessions per address.
    pub(crate) fn new(limit: u32) -> Arc<Self> {
        Arc::new(Self {
            limit,
            open: Mutex::new(HashMap::new()),
            emptied: Condvar::new(),
        })
    }

    /// Blocks until no session holds a slot, or until `deadline`; returns
    /// whether none does.
    pub(crate) fn wait_until_empty(&self, deadline: Instant) -> bool {
        let mut open = self.open.lock();
        while !open.is_empty() {
            if self.emptied.wait_until(&mut open, deadline).timed_out() {
                return open.is_empty();
            }
        }
        true
    }

    /// A slot for a session from `ip`, or `None` when its address is at the limit.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        let ip = key_of(ip);
        let mut open = self.open.lock();
        let count = open.entry(ip).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(IpSlot {
            sessions: self.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.sessions.open.lock();
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
                if open.is_empty() {
                    self.sessions.emptied.notify_all();
                }
            }
        }
    }
}

/// What an address counts under: IPv4 as it is (also when mapped into
/// IPv6), IPv6 by its /64, which one subscriber usually holds whole.
fn key_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_limit_and_slots_come_back_when_dropped() {
        let sessions = IpSessions::new(2);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let a = sessions.admit(ip).unwrap();
        let _b = sessions.admit("::ffff:10.0.0.1".parse().unwrap()).unwrap();
        assert!(
            sessions.admit(ip).is_none(),
            "a mapped address counts as itself"
        );
        assert!(sessions.admit("10.0.0.2".parse().unwrap()).is_some());
        drop(a);
        assert!(sessions.admit(ip).is_some());
    }

    #[test]
    fn a_wait_for_no_sessions_ends_when_the_last_slot_goes_or_at_its_deadline() {
        let sessions = IpSessions::new(2);
        assert!(sessions.wait_until_empty(Instant::now()));
        let slot = sessions.admit("10.0.0.1".parse().unwrap()).unwrap();
        assert!(!sessions.wait_until_empty(Instant::now()));
        let dropper = std::thread::spawn(move || drop(slot));
        let far = Instant::now() + std::time::Duration::from_secs(20);
        assert!(sessions.wait_until_empty(far));
        dropper.join().unwrap();
    }

    #[test]
    fn ipv6_counts_by_its_64() {
        let sessions = IpSessions::new(1);
        let _a = sessions.admit("2001:db8::1".parse().unwrap()).unwrap();
        assert!(
            sessions
                .admit("2001:db8::ffff:2".parse().unwrap())
                .is_none()
        );
        assert!(sessions.admit("2001:db8:0:1::1".parse().unwrap()).is_some());
    }
}
