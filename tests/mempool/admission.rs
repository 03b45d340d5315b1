//! Admission: every refusal code, chained spends, first-seen conflicts, eviction under a byte
//! bound, and block selection.

use crate::support::*;
use nakachain::consensus::RuleError;
use nakachain::mempool::{Mempool, MempoolError};
use nakachain::miner::coinbase_transaction;
use nakachain::params::Params;
use nakachain::types::{Amount, Txid};

#[test]
fn accepts_a_valid_spend() {
    let view = funded(&[1]);
    let mut pool = Mempool::new(10_000, 1);
    let tx = pay(coin(1), COIN_VALUE, 500);
    let accepted = pool
        .accept(tx.clone(), &view, NEXT, &Params::regtest())
        .unwrap();

    assert_eq!(accepted.txid, tx.txid());
    assert_eq!(accepted.fee, Amount(500));
    assert!(accepted.evicted.is_empty());
    assert!(pool.contains(&tx.txid()));
    let entry = pool.get(&tx.txid()).unwrap();
    assert_eq!(entry.tx, tx);
    assert_eq!(entry.fee, Amount(500));
    assert_eq!(entry.size, SMALL_TX_BYTES);
    assert_eq!(tx.encoded_len(), SMALL_TX_BYTES);
    assert_eq!(pool.len(), 1);
    assert_eq!(pool.total_bytes(), SMALL_TX_BYTES);
    assert_eq!(pool.total_fees(), Amount(500));
    assert_eq!(pool.spender_of(&coin(1)), Some(tx.txid()));
    assert_eq!(
        pool.unspent_outputs().collect::<Vec<_>>(),
        vec![(out(&tx, 0), tx.outputs[0])]
    );
}

#[test]
fn refuses_a_coinbase() {
    let mut pool = Mempool::new(10_000, 0);
    let coinbase = coinbase_transaction(5, 0, address(1), Amount(50));
    let error = accept(&mut pool, &coinbase, &funded(&[])).unwrap_err();
    assert_eq!(error, MempoolError::Coinbase);
    assert_eq!(error.code(), "coinbase");
}

#[test]
fn refuses_a_duplicate() {
    let view = funded(&[1]);
    let mut pool = Mempool::new(10_000, 0);
    let tx = pay(coin(1), COIN_VALUE, 500);
    accept(&mut pool, &tx, &view).unwrap();
    let error = accept(&mut pool, &tx, &view).unwrap_err();
    assert_eq!(error, MempoolError::AlreadyInPool);
    assert_eq!(error.code(), "txn-already-in-mempool");
    assert_eq!(pool.len(), 1);
}

#[test]
fn refuses_a_confirmed_transaction() {
    let mut view = funded(&[1]);
    let tx = pay(coin(1), COIN_VALUE, 500);
    confirm(&mut view, &tx, 150);
    let mut pool = Mempool::new(10_000, 0);
    let error = accept(&mut pool, &tx, &view).unwrap_err();
    assert_eq!(error, MempoolError::AlreadyConfirmed);
    assert_eq!(error.code(), "txn-already-known");
}

#[test]
fn refuses_a_fee_below_the_minimum_rate() {
    let view = funded(&[1]);
    let mut pool = Mempool::new(10_000, 2);
    let tx = pay(coin(1), COIN_VALUE, 300);
    let error = accept(&mut pool, &tx, &view).unwrap_err();
    assert_eq!(
        error,
        MempoolError::FeeTooLow {
            fee: Amount(300),
            min: Amount(2 * SMALL_TX_BYTES as u64),
        }
    );
    assert_eq!(error.code(), "min-relay-fee-not-met");
    assert!(pool.is_empty());

    let enough = pay(coin(1), COIN_VALUE, 2 * SMALL_TX_BYTES as u64);
    assert!(accept(&mut pool, &enough, &view).is_ok());
}

#[test]
fn refuses_a_transaction_larger_than_the_pool() {
    let view = funded(&[1]);
    let mut pool = Mempool::new(SMALL_TX_BYTES - 1, 0);
    let error = accept(&mut pool, &pay(coin(1), COIN_VALUE, 500), &view).unwrap_err();
    assert_eq!(error, MempoolError::PoolFull);
    assert_eq!(error.code(), "mempool-full");
    assert!(pool.is_empty());
    assert_eq!(pool.total_bytes(), 0);
}

