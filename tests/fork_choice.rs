//! Fork choice against a naive model over random block trees.
//!
//! Random parents make random trees, a random arrival order makes orphans, and some blocks pay
//! their coinbase one unit too much so they fail when connected. The model: the tip is the
//! block with the most chainwork among blocks in the tree whose whole ancestry is valid, the
//! earliest inserted into the tree winning a tie. Blocks come at random intervals under a fast
//! ASERT (a half-life of one spacing), so their difficulty, and so their work, differs: the
//! most-work chain is often not the longest. A shorter chain of harder blocks beats a longer one
//! in whichever order they arrive.

use nakachain::chain::Chain;
use nakachain::consensus::pow::{compact_to_target, next_bits, RetargetInput};
use nakachain::consensus::UtxoView;
use nakachain::miner::{assemble_block, solve_block, BlockSpec};
use nakachain::params::Params;
use nakachain::types::{Address, Amount, Block, Hash256, OutPoint};
use primitive_types::U256;
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

const MAX_BLOCKS: usize = 30;
/// Seconds between a block and its parent to draw from: faster than the spacing makes the next
/// block harder, slower makes it easier (down to the limit).
const BLOCK_INTERVALS_SECS: [u32; 5] = [1, 2, 4, 4, 12];

/// Regtest with a fast ASERT: a 4 s spacing and a 4 s half-life, so each block's difficulty
/// follows its parent's interval closely.
fn unequal_work_params() -> Params {
    Params {
        target_spacing_secs: 4,
        asert_half_life_secs: Some(4),
        ..Params::regtest()
    }
}

/// The work a block of `bits` proves: 2^256 / (target + 1).
fn work(bits: u32) -> U256 {
    let target = compact_to_target(bits).expect("valid bits");
    (!target / (target + U256::one())) + U256::one()
}

/// Block `i` of a generated tree; block ids are 1-based, 0 is genesis.
struct TreeBlock {
    block: Block,
    parent: usize,
    height: u32,
    /// Its own work plus all its ancestors'.
    chainwork: U256,
    /// Fails when connected (the coinbase overpays).
    bad: bool,
}

/// A block on `parent` of `blocks`, `interval_secs` after it, at the difficulty it requires.
fn child(
    params: &Params,
    blocks: &[TreeBlock],
    parent: usize,
    interval_secs: u32,
    overpay: bool,
    extra_nonce: u64,
) -> TreeBlock {
    let parent_block = &blocks[parent].block;
    let grandparent_time = (parent != 0).then(|| blocks[blocks[parent].parent].block.header.time);
    let bits = next_bits(
        params,
        RetargetInput {
            parent_bits: parent_block.header.bits,
            parent_time: parent_block.header.time,
            grandparent_time,
        },
    );
    let height = blocks[parent].height + 1;
    let subsidy = params.subsidy(height);
    let spec = BlockSpec {
        prev_hash: parent_block.hash(),
        height,
        bits,
        time: parent_block.header.time + interval_secs,
        payout: Address([7; 20]),
        coinbase_value: Amount(subsidy.0 + u64::from(overpay)),
        extra_nonce,
    };
    let mut block = assemble_block(&spec, Vec::new());
    assert!(solve_block(&mut block, &AtomicBool::new(false)));
    TreeBlock {
        block,
        parent,
        height,
        chainwork: blocks[parent].chainwork + work(bits),
        bad: overpay,
    }
}

fn genesis(params: &Params) -> TreeBlock {
    TreeBlock {
        block: params.genesis.clone(),
        parent: 0,
        height: 0,
        chainwork: work(params.genesis.header.bits),
        bad: false,
    }
}

/// Builds blocks 1..=n: block `i`'s parent is one of the blocks before it, `intervals[i]` after it.
fn build_tree(
    params: &Params,
    parents: &[Index],
    bad: &[bool],
    intervals: &[Index],
) -> Vec<TreeBlock> {
    let mut blocks = vec![genesis(params)];
    for (i, ((parent_pick, is_bad), interval)) in parents.iter().zip(bad).zip(intervals).enumerate()
    {
        let parent = parent_pick.index(i + 1);
        let interval_secs = BLOCK_INTERVALS_SECS[interval.index(BLOCK_INTERVALS_SECS.len())];
        let block = child(params, &blocks, parent, interval_secs, *is_bad, i as u64);
        blocks.push(block);
    }
    blocks
}

