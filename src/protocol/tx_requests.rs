//! Transactions asked of peers: every peer that announced a transaction we lack, the one request
//! in flight for it (of whom, until when), and how much each peer may make us remember.
//!
//! A peer that announces a transaction and never delivers it delays it by one timeout, not for
//! good: the request goes to the next announcer (outbound peers first, since we chose them) when
//! it times out, when the peer answers `notfound`, and at once when the peer leaves. As Bitcoin
//! Core's tx request tracker does, with a timeout fit for a devnet instead of Core's 60 s.
//!
//! Owns the bookkeeping only: the protocol sends the requests it returns and checks the mempool.
//! Must not touch the clock (`now_ms` comes in) or anything outside the protocol.

use super::PeerId;
use crate::types::Txid;
use foldhash::{HashMap, HashSet};
use std::collections::hash_map::Entry;
use std::collections::VecDeque;

/// A transaction asked for and not delivered by then is asked of the next announcer. A devnet's
/// round trip is milliseconds (a second or two with added latency), so a few seconds is ample for
/// an honest peer and is all a peer that withholds a transaction can delay it by.
pub const TX_REQUEST_TIMEOUT_MS: u64 = 5_000;
/// Transactions one peer may have announced and we remember (asked of it, or waiting behind
/// another announcer's request); what it announces beyond is ignored. Bitcoin Core's bound.
pub const MAX_PEER_TX_ANNOUNCEMENTS: usize = 5_000;
/// Expiry entries kept besides the live requests before the stale ones are swept out.
const STALE_EXPIRIES_SLACK: usize = 1_024;

/// One transaction we want: of whom it is asked, until when, and who else announced it.
struct Wanted {
    asked: PeerId,
    expires_ms: u64,
    /// Announcers not asked yet, in announcement order, each with whether it is preferred.
    others: Vec<(PeerId, bool)>,
}

/// The transactions wanted from peers.
#[derive(Default)]
pub(super) struct TxRequests {
    wanted: HashMap<Txid, Wanted>,
    /// Each peer's share of `wanted`: what it announced and we remember, at most
    /// `MAX_PEER_TX_ANNOUNCEMENTS`.
    by_peer: HashMap<PeerId, HashSet<Txid>>,
    /// Requests in the order they expire (the timeout is one constant); entries of requests
    /// answered or moved on are skipped when they come up, and swept when they pile up.
    expiries: VecDeque<(u64, Txid, PeerId)>,
}

impl TxRequests {
    /// `peer` announced `txid`, which we lack; `preferred` for a peer we dialed. True when it is
    /// to be asked for it now (no one else is). Beyond its bound a peer's announcements are
    /// ignored.
    pub(super) fn announced(
        &mut self,
        txid: Txid,
        peer: PeerId,
        preferred: bool,
        now_ms: u64,
    ) -> bool {
        let mine = self.by_peer.entry(peer).or_default();
        if mine.len() >= MAX_PEER_TX_ANNOUNCEMENTS || !mine.insert(txid) {
            return false;
        }
        match self.wanted.entry(txid) {
            Entry::Occupied(mut wanted) => {
                wanted.get_mut().others.push((peer, preferred));
                false
            }
            Entry::Vacant(slot) => {
                let expires_ms = now_ms + TX_REQUEST_TIMEOUT_MS;
                slot.insert(Wanted {
                    asked: peer,
                    expires_ms,
                    others: Vec::new(),
                });
                self.expiries.push_back((expires_ms, txid, peer));
                true
            }
        }
    }

    /// Whether `txid` is asked of someone.
    #[cfg(test)]
    fn is_wanted(&self, txid: &Txid) -> bool {
        self.wanted.contains_key(txid)
    }

    /// `txid` arrived from `peer`: true if it was asked of that peer, and then it is no longer
    /// wanted from anyone (whatever the mempool makes of it).
    pub(super) fn arrived(&mut self, txid: &Txid, peer: PeerId) -> bool {
        let asked = self.wanted.get(txid).is_some_and(|w| w.asked == peer);
        if asked {
            self.forget(txid);
        }
        asked
    }

    /// No longer wanted from anyone (it reached the mempool another way).
    pub(super) fn forget(&mut self, txid: &Txid) {
        let Some(wanted) = self.wanted.remove(txid) else {
            return;
        };
        let announcers = wanted.others.iter().map(|(peer, _)| *peer);
        for peer in std::iter::once(wanted.asked).chain(announcers) {
            self.unlink(peer, txid);
        }
        self.sweep();
    }

    /// `peer` answered that it does not have `txid`: the next announcer to ask, if any.
    pub(super) fn not_found(&mut self, txid: &Txid, peer: PeerId, now_ms: u64) -> Option<PeerId> {
        if self.wanted.get(txid)?.asked != peer {
            return None;
        }
        self.unlink(peer, txid);
        self.ask_next(txid, now_ms)
    }

    /// When the next request may time out (its entry may be of a request answered meanwhile).
    pub(super) fn next_expiry_ms(&self) -> Option<u64> {
        self.expiries.front().map(|(expires_ms, _, _)| *expires_ms)
    }

    /// Requests that timed out by `now_ms`, moved on: `(peer, txid)` to ask now.
    pub(super) fn expired(&mut self, now_ms: u64) -> Vec<(PeerId, Txid)> {
        let mut next = Vec::new();
        while let Some(&(expires_ms, txid, peer)) = self.expiries.front() {
            if expires_ms > now_ms {
                break;
            }
            self.expiries.pop_front();
            let live = self
                .wanted
                .get(&txid)
                .is_some_and(|w| w.asked == peer && w.expires_ms == expires_ms);
            if live {
                self.unlink(peer, &txid);
                next.extend(self.ask_next(&txid, now_ms).map(|to| (to, txid)));
            }
        }
        next
    }

