//! Time passing: what a tick looks at (handshakes and pings that time out, the periodic headers
//! request, stalled downloads, dials that fall due, held-back headers) and when the next tick
//! has something to do, so a shell with many nodes wakes each one only then.
//!
//! Owns the timing decisions. Must not read the clock: `now_ms` comes in.

use super::peer::PeerPhase;
use super::{
    DisconnectReason, Output, Protocol, BLOCK_STALL_TIMEOUT_MS, HANDSHAKE_TIMEOUT_MS,
    MAX_QUEUED_BLOCKS, PING_TIMEOUT_MS,
};
use crate::chain::Chain;
use crate::types::Hash256;
use crate::wire::Message;
use std::net::SocketAddr;

/// How often a node talks to a ready peer unprompted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// A peer is pinged this long after the last ping was answered.
    pub ping_interval_ms: u64,
    /// A peer that told us of no block for this long is asked for headers past our tip, so a
    /// lost announcement or a missed reply never leaves a node behind for long.
    pub sync_interval_ms: u64,
}

impl Default for Timers {
    /// A node's: quick enough for a devnet with one-second blocks.
    fn default() -> Timers {
        Timers {
            ping_interval_ms: super::PING_INTERVAL_MS,
            sync_interval_ms: super::SYNC_INTERVAL_MS,
        }
    }
}

/// While some peer's headers are held back, ticks come this often to see whether the download
/// queue drained.
pub(super) const HELD_HEADERS_RECHECK_MS: u64 = 1_000;

impl Protocol {
    /// When a `Tick` next has something to do (a timeout, a ping, a headers request, a dial);
    /// `None` if nothing is waiting. Never later than the truth (a tick before it does nothing),
    /// and cheap: a shell with many nodes asks after every input.
    pub fn next_wake_ms(&self, now_ms: u64) -> Option<u64> {
        debug_assert!(
            self.peers_wake_ms <= self.peer_deadlines_ms(now_ms),
            "a peer timer was set without lowering peers_wake_ms"
        );
        let mut next = self.peers_wake_ms;
        if let Some(since_ms) = self.download.oldest_undelivered_ms() {
            next = next.min(since_ms + BLOCK_STALL_TIMEOUT_MS + 1);
        }
        if let Some(expires_ms) = self.tx_requests.next_expiry_ms() {
            next = next.min(expires_ms);
        }
        if self.network_active {
            let room = self.outbound_room(self.peers.count(false));
            if let Some(due_ms) = self.addresses.next_due_ms(room) {
                next = next.min(due_ms);
            }
        }
        (next != u64::MAX).then(|| next.max(now_ms))
    }

    /// When the first peer timer falls due, looking at every peer.
    fn peer_deadlines_ms(&self, now_ms: u64) -> u64 {
        let Timers {
            ping_interval_ms,
            sync_interval_ms,
        } = self.config.timers;
        let mut next = u64::MAX;
        for peer in self.peers.values() {
            let due_ms = match peer.phase {
                PeerPhase::Ready => {
                    let ping_ms = if peer.ping_nonce.is_some() {
                        PING_TIMEOUT_MS
                    } else {
                        ping_interval_ms
                    };
                    (peer.last_sync_ms + sync_interval_ms).min(peer.last_ping_sent_ms + ping_ms + 1)
                }
                _ => peer.connected_ms + HANDSHAKE_TIMEOUT_MS + 1,
            };
            next = next.min(due_ms);
            if peer.headers_paused_at.is_some() {
                next = next.min(now_ms + HELD_HEADERS_RECHECK_MS);
            }
        }
        next
    }

    pub(super) fn on_tick(&mut self, now_ms: u64, chain: &Chain) {
        let Timers {
            ping_interval_ms,
            sync_interval_ms,
        } = self.config.timers;
        let mut drops = Vec::new();
        let mut resync = Vec::new();
        for peer in self.peers.values_mut() {
            match peer.phase {
                PeerPhase::Ready => {
                    if now_ms.saturating_sub(peer.last_sync_ms) >= sync_interval_ms {
                        peer.last_sync_ms = now_ms;
                        resync.push(peer.id);
                    }
                    if peer.ping_nonce.is_some()
                        && now_ms.saturating_sub(peer.last_ping_sent_ms) > PING_TIMEOUT_MS
                    {
                        drops.push((peer.id, DisconnectReason::PingTimeout));
                    } else if peer.ping_nonce.is_none()
                        && now_ms.saturating_sub(peer.last_ping_sent_ms) > ping_interval_ms
                    {
                        let nonce = now_ms ^ peer.id.rotate_left(32);
                        peer.ping_nonce = Some(nonce);
                        peer.last_ping_sent_ms = now_ms;
                        self.outputs.push(Output::Send {
                            peer: peer.id,
                            message: Message::Ping(nonce),
                        });
                    }
                }
                _ => {
                    if now_ms.saturating_sub(peer.connected_ms) > HANDSHAKE_TIMEOUT_MS {
                        drops.push((peer.id, DisconnectReason::HandshakeTimeout));
                    }
                }
            }
        }
        resync.sort_unstable();
        for peer in resync {
            self.request_headers(peer, chain, Hash256::ZERO);
        }
        for peer in self.download.stalled(now_ms, BLOCK_STALL_TIMEOUT_MS) {
            drops.push((peer, DisconnectReason::BlockDownloadStalled));
        }
        drops.sort_by_key(|(peer, _)| *peer);
        drops.dedup_by_key(|(peer, _)| *peer);
        for (peer, reason) in drops {
            self.drop_peer(now_ms, peer, reason);
        }
        self.resume_headers();
        self.dial_due(now_ms);
        self.peers_wake_ms = self.peer_deadlines_ms(now_ms);
    }

    /// Asks the peers whose headers were held back for the next ones, once the download queue
    /// has drained to half.
    fn resume_headers(&mut self) {
        if self.download.queued_len() > MAX_QUEUED_BLOCKS / 2 {
            return;
        }
        let mut resumed = Vec::new();
        for peer in self.peers.values_mut() {
            if let Some(last) = peer.headers_paused_at.take() {
                resumed.push((peer.id, last));
            }
        }
        for (peer, last) in resumed {
            self.send(
                peer,
                Message::GetHeaders {
                    locator: vec![last],
                    stop: Hash256::ZERO,
                },
            );
        }
    }

    /// Outbound connections still to make, with `outbound` made: dials not answered yet take
    /// their room, so a dial is not made twice over while one is on its way.
    fn outbound_room(&self, outbound: usize) -> usize {
        self.config
            .max_outbound
            .saturating_sub(outbound + self.addresses.pending_learned())
    }

    /// Dials every address that is due, within the outbound room.
    pub(super) fn dial_due(&mut self, now_ms: u64) {
        let room = self.outbound_room(self.count(false));
        let due = self
            .addresses
            .next_due_ms(room)
            .is_some_and(|due_ms| due_ms <= now_ms);
        if !self.network_active || !due {
            return;
        }
        // A peer that dialed us is connected too: its listen address is not worth a dial, and
        // nor is an address that turned out to reach a peer we already had.
        let connected: Vec<SocketAddr> = self
            .peers
            .values()
            .flat_map(|peer| {
                [peer.addr]
                    .into_iter()
                    .chain(peer.listen_addr)
                    .chain(peer.also_reached_at.iter().copied())
            })
            .collect();
        for addr in self.addresses.due_dials(now_ms, &connected, room) {
            self.outputs.push(Output::Connect { addr });
        }
    }
}
