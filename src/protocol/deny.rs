//! The deny-list a devnet splits the network with (`setdeniedpeers`): denied peers are dropped
//! at once, never dialed, and refused at their Version; lifting a denial redials at once.
//!
//! Owns what a change of the list does to connected peers and dials. Must not discourage: a
//! denied peer did nothing wrong, and must be let back the moment the list is cleared.

use super::{DisconnectReason, Output, PeerId, Protocol};
use crate::events::EventKind;
use std::net::SocketAddr;

impl Protocol {
    /// The deny-list in force, sorted.
    pub fn denied(&self) -> &[SocketAddr] {
        self.addresses.denied()
    }

    pub(super) fn set_denied(&mut self, now_ms: u64, denied: &[SocketAddr]) {
        let lifted = self.addresses.set_denied(denied, now_ms);
        self.outputs.push(Output::Event(EventKind::PeersDenied {
            denied: self.addresses.denied().to_vec(),
        }));
        let mut drops: Vec<PeerId> = self
            .peers
            .values()
            .filter(|peer| self.addresses.denies(peer.addr, peer.listen_addr))
            .map(|peer| peer.id)
            .collect();
        drops.sort_unstable();
        for peer in drops {
            self.drop_peer(now_ms, peer, DisconnectReason::Denied);
        }
        if lifted {
            self.dial_due(now_ms);
        }
    }
}
