//! One test per `RuleError` code: each builds a real case (a solved regtest block, transactions
//! signed with ed25519) that breaks exactly that rule, asserts the exact error from the
//! `consensus` function that owns the rule, and shows that the unbroken case passes.
//!
//! `bad-prevblk` is tested through the chain. The last test fails when a code has no test here.

#[path = "rule_codes/support.rs"]
mod support;

use nakachain::chain::UtxoSet;
use nakachain::consensus::pow::compact_to_target;
use nakachain::consensus::rules::{
    check_block, check_coinbase_amount, check_coinbase_height, check_header, check_header_context,
    check_transaction, check_tx_inputs, median_time, verify_signatures,
};
use nakachain::consensus::{Coin, RuleError};
use nakachain::miner::{assemble_block, coinbase_transaction};
use nakachain::params::{Params, MAX_BLOCK_BYTES};
use nakachain::types::{Amount, COIN, MAX_MONEY};
use support::*;

// --- Block, context-free -------------------------------------------------------------------

#[test]
fn bad_blk_length() {
    let params = Params::regtest();
    let block_len =
        |outputs| assemble_block(&spec(&params), vec![wide_spend(outputs)]).encoded_len();
    let mut outputs = MAX_BLOCK_BYTES / 28;
    while block_len(outputs) > MAX_BLOCK_BYTES {
        outputs -= 1;
    }
    let at_limit = solved(vec![wide_spend(outputs)]);
    assert!(at_limit.encoded_len() <= MAX_BLOCK_BYTES);
    assert_eq!(check_block(&at_limit, &params), Ok(()));

    let over = solved(vec![wide_spend(outputs + 1)]);
    assert!(over.encoded_len() > MAX_BLOCK_BYTES);
    assert!(over.transactions[0].is_coinbase());
    assert_eq!(check_block(&over, &params), Err(RuleError::BlockTooLarge));
}

#[test]
fn bad_version() {
    let params = Params::regtest();
    let mut block = solved(vec![spend()]);
    assert_eq!(check_block(&block, &params), Ok(()));
    block.header.version = 2;
    resolve(&mut block);
    assert_eq!(
        check_header(&block.header, &params),
        Err(RuleError::BadBlockVersion)
    );
    assert_eq!(
        check_block(&block, &params),
        Err(RuleError::BadBlockVersion)
    );
}

#[test]
fn bad_compact_bits() {
    let params = Params::regtest();
    assert!(compact_to_target(params.pow_limit_bits).is_ok());
    for bits in [
        0x0180_0001, // sign bit set: negative
        0x0480_0000, // negative zero
        0x2101_0000, // 2^16 << 240 overflows 256 bits
        0xff12_3456, // absurd exponent
        0x2000_0000, // zero mantissa
        0x0100_0012, // mantissa shifted out to zero
    ] {
        assert_eq!(
            compact_to_target(bits),
            Err(RuleError::BadCompactBits),
            "bits {bits:#010x}"
        );
    }

    // 2^255: a valid encoding, but easier than the pow limit (2^255 - 2^232).
    let too_easy = 0x2100_8000;
    assert!(compact_to_target(too_easy).unwrap() > params.pow_limit());
    for bits in [too_easy, 0x0180_0001] {
        let mut block = solved(vec![spend()]);
        block.header.bits = bits;
        assert_eq!(
            check_header(&block.header, &params),
            Err(RuleError::BadCompactBits)
        );
        assert_eq!(check_block(&block, &params), Err(RuleError::BadCompactBits));
    }
}

#[test]
fn high_hash() {
    let params = Params::regtest();
    let mut block = solved(vec![spend()]);
    assert_eq!(check_header(&block.header, &params), Ok(()));

    // Bitcoin's difficulty-1 target: well under the regtest limit, and this header misses it.
    let hard = 0x1d00_ffff;
    assert!(compact_to_target(hard).unwrap() < params.pow_limit());
    block.header.bits = hard;
    assert_eq!(
        check_header(&block.header, &params),
        Err(RuleError::HighHash)
    );
    assert_eq!(check_block(&block, &params), Err(RuleError::HighHash));

    // At the regtest limit about one nonce in two fails: take the first that does.
    block.header.bits = params.pow_limit_bits;
    while check_header(&block.header, &params).is_ok() {
        block.header.nonce += 1;
    }
    assert_eq!(check_block(&block, &params), Err(RuleError::HighHash));
}