    /// `peer` left: what was asked of it goes to the next announcers at once, `(peer, txid)`
    /// to ask now, and it is no longer an announcer of anything.
    pub(super) fn peer_gone(&mut self, peer: PeerId, now_ms: u64) -> Vec<(PeerId, Txid)> {
        let Some(mine) = self.by_peer.remove(&peer) else {
            return Vec::new();
        };
        let mut next = Vec::new();
        let mut mine: Vec<Txid> = mine.into_iter().collect();
        // Hash order is not deterministic across runs; the requests that follow must be.
        mine.sort_unstable();
        for txid in mine {
            let Some(wanted) = self.wanted.get_mut(&txid) else {
                continue;
            };
            if wanted.asked == peer {
                next.extend(self.ask_next(&txid, now_ms).map(|to| (to, txid)));
            } else {
                wanted.others.retain(|(other, _)| *other != peer);
            }
        }
        self.sweep();
        next
    }

    /// Transactions wanted, for tests and the memory bound.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.wanted.len()
    }

    /// Moves `txid`'s request to its next announcer (preferred ones first); forgets it when
    /// there is none. The peer it was asked of must be unlinked already.
    fn ask_next(&mut self, txid: &Txid, now_ms: u64) -> Option<PeerId> {
        let wanted = self.wanted.get_mut(txid)?;
        if wanted.others.is_empty() {
            self.wanted.remove(txid);
            self.sweep();
            return None;
        }
        let index = wanted
            .others
            .iter()
            .position(|(_, preferred)| *preferred)
            .unwrap_or(0);
        let (next, _) = wanted.others.remove(index);
        wanted.asked = next;
        wanted.expires_ms = now_ms + TX_REQUEST_TIMEOUT_MS;
        self.expiries.push_back((wanted.expires_ms, *txid, next));
        Some(next)
    }

    /// Takes `txid` out of `peer`'s share.
    fn unlink(&mut self, peer: PeerId, txid: &Txid) {
        if let Some(mine) = self.by_peer.get_mut(&peer) {
            mine.remove(txid);
            if mine.is_empty() {
                self.by_peer.remove(&peer);
            }
        }
    }

    /// Drops expiry entries of requests no longer live once they outnumber the live ones, and
    /// gives memory back once the maps are mostly empty: what a flood made us hold is freed
    /// when it ends.
    fn sweep(&mut self) {
        if self.expiries.len() > 2 * self.wanted.len() + STALE_EXPIRIES_SLACK {
            let wanted = &self.wanted;
            self.expiries.retain(|(expires_ms, txid, peer)| {
                wanted
                    .get(txid)
                    .is_some_and(|w| w.asked == *peer && w.expires_ms == *expires_ms)
            });
            self.expiries.shrink_to_fit();
        }
        if self.wanted.capacity() > 4 * self.wanted.len() + STALE_EXPIRIES_SLACK {
            self.wanted.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Hash256;

    fn txid(index: u32) -> Txid {
        let mut bytes = [0u8; 32];
        bytes[..4].copy_from_slice(&index.to_le_bytes());
        Hash256(bytes)
    }

    #[test]
    fn a_withheld_transaction_goes_to_the_next_announcer_after_the_timeout() {
        let mut requests = TxRequests::default();
        assert!(requests.announced(txid(1), 7, false, 0));
        assert!(!requests.announced(txid(1), 8, false, 10));
        assert!(!requests.announced(txid(1), 7, false, 20), "asked already");
        assert!(requests.expired(TX_REQUEST_TIMEOUT_MS - 1).is_empty());
        assert_eq!(requests.expired(TX_REQUEST_TIMEOUT_MS), vec![(8, txid(1))]);
        assert!(!requests.arrived(&txid(1), 7), "peer 7 is no longer asked");
        assert!(requests.arrived(&txid(1), 8));
        assert_eq!(requests.len(), 0);
        assert!(requests.by_peer.is_empty());
    }

    #[test]
    fn outbound_announcers_are_asked_first_and_a_departed_peer_hands_on_at_once() {
        let mut requests = TxRequests::default();
        assert!(requests.announced(txid(1), 1, false, 0));
        requests.announced(txid(1), 2, false, 0);
        requests.announced(txid(1), 3, true, 0);
        assert_eq!(requests.peer_gone(1, 5), vec![(3, txid(1))]);
        assert_eq!(requests.not_found(&txid(1), 3, 6), Some(2));
        assert_eq!(requests.not_found(&txid(1), 2, 7), None);
        assert!(!requests.is_wanted(&txid(1)));
        // What the departed peer's requests left in the expiry queue is stale.
        assert!(requests.expired(u64::MAX).is_empty());
    }

    #[test]
    fn one_peer_is_remembered_for_a_bounded_number_of_announcements() {
        let mut requests = TxRequests::default();
        let max = MAX_PEER_TX_ANNOUNCEMENTS as u32;
        let asked = (0..max + 100)
            .filter(|index| requests.announced(txid(*index), 9, false, 0))
            .count();
        assert_eq!(asked, MAX_PEER_TX_ANNOUNCEMENTS);
        // Another peer still gets its own share.
        assert!(requests.announced(txid(max + 1), 10, false, 0));
        assert!(requests.peer_gone(9, 1).is_empty());
        assert_eq!(requests.len(), 1);
        assert!(requests.wanted.capacity() < MAX_PEER_TX_ANNOUNCEMENTS);
    }
}
