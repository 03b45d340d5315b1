//! Wallet: deterministic keys from one seed, addresses, balance, coin selection and signing.
//!
//! Key i is the ed25519 key whose secret is SHA-256("nakachain-wallet-key" ‖ seed ‖ i as u32 LE),
//! so a backup of the 32-byte seed restores every address. Owns the keys and the bytes of the
//! wallet file (`encode` / `decode`); `store` writes the file (mode 0600). Must not do I/O, read
//! the clock or draw randomness: the caller passes the seed (from the OS) and the coins (from the
//! UTXO set and the mempool). Must not decide validity: payments are built to pass
//! `consensus::rules`, which stays the judge.

use crate::codec;
use crate::consensus::Coin;
use crate::params::{Params, MAX_BLOCK_BYTES};
use crate::types::{
    sha256, Address, Amount, Hash256, OutPoint, SignatureBytes, Transaction, TxIn, TxOut, MAX_MONEY,
};
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt;

const KEY_DOMAIN: &[u8] = b"nakachain-wallet-key";
const FILE_MAGIC: [u8; 8] = *b"nkwallet";
/// Version 2 adds a checksum over the body; version 1 files (without) still open, and are
/// written as version 2 from then on.
const FILE_VERSION: u32 = 2;
const FILE_VERSION_UNCHECKED: u32 = 1;
const CHECKSUM_DOMAIN: &[u8] = b"nakachain-wallet-checksum";
/// A version-1 file is 56 bytes; the limit leaves room for later versions and refuses the rest
/// before decoding.
const MAX_FILE_BYTES: usize = 1024;
/// Most keys a wallet file may claim. Deriving a key costs one scalar multiplication (about
/// 25 µs), so this bounds the work a corrupt file can demand at load to under a minute.
pub(crate) const MAX_KEYS: u32 = 1_000_000;

/// Why the wallet refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    #[error("insufficient funds: need {needed} (amount plus fee), have {available} spendable")]
    /// The wallet's spendable coins do not cover amount and fee.
    InsufficientFunds {
        /// Amount plus fee.
        needed: Amount,
        /// What the wallet can spend.
        available: Amount,
    },
    #[error("amount must be more than zero")]
    /// A payment of nothing.
    ZeroAmount,
    #[error("amount or fee is over the money supply")]
    /// More than MAX_MONEY.
    AmountTooLarge,
    #[error("payment would need {bytes} bytes, over the {MAX_BLOCK_BYTES}-byte limit")]
    /// The payment would be too large for a transaction.
    PaymentTooLarge {
        /// Its size.
        bytes: usize,
    },
    #[error("wallet file is corrupt: {0}")]
    /// The wallet file does not decode.
    Corrupt(String),
    #[error("wallet file version {0} is not supported (this build reads version {FILE_VERSION})")]
    /// The wallet file is of a newer version.
    UnsupportedVersion(u32),
    #[error("an input's public key is not one of this wallet's keys")]
    /// No key of this wallet owns the coin.
    UnknownKey,
}

impl WalletError {
    /// A stable code for logs and RPC replies.
    pub fn code(&self) -> &'static str {
        match self {
            WalletError::InsufficientFunds { .. } => "insufficient-funds",
            WalletError::ZeroAmount => "zero-amount",
            WalletError::AmountTooLarge => "amount-too-large",
            WalletError::PaymentTooLarge { .. } => "payment-too-large",
            WalletError::Corrupt(_) => "wallet-corrupt",
            WalletError::UnsupportedVersion(_) => "wallet-unsupported-version",
            WalletError::UnknownKey => "unknown-key",
        }
    }
}

/// What the wallet's coins are worth.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Balance {
    /// Owned and spendable: every non-coinbase coin and every mature coinbase coin.
    pub confirmed: Amount,
    /// Owned coinbase outputs that have not reached maturity yet.
    pub immature: Amount,
}

/// A signed payment ready for the mempool.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Payment {
    /// The signed transaction.
    pub tx: Transaction,
    /// Inputs minus outputs.
    pub fee: Amount,
    /// The fresh wallet address that received the change, if there was change worth an output.
    pub change: Option<Address>,
}

