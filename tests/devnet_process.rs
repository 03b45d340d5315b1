//! `nakachain devnet` against real node processes on regtest: up, status, propagation, refusals,
//! partition and heal, crashes, and a `down` that leaves no process behind. Each test runs in its
//! own temporary working directory (so `chain-data/` lands there) with its own ports.

#[path = "support/devnet.rs"]
mod devnet;

use devnet::{alive, call, crash, generate, up_args, wait_for_tip, Devnet};
use nakachain::devnet::state::DevnetState;
use nakachain::devnet::DevnetNode;
use serde_json::json;
use std::net::{Ipv4Addr, TcpListener};

fn pids(state: &DevnetState) -> Vec<u32> {
    state
        .nodes
        .iter()
        .map(|node| node.pid.expect("pid"))
        .collect()
}

/// Takes the devnet down and checks that none of `pids` outlived it; returns what `down` printed.
fn down_leaving_nothing(devnet: &Devnet, pids: &[u32]) -> String {
    let down = devnet.ok(&["down"]);
    let gone: Vec<bool> = pids.iter().map(|pid| !alive(*pid)).collect();
    assert!(
        gone.iter().all(|g| *g),
        "processes left behind: {pids:?} gone={gone:?}"
    );
    down
}

#[test]
fn up_status_propagate_refuse_and_down() {
    let devnet = Devnet::new();
    let table = devnet.ok(&up_args("3", "24500"));
    assert!(
        table.contains("node-2") && table.contains("127.0.0.1:24504"),
        "{table}"
    );
    let state = devnet.state();
    assert_eq!(state.nodes.len(), 3);

    let status = devnet.ok(&["status"]);
    assert_eq!(status.matches(" running ").count(), 3, "{status}");
    assert!(status.contains("all 3 nodes agree"), "{status}");

    let tip = generate(&state.nodes[1], 1);
    wait_for_tip(&state.nodes.iter().collect::<Vec<_>>(), &tip);

    let again = devnet.refused(&up_args("2", "24520"));
    assert!(again.contains("a devnet is already up"), "{again}");
    let unknown = devnet.refused(&["logs", "node-9"]);
    assert!(
        unknown.contains("unknown node node-9 (this devnet has node-0, node-1, node-2)"),
        "{unknown}"
    );
    assert!(!devnet.ok(&["logs", "node-0"]).is_empty());

    let pids = pids(&state);
    assert!(pids.iter().all(|pid| alive(*pid)));
    let down = down_leaving_nothing(&devnet, &pids);
    assert!(down.contains("stopped 3 processes"), "{down}");
    assert!(!devnet.root().join("devnet.json").exists());
    // Chain data is kept: a second devnet starts on the same chain.
    assert!(devnet.root().join("node-0").join("blocks.log").exists());
    let missing = devnet.refused(&["status"]);
    assert!(missing.contains("no devnet is up"), "{missing}");
    // A stopped node's log stays readable, to see why it crashed.
    assert!(devnet.ok(&["logs", "node-2"]).contains("node stopped"));

    // A new devnet beside those chains resumes them, and says so.
    let output = devnet.run(&up_args("3", "24500"));
    assert!(output.status.success(), "{output:?}");
    let note = String::from_utf8_lossy(&output.stderr);
    assert!(note.contains("an earlier devnet's chain"), "{note}");
    assert!(note.contains("devnet down --purge"), "{note}");
    let resumed = devnet.state();
    assert_eq!(
        call(&resumed.nodes[0], "getbestblockhash", vec![]),
        json!(tip)
    );
}

#[test]
fn a_taken_port_and_a_crashed_node_get_clear_messages_and_down_cleans_up() {
    let devnet = Devnet::new();
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 24542)).expect("bind test port");
    let clash = devnet.refused(&up_args("2", "24540"));
    assert!(
        clash.contains("port 24542 (node-1 p2p) is already in use; pick another --base-port"),
        "{clash}"
    );
    assert!(!devnet.root().join("devnet.json").exists());
    drop(taken);

    devnet.ok(&up_args("2", "24540"));
    let state = devnet.state();
    let pids = pids(&state);
    crash(&state.nodes[1]);
    let status = devnet.ok(&["status"]);
    assert!(
        status.contains("node-1   not running — crashed?"),
        "{status}"
    );
    assert!(status.contains("node.log"), "{status}");

    down_leaving_nothing(&devnet, &pids);
}

/// Needs the node's `setdeniedpeers` RPC.
#[test]
fn partition_then_heal_converges_on_the_longer_side() {
    let devnet = Devnet::new();
    devnet.ok(&up_args("4", "24560"));
    let state = devnet.state();
    let nodes: Vec<&DevnetNode> = state.nodes.iter().collect();

    let bad = devnet.refused(&["partition", "node-0,node-1/node-2"]);
    assert!(bad.contains("node-3 is in no group"), "{bad}");
    devnet.ok(&["partition", "node-0,node-1/node-2,node-3"]);
    let side_a = generate(nodes[0], 1);
    let side_b = generate(nodes[3], 2);
    wait_for_tip(&nodes[..2], &side_a);
    wait_for_tip(&nodes[2..], &side_b);

    devnet.ok(&["heal"]);
    wait_for_tip(&nodes, &side_b);
    let status = devnet.ok(&["status"]);
    assert!(status.contains("all 4 nodes agree"), "{status}");
    down_leaving_nothing(&devnet, &pids(&state));
}

#[test]
fn logs_of_a_missing_devnet_is_refused() {
    let devnet = Devnet::new();
    let error = devnet.refused(&["logs", "node-0"]);
    assert!(error.contains("no devnet is up"), "{error}");
    assert!(!devnet.root().join("devnet.json").exists());
}

/// Needs the node's `setdeniedpeers` RPC and `denied` in `getnetworkinfo`.
#[test]
fn a_line_keeps_its_shape_and_relays_end_to_end() {
    let devnet = Devnet::new();
    let mut up = up_args("3", "24580");
    up.extend(["--topology", "line"]);
    devnet.ok(&up);
    let state = devnet.state();
    let nodes: Vec<&DevnetNode> = state.nodes.iter().collect();
    // Nodes learn each other's addresses from their peers; the ends are kept apart.
    let denied = call(nodes[0], "getnetworkinfo", vec![])["denied"].clone();
    assert_eq!(denied, json!([nodes[2].p2p_addr.to_string()]));
    let middle = call(nodes[1], "getnetworkinfo", vec![])["denied"].clone();
    assert_eq!(middle, json!([]));

    let tip = generate(nodes[0], 1);
    wait_for_tip(&nodes, &tip);
    down_leaving_nothing(&devnet, &pids(&state));
}

/// With its state file unreadable, the devnet's nodes are still found by their arguments: `up`
/// refuses to start another beside them and `down` stops them.
#[test]
fn a_corrupt_state_file_still_lets_down_find_and_stop_the_nodes() {
    let devnet = Devnet::new();
    devnet.ok(&up_args("2", "24660"));
    let pids = pids(&devnet.state());
    std::fs::write(devnet.root().join("devnet.json"), b"{ not json").expect("corrupt the state");
    let again = devnet.refused(&up_args("2", "24670"));
    assert!(
        again.contains("is corrupt")
            && again.contains("`nakachain devnet down` still stops its nodes"),
        "{again}"
    );
    let down = down_leaving_nothing(&devnet, &pids);
    assert!(down.contains("stopped 2 processes"), "{down}");
}
