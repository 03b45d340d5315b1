use super::*;
use crate::chain::UtxoSet;
use crate::consensus::rules::{check_transaction, check_tx_inputs, verify_signatures};
use crate::consensus::RuleError;
use crate::types::COIN;
use proptest::prelude::*;

const SEED: [u8; 32] = [7; 32];

fn coin(address: Address, units: u64, height: u32, is_coinbase: bool) -> Coin {
    Coin {
        output: TxOut {
            amount: Amount(units),
            address,
        },
        height,
        is_coinbase,
    }
}

fn outpoint(n: u8) -> OutPoint {
    OutPoint {
        txid: Hash256([n; 32]),
        vout: u32::from(n),
    }
}

/// A wallet with one address and mature, non-coinbase coins of these values at it.
fn funded(values: &[u64]) -> (Wallet, Vec<(OutPoint, Coin)>) {
    let mut wallet = Wallet::from_seed(SEED);
    let address = wallet.new_address();
    let coins = values
        .iter()
        .enumerate()
        .map(|(i, units)| (outpoint(i as u8), coin(address, *units, 1, false)))
        .collect();
    (wallet, coins)
}

fn stranger() -> Address {
    Address([0xee; 20])
}

/// Runs the consensus checks a block at height 200 would run on `payment` and returns the fee
/// they compute.
fn consensus_fee(payment: &Payment, coins: &[(OutPoint, Coin)]) -> Result<Amount, RuleError> {
    let mut utxos = UtxoSet::default();
    for (outpoint, coin) in coins {
        utxos.insert(*outpoint, *coin);
    }
    check_transaction(&payment.tx)?;
    verify_signatures(&payment.tx)?;
    check_tx_inputs(&payment.tx, &utxos, 200, &Params::regtest())
}

#[test]
fn keys_follow_the_documented_derivation() {
    let mut wallet = Wallet::from_seed(SEED);
    assert_eq!(wallet.addresses().count(), 0);
    let first = wallet.new_address();
    let second = wallet.new_address();
    for (index, address) in [(0u32, first), (1, second)] {
        let mut material = b"nakachain-wallet-key".to_vec();
        material.extend_from_slice(&SEED);
        material.extend_from_slice(&index.to_le_bytes());
        let key = SigningKey::from_bytes(&sha256(&material));
        assert_eq!(
            address,
            Address::from_pubkey(&key.verifying_key().to_bytes())
        );
        assert!(wallet.owns(&address));
    }
    assert_ne!(first, second);
    assert_eq!(wallet.addresses().collect::<Vec<_>>(), vec![first, second]);
    assert!(!wallet.owns(&stranger()));
    assert_ne!(Wallet::from_seed([8; 32]).new_address(), first);
}

#[test]
fn debug_output_hides_the_seed() {
    let mut wallet = Wallet::from_seed([0xab; 32]);
    wallet.new_address();
    let shown = format!("{wallet:?}");
    assert!(shown.contains("Address("));
    assert!(!shown.contains("171, 171"));
}

#[test]
fn file_round_trip_restores_every_address() {
    let mut wallet = Wallet::from_seed(SEED);
    for _ in 0..3 {
        wallet.new_address();
    }
    let bytes = wallet.encode();
    assert_eq!(bytes.len(), 88);
    let restored = Wallet::decode(&bytes).unwrap();
    assert_eq!(
        restored.addresses().collect::<Vec<_>>(),
        wallet.addresses().collect::<Vec<_>>()
    );
    assert_eq!(restored.encode(), bytes);
}

fn envelope(version: u32, body: Vec<u8>) -> Vec<u8> {
    codec::encode(&FileEnvelope {
        magic: FILE_MAGIC,
        version,
        body,
    })
}

