use super::{addr, hash};
use nakachain::events::{DroppedTx, EventKind};
use nakachain::observe::{EventParseError, EventsPage, NodeEvent, ObservedEvent};
use serde_json::{json, Value};

fn parse(value: Value) -> Result<NodeEvent, EventParseError> {
    NodeEvent::from_json("node-1", &value)
}

fn kind(value: Value) -> ObservedEvent {
    parse(value).expect("a well-formed event").kind
}

/// The event's shape, which must be of a type this build knows.
fn known(value: Value) -> EventKind {
    match kind(value) {
        ObservedEvent::Known(kind) => kind,
        ObservedEvent::Other(name) => panic!("`{name}` should be a known type"),
    }
}

#[test]
fn reads_seq_time_and_node() {
    let event = parse(
        json!({"seq": 7, "time_ms": 1_700_000_000_123u64, "type": "block_mined",
                             "hash": hash("00ab").to_hex(), "height": 3}),
    )
    .expect("a well-formed event");
    assert_eq!(event.node, "node-1");
    assert_eq!(event.seq, 7);
    assert_eq!(event.time_ms, 1_700_000_000_123);
}

#[test]
fn falls_back_to_time_in_seconds() {
    let event = parse(
        json!({"seq": 1, "time": 1_700_000_000u64, "type": "block_mined",
                             "hash": hash("00ab").to_hex(), "height": 3}),
    )
    .expect("an event with the old `time` field");
    assert_eq!(event.time_ms, 1_700_000_000_000);
}

#[test]
fn reads_node_started_and_blocks() {
    let tip = hash("0000a1b2");
    assert_eq!(
        known(
            json!({"seq": 1, "time_ms": 0, "type": "node_started", "network": "devnet",
                    "height": 14, "tip": tip.to_hex()})
        ),
        EventKind::NodeStarted {
            network: "devnet".to_string(),
            height: 14,
            tip
        }
    );
    assert_eq!(
        known(
            json!({"seq": 1, "time_ms": 0, "type": "block_connected", "hash": tip.to_hex(),
                    "height": 15, "txs": 3})
        ),
        EventKind::BlockConnected {
            hash: tip,
            height: 15,
            txs: 3
        }
    );
    assert_eq!(
        known(
            json!({"seq": 1, "time_ms": 0, "type": "block_disconnected", "hash": tip.to_hex(),
                    "height": 15})
        ),
        EventKind::BlockDisconnected {
            hash: tip,
            height: 15
        }
    );
    assert_eq!(
        known(
            json!({"seq": 1, "time_ms": 0, "type": "block_mined", "hash": tip.to_hex(),
                    "height": 15})
        ),
        EventKind::BlockMined {
            hash: tip,
            height: 15
        }
    );
    assert_eq!(
        known(
            json!({"seq": 1, "time_ms": 0, "type": "block_invalid", "hash": tip.to_hex(),
                    "reason": "high-hash"})
        ),
        EventKind::BlockInvalid {
            hash: tip,
            code: String::new(),
            reason: "high-hash".to_string()
        }
    );
    assert_eq!(
        known(
            json!({"seq": 1, "time_ms": 0, "type": "tx_dropped", "txid": tip.to_hex(),
                    "reason": "missing-inputs"})
        ),
        EventKind::TxDropped {
            txid: tip,
            reason: "missing-inputs".to_string()
        }
    );
}

#[test]
fn reads_a_reorg() {
    let [old, new, fork, tx1, tx2] = ["0000ffee", "0000c0de", "0000a1b2", "aa", "bb"].map(hash);
    let reorg = known(json!({
        "seq": 9, "time_ms": 5, "type": "reorg",
        "old_tip": old.to_hex(), "new_tip": new.to_hex(), "fork_point": fork.to_hex(),
        "fork_height": 14, "depth": 1,
        "blocks_out": [old.to_hex()], "blocks_in": [new.to_hex()],
        "txs_returned": [tx1.to_hex()],
        "txs_dropped": [{"txid": tx2.to_hex(), "reason": "txn-block-conflict"}],
    }));
    assert_eq!(
        reorg,
        EventKind::Reorg {
            old_tip: old,
            new_tip: new,
            fork_point: fork,
            fork_height: 14,
            depth: 1,
            blocks_out: vec![old],
            blocks_in: vec![new],
            txs_returned: vec![tx1],
            txs_dropped: vec![DroppedTx {
                txid: tx2,
                reason: "txn-block-conflict".to_string()
            }],
        }
    );
}

#[test]
fn reads_peer_events() {
    let peer = addr("127.0.0.1:18442");
    assert_eq!(
        known(
            json!({"seq": 1, "time_ms": 0, "type": "peer_connected", "peer": 4,
                    "addr": "127.0.0.1:18442", "inbound": false})
        ),
        EventKind::PeerConnected {
            peer: 4,
            addr: peer,
            inbound: false,
            listen_addr: None,
        },
        "an event from a node that does not send listen_addr still reads"
    );
    assert_eq!(
        known(
            json!({"seq": 1, "time_ms": 0, "type": "peer_connected", "peer": 4,
                    "addr": "127.0.0.1:50000", "inbound": true, "listen_addr": "127.0.0.1:18442"})
        ),
        EventKind::PeerConnected {
            peer: 4,
            addr: addr("127.0.0.1:50000"),
            inbound: true,
            listen_addr: Some(peer),
        }
    );
    assert_eq!(
        known(
            json!({"seq": 1, "time_ms": 0, "type": "peer_disconnected", "peer": 4,
                    "addr": "127.0.0.1:18442", "reason": "denied"})
        ),
        EventKind::PeerDisconnected {
            peer: 4,
            addr: peer,
            code: String::new(),
            reason: "denied".to_string(),
            listen_addr: None,
        }
    );
    assert_eq!(
        known(
            json!({"seq": 1, "time_ms": 0, "type": "peer_misbehaved", "peer": 4,
                    "addr": "127.0.0.1:18442", "reason": "bad-txns"})
        ),
        EventKind::PeerMisbehaved {
            peer: 4,
            addr: peer,
            code: String::new(),
            reason: "bad-txns".to_string()
        }
    );
}

