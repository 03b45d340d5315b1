//! One connection's state: handshake phase, keep-alive, what it is known to have.

use super::PeerId;
use crate::types::Hash256;
use crate::wire::{InvItem, InvKind};
use foldhash::HashSet;
use serde::Serialize;
use std::collections::VecDeque;
use std::net::SocketAddr;

/// Transactions remembered per peer (what it announced or we sent it), oldest forgotten first.
const MAX_KNOWN_INVENTORY: usize = 10_000;
/// Blocks remembered per peer. Only tips are announced, so the last few are all that can save
/// an announcement, and a node with thousands of simulated peers' worth of them stays small.
const KNOWN_BLOCKS: usize = 8;

/// What the known-inventory set holds of a hash: its first eight bytes. Block hashes and txids
/// are uniformly distributed, so two different items the set holds share a key with odds of
/// about 10^-15, and a false "already heard of" costs only an announcement not made.
fn inventory_key(hash: &Hash256) -> u64 {
    let [a, b, c, d, e, f, g, h, ..] = hash.0;
    u64::from_le_bytes([a, b, c, d, e, f, g, h])
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum PeerPhase {
    /// Waiting for the peer's Version (outbound: ours is sent).
    AwaitingVersion,
    /// Version exchanged, waiting for its Verack.
    AwaitingVerack,
    Ready,
}

/// What `getpeerinfo` shows of a peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeerInfo {
    /// The connection's id.
    pub id: PeerId,
    /// The remote address.
    pub addr: SocketAddr,
    /// Whether the peer dialed us.
    pub inbound: bool,
    /// Whether the handshake finished.
    pub handshake_done: bool,
    /// What its Version said it runs.
    pub user_agent: String,
    /// The height its Version announced.
    pub best_height: u32,
    /// The last ping's round trip.
    pub ping_ms: Option<u64>,
    /// Where the peer accepts connections, from its Version (none before it, or if it does
    /// not listen).
    pub listen_addr: Option<SocketAddr>,
}

pub(super) struct Peer {
    pub(super) id: PeerId,
    pub(super) addr: SocketAddr,
    pub(super) inbound: bool,
    pub(super) phase: PeerPhase,
    pub(super) connected_ms: u64,
    pub(super) last_heard_ms: u64,
    pub(super) last_ping_sent_ms: u64,
    /// The nonce of the ping awaiting its pong.
    pub(super) ping_nonce: Option<u64>,
    pub(super) ping_rtt_ms: Option<u64>,
    /// The node's nonce from its Version: two connections with one nonce reach one node.
    pub(super) nonce: Option<u64>,
    /// Addresses we dialed that turned out to reach this peer (a second connection, dropped).
    pub(super) also_reached_at: Vec<SocketAddr>,
    pub(super) user_agent: String,
    pub(super) best_height: u32,
    /// Where the peer accepts connections, for address gossip.
    pub(super) listen_addr: Option<SocketAddr>,
    pub(super) unconnecting_headers: u32,
    /// When we last asked it for headers, or it last told us of blocks.
    pub(super) last_sync_ms: u64,
    /// When it last gave us a transaction the mempool took (0: never); protects it from
    /// eviction.
    pub(super) last_tx_ms: u64,
    /// When it last gave us a block new to us (0: never); protects it from eviction.
    pub(super) last_block_ms: u64,
    /// It connected from a discouraged address while there was room: first to be evicted.
    pub(super) discouraged: bool,
    /// The last header of a full `headers` message whose follow-up we held back because the
    /// download queue was full: asked from once the queue has room.
    pub(super) headers_paused_at: Option<Hash256>,
    /// Transactions, by `inventory_key`: a quarter of the memory of whole hashes, and cheap to
    /// hash.
    known: HashSet<u64>,
    known_order: VecDeque<u64>,
    /// The latest blocks, by `inventory_key`, in a ring.
    known_blocks: [u64; KNOWN_BLOCKS],
    next_known_block: usize,
}

impl Peer {
    pub(super) fn new(id: PeerId, addr: SocketAddr, inbound: bool, now_ms: u64) -> Peer {
        Peer {
            id,
            addr,
            inbound,
            phase: PeerPhase::AwaitingVersion,
            connected_ms: now_ms,
            last_heard_ms: now_ms,
            last_ping_sent_ms: now_ms,
            ping_nonce: None,
            ping_rtt_ms: None,
            nonce: None,
            also_reached_at: Vec::new(),
            user_agent: String::new(),
            best_height: 0,
            listen_addr: None,
            unconnecting_headers: 0,
            last_sync_ms: now_ms,
            last_tx_ms: 0,
            last_block_ms: 0,
            discouraged: false,
            headers_paused_at: None,
            known: HashSet::default(),
            known_order: VecDeque::new(),
            known_blocks: [0; KNOWN_BLOCKS],
            next_known_block: 0,
        }
    }

    /// Remembers that the peer has transaction `txid`.
    pub(super) fn knows_tx(&mut self, txid: Hash256) {
        let key = inventory_key(&txid);
        if self.known.insert(key) {
            self.known_order.push_back(key);
            if self.known_order.len() > MAX_KNOWN_INVENTORY {
                if let Some(oldest) = self.known_order.pop_front() {
                    self.known.remove(&oldest);
                }
            }
        }
    }

    /// The peer just told us of blocks it has: we know where it stands, so the periodic
    /// headers request can wait a whole interval from now.
    pub(super) fn told_of_blocks(&mut self) {
        self.last_sync_ms = self.last_heard_ms;
    }

