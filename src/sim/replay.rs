//! What a run leaves for its replay in the web page (`nakachain web --sim DIR`): every node with
//! its region, who is connected to whom at the end, and every block with its miner, when it was
//! mined, whether it went stale, and when each node had it. Times are milliseconds of simulated
//! time since the start.
//!
//! Owns the replay's shape. Must not write files (the command does).

use super::topology::{node_of, REGIONS};
use super::Sim;
use crate::types::Hash256;
use foldhash::HashSet;
use serde_json::{json, Value};

/// The replay of a finished simulation whose final chain holds `main_chain`.
pub fn replay(sim: &Sim, main_chain: &HashSet<Hash256>, block_time_secs: f64) -> Value {
    let nodes: Vec<Value> = (0..sim.nodes().len())
        .map(|index| {
            json!({
                "name": format!("node-{index}"),
                "region": REGIONS[usize::from(sim.region(index))],
            })
        })
        .collect();
    let mut links = Vec::new();
    for (index, node) in sim.nodes().enumerate() {
        for peer in node.protocol.peers().iter().filter(|peer| !peer.inbound) {
            if let Some(other) = node_of(peer.addr, sim.nodes().len()) {
                links.push(json!([index, other]));
            }
        }
    }
    let ms = |us: u64| us / 1_000;
    let blocks: Vec<Value> = sim
        .records()
        .blocks()
        .iter()
        .map(|block| {
            let arrivals: Vec<Value> = block
                .arrivals
                .iter()
                .map(|(node, at_us)| json!([node, ms(*at_us)]))
                .collect();
            json!({
                "hash": block.hash,
                "parent": block.parent,
                "height": block.height,
                "miner": block.miner,
                "mined_ms": ms(block.mined_us),
                "stale": !main_chain.contains(&block.hash),
                "arrivals": arrivals,
            })
        })
        .collect();
    json!({
        "nodes": nodes,
        "links": links,
        "blocks": blocks,
        "block_time_secs": block_time_secs,
        "sim_ms": ms(sim.now_us()),
        "genesis": sim.params().genesis_hash(),
        "selfish_gateway": sim.pool_gateway(),
    })
}