/// Whether block `id` and all its ancestors are valid.
fn valid_chain(blocks: &[TreeBlock], excluded: Option<usize>, mut id: usize) -> bool {
    while id != 0 {
        if blocks[id].bad || Some(id) == excluded {
            return false;
        }
        id = blocks[id].parent;
    }
    true
}

/// The model's tip: most chainwork among valid inserted blocks, earliest inserted on a tie.
fn model_tip(blocks: &[TreeBlock], inserted: &[usize], excluded: Option<usize>) -> usize {
    let mut best = 0;
    for &id in inserted {
        if valid_chain(blocks, excluded, id) && blocks[id].chainwork > blocks[best].chainwork {
            best = id;
        }
    }
    best
}

fn check_active_chain(chain: &Chain, blocks: &[TreeBlock], ids: &HashMap<Hash256, usize>) {
    let tip = ids[&chain.tip().hash];
    assert_eq!(chain.height(), blocks[tip].height);
    assert_eq!(chain.active_hash_at(chain.height() + 1), None);
    let mut id = tip;
    loop {
        let hash = blocks[id].block.hash();
        assert_eq!(chain.active_hash_at(blocks[id].height), Some(hash));
        assert!(chain.is_active(&hash));
        if id == 0 {
            break;
        }
        let coinbase = OutPoint {
            txid: blocks[id].block.transactions[0].txid(),
            vout: 0,
        };
        assert!(chain.utxos().coin(&coinbase).is_some());
        id = blocks[id].parent;
    }
    // One coinbase output per active block after genesis, nothing else.
    assert_eq!(chain.utxos().len(), chain.height() as usize);
}

/// What `servable_block` gives for every generated block, whatever height it is hinted at: a
/// block of the tree not known to be invalid, with its height, and nothing else.
fn check_served(chain: &Chain, blocks: &[TreeBlock], inserted: &[usize], hints: &[u32]) {
    for (id, tree_block) in blocks.iter().enumerate() {
        let hash = tree_block.block.hash();
        let servable = (id == 0 || inserted.contains(&id))
            && chain
                .entry(&hash)
                .is_some_and(|entry| !entry.status.is_invalid());
        for hint in hints.iter().copied().chain([tree_block.height]) {
            let served = chain.servable_block(&hash, hint);
            assert_eq!(served.is_some(), servable, "block {id}, hint {hint}");
            if let Some((block, height)) = served {
                assert_eq!(*block, tree_block.block, "block {id}, hint {hint}");
                assert_eq!(height, tree_block.height, "block {id}, hint {hint}");
            }
        }
    }
}

type Tree = (Vec<Index>, Vec<bool>, Vec<Index>, Vec<usize>, Index);

