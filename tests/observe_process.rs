//! Real processes on loopback: two nodes are made to disagree (one invalidates the shared tip
//! and mines a longer branch), and the observer follows both event logs, tells the story and
//! measures the convergence — against the JSON the node really sends.

#[path = "support/process.rs"]
mod process;

use nakachain::events::EventKind;
use nakachain::observe::{narrate_all, Convergence, EventFollower, NodeEvent, NodeTip, Verbosity};
use nakachain::types::Hash256;
use process::{free_port, NodeProcess, PATIENCE};
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A node listening on its own P2P port, dialing `connect` if given.
fn peer_node(root: &Path, name: &str, connect: Option<SocketAddr>) -> (NodeProcess, SocketAddr) {
    let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut args = vec!["--listen".to_string(), listen.to_string()];
    if let Some(peer) = connect {
        args.push("--connect".to_string());
        args.push(peer.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = NodeProcess::start_with(&root.join(name), free_port(), &args);
    (node, listen)
}

fn tip_of(name: &str, node: &NodeProcess) -> NodeTip {
    NodeTip::from_blockchain_info(name, &node.call("getblockchaininfo", vec![]))
        .expect("getblockchaininfo reads as a tip")
}

fn is_reorg_on(event: &NodeEvent, node: &str) -> bool {
    event.node == node && matches!(event.kind.known(), Some(EventKind::Reorg { .. }))
}

#[test]
fn follows_two_nodes_through_a_reorg_and_measures_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, a_listen) = peer_node(dir.path(), "a", None);
    let (b, b_listen) = peer_node(dir.path(), "b", Some(a_listen));
    let names: HashMap<SocketAddr, String> = [(a_listen, "node-a"), (b_listen, "node-b")]
        .into_iter()
        .map(|(addr, name)| (addr, name.to_string()))
        .collect();

    let shared: Vec<Hash256> = serde_json::from_value(a.call("generate", vec![json!(3)]))
        .expect("generate returns block hashes");
    let orphaned = shared[2];
    let deadline = Instant::now() + PATIENCE;
    while tip_of("node-b", &b).tip != orphaned {
        assert!(
            Instant::now() < deadline,
            "node-b never synced node-a's blocks"
        );
        sleep(Duration::from_millis(50));
    }
    b.call("invalidateblock", vec![json!(orphaned)]);
    let branch: Vec<Hash256> = serde_json::from_value(b.call("generate", vec![json!(2)]))
        .expect("generate returns block hashes");
    let new_tip = branch[1];

    let clients = vec![
        ("node-a".to_string(), a.client()),
        ("node-b".to_string(), b.client()),
    ];
    let mut follower = EventFollower::new();
    let mut events = Vec::new();
    loop {
        let batch = follower.poll(&clients);
        assert!(batch.problems.is_empty(), "{:?}", batch.problems);
        events.extend(batch.events);
        if events.iter().any(|event| is_reorg_on(event, "node-a")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node-a never reorged: {events:?}"
        );
        sleep(Duration::from_millis(50));
    }

    let story = narrate_all(&events, &names, Verbosity::Concise).join("\n");
    assert!(
        story.contains("node-b  peer node-a connected (outbound)"),
        "{story}"
    );
    assert!(story.contains("node-a  REORG depth 1 at fork"), "{story}");
    assert!(story.contains("node-b  mined h=4"), "{story}");

    let tips = [tip_of("node-a", &a), tip_of("node-b", &b)];
    let convergence = Convergence::measure(0, &events, &tips, &[]);
    assert!(convergence.converged, "{}", convergence.report());
    assert_eq!(convergence.agreed_tip, Some(new_tip));
    assert!(convergence.most_work);
    let a_reorg = convergence
        .reorgs
        .iter()
        .find(|reorg| reorg.node == "node-a")
        .expect("node-a's reorg is summarized");
    assert_eq!(a_reorg.blocks_out, vec![orphaned]);
    assert_eq!(a_reorg.new_tip, new_tip);
}
