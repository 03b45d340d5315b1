//! Real processes on loopback: three nodes in a line sync a chain mined at one end, a late
//! joiner syncs from scratch, and a restarted node catches up.

#[path = "support/process.rs"]
mod process;

use process::{free_port, NodeProcess, PATIENCE};
use serde_json::{json, Value};
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A node that listens on its own port and keeps connected to `connect`.
fn peer_node(root: &Path, name: &str, connect: Option<u16>) -> (NodeProcess, u16) {
    let p2p = free_port();
    let listen = format!("127.0.0.1:{p2p}");
    let mut args = vec!["--listen".to_string(), listen];
    if let Some(port) = connect {
        args.push("--connect".into());
        args.push(format!("127.0.0.1:{port}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = NodeProcess::start_with(&root.join(name), free_port(), &args);
    (node, p2p)
}

/// Waits (bounded; not a speed assertion) until every node reports `tip`.
fn wait_for_tip(nodes: &[&NodeProcess], tip: &Value) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let tips: Vec<Value> = nodes
            .iter()
            .map(|node| node.call("getbestblockhash", vec![]))
            .collect();
        if tips.iter().all(|seen| seen == tip) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nodes stuck at {tips:?}, wanted {tip}"
        );
        sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_line_of_nodes_syncs_and_late_and_restarted_nodes_catch_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, a_p2p) = peer_node(dir.path(), "a", None);
    let (b, b_p2p) = peer_node(dir.path(), "b", Some(a_p2p));
    let (c, _) = peer_node(dir.path(), "c", Some(b_p2p));

    a.call("generate", vec![json!(30)]);
    let tip = a.call("getbestblockhash", vec![]);
    wait_for_tip(&[&a, &b, &c], &tip);
    assert_eq!(c.call("getblockcount", vec![]), json!(30));
    let peers = b.call("getpeerinfo", vec![]);
    assert_eq!(
        peers.as_array().map(Vec::len),
        Some(2),
        "b sits between a and c: {peers}"
    );

    // A late joiner syncs the whole chain from the far end of the line.
    let (d, _) = peer_node(dir.path(), "d", Some(b_p2p));
    wait_for_tip(&[&d], &tip);

    // A node that was down while blocks were mined catches up when it comes back.
    let c_datadir = c.datadir.clone();
    let c_port = c.port;
    c.stop();
    a.call("generate", vec![json!(5)]);
    let tip = a.call("getbestblockhash", vec![]);
    wait_for_tip(&[&b, &d], &tip);
    let args = ["--connect".to_string(), format!("127.0.0.1:{b_p2p}")];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let c = NodeProcess::start_with(&c_datadir, c_port, &args);
    wait_for_tip(&[&c], &tip);
    assert_eq!(c.call("getblockcount", vec![]), json!(35));

    // A payment made at one end reaches the other end's mempool and is mined there.
    a.call("generate", vec![json!(100)]);
    let tip = a.call("getbestblockhash", vec![]);
    wait_for_tip(&[&b, &c, &d], &tip);
    let to = c.call("getnewaddress", vec![]);
    let txid = a.call("sendtoaddress", vec![to, json!("2.5")]);
    let deadline = Instant::now() + PATIENCE;
    while !c
        .call("getrawmempool", vec![])
        .as_array()
        .is_some_and(|pool| pool.contains(&txid))
    {
        assert!(Instant::now() < deadline, "the payment did not reach c");
        sleep(Duration::from_millis(50));
    }
    let events = d.call("getevents", vec![json!(0), json!(10_000)]);
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|event| event["type"].as_str())
        .collect();
    assert!(kinds.contains(&"peer_connected"), "{kinds:?}");

    for node in [a, b, c, d] {
        node.stop();
    }
}

#[test]
fn blocks_a_synced_node_reported_survive_a_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, a_p2p) = peer_node(dir.path(), "a", None);
    a.call("generate", vec![json!(1_500)]);
    let tip = a.call("getbestblockhash", vec![]);
    let (b, _) = peer_node(dir.path(), "b", Some(a_p2p));
    wait_for_tip(&[&b], &tip);
    // Blocks from peers are written in bursts, and reach the OS before the node reports them.
    let reported = b.call("getblockcount", vec![]);
    assert_eq!(reported, json!(1_500));
    let (datadir, port) = (b.datadir.clone(), b.port);
    let mut b = b;
    b.child.kill().expect("SIGKILL");
    b.child.wait().expect("reap");
    drop(b);
    let b = NodeProcess::start(&datadir, port);
    assert_eq!(b.call("getblockcount", vec![]), reported);
    b.stop();
    a.stop();
}