#[test]
fn reads_partition_and_latency_events() {
    assert_eq!(
        known(json!({"seq": 1, "time_ms": 0, "type": "peers_denied",
                    "denied": ["127.0.0.1:18442", "127.0.0.1:18443"]})),
        EventKind::PeersDenied {
            denied: vec![addr("127.0.0.1:18442"), addr("127.0.0.1:18443")]
        }
    );
    assert_eq!(
        known(json!({"seq": 1, "time_ms": 0, "type": "peers_denied", "denied": []})),
        EventKind::PeersDenied { denied: vec![] }
    );
    assert_eq!(
        known(
            json!({"seq": 1, "time_ms": 0, "type": "latency_set", "ms": 200,
                    "peers": ["127.0.0.1:18442"]})
        ),
        EventKind::LatencySet {
            ms: 200,
            peers: vec![addr("127.0.0.1:18442")]
        }
    );
}

#[test]
fn an_unknown_type_is_kept_as_other() {
    assert_eq!(
        kind(json!({"seq": 1, "time_ms": 0, "type": "mempool_full", "bytes": 5})),
        ObservedEvent::Other("mempool_full".to_string())
    );
}

#[test]
fn extra_fields_are_ignored() {
    let event = known(
        json!({"seq": 1, "time_ms": 0, "type": "block_mined", "extra": [1],
                            "hash": hash("ab").to_hex(), "height": 2}),
    );
    assert!(matches!(event, EventKind::BlockMined { height: 2, .. }));
}

fn error_code(value: Value) -> &'static str {
    match parse(value) {
        Ok(event) => panic!("expected an error, parsed {event:?}"),
        Err(error) => error.code(),
    }
}

#[test]
fn malformed_events_are_typed_errors() {
    assert_eq!(error_code(json!([1, 2])), "event-not-object");
    assert_eq!(
        error_code(json!({"time_ms": 0, "type": "reorg"})),
        "event-bad-field"
    );
    assert_eq!(
        error_code(json!({"seq": -1, "time_ms": 0, "type": "x"})),
        "event-bad-field"
    );
    assert_eq!(
        error_code(json!({"seq": 1, "type": "x"})),
        "event-bad-field"
    );
    assert_eq!(
        error_code(json!({"seq": 1, "time": u64::MAX, "type": "x"})),
        "event-bad-field"
    );
    assert_eq!(
        error_code(json!({"seq": 1, "time_ms": 0})),
        "event-bad-field"
    );
    assert_eq!(
        error_code(json!({"seq": 1, "time_ms": 0, "type": 5})),
        "event-bad-field"
    );
    // Known types with missing or mistyped fields.
    assert_eq!(
        error_code(json!({"seq": 1, "time_ms": 0, "type": "reorg"})),
        "event-bad-body"
    );
    assert_eq!(
        error_code(json!({"seq": 1, "time_ms": 0, "type": "block_mined",
                          "hash": "not hex", "height": 1})),
        "event-bad-body"
    );
    assert_eq!(
        error_code(json!({"seq": 1, "time_ms": 0, "type": "peers_denied",
                          "denied": ["localhost"]})),
        "event-bad-body"
    );
}

#[test]
fn a_bad_body_error_names_node_seq_and_type() {
    let error = parse(json!({"seq": 12, "time_ms": 0, "type": "block_connected", "hash": 1}))
        .expect_err("a malformed body");
    assert_eq!(error.node(), "node-1");
    let text = error.to_string();
    assert!(
        text.starts_with("event 12 from node-1 (block_connected) is malformed"),
        "{text}"
    );
}

#[test]
fn a_page_keeps_the_readable_events_and_reports_the_rest() {
    let reply = json!({"events": [
        {"seq": 4, "time_ms": 10, "type": "block_mined", "hash": hash("ab").to_hex(), "height": 2},
        {"seq": 5, "time_ms": 11, "type": "block_mined"},
    ], "last_seq": 9});
    let page = EventsPage::from_json("node-2", &reply).expect("a well-formed envelope");
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].seq, 4);
    assert_eq!(page.malformed.len(), 1);
    assert_eq!(page.malformed[0].code(), "event-bad-body");
    assert_eq!(
        (page.entries, page.min_seq, page.max_seq, page.last_seq),
        (2, Some(4), Some(5), 9)
    );
}

#[test]
fn a_malformed_page_is_an_error() {
    for reply in [
        json!(null),
        json!({"events": []}),
        json!({"last_seq": 1}),
        json!({"events": {}, "last_seq": 1}),
        json!({"events": [], "last_seq": "1"}),
    ] {
        let error = EventsPage::from_json("node-2", &reply).expect_err("a malformed envelope");
        assert_eq!(error.code(), "events-bad-reply");
    }
}