#[test]
fn bad_txnmrklroot() {
    let params = Params::regtest();
    let mut block = solved(vec![spend()]);
    assert_eq!(check_block(&block, &params), Ok(()));
    block.transactions[1].outputs[0].amount = Amount(8 * COIN);
    resolve(&mut block);
    assert_eq!(check_block(&block, &params), Err(RuleError::BadMerkleRoot));

    block.header.merkle_root = block.compute_merkle_root();
    resolve(&mut block);
    assert_eq!(check_block(&block, &params), Ok(()));
}

#[test]
fn bad_cb_missing() {
    let params = Params::regtest();
    let coinbase = solved(Vec::new()).transactions[0].clone();
    assert_eq!(
        check_block(&solved_exactly(vec![coinbase.clone(), spend()]), &params),
        Ok(())
    );
    assert_eq!(
        check_block(&solved_exactly(vec![spend(), coinbase]), &params),
        Err(RuleError::CoinbaseMissing)
    );
    assert_eq!(
        check_block(&solved_exactly(Vec::new()), &params),
        Err(RuleError::CoinbaseMissing)
    );
}

#[test]
fn bad_cb_multiple() {
    let params = Params::regtest();
    let second = coinbase_transaction(2, 0, address_of(&key(3)), Amount(COIN));
    let block = solved(vec![spend(), second]);
    assert_eq!(
        check_block(&block, &params),
        Err(RuleError::CoinbaseMultiple)
    );
    assert_eq!(check_block(&solved(vec![spend()]), &params), Ok(()));
}

#[test]
fn bad_txns_duplicate() {
    let params = Params::regtest();
    let block = solved(vec![spend(), spend()]);
    assert_eq!(check_block(&block, &params), Err(RuleError::DuplicateTx));
    let other = signed(
        &[(outpoint(2), &key(1))],
        vec![pay(COIN, address_of(&key(2)))],
    );
    assert_eq!(check_block(&solved(vec![spend(), other]), &params), Ok(()));
}

// --- Block, contextual ---------------------------------------------------------------------

#[test]
fn bad_diffbits() {
    let (params, context) = devnet_context();
    let now = u64::from(context.retarget.parent_time);
    let mut header = contextual_header(&params, &context);
    assert_eq!(
        check_header_context(&header, &context, now, &params),
        Ok(())
    );
    assert_ne!(
        header.bits, context.retarget.parent_bits,
        "a slow block eases the target"
    );

    header.bits = context.retarget.parent_bits;
    assert_eq!(
        check_header_context(&header, &context, now, &params),
        Err(RuleError::BadDiffBits)
    );
}

#[test]
fn time_too_old() {
    let (params, context) = devnet_context();
    let now = u64::from(context.retarget.parent_time);
    let median = median_time(&context.recent_times);
    let mut header = contextual_header(&params, &context);
    header.time = median + 1;
    assert_eq!(
        check_header_context(&header, &context, now, &params),
        Ok(())
    );
    header.time = median;
    assert_eq!(
        check_header_context(&header, &context, now, &params),
        Err(RuleError::TimeTooOld)
    );
}

#[test]
fn time_too_new() {
    let (params, context) = devnet_context();
    let now = u64::from(context.retarget.parent_time);
    let mut header = contextual_header(&params, &context);
    header.time = context.retarget.parent_time + params.max_future_block_secs;
    assert_eq!(
        check_header_context(&header, &context, now, &params),
        Ok(())
    );
    header.time += 1;
    assert_eq!(
        check_header_context(&header, &context, now, &params),
        Err(RuleError::TimeTooNew)
    );
    assert!(!RuleError::TimeTooNew.is_permanent());
}

#[test]
fn bad_cb_height() {
    let block = solved(vec![spend()]);
    assert_eq!(check_coinbase_height(&block, 1), Ok(()));
    assert_eq!(
        check_coinbase_height(&block, 2),
        Err(RuleError::CoinbaseHeight)
    );
    assert_eq!(
        check_coinbase_height(&block, 0),
        Err(RuleError::CoinbaseHeight)
    );
}

#[test]
fn bad_cb_amount() {
    let params = Params::regtest();
    let fee = check_tx_inputs(&spend(), &funding(), 2, &params).unwrap();
    assert_eq!(fee, Amount(COIN));
    let full = params.subsidy(1).checked_add(fee).unwrap();

    let mut honest = spec(&params);
    honest.coinbase_value = full;
    let block = assemble_block(&honest, vec![spend()]);
    assert_eq!(
        check_coinbase_amount(&block.transactions[0], 1, fee, &params),
        Ok(())
    );

    let mut greedy = honest;
    greedy.coinbase_value = Amount(full.0 + 1);
    let mut block = assemble_block(&greedy, vec![spend()]);
    solve(&mut block);
    assert_eq!(
        check_block(&block, &params),
        Ok(()),
        "only the amount is wrong"
    );
    assert_eq!(
        check_coinbase_amount(&block.transactions[0], 1, fee, &params),
        Err(RuleError::CoinbaseAmount)
    );
}

