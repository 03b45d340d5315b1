//! Seeded random admissions (proptest prints the seed of a failing case) against the pool's
//! invariants.

use crate::support::*;
use nakachain::chain::UtxoSet;
use nakachain::consensus::UtxoView;
use nakachain::mempool::Mempool;
use nakachain::params::Params;
use nakachain::types::{Amount, OutPoint, Txid};
use proptest::prelude::*;

/// Checks what must hold after any sequence of admissions.
fn assert_consistent(pool: &Mempool, view: &UtxoSet) {
    let entries: Vec<_> = pool.entries().collect();
    assert_eq!(entries.len(), pool.len());
    assert!(entries.windows(2).all(|pair| pair[0].seq() < pair[1].seq()));
    assert_eq!(
        pool.total_bytes(),
        entries.iter().map(|entry| entry.size).sum::<usize>()
    );
    assert!(pool.total_bytes() <= pool.max_bytes());
    assert_eq!(
        pool.total_fees(),
        Amount(entries.iter().map(|entry| entry.fee.units()).sum())
    );
    for entry in &entries {
        for input in &entry.tx.inputs {
            assert_eq!(pool.spender_of(&input.prevout), Some(entry.txid));
            let parent_first = pool
                .get(&input.prevout.txid)
                .is_some_and(|parent| parent.seq() < entry.seq());
            assert!(parent_first || view.coin(&input.prevout).is_some());
        }
    }
    let selected: Vec<Txid> = pool
        .select_for_block(usize::MAX)
        .iter()
        .map(|(tx, _)| tx.txid())
        .collect();
    assert_eq!(selected.len(), pool.len());
    for (position, txid) in selected.iter().enumerate() {
        let Some(entry) = pool.get(txid) else {
            panic!("selected a transaction the pool does not hold");
        };
        for input in &entry.tx.inputs {
            if pool.contains(&input.prevout.txid) {
                assert!(selected[..position].contains(&input.prevout.txid));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random admissions (chained, conflicting, cheap, split) under a small byte bound keep the
    /// pool consistent, and a refusal leaves it as it was.
    #[test]
    fn random_admissions_keep_the_pool_consistent(
        ops in proptest::collection::vec((any::<u16>(), 0u64..4_000, any::<bool>()), 1..40)
    ) {
        let view = funded(&[1, 2, 3, 4, 5, 6]);
        let mut pool = Mempool::new(6 * SMALL_TX_BYTES, 1);
        let mut spent_before: Vec<OutPoint> = Vec::new();
        for (pick, fee, split) in ops {
            let mut candidates: Vec<OutPoint> = (1..=6).map(coin).collect();
            candidates.extend(pool.unspent_outputs().map(|(outpoint, _)| outpoint));
            // Sometimes spend something already spent, to provoke conflicts.
            candidates.extend(spent_before.iter().copied());
            let input = candidates[usize::from(pick) % candidates.len()];
            let pool_output = pool
                .get(&input.txid)
                .and_then(|entry| entry.tx.outputs.get(input.vout as usize).copied());
            let Some(value) = view
                .coin(&input)
                .map(|coin| coin.output)
                .or(pool_output)
                .map(|output| output.amount.units())
            else {
                continue;
            };
            if value <= fee + 2 {
                continue;
            }
            let rest = value - fee;
            let tx = if split {
                spend(&[input], &[(rest / 2, 1), (rest - rest / 2, 1)])
            } else {
                spend(&[input], &[(rest, 1)])
            };
            let before: Vec<_> = pool.entries().cloned().collect();
            match pool.accept(tx.clone(), &view, NEXT, &Params::regtest()) {
                Ok(accepted) => {
                    prop_assert!(pool.contains(&accepted.txid));
                    prop_assert!(accepted.evicted.iter().all(|txid| !pool.contains(txid)));
                    prop_assert_eq!(pool.len(), before.len() + 1 - accepted.evicted.len());
                    spent_before.push(input);
                }
                Err(_) => {
                    prop_assert_eq!(pool.entries().cloned().collect::<Vec<_>>(), before);
                }
            }
            assert_consistent(&pool, &view);
        }
    }
}
