//! The node task's side of the peer network: feeding the protocol its inputs, carrying out its
//! outputs on the connections, the added latency toward peers, and the sync progress bar while
//! far behind.
//!
//! Owns the glue between `protocol` (which decides) and `peers` (which moves bytes). Must not
//! decide anything about peers itself.

use super::node::unix_now_ms;
use super::peers::PeerNotice;
use super::runtime::NodeTask;
use crate::events::EventKind;
use crate::protocol::{Input, Output, PeerId};
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
    pub(super) default_ms: u64,
    by_listen: HashMap<SocketAddr, u64>,
}

impl Latencies {
    fn for_peer(&self, listen_addr: Option<SocketAddr>) -> u64 {
        listen_addr
            .and_then(|addr| self.by_listen.get(&addr).copied())
            .unwrap_or(self.default_ms)
    }
}

impl NodeTask {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Feeds the protocol one input and carries out what it asks for.
    pub(super) fn input(&mut self, input: Input<'_>) {
        let now = self.now_ms();
        let outputs = self.protocol.handle(now, input, &mut self.node);
        // No block reaches a peer, and none is announced, before it is on disk; if blocks cannot
        // be stored, nothing is sent and the node stops after this event. Other messages (a
        // getdata during a sync, pings) do not wait for the disk.
        let telling = outputs.iter().any(|output| {
            matches!(
                output,
                Output::Send {
                    message: Message::Inv(_) | Message::Block(_) | Message::Headers(_),
                    ..
                }
            )
        });
        let durable = !telling || self.node.sync_store();
        let mut too_slow = Vec::new();
        let mut resume = false;
        for output in outputs {
            match output {
                Output::Send { .. } if !durable => {}
                Output::Send { peer, message } => {
                    if !self.connections.send(peer, message) && self.connections.is_open(peer) {
                        too_slow.push(peer);
                    }
                }
                Output::Connect { addr } => self.connections.dial(addr),
                Output::Disconnect { peer, reason } => {
                    tracing::info!(peer, %reason, "disconnecting peer");
                    self.connections.close(peer);
                }
                Output::Event(kind) => {
                    tracing::info!(event = ?kind, "peer");
                    if let EventKind::PeerConnected { peer, .. } = kind {
                        self.apply_latency(Some(peer));
                    }
                    self.node.events.push(unix_now_ms(), kind);
                }
                // Resumed by the event loop, taking turns with what else arrives (see
                // `resume_due`); the sends above are queued to the writer tasks meanwhile.
                Output::Resume => resume = true,
            }
        }
        // The protocol asks to resume after every input that leaves it blocks to validate.
        self.resume_due = resume;
        too_slow.sort_unstable();
        too_slow.dedup();
        for peer in too_slow {
            tracing::warn!(peer, "send queue full: dropping a peer too slow to keep up");
            self.connections.close(peer);
            self.input(Input::Disconnected { peer });
        }
    }

    /// Sets the added delay toward the peers listening on `listen_addrs`, or with none the
    /// default for every peer (forgetting per-peer settings), on current and future connections.
    pub(super) fn set_latency(&mut self, ms: u64, listen_addrs: &[SocketAddr]) {
        if listen_addrs.is_empty() {
            self.latencies.default_ms = ms;
            self.latencies.by_listen.clear();
        } else {
            for addr in listen_addrs {
                self.latencies.by_listen.insert(*addr, ms);
            }
        }
        self.apply_latency(None);
        tracing::info!(ms, peers = ?listen_addrs, "link latency set");
        self.node.events.push(
            unix_now_ms(),
            EventKind::LatencySet {
                ms,
                peers: listen_addrs.to_vec(),
            },
        );
    }

    /// Gives `only` (or every peer) the delay its listen address calls for.
    fn apply_latency(&mut self, only: Option<PeerId>) {
        for peer in self.protocol.peers() {
            if only.is_none_or(|id| id == peer.id) {
                let ms = self.latencies.for_peer(peer.listen_addr);
                self.connections.set_latency(peer.id, ms);
            }
        }
    }

    /// News from a connection's tasks; returns how many inputs it made. Notices from a
    /// connection already closed are stale, and so are the frames after one that closed it.
    pub(super) fn on_peer_notice(&mut self, peer: PeerId, notice: PeerNotice) -> u32 {
        let mut inputs = 0;
        match notice {
            PeerNotice::Frames(frames) => {
                for frame in frames {
                    if !self.connections.is_open(peer) {
                        break;
                    }
                    inputs += 1;
                    match frame {
                        Ok(message) => self.input(Input::Received { peer, message }),
                        Err(error) => self.input(Input::BadFrame {
                            peer,
                            error: &error,
                        }),
                    }
                }
            }
            PeerNotice::Closed if self.connections.is_open(peer) => {
                inputs += 1;
                self.connections.close(peer);
                self.input(Input::Disconnected { peer });
            }
            PeerNotice::Closed => {}
        }
        inputs
    }

    /// A progress bar while the best peer is far ahead; cleared once caught up.
    pub(super) fn show_sync_progress(&mut self) {
        let height = self.node.chain.height();
        let best = self
            .protocol
            .peers()
            .iter()
            .map(|peer| peer.best_height)
            .max()
            .unwrap_or(0);
        if best > height + SHOW_PROGRESS_BEHIND {
            let progress = self.sync_progress.get_or_insert_with(|| {
                let bar = ProgressBar::new(u64::from(best));
                bar.set_style(
                    ProgressStyle::with_template("syncing {bar:40} {pos}/{len} blocks ({per_sec})")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar
            });
            progress.set_length(u64::from(best));
            progress.set_position(u64::from(height));
        } else if let Some(progress) = self.sync_progress.take() {
            progress.finish_and_clear();
        }
    }
}
