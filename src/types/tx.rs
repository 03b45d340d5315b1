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

/// What makes a transaction a coinbase: the height it claims (so every coinbase txid is unique),
/// the extra nonce a miner rolls when the header nonce range runs out, and padding.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CoinbaseData {
    /// The block's height (makes every coinbase txid unique).
    pub height: u32,
    /// Varied by miners past the nonce's range.
    pub extra_nonce: u64,
    /// Bytes carried for nothing but size (as a Bitcoin coinbase or `OP_RETURN` output can carry
    /// data): the simulator fills blocks to a size with them. Usually empty.
    pub padding: Padding,
}

/// Bytes that only take up room; encoded as one length-prefixed run.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Padding(pub Vec<u8>);

impl fmt::Debug for Padding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Padding({} bytes)", self.0.len())
    }
}

impl Serialize for Padding {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Padding {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Padding, D::Error> {
        struct BytesVisitor;
        impl<'de> serde::de::Visitor<'de> for BytesVisitor {
            type Value = Padding;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("padding bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Padding, E> {
                Ok(Padding(bytes.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<Padding, E> {
                Ok(Padding(bytes))
            }
        }
        deserializer.deserialize_byte_buf(BytesVisitor)
    }
}

/// How a transaction's coinbase field is encoded: as `Option<CoinbaseData>` was before padding
/// existed (a byte 0 for none; 1, then height and extra nonce), so every block without padding,
/// genesis included, keeps its bytes and its hash; a byte 2 adds the padding after them. A 2 with
/// no padding is refused, so each coinbase has one encoding.
mod coinbase_encoding {
    use super::{CoinbaseData, Padding};
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::ser::SerializeTuple;
    use serde::{Deserializer, Serializer};
    use std::fmt;

    const NONE: u8 = 0;
    const PLAIN: u8 = 1;
    const PADDED: u8 = 2;

    pub(super) fn serialize<S: Serializer>(
        coinbase: &Option<CoinbaseData>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match coinbase {
            None => serializer.serialize_none(),
            Some(data) if data.padding.0.is_empty() => {
                serializer.serialize_some(&(data.height, data.extra_nonce))
            }
            Some(data) => {
                let mut tuple = serializer.serialize_tuple(4)?;
                tuple.serialize_element(&PADDED)?;
                tuple.serialize_element(&data.height)?;
                tuple.serialize_element(&data.extra_nonce)?;
                tuple.serialize_element(&data.padding)?;
                tuple.end()
            }
        }
    }

    pub(super) fn serialize_ref<S: Serializer>(
        coinbase: &&Option<CoinbaseData>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serialize(coinbase, serializer)
    }

    struct CoinbaseVisitor;

    impl<'de> Visitor<'de> for CoinbaseVisitor {
        type Value = Option<CoinbaseData>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a coinbase marker")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let missing = || A::Error::custom("coinbase field cut short");
            let tag: u8 = seq.next_element()?.ok_or_else(missing)?;
            if tag == NONE {
                return Ok(None);
            }
            if tag != PLAIN && tag != PADDED {
                return Err(A::Error::custom(format!("unknown coinbase tag {tag}")));
            }
            let height: u32 = seq.next_element()?.ok_or_else(missing)?;
            let extra_nonce: u64 = seq.next_element()?.ok_or_else(missing)?;
            let padding = if tag == PADDED {
                let padding: Padding = seq.next_element()?.ok_or_else(missing)?;
                if padding.0.is_empty() {
                    return Err(A::Error::custom("padded coinbase without padding"));
                }
                padding
            } else {
                Padding::default()
            };
            Ok(Some(CoinbaseData {
                height,
                extra_nonce,
                padding,
            }))
        }
    }

    /// Read as a tuple: the tag says how many of its elements follow.
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<CoinbaseData>, D::Error> {
        deserializer.deserialize_tuple(4, CoinbaseVisitor)
    }
}

/// A transaction. A coinbase has `coinbase: Some(..)` and no inputs; any other has `None` and
/// at least one input.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Transaction {
    /// The transaction version.
    pub version: u32,
    /// Present in a coinbase only.
    #[serde(with = "coinbase_encoding")]
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
    #[serde(serialize_with = "coinbase_encoding::serialize_ref")]
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

    fn coinbase(padding: Vec<u8>) -> Transaction {
        Transaction {
            version: 1,
            coinbase: Some(CoinbaseData {
                height: 7,
                extra_nonce: 300,
                padding: Padding(padding),
            }),
            inputs: Vec::new(),
            outputs: spend().outputs,
        }
    }

    #[test]
    fn a_coinbase_without_padding_keeps_the_encoding_it_had_before_padding() {
        #[derive(Serialize)]
        struct Before {
            version: u32,
            coinbase: Option<(u32, u64)>,
            inputs: Vec<TxIn>,
            outputs: Vec<TxOut>,
        }
        let tx = coinbase(Vec::new());
        let before = Before {
            version: 1,
            coinbase: Some((7, 300)),
            inputs: Vec::new(),
            outputs: tx.outputs.clone(),
        };
        assert_eq!(codec::encode(&tx), codec::encode(&before));
        let padded = coinbase(vec![0xee; 1_000]);
        let bytes = codec::encode(&padded);
        assert_eq!(bytes.len(), padded.encoded_len());
        assert!(bytes.len() > 1_000);
        let decoded: Transaction = codec::decode(&bytes, 1 << 20).expect("decodes");
        assert_eq!(decoded, padded);
        assert_ne!(padded.txid(), tx.txid());
    }

    #[test]
    fn a_padded_coinbase_with_no_padding_is_refused() {
        let mut bytes = codec::encode(&coinbase(Vec::new()));
        // After the version (4 bytes), tag 1 (plain) becomes 2 (padded), with an empty run
        // (a zero length, 8 bytes) after the height and the extra nonce (12 bytes).
        assert_eq!(bytes[4], 1);
        bytes[4] = 2;
        for _ in 0..8 {
            bytes.insert(4 + 1 + 12, 0);
        }
        assert!(codec::decode::<Transaction>(&bytes, 1 << 20).is_err());
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