#[test]
fn consensus_failures_pass_through_with_their_rule_code() {
    let view = funded(&[1]);
    let mut pool = Mempool::new(10_000, 0);

    let mut forged = pay(coin(1), COIN_VALUE, 500);
    forged.inputs[0].signature.0[0] ^= 1;
    let error = accept(&mut pool, &forged, &view).unwrap_err();
    assert_eq!(error, MempoolError::Rule(RuleError::BadSignature));
    assert_eq!(error.code(), "bad-txns-sig");
    assert!(error.to_string().starts_with("bad-txns-sig: "));

    let missing = pay(coin(7), COIN_VALUE, 500);
    let error = accept(&mut pool, &missing, &view).unwrap_err();
    assert_eq!(error.code(), "bad-txns-inputs-missingorspent");

    let overspend = spend(&[coin(1)], &[(COIN_VALUE + 1, 1)]);
    let error = accept(&mut pool, &overspend, &view).unwrap_err();
    assert_eq!(error, MempoolError::Rule(RuleError::InputsBelowOutputs));

    let tx = pay(coin(1), COIN_VALUE, 500);
    let error = pool.accept(tx, &view, 50, &Params::regtest()).unwrap_err();
    assert_eq!(error, MempoolError::Rule(RuleError::PrematureCoinbaseSpend));

    let mut empty = pay(coin(1), COIN_VALUE, 500);
    empty.outputs.clear();
    let error = accept(&mut pool, &empty, &view).unwrap_err();
    assert_eq!(error, MempoolError::Rule(RuleError::NoOutputs));
    assert!(pool.is_empty());
}

#[test]
fn accepts_a_chained_spend_of_a_pool_output() {
    let view = funded(&[1]);
    let mut pool = Mempool::new(10_000, 1);
    let parent = pay(coin(1), COIN_VALUE, 500);
    let child = pay(out(&parent, 0), COIN_VALUE - 500, 700);
    accept(&mut pool, &parent, &view).unwrap();
    let accepted = pool
        .accept(child.clone(), &view, NEXT, &Params::regtest())
        .unwrap();

    assert_eq!(accepted.fee, Amount(700));
    assert_eq!(txids(&pool), vec![parent.txid(), child.txid()]);
    assert_eq!(pool.spender_of(&out(&parent, 0)), Some(child.txid()));
    assert_eq!(pool.total_fees(), Amount(1200));
    assert_eq!(
        pool.unspent_outputs().map(|(o, _)| o).collect::<Vec<_>>(),
        vec![out(&child, 0)]
    );
}

#[test]
fn the_first_seen_spend_wins_a_conflict() {
    let view = funded(&[1]);
    let mut pool = Mempool::new(10_000, 1);
    let first = pay(coin(1), COIN_VALUE, 500);
    let richer = pay(coin(1), COIN_VALUE, 50_000);
    accept(&mut pool, &first, &view).unwrap();

    let error = accept(&mut pool, &richer, &view).unwrap_err();
    assert_eq!(error, MempoolError::Conflict(first.txid()));
    assert_eq!(error.code(), "txn-mempool-conflict");
    assert_eq!(txids(&pool), vec![first.txid()]);

    // Spending the first one's output twice conflicts with the first child too.
    let child = pay(out(&first, 0), COIN_VALUE - 500, 500);
    let rival_child = pay(out(&first, 0), COIN_VALUE - 500, 900);
    accept(&mut pool, &child, &view).unwrap();
    assert_eq!(
        accept(&mut pool, &rival_child, &view),
        Err(MempoolError::Conflict(child.txid()))
    );
}

