//! Block download: which blocks are wanted, which peers have them, what is in flight from whom
//! and since when, and how many to ask of one peer at a time. Transactions: `tx_requests`.
//!
//! Blocks waiting to be asked for and blocks in flight are kept apart: the first can number a
//! whole chain's worth during a sync, the second at most a window per peer, so the bookkeeping
//! each arriving block needs stays in a small map.

use super::{
    PeerId, BLOCK_BYTES_IN_FLIGHT_PER_PEER, MAX_BLOCKS_IN_FLIGHT_PER_PEER,
    MIN_BLOCKS_IN_FLIGHT_PER_PEER,
};
use crate::params::MAX_BLOCK_BYTES;
use crate::types::Hash256;
use foldhash::HashMap;
use std::collections::hash_map::Entry;
use std::collections::VecDeque;

/// How far into the queue one scheduling pass looks for blocks a peer can serve.
const SCHEDULE_WINDOW: usize = 1_024;

/// Blocks asked of one peer at a time: what fills `BLOCK_BYTES_IN_FLIGHT_PER_PEER` at the size
/// blocks have been arriving at, within the count bounds.
fn window(block_bytes: usize) -> usize {
    (BLOCK_BYTES_IN_FLIGHT_PER_PEER / block_bytes.max(1))
        .clamp(MIN_BLOCKS_IN_FLIGHT_PER_PEER, MAX_BLOCKS_IN_FLIGHT_PER_PEER)
}

/// Peers known to have a block: nearly always one, kept inline so a wanted block costs no
/// allocation of its own.
#[derive(Default)]
struct Sources {
    first: Option<PeerId>,
    more: Vec<PeerId>,
}

impl Sources {
    fn insert(&mut self, peer: PeerId) {
        match self.first {
            None => self.first = Some(peer),
            Some(first) if first != peer && !self.more.contains(&peer) => self.more.push(peer),
            Some(_) => {}
        }
    }

    fn contains(&self, peer: PeerId) -> bool {
        self.first == Some(peer) || self.more.contains(&peer)
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn remove(&mut self, peer: PeerId) {
        if self.first == Some(peer) {
            self.first = self.more.pop();
        } else {
            self.more.retain(|other| *other != peer);
        }
    }

    fn iter(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.first.into_iter().chain(self.more.iter().copied())
    }
}

/// A block asked for: of whom, since when, who else has it, and whether it came (it stays
/// here until it is validated, so the window also bounds the blocks waiting for that).
struct InFlight {
    peer: PeerId,
    since_ms: u64,
    sources: Sources,
    delivered: bool,
}

/// The block download queue and in-flight requests.
pub(super) struct BlockDownload {
    /// Blocks wanted and not asked for yet, with the peers known to have them.
    queued: HashMap<Hash256, Sources>,
    /// The queued blocks, oldest announcement first (headers arrive in chain order): exactly
    /// the keys of `queued`.
    order: VecDeque<Hash256>,
    in_flight: HashMap<Hash256, InFlight>,
    per_peer: HashMap<PeerId, usize>,
    /// Encoded size of the blocks arriving lately, leaning to the largest: sets the window.
    block_bytes: usize,
}

impl Default for BlockDownload {
    fn default() -> BlockDownload {
        BlockDownload {
            queued: HashMap::default(),
            order: VecDeque::new(),
            in_flight: HashMap::default(),
            per_peer: HashMap::default(),
            // Until blocks arrive, assume the largest: the window starts at its minimum.
            block_bytes: MAX_BLOCK_BYTES,
        }
    }
}

impl BlockDownload {
    /// `peer` has block `hash`, which we want.
    pub(super) fn want(&mut self, hash: Hash256, peer: PeerId) {
        if let Some(asked) = self.in_flight.get_mut(&hash) {
            asked.sources.insert(peer);
            return;
        }
        let sources = self.queued.entry(hash).or_insert_with(|| {
            self.order.push_back(hash);
            Sources::default()
        });
        sources.insert(peer);
    }

    /// Wanted or in flight.
    pub(super) fn is_requested(&self, hash: &Hash256) -> bool {
        self.queued.contains_key(hash) || self.in_flight.contains_key(hash)
    }

    /// Blocks wanted and not asked for yet.
    pub(super) fn queued_len(&self) -> usize {
        self.queued.len()
    }

