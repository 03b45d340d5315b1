use super::{addr, event, hash, names};
use nakachain::events::{DroppedTx, EventKind};
use nakachain::observe::{narrate, narrate_all, NodeEvent, ObservedEvent, Verbosity};

/// 12:03:04.512 UTC on some day.
const T: u64 = 19_675 * 86_400_000 + ((12 * 60 + 3) * 60 + 4) * 1_000 + 512;

fn line(node: &str, kind: impl Into<ObservedEvent>) -> String {
    narrate(&event(node, 1, T, kind), &names())
}

fn reorg(returned: usize, dropped: &[&str]) -> EventKind {
    EventKind::Reorg {
        old_tip: hash("0000ffee"),
        new_tip: hash("0000c0de"),
        fork_point: hash("0000a1b2"),
        fork_height: 14,
        depth: 2,
        blocks_out: vec![hash("0000ffee"), hash("0000eeee")],
        blocks_in: vec![hash("0000c0d0"), hash("0000c0de")],
        txs_returned: (0..returned).map(|i| hash(&format!("{i:x}"))).collect(),
        txs_dropped: dropped
            .iter()
            .map(|reason| DroppedTx {
                txid: hash("dd"),
                reason: reason.to_string(),
            })
            .collect(),
    }
}

#[test]
fn a_reorg_line_tells_depth_fork_tips_and_transactions() {
    assert_eq!(
        line("node-2", reorg(1, &["txn-block-conflict"])),
        "12:03:04.512 node-2  REORG depth 2 at fork 0000…0000a1b2 (h=14): 0000…0000ffee → 0000…0000c0de, \
         1 tx returned, 1 dropped (txn-block-conflict)"
    );
    assert_eq!(
        line("node-2", reorg(0, &[])),
        "12:03:04.512 node-2  REORG depth 2 at fork 0000…0000a1b2 (h=14): 0000…0000ffee → 0000…0000c0de, \
         0 txs returned"
    );
    assert_eq!(
        line("node-2", reorg(3, &["a", "b", "a"])),
        "12:03:04.512 node-2  REORG depth 2 at fork 0000…0000a1b2 (h=14): 0000…0000ffee → 0000…0000c0de, \
         3 txs returned, 3 dropped (a, b)"
    );
    // The line keeps a reason's code; its detail is for the report.
    assert_eq!(
        line(
            "node-2",
            reorg(
                0,
                &[
                    "txn-block-conflict: spends an output of 00ab",
                    "txn-block-conflict: x"
                ]
            )
        ),
        "12:03:04.512 node-2  REORG depth 2 at fork 0000…0000a1b2 (h=14): 0000…0000ffee → 0000…0000c0de, \
         0 txs returned, 2 dropped (txn-block-conflict)"
    );
}

#[test]
fn block_lines() {
    let block = hash("0000abcd");
    assert_eq!(
        line(
            "node-1",
            EventKind::BlockMined {
                hash: block,
                height: 15
            }
        ),
        "12:03:04.512 node-1  mined h=15 0000…0000abcd"
    );
    assert_eq!(
        line(
            "node-1",
            EventKind::BlockConnected {
                hash: block,
                height: 15,
                txs: 1
            }
        ),
        "12:03:04.512 node-1  connected h=15 0000…0000abcd (1 tx)"
    );
    assert_eq!(
        line(
            "node-1",
            EventKind::BlockDisconnected {
                hash: block,
                height: 15
            }
        ),
        "12:03:04.512 node-1  disconnected h=15 0000…0000abcd"
    );
    assert_eq!(
        line(
            "node-1",
            EventKind::BlockInvalid {
                hash: block,
                code: "high-hash".to_string(),
                reason: "high-hash".to_string()
            }
        ),
        "12:03:04.512 node-1  INVALID block 0000…0000abcd: high-hash"
    );
    assert_eq!(
        line(
            "node-1",
            EventKind::TxDropped {
                txid: hash("beef"),
                reason: "missing-inputs".to_string()
            }
        ),
        "12:03:04.512 node-1  tx 0000…0000beef dropped: missing-inputs"
    );
    assert_eq!(
        line(
            "node-10",
            EventKind::NodeStarted {
                network: "devnet".to_string(),
                height: 0,
                tip: block
            }
        ),
        "12:03:04.512 node-10 started on devnet at h=0 0000…0000abcd"
    );
}

