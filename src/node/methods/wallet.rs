//! Wallet and transaction methods: addresses, balances, payments and raw transactions.

use super::MethodFailure;
use crate::codec;
use crate::consensus::Coin;
use crate::mempool::MempoolError;
use crate::node::state::{Node, MIN_FEE_RATE};
use crate::params::MAX_BLOCK_BYTES;
use crate::rpc::params::{required_address, required_amount, required_str};
use crate::rpc::RpcError;
use crate::types::{Amount, OutPoint, Transaction};
use crate::wallet::{Balance, Payment, WalletError};
use serde_json::{json, Value};

/// Bitcoin Core's RPC_DESERIALIZATION_ERROR.
const DESERIALIZATION_ERROR: i64 = -22;

fn mempool_error(error: MempoolError) -> RpcError {
    match error {
        MempoolError::AlreadyConfirmed => RpcError::verify_already_in_chain(error.to_string()),
        other => RpcError::verify_rejected(other.to_string()),
    }
}

pub(super) fn send_raw_transaction(node: &mut Node, params: &[Value]) -> Result<Value, RpcError> {
    let text = required_str(params, 0, "hexstring")?;
    let decode_failed = |reason: String| RpcError {
        code: DESERIALIZATION_ERROR,
        message: format!("TX decode failed: {reason}"),
    };
    let bytes = hex::decode(text).map_err(|error| decode_failed(error.to_string()))?;
    let tx: Transaction =
        codec::decode(&bytes, MAX_BLOCK_BYTES).map_err(|error| decode_failed(error.to_string()))?;
    let txid = node.accept_transaction(tx).map_err(mempool_error)?;
    Ok(json!(txid))
}

pub(super) fn get_new_address(node: &mut Node) -> Result<Value, MethodFailure> {
    Ok(json!(node.new_address()?.to_string()))
}

fn wallet_balance(node: &Node) -> Balance {
    node.wallet.balance(
        node.chain.utxos().iter(),
        node.chain.height() + 1,
        node.params(),
    )
}

/// Outputs paying the wallet from transactions still in the mempool.
fn pending_incoming(node: &Node) -> Amount {
    node.mempool
        .entries()
        .flat_map(|entry| entry.tx.outputs.iter())
        .filter(|output| node.wallet.owns(&output.address))
        .fold(Amount::ZERO, |sum, output| {
            sum.checked_add(output.amount).unwrap_or(sum)
        })
}

pub(super) fn get_balance(node: &Node) -> Value {
    json!(wallet_balance(node).confirmed.to_coins_f64())
}

pub(super) fn get_balances(node: &Node) -> Value {
    let balance = wallet_balance(node);
    json!({
        "mine": {
            "trusted": balance.confirmed.to_coins_f64(),
            "untrusted_pending": pending_incoming(node).to_coins_f64(),
            "immature": balance.immature.to_coins_f64(),
        }
    })
}

fn wallet_error(error: WalletError) -> RpcError {
    match error {
        WalletError::InsufficientFunds { .. } => {
            RpcError::wallet_insufficient_funds(error.to_string())
        }
        other => RpcError::invalid_parameter(other.to_string()),
    }
}

/// Builds and signs a payment from the wallet (confirmed coins, and unconfirmed outputs to the
/// wallet); nothing is broadcast.
fn build_payment(node: &mut Node, params: &[Value]) -> Result<Payment, MethodFailure> {
    let to = required_address(params, 0, "address")?;
    let amount = required_amount(params, 1, "amount")?;
    let next_height = node.chain.height() + 1;
    // Unconfirmed outputs to the wallet count too (as Bitcoin Core spends its own change), so
    // two payments in a row do not wait for a block; the mempool accepts the chained spend.
    let unconfirmed: Vec<(OutPoint, Coin)> = node
        .mempool
        .unspent_outputs()
        .map(|(outpoint, output)| {
            let coin = Coin {
                output,
                height: next_height,
                is_coinbase: false,
            };
            (outpoint, coin)
        })
        .collect();
    let spendable = node.wallet.spendable_coins(
        node.chain
            .utxos()
            .iter()
            .chain(unconfirmed.iter().map(|(outpoint, coin)| (*outpoint, coin))),
        next_height,
        node.chain.params(),
        |outpoint| node.mempool.spender_of(outpoint).is_some(),
    );
    let payment = node
        .wallet
        .create_payment(to, amount, MIN_FEE_RATE, &spendable)
        .map_err(wallet_error)?;
    if payment.change.is_some() {
        node.save_wallet()?;
    }
    Ok(payment)
}

pub(super) fn send_to_address(node: &mut Node, params: &[Value]) -> Result<Value, MethodFailure> {
    let payment = build_payment(node, params)?;
    let fee = payment.fee;
    let txid = node.accept_transaction(payment.tx).map_err(mempool_error)?;
    tracing::info!(%txid, fee = %fee, "payment sent");
    Ok(json!(txid))
}

/// `createpayment ADDRESS AMOUNT`: a signed payment that is not broadcast, for
/// `sendrawtransaction` later or elsewhere. The coins it spends stay unreserved, so a second
/// call for the same amount spends the same coin: that is how a scenario makes a double spend.
pub(super) fn create_payment(node: &mut Node, params: &[Value]) -> Result<Value, MethodFailure> {
    let payment = build_payment(node, params)?;
    let inputs: Vec<String> = payment
        .tx
        .inputs
        .iter()
        .map(|input| format!("{}:{}", input.prevout.txid, input.prevout.vout))
        .collect();
    Ok(json!({
        "txid": payment.tx.txid(),
        "hex": hex::encode(codec::encode(&payment.tx)),
        "fee": payment.fee.to_coins_f64(),
        "inputs": inputs,
    }))
}
