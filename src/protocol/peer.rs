//! One connection's state: handshake phase, keep-alive, what it is known to have.

use super::PeerId;
use crate::types::Hash256;
use foldhash::HashSet;
use serde::Serialize;
use std::collections::VecDeque;
use std::net::SocketAddr;

/// Inventory remembered per peer (what it announced or we sent it), oldest forgotten first.
const MAX_KNOWN_INVENTORY: usize = 10_000;

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
    /// When we last asked it for headers.
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
    /// By `inventory_key`: a quarter of the memory of whole hashes, and cheap to hash.
    known: HashSet<u64>,
    known_order: VecDeque<u64>,
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
        }
    }

    /// Remembers that the peer has `hash`.
    pub(super) fn knows(&mut self, hash: Hash256) {
        let key = inventory_key(&hash);
        if self.known.insert(key) {
            self.known_order.push_back(key);
            if self.known_order.len() > MAX_KNOWN_INVENTORY {
                if let Some(oldest) = self.known_order.pop_front() {
                    self.known.remove(&oldest);
                }
            }
        }
    }

    /// Whether the peer is known to have `hash` (it announced it, or we sent it).
    pub(super) fn has_heard_of(&self, hash: &Hash256) -> bool {
        self.known.contains(&inventory_key(hash))
    }

    /// Whether `hash` should be announced to the peer (it is not known to have it); remembers
    /// that it will have been.
    pub(super) fn announce(&mut self, hash: Hash256) -> bool {
        let new = !self.has_heard_of(&hash);
        self.knows(hash);
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
        assert!(peer.announce(hash(0)), "new to the peer");
        assert!(!peer.announce(hash(0)), "announced already");
        peer.knows(hash(1));
        assert!(peer.has_heard_of(&hash(1)));
        assert!(!peer.has_heard_of(&hash(2)));
        for index in 2..MAX_KNOWN_INVENTORY as u32 + 2 {
            peer.knows(hash(index));
        }
        assert!(
            !peer.has_heard_of(&hash(0)),
            "the oldest is forgotten first"
        );
        assert!(!peer.has_heard_of(&hash(1)));
        assert!(peer.has_heard_of(&hash(2)));
        assert!(peer.has_heard_of(&hash(MAX_KNOWN_INVENTORY as u32 + 1)));
        assert_eq!(peer.known.len(), MAX_KNOWN_INVENTORY);
    }
}