#[test]
fn decode_refuses_bad_files_with_clear_errors() {
    let good = Wallet::from_seed(SEED).encode();
    let corrupt = |bytes: &[u8]| match Wallet::decode(bytes) {
        Err(error @ WalletError::Corrupt(_)) => error.code(),
        other => panic!("expected a corrupt-file error, got {other:?}"),
    };
    assert_eq!(corrupt(&[]), "wallet-corrupt");
    assert_eq!(corrupt(b"#!/bin/sh not a wallet at all"), "wallet-corrupt");
    corrupt(&good[..good.len() - 1]);
    let mut trailing = good.clone();
    trailing.push(0);
    corrupt(&trailing);
    corrupt(&vec![b'n'; 4096]);
    let mut oversized = FILE_MAGIC.to_vec();
    oversized.resize(MAX_FILE_BYTES + 1, 0);
    corrupt(&oversized);

    let body = |key_count: u32| {
        codec::encode(&FileBodyV1 {
            seed: SEED,
            key_count,
        })
    };
    assert!(matches!(
        Wallet::decode(&envelope(3, body(1))),
        Err(WalletError::UnsupportedVersion(3))
    ));
    let message = corrupt(&envelope(1, body(MAX_KEYS + 1)));
    assert_eq!(message, "wallet-corrupt");
    corrupt(&envelope(1, vec![1, 2, 3]));
    // A version 2 body without its checksum is no version 2 body.
    corrupt(&envelope(2, body(2)));
}

/// Finding 8 of the hostile-peer report: one flipped byte inside the seed opened as another
/// wallet with other keys and a balance of 0. Every byte flipped anywhere is refused now.
#[test]
fn any_flipped_byte_is_refused() {
    let mut wallet = Wallet::from_seed(SEED);
    wallet.new_address();
    let good = wallet.encode();
    for index in 0..good.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[index] ^= flip;
            match Wallet::decode(&bad) {
                Err(WalletError::Corrupt(_) | WalletError::UnsupportedVersion(_)) => {}
                other => panic!("byte {index} ^ {flip:#x} opened: {other:?}"),
            }
        }
    }
}

#[test]
fn a_file_without_a_checksum_opens_and_gains_one_when_written() {
    let old = envelope(
        1,
        codec::encode(&FileBodyV1 {
            seed: SEED,
            key_count: 2,
        }),
    );
    let wallet = Wallet::decode(&old).expect("a version 1 file still opens");
    assert_eq!(wallet.addresses().count(), 2);
    let rewritten = wallet.encode();
    assert_ne!(rewritten, old);
    let reopened = Wallet::decode(&rewritten).expect("the rewritten file opens");
    assert_eq!(
        reopened.addresses().collect::<Vec<_>>(),
        wallet.addresses().collect::<Vec<_>>()
    );
}

#[test]
fn balance_separates_confirmed_from_immature() {
    let params = Params::regtest();
    let mut wallet = Wallet::from_seed(SEED);
    let mine = wallet.new_address();
    let next_height = 150;
    let coins = [
        // Exactly at maturity: spendable, as check_tx_inputs sees it.
        (outpoint(1), coin(mine, 5 * COIN, 50, true)),
        // One block short.
        (outpoint(2), coin(mine, 7 * COIN, 51, true)),
        (outpoint(3), coin(mine, 3, 149, false)),
        (outpoint(4), coin(stranger(), 11 * COIN, 1, false)),
    ];
    let balance = wallet.balance(coins.iter().map(|(o, c)| (*o, c)), next_height, &params);
    assert_eq!(
        balance,
        Balance {
            confirmed: Amount(5 * COIN + 3),
            immature: Amount(7 * COIN),
        }
    );

    let spendable = wallet.spendable_coins(
        coins.iter().rev().map(|(o, c)| (*o, c)),
        next_height,
        &params,
        |o| *o == outpoint(3),
    );
    assert_eq!(spendable, vec![coins[0]]);
    let without_mempool = wallet.spendable_coins(
        coins.iter().map(|(o, c)| (*o, c)),
        next_height,
        &params,
        |_| false,
    );
    assert_eq!(without_mempool, vec![coins[0], coins[2]]);
}

