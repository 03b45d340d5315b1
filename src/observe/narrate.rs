//! One readable line per event: what a person watching a devnet wants to read, with peers named
//! by the observer's names rather than by socket address where that is possible.
//!
//! Owns the wording and the choice of which lines a concise story leaves out. Must not fetch or
//! reorder events (`events::merge` orders them) and must not read the clock: times come from
//! the events.

use super::events::{NodeEvent, ObservedEvent};
use crate::events::{DroppedTx, EventKind};
use crate::types::Hash256;
use std::collections::HashMap;
use std::net::SocketAddr;

/// Node names are padded to this width so the event texts line up for typical names.
const NODE_COLUMN_CHARS: usize = 7;
const MS_PER_DAY: u64 = 86_400_000;

/// How much of the story to tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    /// Every event, one line each.
    Everything,
    /// Leaves out `block_connected` and `block_disconnected` lines that a `mined` or `REORG`
    /// line of the same node already tells (the reorg's blocks in and out, the mined block).
    Concise,
}

/// `time_ms` as `HH:MM:SS.mmm` in UTC (a devnet runs for hours, not days, so no date).
pub fn clock(time_ms: u64) -> String {
    let in_day = time_ms % MS_PER_DAY;
    let (secs, ms) = (in_day / 1_000, in_day % 1_000);
    format!(
        "{:02}:{:02}:{:02}.{ms:03}",
        secs / 3_600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The observer's name for a P2P listen address, or the address itself.
fn peer_name(addr: &SocketAddr, names: &HashMap<SocketAddr, String>) -> String {
    names.get(addr).cloned().unwrap_or_else(|| addr.to_string())
}

fn peer_list(addrs: &[SocketAddr], names: &HashMap<SocketAddr, String>) -> String {
    addrs
        .iter()
        .map(|addr| peer_name(addr, names))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `n` and the noun, singular or plural.
pub(super) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The dropped count with each distinct reason's code once, in first-seen order. A reason reads
/// `code: detail`; the line keeps the code, the report has the detail.
fn dropped_text(dropped: &[DroppedTx]) -> String {
    let mut reasons: Vec<&str> = Vec::new();
    for drop in dropped {
        let code = drop.reason.split(": ").next().unwrap_or(&drop.reason);
        if !reasons.contains(&code) {
            reasons.push(code);
        }
    }
    format!("{} dropped ({})", dropped.len(), reasons.join(", "))
}

/// The event's text without time and node.
fn describe(kind: &ObservedEvent, names: &HashMap<SocketAddr, String>) -> String {
    let kind = match kind {
        ObservedEvent::Known(kind) => kind,
        ObservedEvent::Other(kind) => return format!("event of unknown type {kind:?}"),
    };
    match kind {
        EventKind::NodeStarted {
            network,
            height,
            tip,
        } => format!("started on {network} at h={height} {}", tip.short()),
        EventKind::BlockConnected { hash, height, txs } => format!(
            "connected h={height} {} ({})",
            hash.short(),
            count(*txs, "tx", "txs")
        ),
        EventKind::BlockDisconnected { hash, height } => {
            format!("disconnected h={height} {}", hash.short())
        }
        EventKind::Reorg {
            old_tip,
            new_tip,
            fork_point,
            fork_height,
            depth,
            txs_returned,
            txs_dropped,
            ..
        } => {
            let mut line = format!(
                "REORG depth {depth} at fork {} (h={fork_height}): {} → {}, {} returned",
                fork_point.short(),
                old_tip.short(),
                new_tip.short(),
                count(txs_returned.len(), "tx", "txs"),
            );
            if !txs_dropped.is_empty() {
                line.push_str(", ");
                line.push_str(&dropped_text(txs_dropped));
            }
            line
        }
        EventKind::BlockMined { hash, height } => {
            format!("mined h={height} {}", hash.short())
        }
        EventKind::BlockInvalid { hash, reason, .. } => {
            format!("INVALID block {}: {reason}", hash.short())
        }
        EventKind::TxDropped { txid, reason } => {
            format!("tx {} dropped: {reason}", txid.short())
        }
        // An inbound peer's address has an ephemeral port no name maps to: its listen address
        // (from its Version) names it, when the event carries one.
        EventKind::PeerConnected {
            addr,
            inbound,
            listen_addr,
            ..
        } => {
            let direction = if *inbound { "inbound" } else { "outbound" };
            let name = peer_name(listen_addr.as_ref().unwrap_or(addr), names);
            format!("peer {name} connected ({direction})")
        }
        EventKind::PeerDisconnected {
            addr,
            reason,
            listen_addr,
            ..
        } => {
            let name = peer_name(listen_addr.as_ref().unwrap_or(addr), names);
            format!("peer {name} disconnected: {reason}")
        }
        EventKind::PeerMisbehaved { addr, reason, .. } => {
            format!("peer {} MISBEHAVED: {reason}", peer_name(addr, names))
        }
        EventKind::PeersDenied { denied } if denied.is_empty() => {
            "healed: deny-list cleared".to_string()
        }
        EventKind::PeersDenied { denied } => {
            format!("partitioned from {}", peer_list(denied, names))
        }
        EventKind::LatencySet { ms, peers } if peers.is_empty() => {
            format!("latency {ms} ms to all peers")
        }
        EventKind::LatencySet { ms, peers } => {
            format!("latency {ms} ms to {}", peer_list(peers, names))
        }
    }
}

/// One line: UTC time, node, what happened.
pub fn narrate(event: &NodeEvent, names: &HashMap<SocketAddr, String>) -> String {
    timeline_line(event.time_ms, &event.node, &describe(&event.kind, names))
}

/// One line of a timeline: the time, who, and what, in the columns `narrate` uses, so lines of
/// other tellers (the devnet's controls, a scenario) sit among the nodes' own.
pub fn timeline_line(time_ms: u64, who: &str, what: &str) -> String {
    format!(
        "{} {:<width$} {what}",
        clock(time_ms),
        who,
        width = NODE_COLUMN_CHARS
    )
}

/// Which `block_connected` / `block_disconnected` lines another line of the same node already
/// tells. The node records a mined block before connecting it, and a reorg right after the
/// disconnects and connects it sums up, so a connect line is redundant when an earlier `mined`
/// line of the node names its block, and a connect or disconnect line when a `REORG` line names
/// its block within the reorg's own run of sequence numbers (so an earlier connect of a block a
/// reorg later takes out stays visible).
#[derive(Default)]
struct Redundant<'a> {
    /// (node, block) → seq of the `mined` line.
    mined: HashMap<(&'a str, Hash256), u64>,
    /// (node, block) → seq ranges of the reorgs that moved it.
    reorged: HashMap<(&'a str, Hash256), Vec<std::ops::Range<u64>>>,
}

impl<'a> Redundant<'a> {
    fn of(events: &'a [NodeEvent]) -> Redundant<'a> {
        let mut redundant = Redundant::default();
        for event in events {
            let node = event.node.as_str();
            match event.kind.known() {
                Some(EventKind::BlockMined { hash, .. }) => {
                    redundant.mined.insert((node, *hash), event.seq);
                }
                Some(EventKind::Reorg {
                    blocks_out,
                    blocks_in,
                    ..
                }) => {
                    let run = (blocks_out.len() + blocks_in.len()) as u64;
                    let range = event.seq.saturating_sub(run)..event.seq;
                    for hash in blocks_out.iter().chain(blocks_in) {
                        redundant
                            .reorged
                            .entry((node, *hash))
                            .or_default()
                            .push(range.clone());
                    }
                }
                _ => {}
            }
        }
        redundant
    }

    fn hides(&self, event: &NodeEvent) -> bool {
        let hash = match event.kind.known() {
            Some(
                EventKind::BlockConnected { hash, .. } | EventKind::BlockDisconnected { hash, .. },
            ) => *hash,
            _ => return false,
        };
        let key = (event.node.as_str(), hash);
        let mined_before = matches!(event.kind.known(), Some(EventKind::BlockConnected { .. }))
            && self.mined.get(&key).is_some_and(|&seq| seq < event.seq);
        mined_before
            || self
                .reorged
                .get(&key)
                .is_some_and(|ranges| ranges.iter().any(|range| range.contains(&event.seq)))
    }
}

/// One line per event, in the given order, leaving out what `verbosity` says is redundant.
/// Redundancy is judged within `events`, so a reorg whose connect lines arrived in an earlier
/// batch does not hide them retroactively.
pub fn narrate_all(
    events: &[NodeEvent],
    names: &HashMap<SocketAddr, String>,
    verbosity: Verbosity,
) -> Vec<String> {
    let redundant = match verbosity {
        Verbosity::Everything => Redundant::default(),
        Verbosity::Concise => Redundant::of(events),
    };
    events
        .iter()
        .filter(|event| !redundant.hides(event))
        .map(|event| narrate(event, names))
        .collect()
}