/// The on-disk frame: the version decides how `body` decodes, so a later layout still gets a
/// clear "unsupported version" from this build rather than "garbage".
#[derive(Serialize, Deserialize)]
struct FileEnvelope {
    magic: [u8; 8],
    version: u32,
    body: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct FileBodyV1 {
    seed: [u8; 32],
    key_count: u32,
}

/// Version 2's body: version 1's, then its checksum. A flipped bit in the seed would otherwise
/// open as another wallet, with other keys and no coins.
#[derive(Serialize, Deserialize)]
struct FileBodyV2 {
    seed: [u8; 32],
    key_count: u32,
    checksum: [u8; 32],
}

/// SHA-256 over a domain tag, the seed and the key count.
fn body_checksum(seed: &[u8; 32], key_count: u32) -> [u8; 32] {
    let mut data = CHECKSUM_DOMAIN.to_vec();
    data.extend_from_slice(seed);
    data.extend_from_slice(&key_count.to_le_bytes());
    sha256(&data)
}

/// Keys derived from one seed.
#[derive(Clone)]
pub struct Wallet {
    seed: [u8; 32],
    keys: Vec<SigningKey>,
    addresses: Vec<Address>,
    index: HashMap<Address, usize>,
}

// Hand-written so the seed and secret keys never reach a log.
impl fmt::Debug for Wallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wallet")
            .field("addresses", &self.addresses)
            .finish_non_exhaustive()
    }
}

fn derive_key(seed: &[u8; 32], index: u32) -> SigningKey {
    let mut material = Vec::with_capacity(KEY_DOMAIN.len() + 32 + 4);
    material.extend_from_slice(KEY_DOMAIN);
    material.extend_from_slice(seed);
    material.extend_from_slice(&index.to_le_bytes());
    SigningKey::from_bytes(&sha256(&material))
}

/// Whether `coin` may be spent in a block at `next_height` (the rule of `check_tx_inputs`).
fn is_mature(coin: &Coin, next_height: u32, params: &Params) -> bool {
    !coin.is_coinbase || next_height.saturating_sub(coin.height) >= params.coinbase_maturity
}

/// Encoded size of a payment with this many inputs and outputs. With fixed-width integers
/// every input and output encodes to the same number of bytes, so the size is linear in the
/// counts (a test checks this against real transactions).
fn payment_len(inputs: usize, outputs: usize) -> usize {
    let empty = Transaction {
        version: Transaction::VERSION,
        coinbase: None,
        inputs: Vec::new(),
        outputs: Vec::new(),
    };
    let input = TxIn {
        prevout: OutPoint {
            txid: Hash256::ZERO,
            vout: 0,
        },
        pubkey: [0; 32],
        signature: SignatureBytes([0; 64]),
    };
    let output = TxOut {
        amount: Amount::ZERO,
        address: Address([0; 20]),
    };
    empty.encoded_len()
        + inputs * codec::encoded_len(&input)
        + outputs * codec::encoded_len(&output)
}

fn to_amount(units: u128) -> Result<Amount, WalletError> {
    u64::try_from(units)
        .map(Amount)
        .map_err(|_| WalletError::AmountTooLarge)
}

/// A coin the wallet can spend: its outpoint, value and the index of the key that owns it.
#[derive(Clone, Copy)]
struct Candidate {
    outpoint: OutPoint,
    value: u128,
    key: usize,
}

/// Picks coins from `candidates` (sorted by value, smallest first) worth at least
/// `needed(number of coins picked)`: the smallest single coin that does, else the largest
/// coins first. Largest first finds a cover whenever any subset is one, since each extra coin
/// raises `needed` by the same amount whatever its value.
fn select_coins(
    candidates: &[Candidate],
    needed: impl Fn(usize) -> u128,
) -> Result<Vec<Candidate>, WalletError> {
    if let Some(single) = candidates.iter().find(|c| c.value >= needed(1)) {
        return Ok(vec![*single]);
    }
    let mut chosen = Vec::new();
    let mut total = 0u128;
    for candidate in candidates.iter().rev() {
        chosen.push(*candidate);
        total += candidate.value;
        if total >= needed(chosen.len()) {
            return Ok(chosen);
        }
    }
    Err(WalletError::InsufficientFunds {
        needed: to_amount(needed(chosen.len().max(1)))?,
        available: to_amount(total)?,
    })
}

