//! Addresses: the peers to keep connected to (with reconnection backoff), the ones learned from
//! gossip, the ones discouraged for breaking consensus, and the ones denied by hand
//! (`setdeniedpeers`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};

/// Addresses learned from gossip that are remembered.
const MAX_LEARNED: usize = 1_000;
/// Addresses remembered as our own; a node has a handful (one per interface it listens on).
const MAX_OWN_ADDRESSES: usize = 64;
const RECONNECT_MIN_MS: u64 = 1_000;
const RECONNECT_MAX_MS: u64 = 60_000;

#[derive(Clone, Copy, Debug)]
struct Dial {
    /// Kept connected whatever the outbound limit (`--connect`, `addnode`).
    configured: bool,
    next_ms: u64,
    delay_ms: u64,
    /// A Connect was issued and has not resolved.
    pending: bool,
    connected: bool,
}

impl Dial {
    fn new(configured: bool, now_ms: u64) -> Dial {
        Dial {
            configured,
            next_ms: now_ms,
            delay_ms: RECONNECT_MIN_MS,
            pending: false,
            connected: false,
        }
    }

    fn back_off(&mut self, now_ms: u64) {
        self.pending = false;
        self.connected = false;
        self.next_ms = now_ms + self.delay_ms;
        self.delay_ms = (self.delay_ms * 2).min(RECONNECT_MAX_MS);
    }
}

pub(super) struct AddressBook {
    dials: BTreeMap<SocketAddr, Dial>,
    discouraged: HashMap<IpAddr, u64>,
    /// Sorted and without duplicates.
    denied: Vec<SocketAddr>,
    /// Addresses that turned out to be this node: peers gossip them back, and each would
    /// otherwise be dialed again (and refused as a self-connection) once a backoff.
    own: BTreeSet<SocketAddr>,
}

impl AddressBook {
    pub(super) fn new(configured: &[SocketAddr], now_ms: u64) -> AddressBook {
        AddressBook {
            dials: configured
                .iter()
                .map(|addr| (*addr, Dial::new(true, now_ms)))
                .collect(),
            discouraged: HashMap::new(),
            denied: Vec::new(),
            own: BTreeSet::new(),
        }
    }

    pub(super) fn add_configured(&mut self, addr: SocketAddr, now_ms: u64) {
        let dial = self
            .dials
            .entry(addr)
            .or_insert_with(|| Dial::new(true, now_ms));
        dial.configured = true;
        dial.next_ms = dial.next_ms.min(now_ms);
    }

    /// An address heard of (a peer's listen address, or gossip).
    pub(super) fn learn(&mut self, addr: SocketAddr) {
        if !self.own.contains(&addr) && self.dials.len() < MAX_LEARNED + self.configured_count() {
            self.dials
                .entry(addr)
                .or_insert_with(|| Dial::new(false, 0));
        }
    }

    /// An address that turned out to be our own: never dialed again, nor learned again.
    pub(super) fn forget(&mut self, addr: SocketAddr) {
        self.dials.remove(&addr);
        if self.own.len() < MAX_OWN_ADDRESSES {
            self.own.insert(addr);
        }
    }

    fn configured_count(&self) -> usize {
        self.dials.values().filter(|dial| dial.configured).count()
    }

    /// Every address worth telling a peer about.
    pub(super) fn known(&self) -> Vec<SocketAddr> {
        self.dials
            .keys()
            .copied()
            .take(crate::wire::MAX_ADDRS)
            .collect()
    }

    pub(super) fn connected(&mut self, addr: SocketAddr) {
        if let Some(dial) = self.dials.get_mut(&addr) {
            dial.pending = false;
            dial.connected = true;
            dial.delay_ms = RECONNECT_MIN_MS;
        }
    }

    pub(super) fn connect_failed(&mut self, addr: SocketAddr, now_ms: u64) {
        if let Some(dial) = self.dials.get_mut(&addr) {
            dial.back_off(now_ms);
        }
    }

    pub(super) fn disconnected(&mut self, addr: SocketAddr, now_ms: u64) {
        self.connect_failed(addr, now_ms);
    }

    pub(super) fn discourage(&mut self, ip: IpAddr, until_ms: u64) {
        self.discouraged.insert(ip, until_ms);
    }

    pub(super) fn is_discouraged(&self, ip: IpAddr, now_ms: u64) -> bool {
        self.discouraged
            .get(&ip)
            .is_some_and(|until| *until > now_ms)
    }

    /// Replaces the deny-list. If an address left it, every configured dial and every dial to
    /// a lifted address is due now with its backoff reset, so a heal reconnects at once rather
    /// than after the backoff the denial built up; returns whether one did.
    pub(super) fn set_denied(&mut self, denied: &[SocketAddr], now_ms: u64) -> bool {
        let mut denied = denied.to_vec();
        denied.sort_unstable();
        denied.dedup();
        let old = std::mem::replace(&mut self.denied, denied);
        let lifted: Vec<SocketAddr> = old
            .into_iter()
            .filter(|addr| !self.is_denied(*addr))
            .collect();
        if lifted.is_empty() {
            return false;
        }
        for (addr, dial) in self.dials.iter_mut() {
            if dial.configured || lifted.contains(addr) {
                dial.next_ms = dial.next_ms.min(now_ms);
                dial.delay_ms = RECONNECT_MIN_MS;
            }
        }
        true
    }

