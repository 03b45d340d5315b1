//! The node's side of the peer network: carrying out the protocol's outputs on the connections
//! (`PeerLinks`, the node's [`Links`]), the delay added toward peers (`setlinklatency`), and the
//! progress bar while far behind the best peer.
//!
//! Owns the glue between `protocol` (which decides, through the shared driver) and `peers`
//! (which moves bytes). Must not decide anything about peers itself.

use super::peers::Connections;
use crate::events::EventKind;
use crate::protocol::{DisconnectReason, Links, Output, PeerId, PeerInfo};
use crate::wire::Message;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::net::SocketAddr;

/// Blocks behind the best peer before a progress bar is shown.
const SHOW_PROGRESS_BEHIND: u32 = 500;

/// The delay added to frames toward peers (`setlinklatency`): a default, and settings for
/// peers by P2P listen address, which applies once a peer's Version has named it.
#[derive(Debug, Default)]
pub(super) struct Latencies {
    default_ms: u64,
    by_listen: HashMap<SocketAddr, u64>,
}

impl Latencies {
    /// The delay for peers without a setting of their own.
    pub(super) fn default_ms(&self) -> u64 {
        self.default_ms
    }

    /// Sets the delay toward the peers listening on `listen_addrs`, or with none the default
    /// for every peer (forgetting per-peer settings).
    pub(super) fn set(&mut self, ms: u64, listen_addrs: &[SocketAddr]) {
        if listen_addrs.is_empty() {
            self.default_ms = ms;
            self.by_listen.clear();
        } else {
            for addr in listen_addrs {
                self.by_listen.insert(*addr, ms);
            }
        }
    }

    fn for_peer(&self, listen_addr: Option<SocketAddr>) -> u64 {
        listen_addr
            .and_then(|addr| self.by_listen.get(&addr).copied())
            .unwrap_or(self.default_ms)
    }

    /// Gives every connected peer the delay its listen address calls for.
    pub(super) fn apply(&self, peers: &[PeerInfo], connections: &mut Connections) {
        for peer in peers {
            connections.set_latency(peer.id, self.for_peer(peer.listen_addr));
        }
    }
}

/// The connections as the protocol driver's links.
pub(super) struct PeerLinks<'a> {
    pub(super) connections: &'a mut Connections,
    pub(super) latencies: &'a Latencies,
}

impl Links for PeerLinks<'_> {
    fn send(&mut self, peer: PeerId, message: Message) -> bool {
        self.connections.send(peer, message) || !self.connections.is_open(peer)
    }

    fn connect(&mut self, addr: SocketAddr) {
        self.connections.dial(addr);
    }

    fn disconnect(&mut self, peer: PeerId, reason: &DisconnectReason) {
        if *reason == DisconnectReason::SendQueueFull {
            tracing::warn!(peer, "send queue full: dropping a peer too slow to keep up");
        } else {
            tracing::info!(peer, code = reason.code(), %reason, "disconnecting peer");
        }
        self.connections.close(peer);
    }

    fn observe(&mut self, output: &Output) {
        if let Output::Event(event) = output {
            tracing::info!(?event, "peer");
            // A new peer's listen address is known once it is connected: its link gets the
            // delay set for that address.
            if let EventKind::PeerConnected {
                peer, listen_addr, ..
            } = event
            {
                let ms = self.latencies.for_peer(*listen_addr);
                self.connections.set_latency(*peer, ms);
            }
        }
    }
}

/// A progress bar while the best peer is far ahead; cleared once caught up.
#[derive(Default)]
pub(super) struct SyncProgress {
    bar: Option<ProgressBar>,
}

impl SyncProgress {
    /// Shows (or clears) the bar for a chain at `height` against peers as far as `best_height`.
    pub(super) fn show(&mut self, height: u32, best_height: u32) {
        if best_height > height + SHOW_PROGRESS_BEHIND {
            let bar = self.bar.get_or_insert_with(|| {
                let bar = ProgressBar::new(u64::from(best_height));
                bar.set_style(
                    ProgressStyle::with_template("syncing {bar:40} {pos}/{len} blocks ({per_sec})")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar
            });
            bar.set_length(u64::from(best_height));
            bar.set_position(u64::from(height));
        } else {
            self.clear();
        }
    }

    /// Takes the bar off the terminal.
    pub(super) fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