impl Wallet {
    /// A wallet over `seed` with no addresses derived yet.
    pub fn from_seed(seed: [u8; 32]) -> Wallet {
        Wallet {
            seed,
            keys: Vec::new(),
            addresses: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The wallet file's bytes: magic, version, seed, key count and checksum.
    pub fn encode(&self) -> Vec<u8> {
        // Cannot truncate: `new_address` stops deriving at MAX_KEYS, which fits in u32.
        let key_count = self.keys.len() as u32;
        let body = FileBodyV2 {
            seed: self.seed,
            key_count,
            checksum: body_checksum(&self.seed, key_count),
        };
        codec::encode(&FileEnvelope {
            magic: FILE_MAGIC,
            version: FILE_VERSION,
            body: codec::encode(&body),
        })
    }

    /// Reads a wallet file and derives its keys again.
    pub fn decode(bytes: &[u8]) -> Result<Wallet, WalletError> {
        if !bytes.starts_with(&FILE_MAGIC) {
            return Err(WalletError::Corrupt(
                "bad magic: not a nakachain wallet file".to_string(),
            ));
        }
        let envelope: FileEnvelope = codec::decode(bytes, MAX_FILE_BYTES)
            .map_err(|e| WalletError::Corrupt(format!("{}: {e}", e.code())))?;
        let corrupt_body =
            |e: codec::CodecError| WalletError::Corrupt(format!("body {}: {e}", e.code()));
        let body = match envelope.version {
            FILE_VERSION_UNCHECKED => {
                codec::decode::<FileBodyV1>(&envelope.body, MAX_FILE_BYTES).map_err(corrupt_body)?
            }
            FILE_VERSION => {
                let body: FileBodyV2 =
                    codec::decode(&envelope.body, MAX_FILE_BYTES).map_err(corrupt_body)?;
                if body.checksum != body_checksum(&body.seed, body.key_count) {
                    return Err(WalletError::Corrupt(
                        "checksum mismatch: the file is damaged (restore it from a backup)"
                            .to_string(),
                    ));
                }
                FileBodyV1 {
                    seed: body.seed,
                    key_count: body.key_count,
                }
            }
            other => return Err(WalletError::UnsupportedVersion(other)),
        };
        if body.key_count > MAX_KEYS {
            return Err(WalletError::Corrupt(format!(
                "claims {} keys, over the limit of {MAX_KEYS}",
                body.key_count
            )));
        }
        let mut wallet = Wallet::from_seed(body.seed);
        for _ in 0..body.key_count {
            wallet.derive_next();
        }
        Ok(wallet)
    }

    fn derive_next(&mut self) -> Address {
        // Cannot truncate: callers stop at MAX_KEYS, which fits in u32.
        let key = derive_key(&self.seed, self.keys.len() as u32);
        let address = Address::from_pubkey(key.verifying_key().as_bytes());
        self.index.insert(address, self.keys.len());
        self.keys.push(key);
        self.addresses.push(address);
        address
    }

    /// Derives the next key and returns its address. A wallet already holding `MAX_KEYS` keys
    /// returns its last address again rather than grow a file that `decode` would refuse.
    pub fn new_address(&mut self) -> Address {
        match self.addresses.get(MAX_KEYS as usize - 1) {
            Some(last) => *last,
            None => self.derive_next(),
        }
    }

    /// Every address, in derivation order.
    pub fn addresses(&self) -> impl Iterator<Item = Address> + '_ {
        self.addresses.iter().copied()
    }

    /// Whether one of the wallet's keys owns `address`.
    pub fn owns(&self, address: &Address) -> bool {
        self.index.contains_key(address)
    }

    /// The value of the owned coins among `coins`, for a block at `next_height` (tip + 1).
    pub fn balance<'a>(
        &self,
        coins: impl IntoIterator<Item = (OutPoint, &'a Coin)>,
        next_height: u32,
        params: &Params,
    ) -> Balance {
        let mut balance = Balance::default();
        for (_, coin) in coins {
            if !self.owns(&coin.output.address) {
                continue;
            }
            let slot = if is_mature(coin, next_height, params) {
                &mut balance.confirmed
            } else {
                &mut balance.immature
            };
            // Saturating: the coins of a valid chain sum to less than MAX_MONEY anyway.
            *slot = Amount(slot.0.saturating_add(coin.output.amount.0));
        }
        balance
    }

    /// Owned, mature coins that no mempool transaction spends, sorted by outpoint.
    pub(crate) fn spendable_coins<'a>(
        &self,
        coins: impl IntoIterator<Item = (OutPoint, &'a Coin)>,
        next_height: u32,
        params: &Params,
        spent_in_mempool: impl Fn(&OutPoint) -> bool,
    ) -> Vec<(OutPoint, Coin)> {
        let mut spendable: Vec<(OutPoint, Coin)> = coins
            .into_iter()
            .filter(|(outpoint, coin)| {
                self.owns(&coin.output.address)
                    && is_mature(coin, next_height, params)
                    && !spent_in_mempool(outpoint)
            })
            .map(|(outpoint, coin)| (outpoint, *coin))
            .collect();
        spendable.sort_by_key(|(outpoint, _)| *outpoint);
        spendable
    }

    /// Builds and signs a payment of `amount` to `to` from `spendable`, paying `fee_rate` base
    /// units per encoded byte of the final transaction.
    ///
    /// Coin selection: the smallest single coin that covers amount plus fee; failing that, the
    /// largest coins first until they cover it. The latter finds a cover whenever one exists,
    /// since adding a coin raises the fee by the same amount whatever its value. Coins the
    /// wallet does not own and repeated outpoints in `spendable` are ignored. Inputs are
    /// ordered by outpoint, the payment is output 0 and change output 1.
    ///
    /// Change goes to a fresh address only when it is worth an output: more than what that
    /// output costs now and what spending it later will cost (one input at `fee_rate`).
    /// Smaller change, zero included, is left to the fee, so `fee` is then slightly above
    /// `fee_rate` × size.
    pub fn create_payment(
        &mut self,
        to: Address,
        amount: Amount,
        fee_rate: u64,
        spendable: &[(OutPoint, Coin)],
    ) -> Result<Payment, WalletError> {
        if amount == Amount::ZERO {
            return Err(WalletError::ZeroAmount);
        }
        if amount > MAX_MONEY {
            return Err(WalletError::AmountTooLarge);
        }
        let mut seen = HashSet::new();
        let mut candidates: Vec<Candidate> = spendable
            .iter()
            .filter_map(|(outpoint, coin)| {
                let key = *self.index.get(&coin.output.address)?;
                seen.insert(*outpoint).then_some(Candidate {
                    outpoint: *outpoint,
                    value: u128::from(coin.output.amount.0),
                    key,
                })
            })
            .collect();
        candidates.sort_by_key(|c| (c.value, c.outpoint));

        let rate = u128::from(fee_rate);
        let fee_for = |inputs: usize, outputs: usize| rate * payment_len(inputs, outputs) as u128;
        let needed = |inputs: usize| u128::from(amount.0) + fee_for(inputs, 1);
        let selected = select_coins(&candidates, needed)?;

        let input_total: u128 = selected.iter().map(|c| c.value).sum();
        let output_cost = fee_for(0, 1) - fee_for(0, 0);
        let input_cost = fee_for(1, 0) - fee_for(0, 0);
        // Selection guarantees input_total >= needed, so this cannot underflow.
        let leftover = input_total - needed(selected.len());
        let change_value = leftover
            .checked_sub(output_cost)
            .filter(|change| *change > input_cost);
        let outputs = 1 + usize::from(change_value.is_some());
        let bytes = payment_len(selected.len(), outputs);
        if bytes > MAX_BLOCK_BYTES {
            return Err(WalletError::PaymentTooLarge { bytes });
        }
        let change_amount = change_value.map(to_amount).transpose()?;
        let fee = to_amount(input_total - u128::from(amount.0) - change_value.unwrap_or(0))?;

        let mut inputs: Vec<TxIn> = selected
            .iter()
            .map(|c| TxIn {
                prevout: c.outpoint,
                pubkey: self.keys[c.key].verifying_key().to_bytes(),
                signature: SignatureBytes([0; 64]),
            })
            .collect();
        inputs.sort_by_key(|input| input.prevout);
        let mut tx = Transaction {
            version: Transaction::VERSION,
            coinbase: None,
            inputs,
            outputs: vec![TxOut {
                amount,
                address: to,
            }],
        };
        let change = change_amount.map(|change_amount| {
            let address = self.new_address();
            tx.outputs.push(TxOut {
                amount: change_amount,
                address,
            });
            address
        });
        self.sign(&mut tx)?;
        Ok(Payment { tx, fee, change })
    }

    fn key_for_pubkey(&self, pubkey: &[u8; 32]) -> Option<&SigningKey> {
        let key = &self.keys[*self.index.get(&Address::from_pubkey(pubkey))?];
        (key.verifying_key().as_bytes() == pubkey).then_some(key)
    }

    /// Signs every input over the transaction's sighash. All or nothing: if any input's public
    /// key is not the wallet's, nothing is signed and the error is `UnknownKey`, so a caller
    /// never holds a half-signed transaction that fails later as `bad-txns-sig`.
    pub fn sign(&self, tx: &mut Transaction) -> Result<(), WalletError> {
        let keys = tx
            .inputs
            .iter()
            .map(|input| {
                self.key_for_pubkey(&input.pubkey)
                    .ok_or(WalletError::UnknownKey)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sighash = tx.sighash();
        for (input, key) in tx.inputs.iter_mut().zip(keys) {
            input.signature = SignatureBytes(key.sign(sighash.as_bytes()).to_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
