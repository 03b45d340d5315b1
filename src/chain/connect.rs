//! Connecting a block to the UTXO set (with the undo data that reverses it) and disconnecting
//! it again.
//!
//! Owns the contextual transaction checks of a block and the coin bookkeeping. Must not know
//! about the block tree or decide what happens to a failing block; a failed connect leaves the
//! UTXO set exactly as it was.

use super::utxo::UtxoSet;
use crate::consensus::rules::{check_coinbase_amount, check_tx_inputs, verify_signatures};
use crate::consensus::{Coin, RuleError};
use crate::params::Params;
use crate::types::{Amount, Block, OutPoint, Transaction, Txid};

/// The coins a connected block spent, in the order its inputs spent them.
pub(super) type Undo = Vec<(OutPoint, Coin)>;

/// Checks every transaction of `block` (at `height`, with transaction ids `txids`) against
/// `utxos`, where earlier transactions of the same block are already applied, and applies them.
/// On failure the set is rolled back to exactly what it was.
pub(super) fn connect_block(
    utxos: &mut UtxoSet,
    block: &Block,
    txids: &[Txid],
    height: u32,
    params: &Params,
) -> Result<Undo, RuleError> {
    let mut undo = Undo::new();
    let mut fees = Amount::ZERO;
    for (applied, (tx, txid)) in block.transactions.iter().zip(txids).enumerate() {
        if !tx.is_coinbase() {
            let checked = check_tx_inputs(tx, utxos, height, params).and_then(|fee| {
                verify_signatures(tx)?;
                fees.checked_add(fee)
                    .ok_or(RuleError::InputValuesOutOfRange)
            });
            match checked {
                Ok(total) => fees = total,
                Err(err) => {
                    rollback(utxos, &block.transactions[..applied], txids, undo);
                    return Err(err);
                }
            }
        }
        apply_tx(utxos, tx, *txid, height, &mut undo);
    }
    let paid = match block.transactions.first() {
        Some(coinbase) => check_coinbase_amount(coinbase, height, fees, params),
        None => Err(RuleError::CoinbaseMissing),
    };
    if let Err(err) = paid {
        rollback(utxos, &block.transactions, txids, undo);
        return Err(err);
    }
    Ok(undo)
}

/// Reverses `connect_block` of the same block with its undo data.
pub(super) fn disconnect_block(utxos: &mut UtxoSet, block: &Block, txids: &[Txid], undo: Undo) {
    rollback(utxos, &block.transactions, txids, undo);
}

fn apply_tx(utxos: &mut UtxoSet, tx: &Transaction, txid: Txid, height: u32, undo: &mut Undo) {
    for input in &tx.inputs {
        // The inputs were just checked to exist, and a transaction has no duplicate inputs.
        if let Some(coin) = utxos.spend(&input.prevout) {
            undo.push((input.prevout, coin));
        }
    }
    utxos.insert_outputs(txid, &tx.outputs, height, tx.is_coinbase());
}

