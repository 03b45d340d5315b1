//! The one driver of the protocol: feeds it an input and carries out what it answers, the same
//! way for the node, the simulator and the tests. Messages, dials and disconnects go to the
//! caller's [`Links`] (sockets, the simulated network, a list); events go to the host's log; a
//! peer too slow to keep is dropped; transactions the host has to announce (from its own RPC,
//! or returned to its mempool by a reorg) are announced; a paused protocol is resumed at once or
//! left to the caller (`ResumeWhen`).
//!
//! Owns the order in which outputs are carried out and the durability gate: no message that
//! tells a peer of blocks goes out before the host made them durable. Must not decide anything
//! about peers (the protocol does) nor touch sockets (the links do).

use super::{DisconnectReason, Host, Input, Output, PeerId, Protocol};
use crate::wire::Message;
use std::net::SocketAddr;

/// Where the protocol's messages, dials and disconnects are carried out.
pub trait Links {
    /// Queues `message` for `peer`. False if the peer is connected but too slow to keep (its
    /// send queue is full): the driver then drops it. A peer already gone is not too slow.
    fn send(&mut self, peer: PeerId, message: Message) -> bool;
    /// Dials `addr`; the outcome comes back as `Input::Connected` or `Input::ConnectFailed`.
    fn connect(&mut self, addr: SocketAddr);
    /// Closes the connection to `peer` (what is queued for it may still go out).
    fn disconnect(&mut self, peer: PeerId, reason: &DisconnectReason);
    /// Sees every output before it is carried out: the node logs and sets a new peer's link
    /// latency from its `peer_connected` event, the test harness records them.
    fn observe(&mut self, _output: &Output) {}
}

/// When a protocol that paused (`Output::Resume`) is resumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResumeWhen {
    /// Before `drive` returns, until nothing is left waiting: the simulator and tests.
    AtOnce,
    /// By the caller, in turns with other inputs (`drive` returns true): the node's event loop,
    /// so a sync's next headers are not held up behind its queued blocks.
    Later,
}

/// Feeds `input` to `protocol` at `now_ms` and carries out its outputs. Returns whether the
/// protocol waits to be resumed with `Input::Resume` (never with `ResumeWhen::AtOnce`).
pub fn drive(
    protocol: &mut Protocol,
    host: &mut impl Host,
    links: &mut impl Links,
    now_ms: u64,
    input: Input<'_>,
    resume: ResumeWhen,
) -> bool {
    let outputs = protocol.handle(now_ms, input, host);
    // Other messages (a getdata during a sync, pings) do not wait for the disk.
    let tells_of_blocks = outputs.iter().any(|output| {
        matches!(
            output,
            Output::Send {
                message: Message::Inv(_) | Message::Block(_) | Message::Headers(_),
                ..
            }
        )
    });
    let durable = !tells_of_blocks || host.make_durable();
    let mut too_slow = Vec::new();
    let mut paused = false;
    for output in outputs {
        links.observe(&output);
        match output {
            // Blocks that cannot be stored are told of to nobody; the host stops the node.
            Output::Send { .. } if !durable => {}
            Output::Send { peer, message } => {
                if !links.send(peer, message) {
                    too_slow.push(peer);
                }
            }
            Output::Connect { addr } => links.connect(addr),
            Output::Disconnect { peer, reason } => links.disconnect(peer, &reason),
            Output::Event(event) => host.record(event),
            Output::Resume => paused = true,
        }
    }
    too_slow.sort_unstable();
    too_slow.dedup();
    // The protocol asks to resume after every input that leaves it blocks to validate, so the
    // answer to the last input is the one that counts.
    for peer in too_slow {
        links.disconnect(peer, &DisconnectReason::SendQueueFull);
        paused = drive(
            protocol,
            host,
            links,
            now_ms,
            Input::Disconnected { peer },
            resume,
        );
    }
    if paused && resume == ResumeWhen::AtOnce {
        paused = drive(protocol, host, links, now_ms, Input::Resume, resume);
    }
    for txid in host.take_txs_to_announce() {
        paused = drive(
            protocol,
            host,
            links,
            now_ms,
            Input::AnnounceTx(txid),
            resume,
        );
    }
    paused
}