#[test]
fn peers_are_named_by_their_listen_address() {
    let listen = addr("127.0.0.1:18441");
    let ephemeral = addr("127.0.0.1:53012");
    assert_eq!(
        line(
            "node-2",
            EventKind::PeerConnected {
                peer: 1,
                addr: listen,
                inbound: false,
                listen_addr: Some(listen),
            }
        ),
        "12:03:04.512 node-2  peer node-1 connected (outbound)"
    );
    assert_eq!(
        line(
            "node-2",
            EventKind::PeerConnected {
                peer: 2,
                addr: ephemeral,
                inbound: true,
                listen_addr: None,
            }
        ),
        "12:03:04.512 node-2  peer 127.0.0.1:53012 connected (inbound)"
    );
    // An inbound peer that told its listen address is named by it.
    assert_eq!(
        line(
            "node-2",
            EventKind::PeerConnected {
                peer: 3,
                addr: ephemeral,
                inbound: true,
                listen_addr: Some(listen),
            }
        ),
        "12:03:04.512 node-2  peer node-1 connected (inbound)"
    );
    assert_eq!(
        line(
            "node-2",
            EventKind::PeerDisconnected {
                peer: 1,
                addr: ephemeral,
                code: "denied".to_string(),
                reason: "denied".to_string(),
                listen_addr: Some(listen),
            }
        ),
        "12:03:04.512 node-2  peer node-1 disconnected: denied"
    );
    assert_eq!(
        line(
            "node-2",
            EventKind::PeerMisbehaved {
                peer: 2,
                addr: ephemeral,
                code: "invalid-transaction".to_string(),
                reason: "bad-txns-inputs-duplicate".to_string()
            }
        ),
        "12:03:04.512 node-2  peer 127.0.0.1:53012 MISBEHAVED: bad-txns-inputs-duplicate"
    );
}

#[test]
fn partition_heal_and_latency_lines() {
    let denied = vec![
        addr("127.0.0.1:18442"),
        addr("127.0.0.1:18443"),
        addr("10.0.0.9:18444"),
    ];
    assert_eq!(
        line("node-1", EventKind::PeersDenied { denied }),
        "12:03:04.512 node-1  partitioned from node-2, node-3, 10.0.0.9:18444"
    );
    assert_eq!(
        line("node-1", EventKind::PeersDenied { denied: vec![] }),
        "12:03:04.512 node-1  healed: deny-list cleared"
    );
    assert_eq!(
        line(
            "node-1",
            EventKind::LatencySet {
                ms: 200,
                peers: vec![addr("127.0.0.1:18442")]
            }
        ),
        "12:03:04.512 node-1  latency 200 ms to node-2"
    );
    assert_eq!(
        line(
            "node-1",
            EventKind::LatencySet {
                ms: 0,
                peers: vec![]
            }
        ),
        "12:03:04.512 node-1  latency 0 ms to all peers"
    );
    assert_eq!(
        line("node-1", ObservedEvent::Other("mempool_full".to_string())),
        "12:03:04.512 node-1  event of unknown type \"mempool_full\""
    );
}

/// node-1 mines a block; node-3 receives it; node-2 had connected 0000…0000ffee and then reorgs
/// onto node-1's chain.
fn story() -> Vec<NodeEvent> {
    let connected = |hash, height| EventKind::BlockConnected {
        hash,
        height,
        txs: 1,
    };
    let disconnected = |hash, height| EventKind::BlockDisconnected { hash, height };
    vec![
        event("node-2", 5, T, connected(hash("0000ffee"), 16)),
        event(
            "node-1",
            3,
            T,
            EventKind::BlockMined {
                hash: hash("0000c0de"),
                height: 16,
            },
        ),
        event("node-1", 4, T, connected(hash("0000c0de"), 16)),
        event("node-3", 7, T, connected(hash("0000c0de"), 16)),
        event("node-2", 10, T, disconnected(hash("0000ffee"), 16)),
        event("node-2", 11, T, disconnected(hash("0000eeee"), 15)),
        event("node-2", 12, T, connected(hash("0000c0d0"), 15)),
        event("node-2", 13, T, connected(hash("0000c0de"), 16)),
        event("node-2", 14, T, reorg(0, &[])),
    ]
}

#[test]
fn concise_leaves_out_what_mined_and_reorg_lines_tell() {
    let concise = narrate_all(&story(), &names(), Verbosity::Concise);
    assert_eq!(
        concise,
        vec![
            "12:03:04.512 node-2  connected h=16 0000…0000ffee (1 tx)",
            "12:03:04.512 node-1  mined h=16 0000…0000c0de",
            "12:03:04.512 node-3  connected h=16 0000…0000c0de (1 tx)",
            "12:03:04.512 node-2  REORG depth 2 at fork 0000…0000a1b2 (h=14): 0000…0000ffee → 0000…0000c0de, \
             0 txs returned",
        ]
    );
}

#[test]
fn everything_tells_every_event() {
    let story = story();
    let all = narrate_all(&story, &names(), Verbosity::Everything);
    let one_by_one: Vec<String> = story.iter().map(|e| narrate(e, &names())).collect();
    assert_eq!(all, one_by_one);
    assert_eq!(all.len(), 9);
}