    /// Whether some block is wanted from a peer that has it (a sync, or a relay, under way).
    pub(super) fn is_fetching(&self) -> bool {
        !self.queued.is_empty() || !self.in_flight.is_empty()
    }

    /// Blocks asked of one peer at a time, at the size blocks have been arriving at.
    pub(super) fn window(&self) -> usize {
        window(self.block_bytes)
    }

    /// A block of `bytes` arrived: a larger one narrows the window at once, smaller ones widen
    /// it gradually, so a run of large blocks after small ones is not asked for a thousand at
    /// a time for long.
    pub(super) fn block_size(&mut self, bytes: usize) {
        let smoothed = self.block_bytes - self.block_bytes / 8 + bytes / 8;
        self.block_bytes = bytes.max(smoothed);
    }

    /// Picks queued blocks `peer` has, up to its free slots, and marks them in flight.
    pub(super) fn assign(
        &mut self,
        peer: PeerId,
        now_ms: u64,
        have: impl Fn(&Hash256) -> bool,
    ) -> Vec<Hash256> {
        let window = self.window();
        let busy = self.per_peer.get(&peer).copied().unwrap_or(0);
        let mut free = window.saturating_sub(busy);
        // Ask in batches once a quarter of the window is free: one getdata per block would
        // cost a message and a round trip each.
        if busy > 0 && free < window / 4 {
            return Vec::new();
        }
        let mut picked = Vec::new();
        let mut index = 0;
        while free > 0 && index < self.order.len().min(SCHEDULE_WINDOW) {
            let hash = self.order[index];
            if have(&hash) {
                self.order.remove(index);
                self.queued.remove(&hash);
                continue;
            }
            match self.queued.entry(hash) {
                Entry::Occupied(sources) if sources.get().contains(peer) => {
                    self.order.remove(index);
                    let sources = sources.remove();
                    self.in_flight.insert(
                        hash,
                        InFlight {
                            peer,
                            since_ms: now_ms,
                            sources,
                            delivered: false,
                        },
                    );
                    picked.push(hash);
                    free -= 1;
                }
                _ => index += 1,
            }
        }
        if !picked.is_empty() {
            *self.per_peer.entry(peer).or_default() += picked.len();
        }
        picked
    }

    /// Takes `hash` off its peer's requests (the peer no longer counts as having it) and puts
    /// it back at the front of the queue, or drops it if no peer is left that has it (one that
    /// announces it later makes it wanted again).
    fn requeue(&mut self, hash: Hash256) {
        let Some(mut asked) = self.in_flight.remove(&hash) else {
            return;
        };
        if let Some(count) = self.per_peer.get_mut(&asked.peer) {
            *count = count.saturating_sub(1);
        }
        asked.sources.remove(asked.peer);
        if !asked.sources.is_empty() {
            self.queued.insert(hash, asked.sources);
            self.order.push_front(hash);
        }
    }

    /// Block `hash` arrived from `peer`; whether we had asked it for that block (and it had
    /// not delivered it already). The block stays in flight, no longer subject to the stall
    /// timeout, until `take_delivered` once it is validated.
    pub(super) fn delivered(&mut self, hash: &Hash256, peer: PeerId) -> bool {
        match self.in_flight.get_mut(hash) {
            Some(asked) if asked.peer == peer && !asked.delivered => {
                asked.delivered = true;
                true
            }
            _ => false,
        }
    }

    /// Whether a block other than `hash` is wanted or in flight.
    pub(super) fn is_fetching_besides(&self, hash: &Hash256) -> bool {
        !self.queued.is_empty()
            || self.in_flight.len() > 1
            || (self.in_flight.len() == 1 && !self.in_flight.contains_key(hash))
    }

    /// The block `peer` delivered is about to be validated: `None` if it was not asked of
    /// `peer` (or did not arrive), else the other peers known to have it, in case the body
    /// turns out not to be the header's.
    pub(super) fn take_delivered(&mut self, hash: &Hash256, peer: PeerId) -> Option<Vec<PeerId>> {
        let Entry::Occupied(asked) = self.in_flight.entry(*hash) else {
            return None;
        };
        if asked.get().peer != peer || !asked.get().delivered {
            return None;
        }
        let asked = asked.remove();
        if let Some(count) = self.per_peer.get_mut(&peer) {
            *count = count.saturating_sub(1);
        }
        let mut others: Vec<PeerId> = asked
            .sources
            .iter()
            .filter(|source| *source != peer)
            .collect();
        others.sort_unstable();
        Some(others)
    }

