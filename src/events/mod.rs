//! The node's event log: a bounded, sequence-numbered record of what happened — blocks connected
//! and disconnected, reorgs with everything a reader needs to explain them, blocks mined, blocks
//! found invalid, transactions returned to or dropped from the mempool, peers coming, going
//! and misbehaving, and the network controls (deny-list, added latency) being changed.
//!
//! Owns the log and the event shapes (which RPC `getevents` returns as JSON, and which
//! `observe` reads back from that JSON with the same serde attributes). Must not decide
//! anything: the node pushes facts in, with the time as an argument.

mod tip;

pub use tip::{explain_invalid_blocks, explain_tip_change};

use crate::types::{Hash256, Txid};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::net::SocketAddr;

/// How many events the node keeps before forgetting the oldest.
pub(crate) const DEFAULT_EVENT_CAPACITY: usize = 10_000;

/// A transaction a reorg could not put back into the mempool, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DroppedTx {
    /// The transaction.
    pub txid: Txid,
    /// Why it could not go back (the mempool error, code first).
    pub reason: String,
}

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The node opened its chain.
    NodeStarted {
        /// The network's name.
        network: String,
        /// The tip's height.
        height: u32,
        /// The tip's hash.
        tip: Hash256,
    },
    /// A block joined the active chain.
    BlockConnected {
        /// The block's hash.
        hash: Hash256,
        /// Its height.
        height: u32,
        /// How many transactions it holds.
        txs: usize,
    },
    /// A block left the active chain.
    BlockDisconnected {
        /// The block's hash.
        hash: Hash256,
        /// Its height.
        height: u32,
    },
    /// The active chain moved to another branch.
    Reorg {
        /// The tip before.
        old_tip: Hash256,
        /// The tip after.
        new_tip: Hash256,
        /// The last block both branches share.
        fork_point: Hash256,
        /// The fork point's height.
        fork_height: u32,
        /// Blocks taken off the active chain.
        depth: usize,
        /// Blocks taken off, the old tip first.
        blocks_out: Vec<Hash256>,
        /// Blocks put on, oldest first.
        blocks_in: Vec<Hash256>,
        /// Transactions of the blocks taken off that went back to the mempool.
        txs_returned: Vec<Txid>,
        /// Transactions that could not go back, and why.
        txs_dropped: Vec<DroppedTx>,
    },
    /// This node's miner found a block.
    BlockMined {
        /// The block's hash.
        hash: Hash256,
        /// Its height.
        height: u32,
    },
    /// A block failed to connect and is marked invalid.
    BlockInvalid {
        /// The block's hash.
        hash: Hash256,
        /// The broken rule's stable code (`RuleError::code`).
        #[serde(default)]
        code: String,
        /// The broken rule, code first.
        reason: String,
    },
    /// A transaction left the mempool because of a tip change.
    TxDropped {
        /// The transaction.
        txid: Txid,
        /// Why, code first.
        reason: String,
    },
    /// A peer finished the handshake.
    PeerConnected {
        /// The connection's id.
        peer: u64,
        /// The address it is connected from or to.
        addr: SocketAddr,
        /// Whether it dialed us.
        inbound: bool,
        /// Where the peer accepts connections, as its Version said; for an inbound peer the
        /// only address that names it (`addr` has an ephemeral port).
        #[serde(default)]
        listen_addr: Option<SocketAddr>,
    },
    /// A peer that had finished the handshake is gone.
    PeerDisconnected {
        /// The connection's id.
        peer: u64,
        /// The address it was connected from or to.
        addr: SocketAddr,
        /// The stable code of the reason (`DisconnectReason::code`).
        #[serde(default)]
        code: String,
        /// Why, in words.
        reason: String,
        #[serde(default)]
        /// Where it accepted connections, if it said.
        listen_addr: Option<SocketAddr>,
    },
    /// The peer broke a consensus rule; its address is discouraged for a while.
    PeerMisbehaved {
        /// The connection's id.
        peer: u64,
        /// The peer's address (its IP is discouraged).
        addr: SocketAddr,
        /// The stable code of the reason (`DisconnectReason::code`).
        #[serde(default)]
        code: String,
        /// What it did, in words.
        reason: String,
    },
    /// The deny-list now in force (`setdeniedpeers`); empty means the node is healed.
    PeersDenied {
        /// The P2P listen addresses now refused.
        denied: Vec<SocketAddr>,
    },
    /// Frames to `peers` (listen addresses; empty = the default for every peer) are now held
    /// `ms` milliseconds before they are sent.
    LatencySet {
        /// The delay in milliseconds.
        ms: u64,
        /// The listen addresses it applies to; empty: every peer.
        peers: Vec<SocketAddr>,
    },
}

