//! Real processes on loopback: `setdeniedpeers` splits two nodes so each mines its own branch,
//! clearing it heals them onto the most-work tip; `setlinklatency` shows in `getpeerinfo` and
//! refuses bad arguments.

#[path = "support/process.rs"]
mod process;

use nakachain::rpc::ClientError;
use process::{free_port, NodeProcess, PATIENCE};
use serde_json::{json, Value};
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A node that listens on its own port and keeps connected to `connect`; returns its listen
/// address.
fn peer_node(root: &Path, name: &str, connect: Option<&str>) -> (NodeProcess, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut args = vec!["--listen", listen.as_str()];
    if let Some(addr) = connect {
        args.extend(["--connect", addr]);
    }
    let node = NodeProcess::start_with(&root.join(name), free_port(), &args);
    (node, listen)
}

/// Nodes `a` and `b` (which dials `a`), once each sees the other; with their listen addresses.
fn connected_pair(root: &Path) -> (NodeProcess, String, NodeProcess, String) {
    let (a, a_listen) = peer_node(root, "a", None);
    let (b, b_listen) = peer_node(root, "b", Some(&a_listen));
    wait_until("a and b connect", || {
        connected_to(&a, &b_listen) && connected_to(&b, &a_listen)
    });
    (a, a_listen, b, b_listen)
}

/// Polls (bounded; not a speed assertion) until `condition` holds.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        sleep(Duration::from_millis(50));
    }
}

