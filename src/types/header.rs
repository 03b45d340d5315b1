//! `BlockHeader`: the 80-byte header with the exact layout of `docs/DESIGN.md`.
//!
//! `version u32 | prev_hash [32] | merkle_root [32] | time u32 | bits u32 | nonce u32`, all
//! little-endian. The nonce is last so a miner can hash the first 64 bytes once (the midstate).
//! Owns that layout; must not know about proof-of-work targets (see `consensus::pow`).

use super::hash::{sha256d, Hash256};
use serde::{Deserialize, Serialize};

/// Encoded size of a header in bytes.
pub const HEADER_BYTES: usize = 80;
/// Offset of the nonce inside the encoded header.
pub const NONCE_OFFSET: usize = 76;

/// A block header. Its bincode encoding (fixed-int, little-endian) is exactly `to_bytes()`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct BlockHeader {
    /// The block version.
    pub version: u32,
    /// The parent's hash.
    pub prev_hash: Hash256,
    /// The merkle root of the transactions.
    pub merkle_root: Hash256,
    /// Seconds since the Unix epoch.
    pub time: u32,
    /// The target in compact form (Bitcoin's nBits).
    pub bits: u32,
    /// Varied by miners until the hash meets the target.
    pub nonce: u32,
}

impl BlockHeader {
    /// The 80-byte encoding.
    pub fn to_bytes(&self) -> [u8; HEADER_BYTES] {
        let mut out = [0u8; HEADER_BYTES];
        out[0..4].copy_from_slice(&self.version.to_le_bytes());
        out[4..36].copy_from_slice(&self.prev_hash.0);
        out[36..68].copy_from_slice(&self.merkle_root.0);
        out[68..72].copy_from_slice(&self.time.to_le_bytes());
        out[72..76].copy_from_slice(&self.bits.to_le_bytes());
        out[NONCE_OFFSET..].copy_from_slice(&self.nonce.to_le_bytes());
        out
    }

    /// Reads the 80-byte encoding.
    pub fn from_bytes(bytes: &[u8; HEADER_BYTES]) -> BlockHeader {
        let word = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let hash = |at: usize| {
            let mut h = [0u8; 32];
            h.copy_from_slice(&bytes[at..at + 32]);
            Hash256(h)
        };
        BlockHeader {
            version: word(0),
            prev_hash: hash(4),
            merkle_root: hash(36),
            time: word(68),
            bits: word(72),
            nonce: word(NONCE_OFFSET),
        }
    }

    /// The block hash: SHA-256d of the 80 header bytes.
    pub fn hash(&self) -> Hash256 {
        sha256d(&self.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BlockHeader {
        BlockHeader {
            version: 1,
            prev_hash: Hash256([7; 32]),
            merkle_root: Hash256([9; 32]),
            time: 1_700_000_000,
            bits: 0x207f_ffff,
            nonce: 0xdead_beef,
        }
    }

    #[test]
    fn layout_is_exact() {
        let bytes = sample().to_bytes();
        assert_eq!(&bytes[0..4], &[1, 0, 0, 0]);
        assert_eq!(&bytes[4..36], &[7; 32]);
        assert_eq!(&bytes[36..68], &[9; 32]);
        assert_eq!(&bytes[72..76], &0x207f_ffffu32.to_le_bytes());
        assert_eq!(&bytes[76..80], &0xdead_beefu32.to_le_bytes());
        assert_eq!(BlockHeader::from_bytes(&bytes), sample());
    }

    #[test]
    fn bincode_encoding_is_the_80_byte_layout() {
        let encoded = crate::codec::encode(&sample());
        assert_eq!(encoded, sample().to_bytes().to_vec());
    }
}