/// Every `type` tag [`EventKind`] is written with. A reader checks a tag against it so that a
/// newer node's event of an unknown type can be kept aside while a known type with a malformed
/// body is an error.
pub(crate) const EVENT_TYPES: [&str; 12] = [
    "node_started",
    "block_connected",
    "block_disconnected",
    "reorg",
    "block_mined",
    "block_invalid",
    "tx_dropped",
    "peer_connected",
    "peer_disconnected",
    "peer_misbehaved",
    "peers_denied",
    "latency_set",
];

/// An event with its place in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    /// The event's number in this node's log.
    pub seq: u64,
    /// Unix milliseconds when the node recorded it: events of one split-and-heal come within
    /// the same second, and a reader ordering several nodes' logs needs finer time.
    pub time_ms: u64,
    #[serde(flatten)]
    /// What happened.
    pub kind: EventKind,
}

/// The bounded log. Sequence numbers start at 1 and never repeat, so a reader that asks for
/// events after the last number it saw misses nothing unless the log wrapped.
#[derive(Debug)]
pub struct EventLog {
    capacity: usize,
    events: VecDeque<Event>,
    last_seq: u64,
}

impl EventLog {
    /// An empty log keeping at most `capacity` events.
    pub fn new(capacity: usize) -> EventLog {
        EventLog {
            capacity: capacity.max(1),
            events: VecDeque::new(),
            last_seq: 0,
        }
    }

    /// Records `kind` at `time_ms` (Unix milliseconds) and returns its sequence number.
    pub fn push(&mut self, time_ms: u64, kind: EventKind) -> u64 {
        self.last_seq += 1;
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(Event {
            seq: self.last_seq,
            time_ms,
            kind,
        });
        self.last_seq
    }

    /// Up to `limit` events with a sequence number above `after`, oldest first.
    pub fn since(&self, after: u64, limit: usize) -> Vec<&Event> {
        // `after` comes from RPC callers: any number, `u64::MAX` included.
        let first_wanted = after.saturating_add(1);
        let first_kept = self.events.front().map_or(first_wanted, |event| event.seq);
        let skip = usize::try_from(first_wanted.saturating_sub(first_kept)).unwrap_or(usize::MAX);
        self.events.iter().skip(skip).take(limit).collect()
    }

