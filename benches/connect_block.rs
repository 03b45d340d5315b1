//! Connecting a block of 1,000 signed transactions, against the signature checks of the same
//! transactions alone, measured in the same run. Target: connect ≤ 1.3 × signatures.
//!
//! Run with `cargo bench --bench connect_block`; divan reports both, the ratio is theirs.

#[path = "support/allocator.rs"]
mod allocator;

use divan::counter::ItemsCount;
use divan::Bencher;
use ed25519_dalek::{Signer, SigningKey};
use nakachain::chain::Chain;
use nakachain::consensus::rules::verify_signatures;
use nakachain::miner::{assemble_block, solve_block, BlockSpec};
use nakachain::params::Params;
use nakachain::types::{
    Address, Amount, Block, OutPoint, SignatureBytes, Transaction, TxIn, TxOut,
};
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;

const TRANSACTIONS: usize = 1_000;
/// Well past every block time used here, so time-too-new never fires.
const NOW: u64 = u32::MAX as u64;

fn main() {
    divan::main();
}

struct Fixture {
    /// A chain whose tip holds 1,000 spendable outputs of one key.
    chain: Chain,
    /// The block spending them, one signed transaction each.
    block: Block,
}

fn signed(key: &SigningKey, prevouts: &[OutPoint], outputs: Vec<TxOut>) -> Transaction {
    let pubkey = key.verifying_key().to_bytes();
    let mut tx = Transaction {
        version: Transaction::VERSION,
        coinbase: None,
        inputs: prevouts
            .iter()
            .map(|prevout| TxIn {
                prevout: *prevout,
                pubkey,
                signature: SignatureBytes([0; 64]),
            })
            .collect(),
        outputs,
    };
    let signature = key.sign(tx.sighash().as_bytes()).to_bytes();
    for input in &mut tx.inputs {
        input.signature = SignatureBytes(signature);
    }
    tx
}

fn mine(chain: &Chain, payout: Address, transactions: Vec<Transaction>) -> Block {
    let next = chain.next_block();
    let spec = BlockSpec {
        prev_hash: next.prev_hash,
        height: next.height,
        bits: next.bits,
        time: next.min_time,
        payout,
        coinbase_value: chain.params().subsidy(next.height),
        extra_nonce: 0,
    };
    let mut block = assemble_block(&spec, transactions);
    assert!(solve_block(&mut block, &AtomicBool::new(false)));
    block
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let params = Params {
            coinbase_maturity: 1,
            ..Params::regtest()
        };
        let key = SigningKey::from_bytes(&[42; 32]);
        let address = Address::from_pubkey(&key.verifying_key().to_bytes());
        let mut chain = Chain::new(params);

        let funding = mine(&chain, address, Vec::new());
        let coinbase = OutPoint {
            txid: funding.transactions[0].txid(),
            vout: 0,
        };
        chain.process_block(funding, NOW).expect("funding block");

        let each = Amount(chain.params().subsidy(1).units() / TRANSACTIONS as u64 - 1_000);
        let split = signed(
            &key,
            &[coinbase],
            vec![
                TxOut {
                    amount: each,
                    address
                };
                TRANSACTIONS
            ],
        );
        let split_txid = split.txid();
        let split_block = mine(&chain, address, vec![split]);
        chain.process_block(split_block, NOW).expect("split block");

        let spends = (0..TRANSACTIONS as u32)
            .map(|vout| {
                let prevout = OutPoint {
                    txid: split_txid,
                    vout,
                };
                let pay = TxOut {
                    amount: Amount(each.units() - 500),
                    address,
                };
                signed(&key, &[prevout], vec![pay])
            })
            .collect();
        let block = mine(&chain, address, spends);
        let outcome = chain
            .clone()
            .process_block(block.clone(), NOW)
            .expect("block");
        assert!(outcome.invalid.is_empty() && outcome.tip_changed.is_some());
        Fixture { chain, block }
    })
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn connect_block_of_1000_transactions(bencher: Bencher) {
    let fixture = fixture();
    bencher
        .counter(ItemsCount::new(TRANSACTIONS))
        .with_inputs(|| (fixture.chain.clone(), fixture.block.clone()))
        .bench_values(|(mut chain, block)| {
            let outcome = chain.process_block(block, NOW);
            (chain, outcome)
        });
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn signature_checks_alone(bencher: Bencher) {
    let fixture = fixture();
    bencher.counter(ItemsCount::new(TRANSACTIONS)).bench(|| {
        for tx in &fixture.block.transactions[1..] {
            verify_signatures(tx).expect("valid signature");
        }
    });
}
