//! Tip changes: a plain extension removes confirmed and conflicting transactions; a reorg returns
//! the disconnected ones and drops and reports what the new branch invalidated.

use crate::support::*;
use nakachain::chain::{TipChanged, UtxoSet};
use nakachain::consensus::{Coin, RuleError};
use nakachain::mempool::{Mempool, MempoolError};
use nakachain::params::Params;
use nakachain::types::{Amount, Hash256, TxOut};

#[test]
fn an_extension_removes_confirmed_and_conflicting_transactions() {
    let mut view = funded(&[1, 2, 3]);
    let mut pool = Mempool::new(10_000, 1);
    let confirmed = pay(coin(1), COIN_VALUE, 500);
    let confirmed_child = pay(out(&confirmed, 0), COIN_VALUE - 500, 500);
    let loser = pay(coin(2), COIN_VALUE, 500);
    let loser_child = pay(out(&loser, 0), COIN_VALUE - 500, 500);
    let bystander = pay(coin(3), COIN_VALUE, 500);
    for tx in [
        &confirmed,
        &confirmed_child,
        &loser,
        &loser_child,
        &bystander,
    ] {
        accept(&mut pool, tx, &view).unwrap();
    }

    let winner = spend(&[coin(2)], &[(COIN_VALUE - 100, 4)]);
    let tip = block(Hash256([7; 32]), NEXT, 0, &[&confirmed, &winner]);
    connect_block(&mut view, &tip, NEXT);
    let change = TipChanged {
        old_tip: Hash256([7; 32]),
        new_tip: tip.hash(),
        fork_point: Hash256([7; 32]),
        disconnected: Vec::new(),
        connected: vec![tip.clone()],
    };
    let update = pool.apply_tip_change(&change, &view, NEXT + 1, &Params::regtest());

    assert_eq!(update.confirmed, vec![confirmed.txid()]);
    assert!(update.returned.is_empty());
    assert_eq!(
        update.dropped,
        vec![
            (
                loser.txid(),
                MempoolError::ConflictsWithBlock(winner.txid())
            ),
            (
                loser_child.txid(),
                MempoolError::ConflictsWithBlock(winner.txid())
            ),
        ]
    );
    assert_eq!(update.dropped[0].1.code(), "txn-block-conflict");
    assert_eq!(txids(&pool), vec![confirmed_child.txid(), bystander.txid()]);
    assert_eq!(pool.total_bytes(), 2 * SMALL_TX_BYTES);
    assert_eq!(pool.spender_of(&coin(2)), None);
    assert_eq!(pool.spender_of(&coin(1)), None);
    assert_eq!(
        pool.spender_of(&out(&confirmed, 0)),
        Some(confirmed_child.txid())
    );
    // What is left still makes a valid template: the child's input is now in the chain.
    assert_eq!(pool.select_for_block(usize::MAX).len(), 2);
}

#[test]
fn a_reorg_returns_disconnected_transactions_and_drops_conflicts() {
    let base = funded(&[1, 2, 3, 4]);
    let fork_point = Hash256([7; 32]);
    let (h1, h2) = (NEXT, NEXT + 1);

    // Old branch: one block confirming t1, t2, t3; the pool builds on t1 and t2.
    let t1 = pay(coin(1), COIN_VALUE, 500);
    let t2 = pay(coin(2), COIN_VALUE, 500);
    let t3 = pay(coin(3), COIN_VALUE, 500);
    let old_block = block(fork_point, h1, 1, &[&t1, &t2, &t3]);
    let mut old_view = base.clone();
    connect_block(&mut old_view, &old_block, h1);

    let mut pool = Mempool::new(10_000, 1);
    let on_t1 = pay(out(&t1, 0), COIN_VALUE - 500, 500);
    let on_t2 = pay(out(&t2, 0), COIN_VALUE - 500, 500);
    let independent = pay(coin(4), COIN_VALUE, 500);
    for tx in [&on_t1, &on_t2, &independent] {
        pool.accept(tx.clone(), &old_view, h1 + 1, &Params::regtest())
            .unwrap();
    }

    // New branch: t3 again, a rival spend of t2's coin, then a block confirming `independent`.
    let rival = spend(&[coin(2)], &[(COIN_VALUE - 100, 5)]);
    let new_first = block(fork_point, h1, 2, &[&t3, &rival]);
    let new_second = block(new_first.hash(), h2, 2, &[&independent]);
    let mut new_view = base.clone();
    connect_block(&mut new_view, &new_first, h1);
    connect_block(&mut new_view, &new_second, h2);

    let change = TipChanged {
        old_tip: old_block.hash(),
        new_tip: new_second.hash(),
        fork_point,
        disconnected: vec![old_block.clone()],
        connected: vec![new_first.clone(), new_second.clone()],
    };
    let update = pool.apply_tip_change(&change, &new_view, h2 + 1, &Params::regtest());

    assert_eq!(update.returned, vec![t1.txid()]);
    assert_eq!(update.confirmed, vec![independent.txid()]);
    assert_eq!(
        update.dropped,
        vec![
            (t2.txid(), MempoolError::ConflictsWithBlock(rival.txid())),
            (on_t2.txid(), MempoolError::ConflictsWithBlock(rival.txid())),
        ]
    );
    assert_eq!(txids(&pool), vec![t1.txid(), on_t1.txid()]);
    assert!(!pool.contains(&t3.txid()), "t3 is in the new branch");
    let old_coinbase = old_block.transactions[0].txid();
    assert!(!pool.contains(&old_coinbase));
    assert!(update.dropped.iter().all(|(txid, _)| *txid != old_coinbase));
    assert_eq!(pool.spender_of(&coin(1)), Some(t1.txid()));
    assert_eq!(pool.spender_of(&coin(2)), None);
    assert_eq!(pool.total_bytes(), 2 * SMALL_TX_BYTES);
}

#[test]
fn a_reorg_reports_other_refusals_of_returned_transactions() {
    // The old branch spent a coinbase that the new, shorter-height view makes premature.
    let mut base = UtxoSet::default();
    base.insert(
        coin(1),
        Coin {
            output: TxOut {
                amount: Amount(COIN_VALUE),
                address: address(1),
            },
            height: NEXT - 100,
            is_coinbase: true,
        },
    );
    let fork_point = Hash256([7; 32]);
    let spender = pay(coin(1), COIN_VALUE, 500);
    let old_block = block(fork_point, NEXT, 1, &[&spender]);

    let mut pool = Mempool::new(10_000, 1);
    let change = TipChanged {
        old_tip: old_block.hash(),
        new_tip: fork_point,
        fork_point,
        disconnected: vec![old_block],
        connected: Vec::new(),
    };
    // The tip is the fork point again: the next block is at NEXT, where the coin is mature,
    // so the spend returns; one height lower it is premature and reported.
    let update = pool
        .clone()
        .apply_tip_change(&change, &base, NEXT, &Params::regtest());
    assert_eq!(update.returned, vec![spender.txid()]);
    let update = pool.apply_tip_change(&change, &base, NEXT - 1, &Params::regtest());
    assert!(update.returned.is_empty());
    assert_eq!(
        update.dropped,
        vec![(
            spender.txid(),
            MempoolError::Rule(RuleError::PrematureCoinbaseSpend)
        )]
    );
    assert!(pool.is_empty());
}
