//! The selfish pool in the simulator: it withholds, publishes as Eyal and Sirer's strategy says,
//! and the honest nodes follow the longest chain it publishes.

use nakachain::protocol::Timers;
use nakachain::sim::topology::{Bandwidth, Latency};
use nakachain::sim::{sim_params, PoolSetup, Sim, SimSetup, Wiring};

const GATEWAY: usize = 0;

fn sim(seed: u64) -> Sim {
    sim_reaching(seed, 0, 6)
}

fn sim_reaching(seed: u64, reach: usize, nodes: usize) -> Sim {
    Sim::build(&SimSetup {
        nodes,
        seed,
        params: sim_params(),
        latency: Latency::Fixed(20),
        bandwidth: Bandwidth::Unlimited,
        loss: 0.0,
        wiring: Wiring::Random {
            outbound: 2,
            max_inbound: 115,
        },
        timers: Timers::default(),
        event_logs: true,
        block_bytes: None,
        pool: Some(PoolSetup {
            gateway: GATEWAY,
            reach,
        }),
        // Side by side, so the pool (in its gateway's shard) runs beside the other shard.
        threads: 2,
    })
}

#[test]
fn a_lead_of_two_is_published_when_the_honest_chain_catches_up_and_everyone_follows_it() {
    for seed in 0..8 {
        let mut sim = sim(seed);
        sim.run_for(5_000);
        sim.mine(1);
        sim.run_for(2_000);
        let first = sim.pool_mine().expect("a pool");
        let second = sim.pool_mine().expect("a pool");
        sim.run_for(2_000);
        assert!(
            (0..6).all(|node| sim.node(node).host.chain.entry(&second).is_none()),
            "seed {seed}: withheld"
        );
        sim.mine(3);
        sim.run_for(5_000);
        for node in 0..6 {
            let chain = &sim.node(node).host.chain;
            assert_eq!(
                chain.tip().hash,
                second,
                "seed {seed}: node {node} follows the pool"
            );
            assert_eq!(chain.active_hash_at(2), Some(first), "seed {seed}");
        }
    }
}

#[test]
fn a_gateway_told_to_reach_every_node_connects_to_every_node() {
    let nodes = 40;
    let mut sim = sim_reaching(9, nodes - 1, nodes);
    sim.run_for(10_000);
    let mut reached: Vec<_> = sim
        .node(GATEWAY)
        .protocol
        .peers()
        .iter()
        .map(|peer| peer.listen_addr)
        .collect();
    reached.sort();
    reached.dedup();
    assert_eq!(reached.len(), nodes - 1, "{reached:?}");
    let others = sim.node(1).protocol.peers().len();
    assert!(others < nodes - 1, "the others keep a few peers: {others}");
}
