//! Addresses: the peers to keep connected to (with reconnection backoff), the ones learned from
//! gossip, the ones discouraged for breaking consensus, and the ones denied by hand
//! (`setdeniedpeers`); and when the next dial falls due, so a shell that wakes the protocol only
//! when something is due (the simulator) misses none.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};

/// Addresses learned from gossip that a node remembers.
pub const MAX_LEARNED_ADDRESSES: usize = 1_000;
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
    /// Keys the order in which learned addresses are dialed: the node's own, so nodes that
    /// learned the same addresses do not all dial the same first ones (as an address manager
    /// picks at random).
    order_key: u64,
    /// No configured dial falls due before this (it may be earlier than the truth, never later).
    configured_due_ms: u64,
    /// The same for learned dials, which are made only while there is outbound room.
    learned_due_ms: u64,
    /// Dials that are configured.
    configured: usize,
    /// Learned dials made and not answered yet: they take outbound room until they are.
    pending_learned: usize,
    /// Learned addresses remembered, at most.
    max_learned: usize,
    discouraged: HashMap<IpAddr, u64>,
    /// Sorted and without duplicates.
    denied: Vec<SocketAddr>,
    /// Addresses that turned out to be this node: peers gossip them back, and each would
    /// otherwise be dialed again (and refused as a self-connection) once a backoff.
    own: BTreeSet<SocketAddr>,
}

impl AddressBook {
    /// A book with the `configured` addresses to keep connected to, and `known` ones to dial
    /// while there is room (as if learned), in an order keyed by `order_key`; it remembers at
    /// most `max_learned` learned addresses.
    pub(super) fn new(
        configured: &[SocketAddr],
        known: &[SocketAddr],
        order_key: u64,
        max_learned: usize,
        now_ms: u64,
    ) -> AddressBook {
        let mut book = AddressBook {
            dials: configured
                .iter()
                .map(|addr| (*addr, Dial::new(true, now_ms)))
                .collect(),
            order_key,
            configured_due_ms: now_ms,
            learned_due_ms: u64::MAX,
            configured: 0,
            pending_learned: 0,
            max_learned,
            discouraged: HashMap::new(),
            denied: Vec::new(),
            own: BTreeSet::new(),
        };
        book.configured = book.dials.len();
        if book.configured == 0 {
            book.configured_due_ms = u64::MAX;
        }
        for addr in known {
            book.learn(*addr);
        }
        book
    }

    /// Notes that a dial of this kind may be due at `at_ms`.
    fn due_at(&mut self, configured: bool, at_ms: u64) {
        let due = if configured {
            &mut self.configured_due_ms
        } else {
            &mut self.learned_due_ms
        };
        *due = (*due).min(at_ms);
    }

    /// Something that kept dials back went away (a peer left, so its addresses are free to
    /// dial, or there is outbound room again): every dial may be due from `now_ms`.
    pub(super) fn recheck(&mut self, now_ms: u64) {
        self.due_at(true, now_ms);
        self.due_at(false, now_ms);
    }

    /// When `due_dials` next has something to dial, with `room` for learned ones; `None` if
    /// nothing is waiting.
    pub(super) fn next_due_ms(&self, room: usize) -> Option<u64> {
        let learned = if room > 0 {
            self.learned_due_ms
        } else {
            u64::MAX
        };
        let next = self.configured_due_ms.min(learned);
        (next != u64::MAX).then_some(next)
    }

    pub(super) fn add_configured(&mut self, addr: SocketAddr, now_ms: u64) {
        self.settle(addr);
        let dial = self
            .dials
            .entry(addr)
            .or_insert_with(|| Dial::new(false, now_ms));
        if !dial.configured {
            dial.configured = true;
            self.configured += 1;
        }
        dial.next_ms = dial.next_ms.min(now_ms);
        self.due_at(true, now_ms);
    }

    /// An address heard of (a peer's listen address, or gossip).
    pub(super) fn learn(&mut self, addr: SocketAddr) {
        if !self.own.contains(&addr)
            && !self.dials.contains_key(&addr)
            && self.dials.len() < self.max_learned + self.configured
        {
            self.dials.insert(addr, Dial::new(false, 0));
            self.due_at(false, 0);
        }
    }

    /// An address that turned out to be our own: never dialed again, nor learned again.
    pub(super) fn forget(&mut self, addr: SocketAddr) {
        self.settle(addr);
        if self.dials.remove(&addr).is_some_and(|dial| dial.configured) {
            self.configured -= 1;
        }
        if self.own.len() < MAX_OWN_ADDRESSES {
            self.own.insert(addr);
        }
    }

    /// A dial to `addr` was answered (or given up): a learned one no longer takes room.
    fn settle(&mut self, addr: SocketAddr) {
        if let Some(dial) = self.dials.get_mut(&addr) {
            if dial.pending && !dial.configured {
                self.pending_learned -= 1;
            }
            dial.pending = false;
        }
    }

    /// Learned dials made and not answered yet.
    pub(super) fn pending_learned(&self) -> usize {
        self.pending_learned
    }

    /// Every address worth telling a peer about.
    /// In the book's own order, so the peers of different nodes do not all hear of the same
    /// few first.
    pub(super) fn known(&self) -> Vec<SocketAddr> {
        let mut known: Vec<SocketAddr> = self.dials.keys().copied().collect();
        known.sort_by_cached_key(|addr| self.order_of(addr));
        known.truncate(crate::wire::MAX_ADDRS);
        known
    }

