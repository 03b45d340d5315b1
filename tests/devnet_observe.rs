//! The devnet's observation commands against real node processes on regtest: the merged tree
//! of a partitioned devnet, a heal measured until the nodes agree, and the merged event story.

#[path = "support/devnet.rs"]
mod devnet;

use devnet::{crash, generate, generate_fresh, up_args, wait_for_tip, Devnet};
use nakachain::devnet::DevnetNode;

/// Needs the node's `setdeniedpeers` and `getblocktree` RPCs and `time_ms` events.
#[test]
fn a_partition_shows_two_tips_and_the_heal_is_measured_and_told() {
    let devnet = Devnet::new();
    devnet.ok(&up_args("4", "24620"));
    let state = devnet.state();
    let nodes: Vec<&DevnetNode> = state.nodes.iter().collect();
    let shared = generate(nodes[0], 2);
    wait_for_tip(&nodes, &shared);

    devnet.ok(&["partition", "node-0,node-1/node-2,node-3"]);
    let short_side = generate_fresh(nodes[0], 1);
    let long_side = generate_fresh(nodes[2], 3);
    wait_for_tip(&nodes[..2], &short_side);
    wait_for_tip(&nodes[2..], &long_side);

    let tree = devnet.ok(&["tree"]);
    assert!(tree.contains("[node-0, node-1]"), "{tree}");
    assert!(tree.contains("[node-2, node-3]"), "{tree}");

    let heal = devnet.ok(&["heal"]);
    assert!(heal.contains("all 4 nodes agree"), "{heal}");
    assert!(heal.contains("1 block orphaned"), "{heal}");
    assert!(heal.contains("deepest reorg 1"), "{heal}");
    wait_for_tip(&nodes, &long_side);

    let events = devnet.ok(&["events"]);
    for node in ["node-0", "node-1"] {
        assert!(
            events
                .lines()
                .any(|line| line.contains(&format!("{node} ")) && line.contains("REORG depth 1")),
            "no reorg line for {node}:\n{events}"
        );
    }
    assert!(
        !events
            .lines()
            .any(|line| line.contains("node-2 ") && line.contains("REORG")),
        "{events}"
    );
    assert!(events.contains("partitioned from"), "{events}");
    assert!(events.contains("healed: deny-list cleared"), "{events}");

    devnet.ok(&["down"]);
}

#[test]
fn a_crashed_node_is_left_out_with_a_note() {
    let devnet = Devnet::new();
    devnet.ok(&up_args("2", "24640"));
    let state = devnet.state();
    let tip = generate(&state.nodes[0], 1);
    wait_for_tip(&[&state.nodes[0], &state.nodes[1]], &tip);
    crash(&state.nodes[1]);

    let tree = devnet.run(&["tree"]);
    assert!(tree.status.success());
    let drawn = String::from_utf8_lossy(&tree.stdout);
    assert!(
        drawn.contains("[node-0]") && !drawn.contains("node-1"),
        "{drawn}"
    );
    let notes = String::from_utf8_lossy(&tree.stderr);
    assert!(notes.contains("node-1 is not running"), "{notes}");

    let events = devnet.run(&["events"]);
    assert!(events.status.success());
    let told = String::from_utf8_lossy(&events.stdout);
    assert!(told.contains("node-0  mined h=1"), "{told}");
    let notes = String::from_utf8_lossy(&events.stderr);
    assert!(notes.contains("node-1 is not running"), "{notes}");

    devnet.ok(&["down"]);
}

#[test]
fn observing_a_missing_devnet_is_refused() {
    let devnet = Devnet::new();
    for command in [&["tree"][..], &["events"], &["heal"]] {
        let error = devnet.refused(command);
        assert!(error.contains("no devnet is up"), "{command:?}: {error}");
    }
}