    /// Remembers that the peer has block `hash`.
    pub(super) fn knows_block(&mut self, hash: Hash256) {
        if !self.has_heard_of_block(&hash) {
            self.known_blocks[self.next_known_block] = inventory_key(&hash);
            self.next_known_block = (self.next_known_block + 1) % KNOWN_BLOCKS;
        }
    }

    /// Remembers that the peer has `item`.
    pub(super) fn knows(&mut self, item: &InvItem) {
        match item.kind {
            InvKind::Block => self.knows_block(item.hash),
            InvKind::Tx => self.knows_tx(item.hash),
        }
    }

    /// Whether the peer is known to have block `hash` (it announced it, or we sent it).
    pub(super) fn has_heard_of_block(&self, hash: &Hash256) -> bool {
        self.known_blocks.contains(&inventory_key(hash))
    }

    fn has_heard_of(&self, item: &InvItem) -> bool {
        match item.kind {
            InvKind::Block => self.has_heard_of_block(&item.hash),
            InvKind::Tx => self.known.contains(&inventory_key(&item.hash)),
        }
    }

    /// Whether `item` should be announced to the peer (it is not known to have it); remembers
    /// that it will have been.
    pub(super) fn announce(&mut self, item: &InvItem) -> bool {
        let new = !self.has_heard_of(item);
        self.knows(item);
        new
    }

    pub(super) fn info(&self) -> PeerInfo {
        PeerInfo {
            id: self.id,
            addr: self.addr,
            inbound: self.inbound,
            handshake_done: self.phase == PeerPhase::Ready,
            user_agent: self.user_agent.clone(),
            best_height: self.best_height,
            ping_ms: self.ping_rtt_ms,
            listen_addr: self.listen_addr,
        }
    }
}

/// The connected peers, in id order: sorted `Vec`s, so finding one is a binary search over a
/// few contiguous ids (a node has a few dozen peers, and looks one up for every message) and
/// iterating in id order keeps the protocol's outputs deterministic.
#[derive(Default)]
pub(super) struct Peers {
    /// Each peer's id, at the same index as the peer in `list`.
    ids: Vec<PeerId>,
    list: Vec<Peer>,
    outbound: usize,
}

impl Peers {
    pub(super) fn get(&self, id: &PeerId) -> Option<&Peer> {
        self.ids.binary_search(id).ok().map(|at| &self.list[at])
    }

    pub(super) fn get_mut(&mut self, id: &PeerId) -> Option<&mut Peer> {
        self.ids.binary_search(id).ok().map(|at| &mut self.list[at])
    }

    /// Adds `peer` under its id, replacing one with the same id.
    pub(super) fn insert(&mut self, peer: Peer) {
        self.outbound += usize::from(!peer.inbound);
        match self.ids.binary_search(&peer.id) {
            Ok(at) => {
                let old = std::mem::replace(&mut self.list[at], peer);
                self.outbound -= usize::from(!old.inbound);
            }
            Err(at) => {
                self.ids.insert(at, peer.id);
                self.list.insert(at, peer);
            }
        }
    }

    pub(super) fn remove(&mut self, id: &PeerId) -> Option<Peer> {
        let at = self.ids.binary_search(id).ok()?;
        self.ids.remove(at);
        let peer = self.list.remove(at);
        self.outbound -= usize::from(!peer.inbound);
        Some(peer)
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &Peer> {
        self.list.iter()
    }

    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut Peer> {
        self.list.iter_mut()
    }

    pub(super) fn ids(&self) -> Vec<PeerId> {
        self.ids.clone()
    }

    /// Peers that dialed us (`inbound`) or that we dialed.
    pub(super) fn count(&self, inbound: bool) -> usize {
        if inbound {
            self.list.len() - self.outbound
        } else {
            self.outbound
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(index: u32) -> Hash256 {
        let mut bytes = [0xab; 32];
        bytes[..4].copy_from_slice(&index.to_le_bytes());
        Hash256(bytes)
    }

    #[test]
    fn known_inventory_is_remembered_announced_once_and_bounded() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 1));
        let mut peer = Peer::new(1, addr, true, 0);
        assert!(peer.announce(&InvItem::tx(hash(0))), "new to the peer");
        assert!(!peer.announce(&InvItem::tx(hash(0))), "announced already");
        peer.knows_tx(hash(1));
        assert!(peer.has_heard_of(&InvItem::tx(hash(1))));
        assert!(!peer.has_heard_of(&InvItem::tx(hash(2))));
        assert!(!peer.has_heard_of_block(&hash(1)), "blocks are kept apart");
        for index in 2..MAX_KNOWN_INVENTORY as u32 + 2 {
            peer.knows_tx(hash(index));
        }
        assert!(
            !peer.has_heard_of(&InvItem::tx(hash(0))),
            "the oldest is forgotten first"
        );
        assert!(!peer.has_heard_of(&InvItem::tx(hash(1))));
        assert!(peer.has_heard_of(&InvItem::tx(hash(2))));
        assert_eq!(peer.known.len(), MAX_KNOWN_INVENTORY);
    }

    #[test]
    fn the_latest_blocks_are_remembered() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 1));
        let mut peer = Peer::new(1, addr, true, 0);
        assert!(peer.announce(&InvItem::block(hash(0))));
        assert!(!peer.announce(&InvItem::block(hash(0))));
        for index in 1..=KNOWN_BLOCKS as u32 {
            peer.knows_block(hash(index));
            peer.knows_block(hash(index));
        }
        assert!(!peer.has_heard_of_block(&hash(0)), "the oldest made room");
        assert!((1..=KNOWN_BLOCKS as u32).all(|index| peer.has_heard_of_block(&hash(index))));
    }
}
