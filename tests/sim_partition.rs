//! Simulation: four nodes split {A,B} | {C,D}, both sides mine, the network heals, and every
//! node converges on the most-work tip. A payment confirmed only on the losing side is back in
//! its mempool; a double spend made on both sides resolves to the winner's version. Each node
//! tells the story in its event log: the minority's nodes one reorg of depth 1 from the fork
//! point, the payment returned and the double spend dropped for its conflict; the majority's
//! none. Randomised over seeds with latency and loss; a failing run prints its seed.

use nakachain::events::{Event, EventKind};
use nakachain::sim::{Sim, SimConfig};
use nakachain::types::{Amount, Hash256, Txid};

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
    let fork_point = sim.node(A).host.chain.tip().hash;

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
    let minority_tip = sim.mine(C);
    settle_pair(&mut sim, C, D);
    for _ in 0..3 {
        sim.mine(A);
        settle_pair(&mut sim, A, B);
    }
    assert!(confirmed(&sim, D, &minority_spend), "seed {seed}");
    assert!(confirmed(&sim, D, &minority_only), "seed {seed}");
    assert!(confirmed(&sim, B, &majority_spend), "seed {seed}");
    assert!(!sim.converged(), "seed {seed}: the halves diverged");
    let split = Split {
        fork_height: height_before,
        fork_point,
        minority_tip,
        double_spend: minority_spend,
        minority_only,
        seq_before_heal: [A, B, C, D].map(|node| sim.node(node).host.events.last_seq()),
    };

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
    check_reorg_stories(&sim, &split);
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

/// What the split left behind, for checking the stories the nodes tell after the heal.
struct Split {
    fork_height: u32,
    fork_point: Hash256,
    minority_tip: Hash256,
    /// In the minority's block, and paying the same coin as a transaction in the majority's.
    double_spend: Txid,
    /// In the minority's block only.
    minority_only: Txid,
    /// Each node's last event sequence number before the heal.
    seq_before_heal: [u64; 4],
}

/// Node `node`'s events since the heal.
fn after_heal<'a>(sim: &'a Sim, split: &Split, node: usize) -> Vec<&'a Event> {
    let since = split.seq_before_heal[node];
    sim.events(node)
        .into_iter()
        .filter(|event| event.seq > since)
        .collect()
}

fn reorgs<'a>(events: &[&'a Event]) -> Vec<&'a EventKind> {
    events
        .iter()
        .map(|event| &event.kind)
        .filter(|kind| matches!(kind, EventKind::Reorg { .. }))
        .collect()
}