#[test]
fn size_model_matches_real_transactions() {
    for (inputs, outputs) in [(0, 0), (1, 1), (1, 2), (3, 2), (17, 5)] {
        let tx = Transaction {
            version: Transaction::VERSION,
            coinbase: None,
            inputs: vec![
                TxIn {
                    prevout: outpoint(9),
                    pubkey: [1; 32],
                    signature: SignatureBytes([2; 64]),
                };
                inputs
            ],
            outputs: vec![
                TxOut {
                    amount: Amount(u64::MAX),
                    address: stranger(),
                };
                outputs
            ],
        };
        assert_eq!(payment_len(inputs, outputs), tx.encoded_len());
    }
}

#[test]
fn payment_with_change_passes_consensus_and_pays_the_exact_fee_rate() {
    let (mut wallet, coins) = funded(&[10 * COIN]);
    let payment = wallet
        .create_payment(stranger(), Amount(3 * COIN), 5, &coins)
        .unwrap();
    assert_eq!(consensus_fee(&payment, &coins), Ok(payment.fee));
    assert_eq!(payment.fee.0, 5 * payment.tx.encoded_len() as u64);
    let change = payment.change.unwrap();
    assert!(wallet.owns(&change));
    assert_eq!(wallet.addresses().count(), 2);
    assert_eq!(
        payment.tx.outputs,
        vec![
            TxOut {
                amount: Amount(3 * COIN),
                address: stranger(),
            },
            TxOut {
                amount: Amount(7 * COIN - payment.fee.0),
                address: change,
            },
        ]
    );
}

#[test]
fn selection_prefers_the_smallest_covering_coin_then_the_largest_coins() {
    let (mut wallet, coins) = funded(&[COIN, 20 * COIN, 5 * COIN, 10 * COIN]);
    let spent = |payment: &Payment| {
        payment
            .tx
            .inputs
            .iter()
            .map(|input| input.prevout)
            .collect::<Vec<_>>()
    };
    let four = wallet
        .create_payment(stranger(), Amount(4 * COIN), 1, &coins)
        .unwrap();
    assert_eq!(spent(&four), vec![outpoint(2)]);
    let twenty_five = wallet
        .create_payment(stranger(), Amount(25 * COIN), 1, &coins)
        .unwrap();
    assert_eq!(spent(&twenty_five), vec![outpoint(1), outpoint(3)]);
    assert_eq!(consensus_fee(&twenty_five, &coins), Ok(twenty_five.fee));
}

#[test]
fn change_not_worth_an_output_goes_to_the_fee() {
    let rate = 3;
    let exact_fee = rate * payment_len(1, 1) as u64;
    let amount = 2 * COIN;

    let (mut wallet, coins) = funded(&[amount + exact_fee]);
    let exact = wallet
        .create_payment(stranger(), Amount(amount), rate, &coins)
        .unwrap();
    assert_eq!((exact.change, exact.fee), (None, Amount(exact_fee)));
    assert_eq!(consensus_fee(&exact, &coins), Ok(exact.fee));

    // Enough for a change output, but not for spending it later.
    let tiny = rate * (payment_len(0, 1) + payment_len(1, 0) - 2 * payment_len(0, 0)) as u64;
    let (mut wallet, coins) = funded(&[amount + exact_fee + tiny]);
    let dusty = wallet
        .create_payment(stranger(), Amount(amount), rate, &coins)
        .unwrap();
    assert_eq!((dusty.change, dusty.fee), (None, Amount(exact_fee + tiny)));
    assert_eq!(dusty.tx.outputs.len(), 1);
    assert_eq!(wallet.addresses().count(), 1);

    let (mut wallet, coins) = funded(&[amount + exact_fee + tiny + 1]);
    let worth_it = wallet
        .create_payment(stranger(), Amount(amount), rate, &coins)
        .unwrap();
    assert!(worth_it.change.is_some());
    assert_eq!(worth_it.fee.0, rate * worth_it.tx.encoded_len() as u64);
}

