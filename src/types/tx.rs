//! Transactions: outpoints, inputs, outputs, the coinbase marker, txid and sighash.
//!
//! Owns the transaction data model and the two hashes over it. txid = SHA-256d of the full
//! encoding; sighash = SHA-256d of a domain tag and the encoding with every signature left out,
//! so one signature per input covers the whole transaction. Must not verify signatures or look
//! at the UTXO set (see `consensus::rules`).

use super::address::Address;
use super::amount::Amount;
use super::hash::{sha256d, sha256d_parts, Hash256};
use crate::codec;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

const SIGHASH_DOMAIN: &[u8] = b"nakachain-sighash-v1";

/// A transaction id.
pub type Txid = Hash256;

/// A reference to one output of an earlier transaction.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct OutPoint {
    /// The transaction.
    pub txid: Txid,
    /// Its output's index.
    pub vout: u32,
}

/// An ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignatureBytes(pub [u8; 64]);

impl fmt::Debug for SignatureBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0))
    }
}

impl Serialize for SignatureBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        crate::codec::raw_bytes::serialize(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for SignatureBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::codec::raw_bytes::deserialize(deserializer).map(SignatureBytes)
    }
}

/// Spends `prevout`; `pubkey` must hash to the address of the spent output and `signature`
/// must be its strict ed25519 signature over the transaction's sighash.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct TxIn {
    /// The coin spent.
    pub prevout: OutPoint,
    #[serde(with = "crate::codec::raw_bytes")]
    /// The ed25519 public key owning the coin.
    pub pubkey: [u8; 32],
    /// The signature over the sighash.
    pub signature: SignatureBytes,
}

/// Pays `amount` to `address`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct TxOut {
    /// How much it pays.
    pub amount: Amount,
    /// To whom.
    pub address: Address,
}

/// What makes a transaction a coinbase: the height it claims (so every coinbase txid is unique)
/// and the extra nonce a miner rolls when the header nonce range runs out.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CoinbaseData {
    /// The block's height (makes every coinbase txid unique).
    pub height: u32,
    /// Varied by miners past the nonce's range.
    pub extra_nonce: u64,
}

/// A transaction. A coinbase has `coinbase: Some(..)` and no inputs; any other has `None` and
/// at least one input.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Transaction {
    /// The transaction version.
    pub version: u32,
    /// Present in a coinbase only.
    pub coinbase: Option<CoinbaseData>,
    /// The coins spent.
    pub inputs: Vec<TxIn>,
    /// The coins made.
    pub outputs: Vec<TxOut>,
}

/// The signed part of an input: everything but the signature.
#[derive(Serialize)]
struct UnsignedInput<'a> {
    prevout: &'a OutPoint,
    pubkey: &'a [u8; 32],
}

#[derive(Serialize)]
struct UnsignedTransaction<'a> {
    version: u32,
    coinbase: &'a Option<CoinbaseData>,
    inputs: Vec<UnsignedInput<'a>>,
    outputs: &'a [TxOut],
}

impl Transaction {
    /// The only version v1 accepts.
    pub const VERSION: u32 = 1;

    /// Whether it is a block's coinbase.
    pub fn is_coinbase(&self) -> bool {
        self.coinbase.is_some()
    }

    /// SHA-256d of the full encoding, signatures included.
    pub fn txid(&self) -> Txid {
        sha256d(&codec::encode(self))
    }

    /// Encoded size in bytes.
    pub fn encoded_len(&self) -> usize {
        codec::encoded_len(self)
    }

    /// The message every input signs.
    pub fn sighash(&self) -> Hash256 {
        let unsigned = UnsignedTransaction {
            version: self.version,
            coinbase: &self.coinbase,
            inputs: self
                .inputs
                .iter()
                .map(|input| UnsignedInput {
                    prevout: &input.prevout,
                    pubkey: &input.pubkey,
                })
                .collect(),
            outputs: &self.outputs,
        };
        sha256d_parts(&[SIGHASH_DOMAIN, &codec::encode(&unsigned)])
    }

    /// Sum of outputs, or `None` if it overflows u64.
    pub(crate) fn output_total(&self) -> Option<Amount> {
        self.outputs
            .iter()
            .try_fold(Amount::ZERO, |sum, out| sum.checked_add(out.amount))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spend() -> Transaction {
        Transaction {
            version: 1,
            coinbase: None,
            inputs: vec![TxIn {
                prevout: OutPoint {
                    txid: Hash256([1; 32]),
                    vout: 0,
                },
                pubkey: [2; 32],
                signature: SignatureBytes([3; 64]),
            }],
            outputs: vec![TxOut {
                amount: Amount(5),
                address: Address([4; 20]),
            }],
        }
    }

    #[test]
    fn sighash_ignores_signatures_but_txid_does_not() {
        let tx = spend();
        let mut resigned = tx.clone();
        resigned.inputs[0].signature = SignatureBytes([9; 64]);
        assert_eq!(tx.sighash(), resigned.sighash());
        assert_ne!(tx.txid(), resigned.txid());

        let mut repaid = tx.clone();
        repaid.outputs[0].amount = Amount(6);
        assert_ne!(tx.sighash(), repaid.sighash());
    }

    #[test]
    fn round_trips_through_codec() {
        let tx = spend();
        let bytes = codec::encode(&tx);
        assert_eq!(bytes.len(), tx.encoded_len());
        let decoded: Transaction = codec::decode(&bytes, 1 << 20).unwrap();
        assert_eq!(decoded, tx);
    }
}
