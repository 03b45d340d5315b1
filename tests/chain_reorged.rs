//! The chain remembers which blocks a reorg or an invalidation took off the active chain, and
//! forgets it when they are connected again; `entries_from_height` lists every branch.

use nakachain::chain::Chain;
use nakachain::miner::{assemble_block, solve_block, BlockSpec};
use nakachain::params::Params;
use nakachain::types::{Address, Hash256};
use std::sync::atomic::AtomicBool;

/// Mines a block on `parent` (any block of the tree) and hands it to the chain.
fn mine_on(chain: &mut Chain, parent: Hash256, extra_nonce: u64) -> Hash256 {
    let parent_entry = chain.entry(&parent).expect("parent in the tree").clone();
    let height = parent_entry.height + 1;
    let spec = BlockSpec {
        prev_hash: parent,
        height,
        bits: chain.params().pow_limit_bits,
        time: parent_entry.header.time + 1,
        payout: Address([9; 20]),
        coinbase_value: chain.params().subsidy(height),
        extra_nonce,
    };
    let mut block = assemble_block(&spec, Vec::new());
    assert!(solve_block(&mut block, &AtomicBool::new(false)));
    let hash = block.hash();
    let now = u64::from(chain.params().genesis.header.time) + 1_000_000;
    chain.process_block(block, now).expect("block accepted");
    hash
}

fn mine_chain(chain: &mut Chain, mut parent: Hash256, length: u32, salt: u64) -> Vec<Hash256> {
    (0..length)
        .map(|i| {
            parent = mine_on(chain, parent, salt + u64::from(i));
            parent
        })
        .collect()
}

fn reorged(chain: &Chain, hashes: &[Hash256]) -> Vec<bool> {
    hashes
        .iter()
        .map(|hash| chain.entry(hash).expect("known").reorged)
        .collect()
}

#[test]
fn invalidation_and_reorgs_mark_what_left_the_active_chain() {
    let mut chain = Chain::new(Params::regtest());
    let genesis = chain.tip().hash;
    let first = mine_chain(&mut chain, genesis, 3, 0);
    assert_eq!(reorged(&chain, &first), [false; 3]);

    chain.invalidate_block(&first[1]).expect("invalidate");
    assert_eq!(reorged(&chain, &first), [false, true, true]);

    let second = mine_chain(&mut chain, first[0], 3, 100);
    assert_eq!(chain.tip().hash, second[2]);
    assert_eq!(reorged(&chain, &first), [false, true, true]);
    assert_eq!(reorged(&chain, &second), [false; 3]);

    // Reconsidering brings the old branch back as a candidate, but it has less work: nothing
    // moves and the marks stay.
    chain.reconsider_block(&first[1]).expect("reconsider");
    assert_eq!(chain.tip().hash, second[2]);
    assert_eq!(reorged(&chain, &first), [false, true, true]);

    // Outgrowing the new branch reconnects the old blocks and marks the new ones.
    let longer = mine_chain(&mut chain, first[2], 2, 200);
    assert_eq!(chain.tip().hash, longer[1]);
    assert_eq!(reorged(&chain, &first), [false; 3]);
    assert_eq!(reorged(&chain, &second), [true; 3]);
    assert_eq!(reorged(&chain, &longer), [false; 2]);
}

#[test]
fn a_side_branch_that_was_never_active_is_not_reorged() {
    let mut chain = Chain::new(Params::regtest());
    let genesis = chain.tip().hash;
    let main = mine_chain(&mut chain, genesis, 3, 0);
    let side = mine_chain(&mut chain, main[0], 1, 100);
    assert_eq!(chain.tip().hash, main[2]);
    assert_eq!(reorged(&chain, &side), [false]);
}

#[test]
fn entries_from_height_lists_every_branch_at_or_above_it() {
    let mut chain = Chain::new(Params::regtest());
    let genesis = chain.tip().hash;
    let main = mine_chain(&mut chain, genesis, 4, 0);
    let side = mine_chain(&mut chain, main[0], 2, 100);
    chain.invalidate_block(&side[1]).expect("invalidate");

    let mut listed: Vec<Hash256> = chain.entries_from_height(2).map(|e| e.hash).collect();
    listed.sort();
    let mut expected = vec![main[1], main[2], main[3], side[0], side[1]];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(chain.entries_from_height(0).count(), chain.block_count());
    assert_eq!(chain.entries_from_height(5).count(), 0);
}