/// Undoes `applied` transactions (whose ids lead `txids`), last first, so a coin created and
/// spent inside the block is created again by its spender's undo and then removed by its
/// creator's.
fn rollback(utxos: &mut UtxoSet, applied: &[Transaction], txids: &[Txid], mut undo: Undo) {
    for (tx, txid) in applied.iter().zip(txids).rev() {
        for vout in 0..tx.outputs.len() {
            utxos.spend(&OutPoint {
                txid: *txid,
                vout: vout as u32,
            });
        }
        for _ in &tx.inputs {
            if let Some((outpoint, coin)) = undo.pop() {
                utxos.insert(outpoint, coin);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::UtxoView;
    use crate::miner::{assemble_block, BlockSpec};
    use crate::types::{Address, Hash256, SignatureBytes, TxIn, TxOut};
    use ed25519_dalek::{Signer, SigningKey};

    fn txids(block: &Block) -> Vec<Txid> {
        block.transactions.iter().map(Transaction::txid).collect()
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn params() -> Params {
        Params {
            coinbase_maturity: 1,
            ..Params::regtest()
        }
    }

    fn spec(height: u32, coinbase_value: Amount) -> BlockSpec {
        BlockSpec {
            prev_hash: Hash256::ZERO,
            height,
            bits: 0x207f_ffff,
            time: 0,
            payout: Address::from_pubkey(&key().verifying_key().to_bytes()),
            coinbase_value,
            extra_nonce: 0,
        }
    }

    fn spend(prevout: OutPoint, amount: Amount) -> Transaction {
        let pubkey = key().verifying_key().to_bytes();
        let mut tx = Transaction {
            version: Transaction::VERSION,
            coinbase: None,
            inputs: vec![TxIn {
                prevout,
                pubkey,
                signature: SignatureBytes([0; 64]),
            }],
            outputs: vec![TxOut {
                amount,
                address: Address::from_pubkey(&pubkey),
            }],
        };
        let signature = key().sign(tx.sighash().as_bytes()).to_bytes();
        tx.inputs[0].signature = SignatureBytes(signature);
        tx
    }

    fn snapshot(utxos: &UtxoSet) -> Vec<(OutPoint, Coin)> {
        let mut all: Vec<_> = utxos.iter().map(|(o, c)| (o, *c)).collect();
        all.sort_by_key(|(outpoint, _)| *outpoint);
        all
    }

    #[test]
    fn chained_spends_connect_and_disconnect_exactly() {
        let params = params();
        let mut utxos = UtxoSet::default();
        let first = assemble_block(&spec(1, params.subsidy(1)), Vec::new());
        connect_block(&mut utxos, &first, &txids(&first), 1, &params).unwrap();
        let before = snapshot(&utxos);

        let coin = OutPoint {
            txid: first.transactions[0].txid(),
            vout: 0,
        };
        let a = spend(coin, Amount::from_coins(49));
        let b = spend(
            OutPoint {
                txid: a.txid(),
                vout: 0,
            },
            Amount::from_coins(48),
        );
        let fees = Amount::from_coins(2);
        let value = params.subsidy(2).checked_add(fees).unwrap();
        let second = assemble_block(&spec(2, value), vec![a.clone(), b.clone()]);
        let undo = connect_block(&mut utxos, &second, &txids(&second), 2, &params).unwrap();
        assert!(utxos.coin(&coin).is_none());
        assert!(utxos
            .coin(&OutPoint {
                txid: a.txid(),
                vout: 0
            })
            .is_none());
        assert_eq!(utxos.len(), 2);

        disconnect_block(&mut utxos, &second, &txids(&second), undo);
        assert_eq!(snapshot(&utxos), before);
    }

    #[test]
    fn failures_leave_the_set_untouched() {
        let params = params();
        let mut utxos = UtxoSet::default();
        let first = assemble_block(&spec(1, params.subsidy(1)), Vec::new());
        connect_block(&mut utxos, &first, &txids(&first), 1, &params).unwrap();
        let before = snapshot(&utxos);
        let coin = OutPoint {
            txid: first.transactions[0].txid(),
            vout: 0,
        };

        let overpaid = assemble_block(
            &spec(2, Amount(params.subsidy(2).0 + Amount::from_coins(1).0 + 1)),
            vec![spend(coin, Amount::from_coins(49))],
        );
        assert_eq!(
            connect_block(&mut utxos, &overpaid, &txids(&overpaid), 2, &params),
            Err(RuleError::CoinbaseAmount)
        );
        assert_eq!(snapshot(&utxos), before);

        let double = assemble_block(
            &spec(2, params.subsidy(2)),
            vec![
                spend(coin, Amount::from_coins(49)),
                spend(coin, Amount::from_coins(48)),
            ],
        );
        assert_eq!(
            connect_block(&mut utxos, &double, &txids(&double), 2, &params),
            Err(RuleError::MissingOrSpent)
        );
        assert_eq!(snapshot(&utxos), before);

        let mut forged = spend(coin, Amount::from_coins(49));
        forged.inputs[0].signature = SignatureBytes([1; 64]);
        let unsigned = assemble_block(&spec(2, params.subsidy(2)), vec![forged]);
        assert_eq!(
            connect_block(&mut utxos, &unsigned, &txids(&unsigned), 2, &params),
            Err(RuleError::BadSignature)
        );
        assert_eq!(snapshot(&utxos), before);
    }
}