fn tree_strategy() -> impl Strategy<Value = Tree> {
    (1..=MAX_BLOCKS).prop_flat_map(|n| {
        (
            prop::collection::vec(any::<Index>(), n),
            prop::collection::vec(prop::bool::weighted(0.15), n),
            prop::collection::vec(any::<Index>(), n),
            Just((1..=n).collect::<Vec<usize>>()).prop_shuffle(),
            any::<Index>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn tip_is_the_first_seen_most_work_valid_block(
        (parents, bad, intervals, order, invalidate_pick) in tree_strategy()
    ) {
        let params = unequal_work_params();
        let now = u64::from(params.genesis.header.time) + 1_000_000;
        let blocks = build_tree(&params, &parents, &bad, &intervals);
        let ids: HashMap<Hash256, usize> = blocks
            .iter()
            .enumerate()
            .map(|(id, b)| (b.block.hash(), id))
            .collect();
        let mut chain = Chain::new(params.clone());
        let mut inserted = Vec::new();
        let mut arrived = vec![true; blocks.len()];
        for &id in &order {
            arrived[id] = false;
        }

        for &id in &order {
            arrived[id] = true;
            let outcome = chain
                .process_block(blocks[id].block.clone(), now)
                .map_err(|err| err.code());
            let outcome = match outcome {
                Ok(outcome) => outcome,
                // Only a block below one already known to be invalid may be refused.
                Err(code) => {
                    prop_assert_eq!(code, "bad-prevblk");
                    prop_assert!(!valid_chain(&blocks, None, id));
                    continue;
                }
            };
            inserted.extend(outcome.accepted.iter().map(|hash| ids[hash]));
            for (hash, err) in &outcome.invalid {
                prop_assert!(blocks[ids[hash]].bad);
                prop_assert_eq!(err.code(), "bad-cb-amount");
            }
            prop_assert_eq!(
                ids[&chain.tip().hash],
                model_tip(&blocks, &inserted, None)
            );
            check_active_chain(&chain, &blocks, &ids);
            check_served(&chain, &blocks, &inserted, &[0, 1, chain.height()]);
            // Every valid block whose ancestors have all arrived is in the tree.
            for (candidate, block) in blocks.iter().enumerate() {
                let mut ancestors_arrived = true;
                let mut cursor = candidate;
                while cursor != 0 {
                    ancestors_arrived &= arrived[cursor];
                    cursor = blocks[cursor].parent;
                }
                if ancestors_arrived && valid_chain(&blocks, None, candidate) {
                    prop_assert!(chain.entry(&block.block.hash()).is_some());
                }
            }
        }
        prop_assert_eq!(chain.block_count(), inserted.len() + 1);

        // Replaying the accepted blocks in order rebuilds the same tree and tip.
        let mut replay = Chain::new(params.clone());
        for &id in &inserted {
            let outcome = replay.process_block(blocks[id].block.clone(), now);
            prop_assert_eq!(
                outcome.map(|o| o.accepted).map_err(|e| e.code()),
                Ok(vec![blocks[id].block.hash()])
            );
        }
        prop_assert_eq!(replay.tip().hash, chain.tip().hash);
        prop_assert_eq!(replay.tips(), chain.tips());

        // Invalidating an active block moves to the best chain without it; reconsidering it
        // comes back.
        let tip_before = chain.tip().hash;
        if chain.height() > 0 {
            let height = 1 + invalidate_pick.index(chain.height() as usize) as u32;
            let Some(hash) = chain.active_hash_at(height) else {
                return Err(TestCaseError::fail("active chain has a hole"));
            };
            chain.invalidate_block(&hash).map_err(|e| TestCaseError::fail(e.code()))?;
            prop_assert_eq!(
                ids[&chain.tip().hash],
                model_tip(&blocks, &inserted, Some(ids[&hash]))
            );
            check_active_chain(&chain, &blocks, &ids);
            check_served(&chain, &blocks, &inserted, &[height, height + 1]);
            chain.reconsider_block(&hash).map_err(|e| TestCaseError::fail(e.code()))?;
            prop_assert_eq!(chain.tip().hash, tip_before);
            check_active_chain(&chain, &blocks, &ids);
        }
    }
}

/// Two branches from genesis: four blocks a second apart (each harder than the last) and six at
/// the spacing (each as hard as genesis). The short one holds more work and wins, whichever
/// arrives first, and replaces the long one when it comes second.
#[test]
fn a_shorter_chain_of_harder_blocks_beats_a_longer_one() {
    let params = unequal_work_params();
    let now = u64::from(params.genesis.header.time) + 1_000_000;
    let mut blocks = vec![genesis(&params)];
    let mut tip = 0;
    for index in 0..4 {
        blocks.push(child(&params, &blocks, tip, 1, false, index));
        tip = blocks.len() - 1;
    }
    let short_tip = tip;
    tip = 0;
    for index in 0..6 {
        blocks.push(child(&params, &blocks, tip, 4, false, 100 + index));
        tip = blocks.len() - 1;
    }
    let long_tip = tip;
    assert!(blocks[short_tip].height < blocks[long_tip].height);
    assert!(blocks[short_tip].chainwork > blocks[long_tip].chainwork);

    for (first, second) in [(1..5, 5..11), (5..11, 1..5)] {
        let mut chain = Chain::new(params.clone());
        for id in first.clone().chain(second) {
            chain
                .process_block(blocks[id].block.clone(), now)
                .expect("a valid block");
        }
        assert_eq!(
            chain.tip().hash,
            blocks[short_tip].block.hash(),
            "{first:?} first"
        );
        assert_eq!(chain.height(), 4);
        assert_eq!(
            chain.entry(&chain.tip().hash).map(|entry| entry.chainwork),
            Some(blocks[short_tip].chainwork)
        );
    }
}
