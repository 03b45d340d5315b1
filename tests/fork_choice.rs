//! Fork choice against a naive model over random block trees.
//!
//! Random parents make random trees, a random arrival order makes orphans, and some blocks pay
//! their coinbase one unit too much so they fail when connected. The model: the tip is the
//! block with the most chainwork among blocks in the tree whose whole ancestry is valid, the
//! earliest inserted into the tree winning a tie. Every regtest block has the same work, so
//! chainwork is height.

use nakachain::chain::Chain;
use nakachain::consensus::UtxoView;
use nakachain::miner::{assemble_block, solve_block, BlockSpec};
use nakachain::params::Params;
use nakachain::types::{Address, Amount, Block, Hash256, OutPoint};
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

const MAX_BLOCKS: usize = 30;

/// Block `i` of a generated tree; block ids are 1-based, 0 is genesis.
struct TreeBlock {
    block: Block,
    parent: usize,
    height: u32,
    /// Fails when connected (the coinbase overpays).
    bad: bool,
}

/// Builds blocks 1..=n: block `i`'s parent is one of the blocks before it.
fn build_tree(params: &Params, parents: &[Index], bad: &[bool]) -> Vec<TreeBlock> {
    let mut blocks = vec![TreeBlock {
        block: params.genesis.clone(),
        parent: 0,
        height: 0,
        bad: false,
    }];
    for (i, (parent_pick, is_bad)) in parents.iter().zip(bad).enumerate() {
        let parent = parent_pick.index(i + 1);
        let height = blocks[parent].height + 1;
        let subsidy = params.subsidy(height);
        let spec = BlockSpec {
            prev_hash: blocks[parent].block.hash(),
            height,
            bits: params.pow_limit_bits,
            time: blocks[parent].block.header.time + 60,
            payout: Address([7; 20]),
            coinbase_value: Amount(subsidy.0 + u64::from(*is_bad)),
            extra_nonce: i as u64,
        };
        let mut block = assemble_block(&spec, Vec::new());
        assert!(solve_block(&mut block, &AtomicBool::new(false)));
        blocks.push(TreeBlock {
            block,
            parent,
            height,
            bad: *is_bad,
        });
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

/// The model's tip: most height among valid inserted blocks, earliest inserted on a tie.
fn model_tip(blocks: &[TreeBlock], inserted: &[usize], excluded: Option<usize>) -> usize {
    let mut best = 0;
    for &id in inserted {
        if valid_chain(blocks, excluded, id) && blocks[id].height > blocks[best].height {
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

fn tree_strategy() -> impl Strategy<Value = (Vec<Index>, Vec<bool>, Vec<usize>, Index)> {
    (1..=MAX_BLOCKS).prop_flat_map(|n| {
        (
            prop::collection::vec(any::<Index>(), n),
            prop::collection::vec(prop::bool::weighted(0.15), n),
            Just((1..=n).collect::<Vec<usize>>()).prop_shuffle(),
            any::<Index>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn tip_is_the_first_seen_most_work_valid_block(
        (parents, bad, order, invalidate_pick) in tree_strategy()
    ) {
        let params = Params::regtest();
        let now = u64::from(params.genesis.header.time) + 1_000_000;
        let blocks = build_tree(&params, &parents, &bad);
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
