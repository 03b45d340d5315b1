//! Simulation: the reorg story each node tells. Four nodes split {A,B} | {C,D}; the minority
//! mines one block holding a double spend and a payment of its own, the majority three; after
//! the heal the minority's nodes each record one reorg of depth 1 from the fork point, the
//! payment returned to the mempool and the double spend dropped for its conflict, while the
//! majority records none. Over many seeds with latency and loss; a failing run prints its seed.

use nakachain::events::{Event, EventKind};
use nakachain::sim::{Sim, SimConfig};
use nakachain::types::{Amount, Hash256, Txid};

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const D: usize = 3;
/// Simulated time allowed for any phase to settle.
const SETTLE_MS: u64 = 120_000;

fn settle(sim: &mut Sim, until: impl FnMut(&Sim) -> bool, what: &str) {
    let seed = sim.seed;
    assert!(sim.run_until(SETTLE_MS, until), "seed {seed}: {what}");
}

fn same_tip(a: usize, b: usize) -> impl Fn(&Sim) -> bool {
    move |sim| sim.node(a).host.chain.tip().hash == sim.node(b).host.chain.tip().hash
}

/// What the split left behind, for checking the stories told after the heal.
struct Split {
    fork_height: u32,
    fork_point: Hash256,
    minority_tip: Hash256,
    /// In the minority's block and the majority's first, paying the same coin.
    double_spend: Txid,
    /// In the minority's block only.
    minority_only: Txid,
    /// Each node's last event sequence number before the heal.
    seq_before_heal: [u64; 4],
}

fn split_and_mine(sim: &mut Sim) -> Split {
    sim.run_for(5_000);
    for miner in [A, A, C, C] {
        sim.mine(miner);
        settle(sim, |sim| sim.converged(), "converged before the split");
    }
    let fork_height = sim.node(A).host.chain.height();
    let fork_point = sim.node(A).host.chain.tip().hash;

    sim.partition(&[&[A, B], &[C, D]]);
    let to_d = sim
        .build_payment(C, sim.payout(D), Amount::from_coins(10))
        .expect("C pays D");
    let to_b = sim
        .build_payment(C, sim.payout(B), Amount::from_coins(11))
        .expect("C pays B");
    let double_spend = sim.submit_transaction(C, to_d);
    sim.submit_transaction(A, to_b);
    let minority_only = sim
        .pay(C, sim.payout(C), Amount::from_coins(3))
        .expect("C pays itself");
    let minority_tip = sim.mine(C);
    settle(sim, same_tip(C, D), "the minority agreed");
    for _ in 0..3 {
        sim.mine(A);
        settle(sim, same_tip(A, B), "the majority agreed");
    }
    let seq_before_heal = [A, B, C, D].map(|node| sim.node(node).host.events.last_seq());
    Split {
        fork_height,
        fork_point,
        minority_tip,
        double_spend,
        minority_only,
        seq_before_heal,
    }
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

fn check_stories(seed: u64, latency_ms: (u64, u64), loss: f64) {
    let mut sim = Sim::new(&SimConfig {
        nodes: 4,
        seed,
        latency_ms,
        loss,
    });
    let split = split_and_mine(&mut sim);
    sim.heal();
    settle(&mut sim, |sim| sim.converged(), "converged after the heal");
    let final_chain = &sim.node(A).host.chain;

    for node in [A, B] {
        let events = after_heal(&sim, &split, node);
        assert!(
            reorgs(&events).is_empty(),
            "seed {seed}: the majority's node {node} did not reorg: {events:?}"
        );
    }
    for node in [C, D] {
        let events = after_heal(&sim, &split, node);
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
        // The reorg's blocks are told one by one before the story: the minority's block out,
        // then the winners' in.
        let disconnected: Vec<Hash256> = events
            .iter()
            .filter_map(|event| match event.kind {
                EventKind::BlockDisconnected { hash, height } => {
                    assert_eq!(height, split.fork_height + 1, "{what}");
                    Some(hash)
                }
                _ => None,
            })
            .collect();
        assert_eq!(disconnected, vec![split.minority_tip], "{what}");
    }
}

#[test]
fn the_minority_tells_its_reorg_and_the_majority_none() {
    check_stories(7, (5, 5), 0.0);
}

#[test]
fn reorg_stories_hold_over_many_seeds_with_latency_and_loss() {
    for seed in 0..48 {
        check_stories(seed, (2, 80), 0.03);
    }
}
