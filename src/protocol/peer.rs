//! One connection's state: handshake phase, keep-alive, what it is known to have.

use super::PeerId;
use crate::types::Hash256;
use foldhash::HashSet;
use serde::Serialize;
use std::collections::VecDeque;
use std::net::SocketAddr;

/// Inventory remembered per peer (what it announced or we sent it), oldest forgotten first.
const MAX_KNOWN_INVENTORY: usize = 10_000;

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
    pub id: PeerId,
    pub addr: SocketAddr,
    pub inbound: bool,
    pub handshake_done: bool,
    pub user_agent: String,
    pub best_height: u32,
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
    pub(super) user_agent: String,
    pub(super) best_height: u32,
    /// Where the peer accepts connections, for address gossip.
    pub(super) listen_addr: Option<SocketAddr>,
    pub(super) unconnecting_headers: u32,
    /// When we last asked it for headers.
    pub(super) last_sync_ms: u64,
    known: HashSet<Hash256>,
    known_order: VecDeque<Hash256>,
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
            user_agent: String::new(),
            best_height: 0,
            listen_addr: None,
            unconnecting_headers: 0,
            last_sync_ms: now_ms,
            known: HashSet::default(),
            known_order: VecDeque::new(),
        }
    }

    /// Remembers that the peer has `hash`.
    pub(super) fn knows(&mut self, hash: Hash256) {
        if self.known.insert(hash) {
            self.known_order.push_back(hash);
            if self.known_order.len() > MAX_KNOWN_INVENTORY {
                if let Some(oldest) = self.known_order.pop_front() {
                    self.known.remove(&oldest);
                }
            }
        }
    }

    /// Whether the peer is known to have `hash` (it announced it, or we sent it).
    pub(super) fn has_heard_of(&self, hash: &Hash256) -> bool {
        self.known.contains(hash)
    }

    /// Whether `hash` should be announced to the peer (it is not known to have it); remembers
    /// that it will have been.
    pub(super) fn announce(&mut self, hash: Hash256) -> bool {
        let new = !self.known.contains(&hash);
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