#[test]
fn refuses_what_it_cannot_pay() {
    let (mut wallet, coins) = funded(&[COIN, 2 * COIN]);
    let rate = 10;
    assert_eq!(
        wallet.create_payment(stranger(), Amount(3 * COIN), rate, &coins),
        Err(WalletError::InsufficientFunds {
            needed: Amount(3 * COIN + rate * payment_len(2, 1) as u64),
            available: Amount(3 * COIN),
        })
    );
    assert_eq!(
        wallet.create_payment(stranger(), Amount::ZERO, rate, &coins),
        Err(WalletError::ZeroAmount)
    );
    assert_eq!(
        wallet.create_payment(stranger(), Amount(MAX_MONEY.0 + 1), 0, &coins),
        Err(WalletError::AmountTooLarge)
    );
    let foreign = [(outpoint(1), coin(stranger(), 100 * COIN, 1, false))];
    let error = wallet
        .create_payment(stranger(), Amount(COIN), 0, &foreign)
        .unwrap_err();
    assert_eq!(error.code(), "insufficient-funds");
    assert_eq!(
        wallet.addresses().count(),
        1,
        "no change address on failure"
    );
}

#[test]
fn repeated_outpoints_are_spent_once() {
    let (mut wallet, coins) = funded(&[4 * COIN]);
    let doubled = [coins[0], coins[0]];
    let error = wallet
        .create_payment(stranger(), Amount(6 * COIN), 0, &doubled)
        .unwrap_err();
    assert_eq!(
        error,
        WalletError::InsufficientFunds {
            needed: Amount(6 * COIN),
            available: Amount(4 * COIN),
        }
    );
}

#[test]
fn sign_refuses_foreign_keys_and_signs_nothing() {
    let (mut wallet, coins) = funded(&[5 * COIN]);
    let payment = wallet
        .create_payment(stranger(), Amount(COIN), 1, &coins)
        .unwrap();
    let mut tx = payment.tx.clone();
    let other = Wallet::from_seed([9; 32]);
    assert_eq!(other.sign(&mut tx), Err(WalletError::UnknownKey));
    assert_eq!(tx, payment.tx);

    // The outputs changed after signing: the old signature no longer verifies, a new one does.
    tx.outputs[0].amount = Amount(2 * COIN);
    assert_eq!(verify_signatures(&tx), Err(RuleError::BadSignature));
    wallet.sign(&mut tx).unwrap();
    assert_eq!(verify_signatures(&tx), Ok(()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn payments_pass_consensus_or_funds_are_truly_short(
        values in prop::collection::vec(1u64..50 * COIN, 0..8),
        amount in 1u64..100 * COIN,
        rate in 0u64..2_000,
    ) {
        let (mut wallet, coins) = funded(&values);
        match wallet.create_payment(stranger(), Amount(amount), rate, &coins) {
            Ok(payment) => {
                prop_assert_eq!(consensus_fee(&payment, &coins), Ok(payment.fee));
                let size_fee = rate * payment.tx.encoded_len() as u64;
                prop_assert!(payment.fee.0 >= size_fee);
                if payment.change.is_some() {
                    prop_assert_eq!(payment.fee.0, size_fee);
                } else {
                    let dust = rate * (payment_len(0, 1) + payment_len(1, 0)
                        - 2 * payment_len(0, 0)) as u64;
                    prop_assert!(payment.fee.0 - size_fee <= dust);
                }
            }
            Err(WalletError::InsufficientFunds { needed, available }) => {
                // Even every coin with a value above its own input fee falls short.
                let input_fee = rate * (payment_len(1, 0) - payment_len(0, 0)) as u64;
                let worth: Vec<u64> = values.iter().copied().filter(|v| *v > input_fee).collect();
                let best = worth.iter().sum::<u64>();
                prop_assert!(best < amount + rate * payment_len(worth.len().max(1), 1) as u64);
                prop_assert!(available < needed);
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }
}
