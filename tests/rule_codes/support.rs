//! Builders for the rule-code tests: keys, signed spends, the UTXO set they spend from,
//! solved regtest blocks and a devnet header context.

use ed25519_dalek::{Signer, SigningKey};
use nakachain::chain::UtxoSet;
use nakachain::consensus::pow::{compact_to_target, hash_meets_target, next_bits, RetargetInput};
use nakachain::consensus::rules::HeaderContext;
use nakachain::consensus::Coin;
use nakachain::miner::{assemble_block, solve_block, BlockSpec};
use nakachain::params::Params;
use nakachain::types::{
    Address, Amount, Block, BlockHeader, Hash256, OutPoint, SignatureBytes, Transaction, TxIn,
    TxOut, COIN,
};
use std::sync::atomic::AtomicBool;

pub fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

pub fn address_of(key: &SigningKey) -> Address {
    Address::from_pubkey(key.verifying_key().as_bytes())
}

pub fn outpoint(n: u8) -> OutPoint {
    OutPoint {
        txid: Hash256([n; 32]),
        vout: 0,
    }
}

pub fn pay(units: u64, to: Address) -> TxOut {
    TxOut {
        amount: Amount(units),
        address: to,
    }
}

/// A transaction spending `inputs`, each signed by its key over the sighash.
pub fn signed(inputs: &[(OutPoint, &SigningKey)], outputs: Vec<TxOut>) -> Transaction {
    let mut tx = Transaction {
        version: Transaction::VERSION,
        coinbase: None,
        inputs: inputs
            .iter()
            .map(|(prevout, key)| TxIn {
                prevout: *prevout,
                pubkey: key.verifying_key().to_bytes(),
                signature: SignatureBytes([0; 64]),
            })
            .collect(),
        outputs,
    };
    resign(&mut tx, &inputs.iter().map(|(_, k)| *k).collect::<Vec<_>>());
    tx
}

pub fn resign(tx: &mut Transaction, keys: &[&SigningKey]) {
    let sighash = tx.sighash();
    for (input, key) in tx.inputs.iter_mut().zip(keys) {
        input.signature = SignatureBytes(key.sign(sighash.as_bytes()).to_bytes());
    }
}

/// A plain valid spend of 10 coins from key 1's coin at `outpoint(1)`.
pub fn spend() -> Transaction {
    signed(
        &[(outpoint(1), &key(1))],
        vec![pay(9 * COIN, address_of(&key(2)))],
    )
}

/// The UTXO set that `spend()` spends from: key 1's 10-coin output at height 1.
pub fn funding() -> UtxoSet {
    let mut utxos = UtxoSet::default();
    utxos.insert(
        outpoint(1),
        Coin {
            output: pay(10 * COIN, address_of(&key(1))),
            height: 1,
            is_coinbase: false,
        },
    );
    utxos
}

pub fn spec(params: &Params) -> BlockSpec {
    BlockSpec {
        prev_hash: params.genesis_hash(),
        height: 1,
        bits: params.pow_limit_bits,
        time: params.genesis.header.time + 1,
        payout: address_of(&key(9)),
        coinbase_value: params.subsidy(1),
        extra_nonce: 0,
    }
}

pub fn solve(block: &mut Block) {
    assert!(solve_block(block, &AtomicBool::new(false)));
}

/// A solved regtest block at height 1: the coinbase, then `transactions`.
pub fn solved(transactions: Vec<Transaction>) -> Block {
    let mut block = assemble_block(&spec(&Params::regtest()), transactions);
    solve(&mut block);
    block
}

/// Solves the header again after an edit, keeping the merkle root as it is (right or wrong):
/// only the nonce moves, where `solve_block` could roll the extra nonce and fix the root.
pub fn resolve(block: &mut Block) {
    let target = compact_to_target(block.header.bits).unwrap();
    block.header.nonce = (0..=u32::MAX)
        .find(|nonce| {
            let mut header = block.header;
            header.nonce = *nonce;
            hash_meets_target(&header.hash(), &target)
        })
        .unwrap();
}

/// A spend paying `outputs` one-unit outputs; its size grows 28 bytes an output.
pub fn wide_spend(outputs: usize) -> Transaction {
    signed(
        &[(outpoint(1), &key(1))],
        vec![pay(1, address_of(&key(2))); outputs],
    )
}

/// A solved block over exactly `transactions` (no coinbase added) with the right merkle root.
pub fn solved_exactly(transactions: Vec<Transaction>) -> Block {
    let mut block = solved(Vec::new());
    block.transactions = transactions;
    block.header.merkle_root = block.compute_merkle_root();
    resolve(&mut block);
    block
}

/// Devnet context whose parent came 25 s after the grandparent, so the difficulty moves.
pub fn devnet_context() -> (Params, HeaderContext) {
    let params = Params::devnet();
    let parent_time = params.genesis.header.time + 100;
    let context = HeaderContext {
        recent_times: (0..11).map(|i| parent_time - 10 * i).collect(),
        retarget: RetargetInput {
            parent_bits: params.genesis.header.bits,
            parent_time,
            grandparent_time: Some(parent_time - 25),
        },
    };
    (params, context)
}

/// A header for the context above with the bits it requires and a time just after the parent.
pub fn contextual_header(params: &Params, context: &HeaderContext) -> BlockHeader {
    let mut header = solved(Vec::new()).header;
    header.bits = next_bits(params, context.retarget);
    header.time = context.retarget.parent_time + 1;
    header
}