fn peers(node: &NodeProcess) -> Vec<Value> {
    node.call("getpeerinfo", vec![])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Whether `node` has a finished handshake with the peer listening on `listen`.
fn connected_to(node: &NodeProcess, listen: &str) -> bool {
    peers(node)
        .iter()
        .any(|peer| peer["handshake_done"] == json!(true) && peer["listen_addr"] == json!(listen))
}

fn tip(node: &NodeProcess) -> Value {
    node.call("getbestblockhash", vec![])
}

/// The JSON-RPC error code of a call that must fail.
fn error_code(node: &NodeProcess, method: &str, params: Vec<Value>) -> i64 {
    match node.client().call(method, params.clone()) {
        Err(ClientError::Rpc(error)) => error.code,
        other => panic!("{method} {params:?} should be refused, got {other:?}"),
    }
}

fn event_types(node: &NodeProcess) -> Vec<Value> {
    node.call("getevents", vec![json!(0), json!(10_000)])["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn denying_each_other_splits_two_nodes_and_clearing_heals_them_onto_the_most_work_tip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, a_listen, b, b_listen) = connected_pair(dir.path());
    a.call("generate", vec![json!(1)]);
    let base = tip(&a);
    wait_until("b syncs the first block", || tip(&b) == base);

    assert_eq!(
        a.call("setdeniedpeers", vec![json!([b_listen])]),
        json!([b_listen])
    );
    assert_eq!(
        b.call("setdeniedpeers", vec![json!([a_listen])]),
        json!([a_listen])
    );
    wait_until("the split drops every peer", || {
        peers(&a).is_empty() && peers(&b).is_empty()
    });
    assert_eq!(
        a.call("getnetworkinfo", vec![])["denied"],
        json!([b_listen])
    );

    // Each side mines its own branch; a's has more work.
    a.call("generate", vec![json!(2)]);
    b.call("generate", vec![json!(1)]);
    let a_tip = tip(&a);
    assert_ne!(a_tip, tip(&b), "split nodes mined different branches");
    assert_eq!(b.call("getblockcount", vec![]), json!(2));
    assert!(peers(&a).is_empty() && peers(&b).is_empty());

    assert_eq!(a.call("setdeniedpeers", vec![json!([])]), json!([]));
    assert_eq!(b.call("setdeniedpeers", vec![json!([])]), json!([]));
    wait_until("the healed nodes converge on a's tip", || {
        tip(&a) == a_tip && tip(&b) == a_tip
    });
    assert_eq!(b.call("getblockcount", vec![]), json!(3));
    assert_eq!(a.call("getnetworkinfo", vec![])["denied"], json!([]));

    let events = event_types(&b);
    let denials: Vec<&Value> = events
        .iter()
        .filter(|event| event["type"] == "peers_denied")
        .map(|event| &event["denied"])
        .collect();
    assert_eq!(denials, vec![&json!([a_listen]), &json!([])]);
    assert!(
        events.iter().any(|event| event["type"] == "reorg"),
        "b's branch was undone: {events:?}"
    );
    assert!(
        events.iter().all(|event| event["time_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 1_000_000_000_000)),
        "event times are Unix milliseconds: {events:?}"
    );

    a.stop();
    b.stop();
}

#[test]
fn a_transaction_confirmed_only_on_the_losing_branch_reaches_the_winner_after_a_heal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, a_listen, b, b_listen) = connected_pair(dir.path());
    // b's first coinbase matures (regtest: 100 blocks) and a has the chain too.
    b.call("generate", vec![json!(101)]);
    let base = tip(&b);
    wait_until("a syncs b's chain", || tip(&a) == base);

    a.call("setdeniedpeers", vec![json!([b_listen])]);
    b.call("setdeniedpeers", vec![json!([a_listen])]);
    wait_until("the split drops every peer", || {
        peers(&a).is_empty() && peers(&b).is_empty()
    });
    let to = a.call("getnewaddress", vec![]);
    let txid = b.call("sendtoaddress", vec![to, json!(1)]);
    b.call("generate", vec![json!(1)]);
    assert_eq!(b.call("getrawmempool", vec![]), json!([]), "confirmed on b");
    a.call("generate", vec![json!(2)]);
    let a_tip = tip(&a);

    a.call("setdeniedpeers", vec![json!([])]);
    b.call("setdeniedpeers", vec![json!([])]);
    wait_until("the healed nodes converge on a's tip", || {
        tip(&a) == a_tip && tip(&b) == a_tip
    });
    // b's reorg put the transaction back into its mempool, and b tells a of it.
    wait_until("the transaction reaches a's mempool", || {
        a.call("getrawmempool", vec![]) == json!([txid.clone()])
    });
    assert_eq!(b.call("getrawmempool", vec![]), json!([txid]));
    a.stop();
    b.stop();
}

#[test]
fn link_latency_shows_per_peer_and_bad_arguments_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, a_listen, b, b_listen) = connected_pair(dir.path());

    assert_eq!(a.call("setlinklatency", vec![json!(200)]), Value::Null);
    assert_eq!(a.call("getnetworkinfo", vec![])["latency_ms"], json!(200));
    assert_eq!(peers(&a)[0]["latency_ms"], json!(200));
    a.call("setlinklatency", vec![json!(350), json!([b_listen])]);
    assert_eq!(peers(&a)[0]["latency_ms"], json!(350));
    assert_eq!(a.call("getnetworkinfo", vec![])["latency_ms"], json!(200));
    assert_eq!(
        peers(&b)[0]["latency_ms"],
        json!(0),
        "only a's side is slowed"
    );

    // Slowed, the link still carries blocks, in order.
    a.call("generate", vec![json!(3)]);
    let a_tip = tip(&a);
    wait_until("b syncs over the slow link", || tip(&b) == a_tip);

    let events = event_types(&a);
    let set: Vec<(&Value, &Value)> = events
        .iter()
        .filter(|event| event["type"] == "latency_set")
        .map(|event| (&event["ms"], &event["peers"]))
        .collect();
    assert_eq!(
        set,
        vec![(&json!(200), &json!([])), (&json!(350), &json!([b_listen]))]
    );

    // Without addresses the setting is for every peer again.
    a.call("setlinklatency", vec![json!(0)]);
    assert_eq!(peers(&a)[0]["latency_ms"], json!(0));

    const INVALID_PARAMETER: i64 = -8;
    for bad in [
        vec![],
        vec![json!(-1)],
        vec![json!(60_001)],
        vec![json!(1.5)],
        vec![json!("fast")],
        vec![json!(10), json!(b_listen)],
        vec![json!(10), json!(["not-an-address"])],
        vec![json!(10), json!([7])],
    ] {
        assert_eq!(
            error_code(&a, "setlinklatency", bad),
            INVALID_PARAMETER,
            "setlinklatency"
        );
    }
    for bad in [
        vec![],
        vec![json!(a_listen)],
        vec![json!(["127.0.0.1"])],
        vec![json!({"addr": a_listen})],
    ] {
        assert_eq!(
            error_code(&a, "setdeniedpeers", bad),
            INVALID_PARAMETER,
            "setdeniedpeers"
        );
    }
    assert_eq!(a.call("getnetworkinfo", vec![])["denied"], json!([]));
    assert_eq!(peers(&a).len(), 1, "refused calls changed nothing");

    a.stop();
    b.stop();
}