#[test]
fn a_full_pool_evicts_the_lowest_fee_rate_and_refuses_worse_newcomers() {
    let view = funded(&[1, 2, 3, 4, 5]);
    let mut pool = Mempool::new(2 * SMALL_TX_BYTES + 10, 1);
    let low = pay(coin(1), COIN_VALUE, 1_000);
    let mid = pay(coin(2), COIN_VALUE, 2_000);
    accept(&mut pool, &low, &view).unwrap();
    accept(&mut pool, &mid, &view).unwrap();

    let high = pay(coin(3), COIN_VALUE, 3_000);
    let accepted = pool
        .accept(high.clone(), &view, NEXT, &Params::regtest())
        .unwrap();
    assert_eq!(accepted.evicted, vec![low.txid()]);
    assert_eq!(txids(&pool), vec![mid.txid(), high.txid()]);
    assert_eq!(pool.spender_of(&coin(1)), None);
    assert!(pool.total_bytes() <= pool.max_bytes());

    let before: Vec<_> = pool.entries().cloned().collect();
    let (bytes, fees) = (pool.total_bytes(), pool.total_fees());
    for worse in [
        pay(coin(4), COIN_VALUE, 500),
        // A tie with the lowest entry keeps the first seen.
        pay(coin(5), COIN_VALUE, 2_000),
    ] {
        assert_eq!(
            accept(&mut pool, &worse, &view),
            Err(MempoolError::PoolFull)
        );
        assert_eq!(pool.entries().cloned().collect::<Vec<_>>(), before);
        assert_eq!((pool.total_bytes(), pool.total_fees()), (bytes, fees));
        assert_eq!(pool.spender_of(&worse.inputs[0].prevout), None);
    }
}

#[test]
fn eviction_takes_descendants_along() {
    let view = funded(&[1, 2, 3]);
    let mut pool = Mempool::new(3 * SMALL_TX_BYTES, 1);
    let parent = pay(coin(1), COIN_VALUE, 200);
    let child = pay(out(&parent, 0), COIN_VALUE - 200, 400);
    let other = pay(coin(2), COIN_VALUE, 1_000);
    for tx in [&parent, &child, &other] {
        accept(&mut pool, tx, &view).unwrap();
    }
    let newcomer = pay(coin(3), COIN_VALUE, 2_000);
    let accepted = pool
        .accept(newcomer.clone(), &view, NEXT, &Params::regtest())
        .unwrap();
    assert_eq!(accepted.evicted, vec![parent.txid(), child.txid()]);
    assert_eq!(txids(&pool), vec![other.txid(), newcomer.txid()]);
    assert_eq!(pool.spender_of(&out(&parent, 0)), None);
}

#[test]
fn a_well_paying_child_protects_its_parent_from_eviction() {
    let view = funded(&[1, 2, 3]);
    let mut pool = Mempool::new(3 * SMALL_TX_BYTES, 1);
    let parent = pay(coin(1), COIN_VALUE, 200);
    let child = pay(out(&parent, 0), COIN_VALUE - 200, 5_000);
    let other = pay(coin(2), COIN_VALUE, 1_000);
    for tx in [&parent, &child, &other] {
        accept(&mut pool, tx, &view).unwrap();
    }
    let newcomer = pay(coin(3), COIN_VALUE, 2_000);
    let accepted = pool
        .accept(newcomer.clone(), &view, NEXT, &Params::regtest())
        .unwrap();
    assert_eq!(accepted.evicted, vec![other.txid()]);
    assert_eq!(
        txids(&pool),
        vec![parent.txid(), child.txid(), newcomer.txid()]
    );
}

#[test]
fn block_selection_orders_by_fee_rate_with_parents_first_and_fits_the_bound() {
    let view = funded(&[1, 2, 3]);
    let mut pool = Mempool::new(10_000, 1);
    let parent = pay(coin(1), COIN_VALUE, 200);
    let child = pay(out(&parent, 0), COIN_VALUE - 200, 5_000);
    let low = pay(coin(2), COIN_VALUE, 1_000);
    let high = pay(coin(3), COIN_VALUE, 3_000);
    for tx in [&parent, &child, &low, &high] {
        accept(&mut pool, tx, &view).unwrap();
    }

    let all = pool.select_for_block(usize::MAX);
    let order: Vec<Txid> = all.iter().map(|(tx, _)| tx.txid()).collect();
    assert_eq!(
        order,
        vec![high.txid(), low.txid(), parent.txid(), child.txid()]
    );
    let fees: Vec<Amount> = all.iter().map(|(_, fee)| *fee).collect();
    assert_eq!(
        fees,
        vec![Amount(3_000), Amount(1_000), Amount(200), Amount(5_000)]
    );

    let two = pool.select_for_block(2 * SMALL_TX_BYTES);
    let order: Vec<Txid> = two.iter().map(|(tx, _)| tx.txid()).collect();
    assert_eq!(order, vec![high.txid(), low.txid()]);

    // Room for one: the child cannot come without its parent.
    let one = pool.select_for_block(2 * SMALL_TX_BYTES - 1);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].0, high);
    assert!(pool.select_for_block(SMALL_TX_BYTES - 1).is_empty());
    assert_eq!(pool.len(), 4);
}
