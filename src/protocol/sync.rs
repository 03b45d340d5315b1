//! Headers-first sync and block download: which blocks are wanted, who has them, what is in
//! flight from whom and since when; answering `getheaders` from the active chain.

use super::PeerId;
use crate::chain::Chain;
use crate::consensus::rules::check_header_hashed;
use crate::consensus::RuleError;
use crate::types::{BlockHeader, Hash256, Txid};
use crate::wire::MAX_HEADERS;
use foldhash::{HashMap, HashSet};
use std::collections::VecDeque;

/// How far into the wanted queue one scheduling pass looks for blocks a peer can serve.
const SCHEDULE_WINDOW: usize = 1_024;

/// Headers the active chain has after the locator's fork point, up to `stop` or the limit.
pub(super) fn headers_after(
    chain: &Chain,
    locator: &[Hash256],
    stop: &Hash256,
) -> Vec<BlockHeader> {
    let fork = chain.locator_fork_height(locator);
    let mut headers = Vec::new();
    let mut height = fork + 1;
    while headers.len() < MAX_HEADERS {
        let Some(hash) = chain.active_hash_at(height) else {
            break;
        };
        let Some(entry) = chain.entry(&hash) else {
            break;
        };
        headers.push(entry.header);
        if hash == *stop {
            break;
        }
        height += 1;
    }
    headers
}

/// Why a `headers` message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HeadersProblem {
    /// The first header's parent is unknown to us.
    DoNotConnect,
    /// The headers are not a chain, each on the one before.
    NotAChain,
    Invalid(RuleError),
}

/// Checks a `headers` message: a chain of headers with valid proof of work whose first parent we
/// know (a block, or a header already queued). Returns each header's hash (in order), and
/// whether we have no block for it.
pub(super) fn check_headers(
    chain: &Chain,
    headers: &[BlockHeader],
    download: &BlockDownload,
) -> Result<Vec<(Hash256, bool)>, HeadersProblem> {
    let Some(first) = headers.first() else {
        return Ok(Vec::new());
    };
    let parent = first.prev_hash;
    if chain.entry(&parent).is_none() && !download.is_requested(&parent) {
        return Err(HeadersProblem::DoNotConnect);
    }
    let mut expected_parent = parent;
    let mut checked = Vec::with_capacity(headers.len());
    for header in headers {
        if header.prev_hash != expected_parent {
            return Err(HeadersProblem::NotAChain);
        }
        let hash = header.hash();
        check_header_hashed(header, &hash, chain.params()).map_err(HeadersProblem::Invalid)?;
        checked.push((hash, chain.entry(&hash).is_none()));
        expected_parent = hash;
    }
    Ok(checked)
}

/// The block download queue and in-flight requests, plus the transactions asked for.
#[derive(Default)]
pub(super) struct BlockDownload {
    /// Blocks to fetch, oldest announcement first (headers arrive in chain order).
    wanted: VecDeque<Hash256>,
    wanted_set: HashSet<Hash256>,
    /// Peers known to have each wanted block.
    sources: HashMap<Hash256, HashSet<PeerId>>,
    in_flight: HashMap<Hash256, (PeerId, u64)>,
    per_peer: HashMap<PeerId, usize>,
    tx_requests: HashMap<Txid, PeerId>,
}

impl BlockDownload {
    /// `peer` has block `hash`, which we want.
    pub(super) fn want(&mut self, hash: Hash256, peer: PeerId) {
        self.sources.entry(hash).or_default().insert(peer);
        if !self.in_flight.contains_key(&hash) && self.wanted_set.insert(hash) {
            self.wanted.push_back(hash);
        }
    }

    /// Wanted or in flight.
    pub(super) fn is_requested(&self, hash: &Hash256) -> bool {
        self.wanted_set.contains(hash) || self.in_flight.contains_key(hash)
    }