// --- Transaction, context-free -------------------------------------------------------------

#[test]
fn bad_txns_version() {
    let mut tx = spend();
    assert_eq!(check_transaction(&tx), Ok(()));
    tx.version = 2;
    resign(&mut tx, &[&key(1)]);
    assert_eq!(verify_signatures(&tx), Ok(()));
    assert_eq!(check_transaction(&tx), Err(RuleError::BadTxVersion));
}

#[test]
fn bad_txns_vin_empty() {
    let tx = signed(&[], vec![pay(COIN, address_of(&key(2)))]);
    assert_eq!(check_transaction(&tx), Err(RuleError::NoInputs));
    assert_eq!(check_transaction(&spend()), Ok(()));
}

#[test]
fn bad_txns_vout_empty() {
    let tx = signed(&[(outpoint(1), &key(1))], Vec::new());
    assert_eq!(check_transaction(&tx), Err(RuleError::NoOutputs));
    assert_eq!(check_transaction(&spend()), Ok(()));
}

#[test]
fn bad_txns_oversize() {
    let mut outputs = MAX_BLOCK_BYTES / 28;
    while wide_spend(outputs).encoded_len() > MAX_BLOCK_BYTES {
        outputs -= 1;
    }
    assert_eq!(check_transaction(&wide_spend(outputs)), Ok(()));
    let over = wide_spend(outputs + 1);
    assert!(over.encoded_len() > MAX_BLOCK_BYTES);
    assert_eq!(check_transaction(&over), Err(RuleError::TxTooLarge));
}

#[test]
fn bad_txns_vout_zero() {
    let to = address_of(&key(2));
    let tx = signed(&[(outpoint(1), &key(1))], vec![pay(COIN, to), pay(0, to)]);
    assert_eq!(check_transaction(&tx), Err(RuleError::ZeroOutput));
    let tx = signed(&[(outpoint(1), &key(1))], vec![pay(COIN, to), pay(1, to)]);
    assert_eq!(check_transaction(&tx), Ok(()));
}

#[test]
fn bad_txns_vout_toolarge() {
    let to = address_of(&key(2));
    let tx = signed(&[(outpoint(1), &key(1))], vec![pay(MAX_MONEY.0, to)]);
    assert_eq!(check_transaction(&tx), Ok(()));
    let tx = signed(&[(outpoint(1), &key(1))], vec![pay(MAX_MONEY.0 + 1, to)]);
    assert_eq!(check_transaction(&tx), Err(RuleError::OutputTooLarge));
}

#[test]
fn bad_txns_txouttotal_toolarge() {
    let to = address_of(&key(2));
    let half = MAX_MONEY.0 / 2;
    let tx = signed(
        &[(outpoint(1), &key(1))],
        vec![pay(half, to), pay(MAX_MONEY.0 - half, to)],
    );
    assert_eq!(check_transaction(&tx), Ok(()));
    let tx = signed(
        &[(outpoint(1), &key(1))],
        vec![pay(half, to), pay(MAX_MONEY.0 - half + 1, to)],
    );
    assert_eq!(check_transaction(&tx), Err(RuleError::OutputTotalTooLarge));
}

#[test]
fn bad_txns_inputs_duplicate() {
    let to = address_of(&key(2));
    let tx = signed(
        &[(outpoint(1), &key(1)), (outpoint(1), &key(1))],
        vec![pay(COIN, to)],
    );
    assert_eq!(check_transaction(&tx), Err(RuleError::DuplicateInputs));
    let tx = signed(
        &[(outpoint(1), &key(1)), (outpoint(2), &key(1))],
        vec![pay(COIN, to)],
    );
    assert_eq!(check_transaction(&tx), Ok(()));
}

#[test]
fn bad_cb_inputs() {
    let mut coinbase = solved(Vec::new()).transactions[0].clone();
    assert_eq!(check_transaction(&coinbase), Ok(()));
    coinbase.inputs = spend().inputs;
    assert_eq!(
        check_transaction(&coinbase),
        Err(RuleError::CoinbaseHasInputs)
    );
}

// --- Transaction, contextual ---------------------------------------------------------------

#[test]
fn bad_txns_inputs_missingorspent() {
    let params = Params::regtest();
    let mut utxos = funding();
    assert_eq!(
        check_tx_inputs(&spend(), &utxos, 2, &params),
        Ok(Amount(COIN))
    );
    assert!(utxos.spend(&outpoint(1)).is_some());
    assert_eq!(
        check_tx_inputs(&spend(), &utxos, 2, &params),
        Err(RuleError::MissingOrSpent)
    );
    let never_existed = signed(
        &[(outpoint(7), &key(1))],
        vec![pay(COIN, address_of(&key(2)))],
    );
    assert_eq!(
        check_tx_inputs(&never_existed, &funding(), 2, &params),
        Err(RuleError::MissingOrSpent)
    );
}