/// The majority's nodes tell no reorg; each of the minority's tells one, of depth 1 from the
/// fork point to the winning chain, with its own payment returned and the double spend dropped.
fn check_reorg_stories(sim: &Sim, split: &Split) {
    let seed = sim.seed;
    let final_chain = &sim.node(A).host.chain;
    for node in [A, B] {
        let events = after_heal(sim, split, node);
        assert!(
            reorgs(&events).is_empty(),
            "seed {seed}: the majority's node {node} did not reorg: {events:?}"
        );
    }
    for node in [C, D] {
        let events = after_heal(sim, split, node);
        let told = reorgs(&events);
        let [EventKind::Reorg {
            old_tip,
            new_tip,
            fork_point,
            fork_height,
            depth,
            blocks_out,
            blocks_in,
            txs_returned,
            txs_dropped,
        }] = told.as_slice()
        else {
            panic!("seed {seed}: node {node} tells one reorg, not {told:?}");
        };
        let what = format!("seed {seed}, node {node}");
        assert_eq!(*depth, 1, "{what}: the minority's one block");
        assert_eq!(*fork_height, split.fork_height, "{what}");
        assert_eq!(*fork_point, split.fork_point, "{what}");
        assert_eq!(*old_tip, split.minority_tip, "{what}");
        assert_eq!(blocks_out, &vec![split.minority_tip], "{what}");
        // The majority's branch wins once it has more work: with two or three of its blocks.
        assert!((2..=3).contains(&blocks_in.len()), "{what}: {blocks_in:?}");
        assert_eq!(blocks_in.last(), Some(new_tip), "{what}");
        for (offset, hash) in blocks_in.iter().enumerate() {
            let height = split.fork_height + 1 + offset as u32;
            assert_eq!(
                final_chain.active_hash_at(height),
                Some(*hash),
                "{what}: block in at {height} is on the winning chain"
            );
        }
        assert!(
            txs_returned.contains(&split.minority_only),
            "{what}: the minority's own payment is returned: {txs_returned:?}"
        );
        assert!(
            !txs_returned.contains(&split.double_spend),
            "{what}: the double spend is not returned"
        );
        let dropped: Vec<(Txid, &str)> = txs_dropped
            .iter()
            .map(|drop| (drop.txid, drop.reason.split(':').next().unwrap_or("")))
            .collect();
        assert!(
            dropped.contains(&(split.double_spend, "txn-block-conflict")),
            "{what}: the double spend is dropped for its conflict: {dropped:?}"
        );
        // The blocks are told one by one too: the minority's block out, at the fork height + 1.
        let disconnected: Vec<(Hash256, u32)> = events
            .iter()
            .filter_map(|event| match event.kind {
                EventKind::BlockDisconnected { hash, height } => Some((hash, height)),
                _ => None,
            })
            .collect();
        assert_eq!(
            disconnected,
            vec![(split.minority_tip, split.fork_height + 1)],
            "{what}"
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
            // A lost message may hold a block back from a node for a while: let the others
            // agree before the next block, so no fork of equal work is left for the heal.
            for other in [A, B, C, 4] {
                settle_pair(&mut sim, miner, other);
            }
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

/// Fork choice by work, not height, across a real partition: under a fast ASERT (4 s spacing,
/// 4 s half-life) A's side mines four blocks a second apart, each harder than the last, then C's
/// side six blocks eight seconds apart, none harder than the fork point. After the heal every
/// node follows A's shorter chain: it holds more work.
#[test]
fn a_shorter_branch_of_harder_blocks_wins_the_heal() {
    let params = nakachain::params::Params {
        target_spacing_secs: 4,
        asert_half_life_secs: Some(4),
        coinbase_maturity: 1,
        ..nakachain::params::Params::regtest()
    };
    for seed in 200..208 {
        let config = SimConfig {
            nodes: 4,
            seed,
            latency_ms: (2, 40),
            loss: 0.0,
        };
        let mut sim = Sim::with_params(&config, params.clone());
        sim.run_for(5_000);
        sim.mine(A);
        settle(&mut sim, "before the split");
        sim.partition(&[&[A, B], &[C, D]]);
        for _ in 0..4 {
            sim.run_for(1_000);
            sim.mine(A);
        }
        settle_pair(&mut sim, A, B);
        for _ in 0..6 {
            sim.run_for(8_000);
            sim.mine(C);
        }
        settle_pair(&mut sim, C, D);
        let harder = sim.node(A).host.chain.tip().clone();
        let longer = sim.node(C).host.chain.tip().clone();
        assert!(harder.height < longer.height, "seed {seed}");
        assert!(harder.chainwork > longer.chainwork, "seed {seed}");

        sim.heal();
        settle(&mut sim, "after the heal");
        for node in [A, B, C, D] {
            assert_eq!(
                sim.node(node).host.chain.tip().hash,
                harder.hash,
                "seed {seed}: node {node} follows the most work, not the most blocks"
            );
        }
    }
}

/// What a run left that the order of events decides: each node's tip when the cut healed and
/// at the end, each node's story, and when each node had each block.
type Outcome = (Vec<Hash256>, Vec<Hash256>, Vec<u64>, Vec<Vec<(u32, u64)>>);

/// How a run advances: in windows with some threads, or item by item in the order of all items
/// (what the windows must reproduce).
#[derive(Clone, Copy)]
enum Advance {
    Windows { threads: usize },
    ItemByItem,
}

fn cut_and_heal(advance: Advance) -> Outcome {
    use nakachain::protocol::Timers;
    use nakachain::sim::topology::{Bandwidth, Latency};
    use nakachain::sim::{sim_params, SimSetup, Wiring};
    let nodes = 16;
    let mut sim = Sim::build(&SimSetup {
        nodes,
        seed: 21,
        params: sim_params(),
        latency: Latency::Uniform(5, 60),
        bandwidth: Bandwidth::Uniform(20_000_000),
        loss: 0.0,
        wiring: Wiring::Random {
            outbound: 3,
            max_inbound: 115,
        },
        timers: Timers::default(),
        event_logs: true,
        block_bytes: Some(50_000),
        pool: None,
        threads: match advance {
            Advance::Windows { threads } => threads,
            Advance::ItemByItem => 1,
        },
    });
    let run_for = |sim: &mut Sim, ms: u64| match advance {
        Advance::Windows { .. } => sim.run_for(ms),
        Advance::ItemByItem => {
            sim.run_until(ms, |_| false);
        }
    };
    run_for(&mut sim, 10_000);
    for miner in [0, 5, 9] {
        sim.mine(miner);
        run_for(&mut sim, 2_000);
    }
    let tip = |sim: &Sim| -> Vec<Hash256> {
        (0..nodes)
            .map(|node| sim.node(node).host.chain.tip().hash)
            .collect()
    };
    let (west, east): (Vec<usize>, Vec<usize>) = (0..nodes).partition(|node| *node < nodes / 2);
    // Cut: connections across close (and redials fill up on each side), both sides mine on.
    sim.partition(&[&west, &east]);
    for miner in [1, 12, 2, 13, 14] {
        sim.mine(miner);
        run_for(&mut sim, 3_000);
    }
    let at_heal = tip(&sim);
    sim.heal();
    sim.mine(3);
    run_for(&mut sim, 60_000);
    let stories = (0..nodes)
        .map(|node| sim.node(node).host.events.last_seq())
        .collect();
    let arrivals = sim
        .records()
        .blocks()
        .iter()
        .map(|block| block.arrivals.clone())
        .collect();
    (at_heal, tip(&sim), stories, arrivals)
}

#[test]
fn a_cut_and_heal_plays_out_the_same_in_windows_of_one_thread_or_two_as_item_by_item() {
    let truth = cut_and_heal(Advance::ItemByItem);
    let (west, east) = (truth.0[0], truth.0[15]);
    assert_ne!(west, east, "each side had its own tip at the heal");
    assert!(truth.0[..8].iter().all(|tip| *tip == west));
    assert!(truth.0[8..].iter().all(|tip| *tip == east));
    for threads in [1, 2] {
        assert_eq!(
            cut_and_heal(Advance::Windows { threads }),
            truth,
            "{threads} thread(s)"
        );
    }
}