    /// The number of the newest event (0 before any).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mined(height: u32) -> EventKind {
        EventKind::BlockMined {
            hash: Hash256([height as u8; 32]),
            height,
        }
    }

    #[test]
    fn since_any_number_is_no_overflow() {
        let mut log = EventLog::new(4);
        log.push(1, mined(1));
        assert!(log.since(u64::MAX, 10).is_empty());
        assert!(log.since(u64::MAX - 1, 10).is_empty());
        assert_eq!(log.since(0, usize::MAX).len(), 1);
    }

    #[test]
    fn since_returns_events_after_a_sequence_number() {
        let mut log = EventLog::new(10);
        for height in 1..=5 {
            log.push(100, mined(height));
        }
        let seqs: Vec<u64> = log.since(2, 10).iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![3, 4, 5]);
        assert_eq!(log.since(0, 2).len(), 2);
        assert!(log.since(5, 10).is_empty());
    }

    #[test]
    fn forgets_the_oldest_past_capacity_and_never_reuses_numbers() {
        let mut log = EventLog::new(3);
        for height in 1..=5 {
            log.push(100, mined(height));
        }
        let seqs: Vec<u64> = log.since(0, 10).iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![3, 4, 5]);
        assert_eq!(log.last_seq(), 5);
        let seqs: Vec<u64> = log.since(3, 10).iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![4, 5]);
    }

    #[test]
    fn serializes_with_a_type_tag() {
        let mut log = EventLog::new(3);
        log.push(7, mined(1));
        let json = serde_json::to_value(log.since(0, 1)[0]).unwrap();
        assert_eq!(json["type"], "block_mined");
        assert_eq!(json["seq"], 1);
        assert_eq!(json["time_ms"], 7);
        assert_eq!(json["height"], 1);
    }

    #[test]
    fn network_control_events_serialize_addresses_as_strings() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 18_444));
        let denied = serde_json::to_value(EventKind::PeersDenied { denied: vec![addr] }).unwrap();
        assert_eq!(
            denied,
            serde_json::json!({"type": "peers_denied", "denied": ["127.0.0.1:18444"]})
        );
        let latency = serde_json::to_value(EventKind::LatencySet {
            ms: 250,
            peers: Vec::new(),
        })
        .unwrap();
        assert_eq!(
            latency,
            serde_json::json!({"type": "latency_set", "ms": 250, "peers": []})
        );
    }

    /// The `type` tag of each variant. The match is exhaustive, so a new variant does not
    /// compile until it is given a tag here, and the test below checks the tag is listed.
    fn tag(kind: &EventKind) -> &'static str {
        match kind {
            EventKind::NodeStarted { .. } => "node_started",
            EventKind::BlockConnected { .. } => "block_connected",
            EventKind::BlockDisconnected { .. } => "block_disconnected",
            EventKind::Reorg { .. } => "reorg",
            EventKind::BlockMined { .. } => "block_mined",
            EventKind::BlockInvalid { .. } => "block_invalid",
            EventKind::TxDropped { .. } => "tx_dropped",
            EventKind::PeerConnected { .. } => "peer_connected",
            EventKind::PeerDisconnected { .. } => "peer_disconnected",
            EventKind::PeerMisbehaved { .. } => "peer_misbehaved",
            EventKind::PeersDenied { .. } => "peers_denied",
            EventKind::LatencySet { .. } => "latency_set",
        }
    }

    #[test]
    fn every_variant_is_listed_under_the_tag_it_is_written_with() {
        let hash = Hash256([1; 32]);
        let addr = SocketAddr::from(([127, 0, 0, 1], 18_444));
        let kinds = [
            EventKind::NodeStarted {
                network: "regtest".to_string(),
                height: 0,
                tip: hash,
            },
            EventKind::BlockConnected {
                hash,
                height: 1,
                txs: 1,
            },
            EventKind::BlockDisconnected { hash, height: 1 },
            EventKind::Reorg {
                old_tip: hash,
                new_tip: hash,
                fork_point: hash,
                fork_height: 0,
                depth: 1,
                blocks_out: Vec::new(),
                blocks_in: Vec::new(),
                txs_returned: Vec::new(),
                txs_dropped: Vec::new(),
            },
            mined(1),
            EventKind::BlockInvalid {
                hash,
                code: "x".to_string(),
                reason: "bad".to_string(),
            },
            EventKind::TxDropped {
                txid: hash,
                reason: "bad".to_string(),
            },
            EventKind::PeerConnected {
                peer: 1,
                addr,
                inbound: true,
                listen_addr: None,
            },
            EventKind::PeerDisconnected {
                peer: 1,
                addr,
                code: "x".to_string(),
                reason: "gone".to_string(),
                listen_addr: None,
            },
            EventKind::PeerMisbehaved {
                peer: 1,
                addr,
                code: "x".to_string(),
                reason: "bad".to_string(),
            },
            EventKind::PeersDenied { denied: Vec::new() },
            EventKind::LatencySet {
                ms: 0,
                peers: Vec::new(),
            },
        ];
        let tags: Vec<&str> = kinds.iter().map(tag).collect();
        assert_eq!(
            tags, EVENT_TYPES,
            "one of each variant, in the list's order"
        );
        for kind in &kinds {
            let written = serde_json::to_value(kind).unwrap();
            assert_eq!(written["type"], tag(kind), "{kind:?}");
        }
    }

    #[test]
    fn every_listed_type_is_a_variant() {
        for name in EVENT_TYPES {
            let error = serde_json::from_value::<EventKind>(serde_json::json!({"type": name}))
                .expect_err("a tag with no body is incomplete");
            assert!(
                error.to_string().starts_with("missing field"),
                "{name}: {error}"
            );
        }
    }

    #[test]
    fn reads_back_what_it_writes() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 18_444));
        let kinds = [
            EventKind::Reorg {
                old_tip: Hash256([1; 32]),
                new_tip: Hash256([2; 32]),
                fork_point: Hash256([3; 32]),
                fork_height: 7,
                depth: 1,
                blocks_out: vec![Hash256([1; 32])],
                blocks_in: vec![Hash256([2; 32])],
                txs_returned: vec![Hash256([4; 32])],
                txs_dropped: vec![DroppedTx {
                    txid: Hash256([5; 32]),
                    reason: "txn-block-conflict".to_string(),
                }],
            },
            EventKind::PeerConnected {
                peer: 3,
                addr,
                inbound: true,
                listen_addr: Some(addr),
            },
            EventKind::LatencySet {
                ms: 250,
                peers: vec![addr],
            },
        ];
        for kind in kinds {
            let json = serde_json::to_value(&kind).unwrap();
            assert_eq!(serde_json::from_value::<EventKind>(json).unwrap(), kind);
        }
    }
}
