//! `Hash256` and the SHA-256d helpers every other module hashes with.
//!
//! Owns the byte order convention: hashes are stored as the raw digest and shown as hex of the
//! byte-reversed value (as Bitcoin does), so leading zeros in the display show the work.
//! Must not know about headers, transactions or any encoding beyond raw bytes.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// A 32-byte SHA-256d digest in internal (little-endian) byte order. Binary encodings carry the
/// raw 32 bytes; human-readable ones (JSON) carry the display hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash256(pub [u8; 32]);

impl Serialize for Hash256 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_hex())
        } else {
            crate::codec::raw_bytes::serialize(&self.0, serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Hash256 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            text.parse().map_err(D::Error::custom)
        } else {
            crate::codec::raw_bytes::deserialize(deserializer).map(Hash256)
        }
    }
}

impl Hash256 {
    /// All zero bytes.
    pub const ZERO: Hash256 = Hash256([0; 32]);

    /// Hex of the byte-reversed digest, the form users and RPC see.
    pub fn to_hex(&self) -> String {
        let mut reversed = self.0;
        reversed.reverse();
        hex::encode(reversed)
    }

    /// The hash for people: the first 4 and last 8 hex digits, `0000…1f3a9c2b`. Block hashes
    /// start with zeros, so the tail is what tells two apart; the head shows the work.
    pub fn short(&self) -> String {
        let hex = self.to_hex();
        // `to_hex` always gives 64 ASCII hex digits.
        format!("{}…{}", &hex[..4], &hex[56..])
    }

    /// The 32 bytes, in their internal (little-endian) order.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The error for a hash string that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid hash {0:?}: expected 64 hex digits")]
pub struct ParseHashError(pub String);

impl FromStr for Hash256 {
    type Err = ParseHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| ParseHashError(s.to_string()))?;
        bytes.reverse();
        Ok(Hash256(bytes))
    }
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash256({})", self.to_hex())
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-256(SHA-256(data)): block hashes, txids, merkle nodes and checksums.
pub fn sha256d(data: &[u8]) -> Hash256 {
    Hash256(sha256(&sha256(data)))
}

/// SHA-256d over several byte slices as if they were concatenated.
pub fn sha256d_parts(parts: &[&[u8]]) -> Hash256 {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    Hash256(sha256(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_byte_reversed_and_parses_back() {
        let mut bytes = [0u8; 32];
        bytes[31] = 0xab;
        let hash = Hash256(bytes);
        assert!(hash.to_hex().starts_with("ab00"));
        assert_eq!(hash.to_hex().parse::<Hash256>().unwrap(), hash);
    }

    #[test]
    fn json_carries_display_hex_and_binary_carries_raw_bytes() {
        let hash = Hash256([1; 32]);
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(json, format!("\"{}\"", hash.to_hex()));
        assert_eq!(serde_json::from_str::<Hash256>(&json).unwrap(), hash);
        assert_eq!(crate::codec::encode(&hash), vec![1; 32]);
    }

    #[test]
    fn rejects_bad_hex() {
        assert!("zz".parse::<Hash256>().is_err());
        assert!("00".repeat(31).parse::<Hash256>().is_err());
    }

    #[test]
    fn sha256d_of_empty_matches_known_vector() {
        assert_eq!(
            hex::encode(sha256d(b"").0),
            "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"
        );
        assert_eq!(sha256d_parts(&[b"ab", b"c"]), sha256d(b"abc"));
    }
}