    /// `peer` does not have a block we asked it for: ask someone else.
    pub(super) fn not_found(&mut self, peer: PeerId, hash: &Hash256) {
        if self
            .in_flight
            .get(hash)
            .is_some_and(|asked| asked.peer == peer && !asked.delivered)
        {
            self.requeue(*hash);
        }
    }

    /// When the oldest request not delivered yet was made.
    pub(super) fn oldest_undelivered_ms(&self) -> Option<u64> {
        self.in_flight
            .values()
            .filter(|asked| !asked.delivered)
            .map(|asked| asked.since_ms)
            .min()
    }

    /// Requests older than `timeout_ms` and not delivered go back to the queue; returns the
    /// peers that stalled.
    pub(super) fn stalled(&mut self, now_ms: u64, timeout_ms: u64) -> Vec<PeerId> {
        let late: Vec<(Hash256, PeerId)> = self
            .in_flight
            .iter()
            .filter(|(_, asked)| {
                !asked.delivered && now_ms.saturating_sub(asked.since_ms) > timeout_ms
            })
            .map(|(hash, asked)| (*hash, asked.peer))
            .collect();
        let mut peers = Vec::new();
        for (hash, peer) in late {
            self.requeue(hash);
            peers.push(peer);
        }
        peers
    }

    /// A peer left: it is no longer a source, its requests go back to the queue, and blocks
    /// no one else has are no longer wanted.
    pub(super) fn peer_gone(&mut self, peer: PeerId) {
        let mine: Vec<Hash256> = self
            .in_flight
            .iter()
            .filter(|(_, asked)| asked.peer == peer)
            .map(|(hash, _)| *hash)
            .collect();
        for hash in mine {
            self.requeue(hash);
        }
        for asked in self.in_flight.values_mut() {
            asked.sources.remove(peer);
        }
        self.per_peer.remove(&peer);
        self.queued.retain(|_, sources| {
            sources.remove(peer);
            !sources.is_empty()
        });
        let queued = &self.queued;
        self.order.retain(|hash| queued.contains_key(hash));
        // What a peer that left had us queue (a flood of headers it never meant to serve) is
        // given back, not kept as capacity.
        if self.queued.capacity() > 4 * self.queued.len() + SCHEDULE_WINDOW {
            self.queued.shrink_to_fit();
            self.order.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(index: u32) -> Hash256 {
        let mut bytes = [0u8; 32];
        bytes[..4].copy_from_slice(&index.to_le_bytes());
        Hash256(bytes)
    }

    /// `hash` arrives from `peer` and is validated at once: the other peers that have it, or
    /// `None` if it was not asked of `peer`.
    fn arrive(download: &mut BlockDownload, hash: &Hash256, peer: PeerId) -> Option<Vec<PeerId>> {
        if !download.delivered(hash, peer) {
            return None;
        }
        download.take_delivered(hash, peer)
    }

    /// A download with `count` blocks wanted from peer 1.
    fn wanting(count: u32) -> BlockDownload {
        let mut download = BlockDownload::default();
        for index in 0..count {
            download.want(hash(index), 1);
        }
        download
    }

    #[test]
    fn the_window_follows_the_size_of_arriving_blocks() {
        let mut download = BlockDownload::default();
        assert_eq!(download.window(), MIN_BLOCKS_IN_FLIGHT_PER_PEER);
        let mut widths = Vec::new();
        for _ in 0..64 {
            download.block_size(300);
            widths.push(download.window());
        }
        assert!(
            widths.windows(2).all(|pair| pair[0] <= pair[1]),
            "{widths:?}"
        );
        assert_eq!(download.window(), MAX_BLOCKS_IN_FLIGHT_PER_PEER);
        // One large block narrows it at once.
        download.block_size(MAX_BLOCK_BYTES);
        assert_eq!(download.window(), MIN_BLOCKS_IN_FLIGHT_PER_PEER);
        download.block_size(BLOCK_BYTES_IN_FLIGHT_PER_PEER / 100);
        assert!(download.window() < 100, "{}", download.window());
    }

    #[test]
    fn a_peer_is_asked_for_its_window_and_then_in_batches() {
        let mut download = wanting(2 * MAX_BLOCKS_IN_FLIGHT_PER_PEER as u32);
        let first = download.assign(1, 0, |_| false);
        assert_eq!(first, (0..16).map(hash).collect::<Vec<_>>());
        for _ in 0..64 {
            download.block_size(300);
        }
        let more = download.assign(1, 0, |_| false);
        assert_eq!(more.len(), MAX_BLOCKS_IN_FLIGHT_PER_PEER - 16);
        assert_eq!(more[0], hash(16), "in announcement order");
        // Full: nothing more until a quarter of the window is free.
        let quarter = MAX_BLOCKS_IN_FLIGHT_PER_PEER / 4;
        for index in 0..(quarter - 1) as u32 {
            assert!(arrive(&mut download, &hash(index), 1).is_some());
        }
        assert!(download.assign(1, 0, |_| false).is_empty());
        assert!(arrive(&mut download, &hash(quarter as u32 - 1), 1).is_some());
        assert_eq!(download.assign(1, 0, |_| false).len(), quarter);
    }

    #[test]
    fn blocks_come_back_to_the_front_of_the_queue() {
        let mut download = wanting(40);
        download.want(hash(2), 2);
        let asked = download.assign(1, 0, |_| false);
        assert_eq!(asked.len(), 16);
        assert!(
            arrive(&mut download, &hash(0), 2).is_none(),
            "not asked of 2"
        );
        assert_eq!(arrive(&mut download, &hash(0), 1), Some(Vec::new()));
        assert_eq!(arrive(&mut download, &hash(2), 1), Some(vec![2]));
        assert!(arrive(&mut download, &hash(2), 1).is_none(), "not twice");

        download.not_found(1, &hash(5));
        assert!(
            !download.is_requested(&hash(5)),
            "peer 1 was its only source"
        );
        assert_eq!(download.stalled(10_000, 10_000), Vec::<PeerId>::new());
        assert_eq!(download.stalled(10_001, 10_000).len(), 13);
        // Peer 1 is no longer a source of what it failed to deliver, so it gets the blocks
        // after them; peer 3, which has one of them, gets that one first.
        assert_eq!(
            download.assign(1, 20_000, |_| false),
            (16..32).map(hash).collect::<Vec<_>>()
        );
        download.want(hash(5), 3);
        assert_eq!(download.assign(3, 20_000, |_| false), vec![hash(5)]);
        download.peer_gone(3);
        assert!(!download.is_requested(&hash(5)), "no peer left has it");
        assert_eq!(
            download.assign(4, 20_000, |_| false),
            Vec::new(),
            "4 has none"
        );
        assert!(download.is_fetching());
        download.peer_gone(1);
        assert!(!download.is_fetching(), "nothing is left that anyone has");
    }

    #[test]
    fn a_delivered_block_waits_in_flight_until_taken() {
        let mut download = wanting(3);
        download.want(hash(0), 2);
        assert_eq!(download.assign(1, 0, |_| false).len(), 3);
        assert!(!download.delivered(&hash(0), 2), "not asked of 2");
        assert!(
            download.take_delivered(&hash(0), 1).is_none(),
            "not delivered yet"
        );
        assert!(download.delivered(&hash(0), 1));
        assert!(!download.delivered(&hash(0), 1), "delivered once");
        // Waiting to be validated is not stalling, and a late notfound does not take it back.
        download.not_found(1, &hash(0));
        assert_eq!(download.stalled(20_000, 10_000), vec![1, 1]);
        assert!(download.is_requested(&hash(0)));
        assert!(
            !download.is_fetching_besides(&hash(0)),
            "1 and 2 went back: no source left"
        );
        assert_eq!(download.take_delivered(&hash(0), 1), Some(vec![2]));
        assert!(!download.is_fetching());
    }

    #[test]
    fn blocks_we_came_to_have_are_not_asked_for() {
        let mut download = wanting(20);
        let asked = download.assign(1, 0, |hash| hash.0[0] % 2 == 0);
        assert!(asked.iter().all(|hash| hash.0[0] % 2 == 1), "{asked:?}");
        assert_eq!(asked.len(), 10);
        assert!(!download.is_requested(&hash(0)));
    }
}
