//! Simulation: four nodes split {A,B} | {C,D}, both sides mine, the network heals, and every
//! node converges on the most-work tip. A payment confirmed only on the losing side is back in
//! its mempool; a double spend made on both sides resolves to the winner's version. Randomised
//! over seeds with latency and loss; a failing run prints its seed.

use nakachain::sim::{Sim, SimConfig};
use nakachain::types::{Amount, Txid};

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const D: usize = 3;
/// Simulated time allowed for any phase to settle.
const SETTLE_MS: u64 = 120_000;

fn settle(sim: &mut Sim, what: &str) {
    let seed = sim.seed;
    assert!(
        sim.run_until(SETTLE_MS, |sim| sim.converged()),
        "seed {seed}: nodes did not converge ({what})"
    );
}

/// Runs until `a` and `b` share a tip (within one side of a partition).
fn settle_pair(sim: &mut Sim, a: usize, b: usize) {
    let seed = sim.seed;
    let same = |sim: &Sim| sim.node(a).host.chain.tip().hash == sim.node(b).host.chain.tip().hash;
    assert!(
        sim.run_until(SETTLE_MS, same),
        "seed {seed}: nodes {a} and {b} did not agree"
    );
}

fn in_mempool(sim: &Sim, node: usize, txid: &Txid) -> bool {
    sim.node(node).host.mempool.contains(txid)
}

fn confirmed(sim: &Sim, node: usize, txid: &Txid) -> bool {
    let chain = &sim.node(node).host.chain;
    (1..=chain.height()).any(|height| {
        chain
            .active_hash_at(height)
            .and_then(|hash| chain.block(&hash))
            .is_some_and(|block| block.transactions.iter().any(|tx| tx.txid() == *txid))
    })
}

fn partition_and_heal(seed: u64, latency_ms: (u64, u64), loss: f64) {
    let mut sim = Sim::new(&SimConfig {
        nodes: 4,
        seed,
        latency_ms,
        loss,
    });
    // Everyone connects and agrees on coins for A and C.
    sim.run_for(5_000);
    for miner in [A, A, C, C] {
        sim.mine(miner);
        settle(&mut sim, "before the split");
    }
    let height_before = sim.node(A).host.chain.height();

    sim.partition(&[&[A, B], &[C, D]]);
    // The double spend: one of C's coins paid to D on C's side, and to B on A's side.
    let to_d = sim
        .build_payment(C, sim.payout(D), Amount::from_coins(10))
        .expect("C pays D");
    let to_b = sim
        .build_payment(C, sim.payout(B), Amount::from_coins(11))
        .expect("C pays B");
    assert_eq!(
        to_d.inputs[0].prevout, to_b.inputs[0].prevout,
        "the same coin"
    );
    let minority_spend = sim.submit_transaction(C, to_d);
    let majority_spend = sim.submit_transaction(A, to_b);
    // A payment only the minority side ever sees, from C's other coin.
    let minority_only = sim
        .pay(C, sim.payout(C), Amount::from_coins(3))
        .expect("C pays itself");
    sim.mine(C);
    settle_pair(&mut sim, C, D);
    for _ in 0..3 {
        sim.mine(A);
        settle_pair(&mut sim, A, B);
    }
    assert!(confirmed(&sim, D, &minority_spend), "seed {seed}");
    assert!(confirmed(&sim, D, &minority_only), "seed {seed}");
    assert!(confirmed(&sim, B, &majority_spend), "seed {seed}");
    assert!(!sim.converged(), "seed {seed}: the halves diverged");

    sim.heal();
    settle(&mut sim, "after the heal");
    let tip = sim.node(A).host.chain.tip().hash;
    assert_eq!(
        tip,
        sim.most_work_tip(),
        "seed {seed}: converged on the most work"
    );
    assert_eq!(
        sim.node(A).host.chain.height(),
        height_before + 3,
        "seed {seed}: the majority's branch won"
    );
    for node in [A, B, C, D] {
        assert!(
            confirmed(&sim, node, &majority_spend),
            "seed {seed}: winner's spend on {node}"
        );
        assert!(
            !confirmed(&sim, node, &minority_spend),
            "seed {seed}: loser's spend on {node}"
        );
        assert!(
            !in_mempool(&sim, node, &minority_spend),
            "seed {seed}: conflict dropped on {node}"
        );
    }
    for node in [C, D] {
        assert!(
            in_mempool(&sim, node, &minority_only),
            "seed {seed}: the minority's payment is back in node {node}'s mempool"
        );
    }
    // The minority announces what its reorg put back, so the winners, which never saw the
    // payment, take it too. An announcement is not repeated, so only a lossless network
    // promises this.
    if loss == 0.0 {
        let spread = |sim: &Sim| {
            [A, B]
                .iter()
                .all(|node| in_mempool(sim, *node, &minority_only))
        };
        assert!(
            sim.run_until(SETTLE_MS, spread),
            "seed {seed}: the minority's payment reaches the majority's mempools"
        );
    }
}

#[test]
fn partition_heal_converges_on_the_most_work_tip() {
    partition_and_heal(1, (5, 5), 0.0);
}

#[test]
fn partition_heal_converges_over_many_seeds_with_latency_and_loss() {
    for seed in 0..64 {
        partition_and_heal(seed, (2, 80), 0.03);
    }
}

#[test]
fn an_isolated_node_catches_up_after_the_heal() {
    for seed in 100..116 {
        let mut sim = Sim::new(&SimConfig {
            nodes: 5,
            seed,
            latency_ms: (1, 40),
            loss: 0.02,
        });
        sim.run_for(5_000);
        sim.isolate(D);
        for _ in 0..4 {
            let miner = sim.random_node();
            let miner = if miner == D { A } else { miner };
            sim.mine(miner);
            sim.run_for(1_500);
        }
        assert_eq!(
            sim.node(D).host.chain.height(),
            0,
            "seed {seed}: D was cut off"
        );
        sim.heal();
        settle(&mut sim, "after D rejoined");
        // Two miners may have found blocks at the same height meanwhile; D follows the most work.
        assert_eq!(
            sim.node(D).host.chain.tip().hash,
            sim.most_work_tip(),
            "seed {seed}"
        );
        assert!(
            sim.node(D).host.chain.height() >= 2,
            "seed {seed}: D caught up"
        );
    }
}