    pub(super) fn connected(&mut self, addr: SocketAddr) {
        self.settle(addr);
        if let Some(dial) = self.dials.get_mut(&addr) {
            dial.pending = false;
            dial.connected = true;
            dial.delay_ms = RECONNECT_MIN_MS;
        }
    }

    pub(super) fn connect_failed(&mut self, addr: SocketAddr, now_ms: u64) {
        self.settle(addr);
        if let Some(dial) = self.dials.get_mut(&addr) {
            dial.back_off(now_ms);
            let (configured, next_ms) = (dial.configured, dial.next_ms);
            self.due_at(configured, next_ms);
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
        self.recheck(now_ms);
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
    /// is `room` for outbound peers, in the book's own order; never a denied one. Marks them
    /// pending, and notes when the next one falls due.
    pub(super) fn due_dials(
        &mut self,
        now_ms: u64,
        connected: &[SocketAddr],
        room: usize,
    ) -> Vec<SocketAddr> {
        let mut dial_now = Vec::new();
        let mut learned_due = Vec::new();
        let (mut configured_next, mut learned_next) = (u64::MAX, u64::MAX);
        for (addr, dial) in &self.dials {
            if dial.pending
                || dial.connected
                || connected.contains(addr)
                || self.denied.binary_search(addr).is_ok()
            {
                // Each of these ends with an input that rechecks the book.
                continue;
            }
            let discouraged_until = self.discouraged.get(&addr.ip()).copied().unwrap_or(0);
            let due_ms = dial.next_ms.max(discouraged_until);
            if due_ms > now_ms {
                let next = if dial.configured {
                    &mut configured_next
                } else {
                    &mut learned_next
                };
                *next = (*next).min(due_ms);
            } else if dial.configured {
                dial_now.push(*addr);
            } else {
                learned_due.push(*addr);
            }
        }
        if learned_due.len() > room {
            learned_due.sort_by_cached_key(|addr| self.order_of(addr));
            // The rest stay due, dialed once there is room again.
            learned_next = now_ms;
        }
        learned_due.truncate(room);
        dial_now.extend(learned_due);
        for addr in &dial_now {
            if let Some(dial) = self.dials.get_mut(addr) {
                dial.pending = true;
                if !dial.configured {
                    self.pending_learned += 1;
                }
            }
        }
        self.configured_due_ms = configured_next;
        self.learned_due_ms = learned_next;
        dial_now
    }

    fn order_of(&self, addr: &SocketAddr) -> u64 {
        foldhash::fast::FixedState::with_seed(self.order_key).hash_one(addr)
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
        let mut book = AddressBook::new(&[addr(1)], &[], 0, MAX_LEARNED_ADDRESSES, 0);
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
        let mut book = AddressBook::new(&[], &[], 0, MAX_LEARNED_ADDRESSES, 0);
        book.learn(addr(1));
        book.learn(addr(2));
        book.forget(addr(1));
        book.learn(addr(1));
        assert_eq!(book.known(), vec![addr(2)]);
        assert_eq!(book.due_dials(0, &[], 8), vec![addr(2)]);
    }

    #[test]
    fn learned_peers_fill_only_the_outbound_room_and_discouraged_ones_wait() {
        let mut book = AddressBook::new(&[], &[], 0, MAX_LEARNED_ADDRESSES, 0);
        for port in 1..=3 {
            book.learn(addr(port));
        }
        book.discourage(addr(1).ip(), 100);
        assert!(
            book.due_dials(0, &[], 2).is_empty(),
            "all share the discouraged ip"
        );
        assert_eq!(
            book.next_due_ms(2),
            Some(100),
            "due when the discouragement ends"
        );
        let dialed = book.due_dials(100, &[], 2);
        assert_eq!(dialed.len(), 2);
        assert!(dialed
            .iter()
            .all(|addr| (1..=3).any(|port| *addr == self::addr(port))));
        assert_ne!(dialed[0], dialed[1]);
        assert_eq!(book.pending_learned(), 2, "the dials take the room");
        assert_eq!(book.next_due_ms(1), Some(100), "the third is still due");
        assert_eq!(book.next_due_ms(0), None, "but not without room");
        book.connect_failed(dialed[0], 100);
        assert_eq!(book.pending_learned(), 1);
        assert!(book.is_discouraged(addr(9).ip(), 99));
        assert!(!book.is_discouraged(addr(9).ip(), 100));
    }

    #[test]
    fn each_book_dials_learned_addresses_in_its_own_order_and_knows_when_the_next_is_due() {
        let known: Vec<SocketAddr> = (1..=20).map(addr).collect();
        let first_picks = |key: u64| {
            let mut book = AddressBook::new(&[], &known, key, MAX_LEARNED_ADDRESSES, 0);
            book.due_dials(0, &[], 4)
        };
        assert_eq!(first_picks(1), first_picks(1), "deterministic");
        assert_ne!(first_picks(1), first_picks(2), "keyed");
        let mut book = AddressBook::new(&[addr(1)], &[], 0, MAX_LEARNED_ADDRESSES, 0);
        assert_eq!(
            book.next_due_ms(0),
            Some(0),
            "a configured dial is due at once"
        );
        assert_eq!(book.due_dials(0, &[], 0), vec![addr(1)]);
        assert_eq!(book.next_due_ms(8), None, "dialed, nothing else waits");
        book.connect_failed(addr(1), 50);
        assert_eq!(book.next_due_ms(0), Some(50 + RECONNECT_MIN_MS));
    }

    #[test]
    fn denied_addresses_are_skipped_and_a_lift_resets_the_backoff() {
        let mut book = AddressBook::new(&[addr(1), addr(2)], &[], 0, MAX_LEARNED_ADDRESSES, 0);
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