    pub(super) fn is_denied(&self, addr: SocketAddr) -> bool {
        self.denied.binary_search(&addr).is_ok()
    }

    /// Whether a peer dialed at, or dialing from, `addr` and listening on `listen` is denied.
    pub(super) fn denies(&self, addr: SocketAddr, listen: Option<SocketAddr>) -> bool {
        self.is_denied(addr) || listen.is_some_and(|listen| self.is_denied(listen))
    }

    pub(super) fn denied(&self) -> &[SocketAddr] {
        &self.denied
    }

    /// Addresses to dial now: every configured one that is due, then learned ones while there
    /// is `room` for outbound peers; never a denied one. Marks them pending.
    pub(super) fn due_dials(
        &mut self,
        now_ms: u64,
        connected: &[SocketAddr],
        room: usize,
    ) -> Vec<SocketAddr> {
        let mut room = room;
        let mut dial_now = Vec::new();
        for configured_pass in [true, false] {
            for (addr, dial) in self.dials.iter_mut() {
                let due = !dial.pending && !dial.connected && dial.next_ms <= now_ms;
                let eligible = dial.configured == configured_pass
                    && due
                    && !connected.contains(addr)
                    && self.denied.binary_search(addr).is_err()
                    && self
                        .discouraged
                        .get(&addr.ip())
                        .is_none_or(|until| *until <= now_ms);
                if !eligible || (!configured_pass && room == 0) {
                    continue;
                }
                if !configured_pass {
                    room -= 1;
                }
                dial.pending = true;
                dial_now.push(*addr);
            }
        }
        dial_now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn configured_peers_are_redialed_with_growing_backoff() {
        let mut book = AddressBook::new(&[addr(1)], 0);
        assert_eq!(book.due_dials(0, &[], 0), vec![addr(1)]);
        assert!(
            book.due_dials(0, &[], 0).is_empty(),
            "pending, not dialed twice"
        );
        book.connect_failed(addr(1), 0);
        assert!(book.due_dials(RECONNECT_MIN_MS - 1, &[], 0).is_empty());
        assert_eq!(book.due_dials(RECONNECT_MIN_MS, &[], 0), vec![addr(1)]);
        book.connect_failed(addr(1), RECONNECT_MIN_MS);
        assert!(
            book.due_dials(2 * RECONNECT_MIN_MS, &[], 0).is_empty(),
            "the delay doubled"
        );
        assert_eq!(book.due_dials(3 * RECONNECT_MIN_MS, &[], 0), vec![addr(1)]);
    }

    #[test]
    fn an_address_found_to_be_our_own_is_not_learned_again() {
        let mut book = AddressBook::new(&[], 0);
        book.learn(addr(1));
        book.learn(addr(2));
        book.forget(addr(1));
        book.learn(addr(1));
        assert_eq!(book.known(), vec![addr(2)]);
        assert_eq!(book.due_dials(0, &[], 8), vec![addr(2)]);
    }

    #[test]
    fn learned_peers_fill_only_the_outbound_room_and_discouraged_ones_wait() {
        let mut book = AddressBook::new(&[], 0);
        for port in 1..=3 {
            book.learn(addr(port));
        }
        book.discourage(addr(1).ip(), 100);
        assert!(
            book.due_dials(0, &[], 2).is_empty(),
            "all share the discouraged ip"
        );
        assert_eq!(book.due_dials(100, &[], 2), vec![addr(1), addr(2)]);
        assert!(book.is_discouraged(addr(9).ip(), 99));
        assert!(!book.is_discouraged(addr(9).ip(), 100));
    }

    #[test]
    fn denied_addresses_are_skipped_and_a_lift_resets_the_backoff() {
        let mut book = AddressBook::new(&[addr(1), addr(2)], 0);
        book.learn(addr(3));
        assert!(!book.set_denied(&[addr(2), addr(3), addr(2)], 0));
        assert_eq!(book.denied(), &[addr(2), addr(3)]);
        assert_eq!(book.due_dials(0, &[], 8), vec![addr(1)]);
        book.connect_failed(addr(1), 0);
        book.connect_failed(addr(1), RECONNECT_MIN_MS);
        assert!(book.due_dials(2 * RECONNECT_MIN_MS, &[], 8).is_empty());
        assert!(
            !book.set_denied(&[addr(2), addr(3)], 2 * RECONNECT_MIN_MS),
            "an unchanged list lifts nothing"
        );
        assert!(book.set_denied(&[addr(3)], 2 * RECONNECT_MIN_MS));
        assert_eq!(
            book.due_dials(2 * RECONNECT_MIN_MS, &[], 8),
            vec![addr(1), addr(2)],
            "configured dials are due at once, the backoff forgotten"
        );
        assert!(book.set_denied(&[], 2 * RECONNECT_MIN_MS));
        assert_eq!(book.due_dials(2 * RECONNECT_MIN_MS, &[], 8), vec![addr(3)]);
    }
}