    /// Picks wanted blocks `peer` has, up to its free slots, and marks them in flight.
    pub(super) fn assign(
        &mut self,
        peer: PeerId,
        now_ms: u64,
        max_in_flight: usize,
        have: impl Fn(&Hash256) -> bool,
    ) -> Vec<Hash256> {
        let busy = self.per_peer.get(&peer).copied().unwrap_or(0);
        let mut free = max_in_flight.saturating_sub(busy);
        // Ask in batches once a quarter of the window is free: one getdata per block would
        // cost a message and a round trip each.
        if busy > 0 && free < max_in_flight / 4 {
            return Vec::new();
        }
        let mut picked = Vec::new();
        let mut index = 0;
        while free > 0 && index < self.wanted.len().min(SCHEDULE_WINDOW) {
            let hash = self.wanted[index];
            if have(&hash) {
                self.wanted.remove(index);
                self.wanted_set.remove(&hash);
                self.sources.remove(&hash);
                continue;
            }
            if self.sources.get(&hash).is_some_and(|s| s.contains(&peer)) {
                self.wanted.remove(index);
                self.wanted_set.remove(&hash);
                self.in_flight.insert(hash, (peer, now_ms));
                picked.push(hash);
                free -= 1;
                continue;
            }
            index += 1;
        }
        if !picked.is_empty() {
            *self.per_peer.entry(peer).or_default() += picked.len();
        }
        picked
    }

    fn release(&mut self, hash: &Hash256) -> Option<PeerId> {
        let (peer, _) = self.in_flight.remove(hash)?;
        if let Some(count) = self.per_peer.get_mut(&peer) {
            *count = count.saturating_sub(1);
        }
        Some(peer)
    }

    fn requeue_front(&mut self, hash: Hash256) {
        if self.wanted_set.insert(hash) {
            self.wanted.push_front(hash);
        }
    }

    /// A block arrived from `peer`: `None` if we had not asked it for that block, else the
    /// other peers known to have it, in case the body turns out not to be the header's.
    pub(super) fn block_arrived(&mut self, hash: &Hash256, peer: PeerId) -> Option<Vec<PeerId>> {
        match self.in_flight.get(hash) {
            Some((from, _)) if *from == peer => {
                self.release(hash);
                let mut others: Vec<PeerId> = self
                    .sources
                    .remove(hash)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|source| *source != peer)
                    .collect();
                others.sort_unstable();
                Some(others)
            }
            _ => None,
        }
    }

    /// `peer` does not have a block we asked it for: ask someone else.
    pub(super) fn not_found(&mut self, peer: PeerId, hash: &Hash256) {
        if self
            .in_flight
            .get(hash)
            .is_some_and(|(from, _)| *from == peer)
        {
            self.release(hash);
            if let Some(sources) = self.sources.get_mut(hash) {
                sources.remove(&peer);
            }
            self.requeue_front(*hash);
        }
    }

    /// Requests older than `timeout_ms` go back to the queue; returns the peers that stalled.
    pub(super) fn stalled(&mut self, now_ms: u64, timeout_ms: u64) -> Vec<PeerId> {
        let late: Vec<(Hash256, PeerId)> = self
            .in_flight
            .iter()
            .filter(|(_, (_, since))| now_ms.saturating_sub(*since) > timeout_ms)
            .map(|(hash, (peer, _))| (*hash, *peer))
            .collect();
        let mut peers = Vec::new();
        for (hash, peer) in late {
            self.release(&hash);
            if let Some(sources) = self.sources.get_mut(&hash) {
                sources.remove(&peer);
            }
            self.requeue_front(hash);
            peers.push(peer);
        }
        peers
    }

    /// A peer left: its requests go back to the queue and it is no longer a source.
    pub(super) fn peer_gone(&mut self, peer: PeerId) {
        let mine: Vec<Hash256> = self
            .in_flight
            .iter()
            .filter(|(_, (from, _))| *from == peer)
            .map(|(hash, _)| *hash)
            .collect();
        for hash in mine {
            self.release(&hash);
            self.requeue_front(hash);
        }
        self.per_peer.remove(&peer);
        for sources in self.sources.values_mut() {
            sources.remove(&peer);
        }
        self.tx_requests.retain(|_, from| *from != peer);
    }

    pub(super) fn request_tx(&mut self, txid: Txid, peer: PeerId) {
        self.tx_requests.insert(txid, peer);
    }

    pub(super) fn is_tx_requested(&self, txid: &Txid) -> bool {
        self.tx_requests.contains_key(txid)
    }

    /// A transaction arrived from `peer`; whether we had asked it for that one.
    pub(super) fn tx_arrived(&mut self, txid: &Txid, peer: PeerId) -> bool {
        if self.tx_requests.get(txid) == Some(&peer) {
            self.tx_requests.remove(txid);
            true
        } else {
            false
        }
    }
}