#[test]
fn bad_txns_premature_spend_of_coinbase() {
    let params = Params::regtest();
    let mut utxos = UtxoSet::default();
    let mined_at = 5;
    utxos.insert(
        outpoint(1),
        Coin {
            output: pay(10 * COIN, address_of(&key(1))),
            height: mined_at,
            is_coinbase: true,
        },
    );
    let mature_at = mined_at + params.coinbase_maturity;
    assert_eq!(
        check_tx_inputs(&spend(), &utxos, mature_at, &params),
        Ok(Amount(COIN))
    );
    assert_eq!(
        check_tx_inputs(&spend(), &utxos, mature_at - 1, &params),
        Err(RuleError::PrematureCoinbaseSpend)
    );
}

#[test]
fn bad_txns_inputvalues_outofrange() {
    let params = Params::regtest();
    let owner = address_of(&key(1));
    let mut utxos = UtxoSet::default();
    for (n, units) in [(1, MAX_MONEY.0), (2, 1)] {
        let output = pay(units, owner);
        let coin = Coin {
            output,
            height: 1,
            is_coinbase: false,
        };
        utxos.insert(outpoint(n), coin);
    }
    let to = address_of(&key(2));
    let one = signed(&[(outpoint(1), &key(1))], vec![pay(COIN, to)]);
    assert!(check_tx_inputs(&one, &utxos, 2, &params).is_ok());
    let both = signed(
        &[(outpoint(1), &key(1)), (outpoint(2), &key(1))],
        vec![pay(COIN, to)],
    );
    assert_eq!(check_transaction(&both), Ok(()));
    assert_eq!(
        check_tx_inputs(&both, &utxos, 2, &params),
        Err(RuleError::InputValuesOutOfRange)
    );
}

#[test]
fn bad_txns_in_belowout() {
    let params = Params::regtest();
    let to = address_of(&key(2));
    let exact = signed(&[(outpoint(1), &key(1))], vec![pay(10 * COIN, to)]);
    assert_eq!(
        check_tx_inputs(&exact, &funding(), 2, &params),
        Ok(Amount::ZERO)
    );
    let greedy = signed(&[(outpoint(1), &key(1))], vec![pay(10 * COIN + 1, to)]);
    assert_eq!(check_transaction(&greedy), Ok(()));
    assert_eq!(
        check_tx_inputs(&greedy, &funding(), 2, &params),
        Err(RuleError::InputsBelowOutputs)
    );
}

#[test]
fn bad_txns_pubkey_mismatch() {
    let params = Params::regtest();
    assert_eq!(
        check_tx_inputs(&spend(), &funding(), 2, &params),
        Ok(Amount(COIN))
    );
    // Key 3 signs correctly, but the coin belongs to key 1's address.
    let thief = signed(
        &[(outpoint(1), &key(3))],
        vec![pay(9 * COIN, address_of(&key(3)))],
    );
    assert_eq!(verify_signatures(&thief), Ok(()));
    assert_eq!(
        check_tx_inputs(&thief, &funding(), 2, &params),
        Err(RuleError::PubkeyMismatch)
    );
}

#[test]
fn bad_txns_sig() {
    assert_eq!(verify_signatures(&spend()), Ok(()));

    // A signature by another key.
    let mut forged = spend();
    resign(&mut forged, &[&key(3)]);
    assert_eq!(verify_signatures(&forged), Err(RuleError::BadSignature));

    // A valid signature over another transaction: outputs changed after signing.
    let mut redirected = spend();
    redirected.outputs[0].address = address_of(&key(3));
    assert_eq!(verify_signatures(&redirected), Err(RuleError::BadSignature));

    // A public key that is not a curve point cannot verify anything.
    let mut garbage = spend();
    garbage.inputs[0].pubkey = [0xff; 32];
    assert_eq!(verify_signatures(&garbage), Err(RuleError::BadSignature));
}

#[test]
fn every_rule_code_has_a_test_here() {
    let source = include_str!("rule_codes.rs");
    let untested: Vec<&str> = RuleError::ALL
        .iter()
        .filter(|error| **error != RuleError::BadPrevBlock)
        .map(RuleError::code)
        .filter(|code| !source.contains(&format!("fn {}() {{", code.replace('-', "_"))))
        .collect();
    assert!(untested.is_empty(), "no test for {untested:?}");
}
