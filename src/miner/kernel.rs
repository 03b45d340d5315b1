//! The portable nonce-search kernel: SHA-256d over the 80-byte header with a changing nonce.
//!
//! The first 64 header bytes do not contain the nonce, so they are compressed once per template
//! (the midstate); each nonce then costs two compressions: the header's last 16 bytes with
//! padding, and the 32-byte first digest with padding. Owns that arithmetic; must not decide
//! block validity (consensus re-checks every block a kernel finds) and must not spawn threads.

use crate::types::{BlockHeader, Hash256, HEADER_BYTES};
use primitive_types::U256;
use sha2::digest::generic_array::GenericArray;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};

const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];
/// How many nonces pass between looks at the stop flag: small enough to stop within
/// microseconds, large enough that the atomic load costs nothing.
const STOP_CHECK_INTERVAL: u32 = 4096;

/// How a search ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SearchOutcome {
    Found(u32),
    Exhausted,
    Stopped,
}

/// A search's outcome and the number of nonces it hashed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SearchReport {
    pub outcome: SearchOutcome,
    pub hashes: u64,
}

fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    sha2::compress256(state, std::slice::from_ref(GenericArray::from_slice(block)));
}

/// Per-template precomputation: the midstate and the padded second chunk.
pub struct HeaderMidstate {
    midstate: [u32; 8],
    second_chunk: [u8; 64],
}

impl HeaderMidstate {
    pub fn new(header: &BlockHeader) -> HeaderMidstate {
        let bytes = header.to_bytes();
        let mut midstate = SHA256_IV;
        let mut first_chunk = [0u8; 64];
        first_chunk.copy_from_slice(&bytes[..64]);
        compress(&mut midstate, &first_chunk);
        let mut second_chunk = [0u8; 64];
        second_chunk[..16].copy_from_slice(&bytes[64..HEADER_BYTES]);
        second_chunk[16] = 0x80;
        second_chunk[56..].copy_from_slice(&((HEADER_BYTES as u64) * 8).to_be_bytes());
        HeaderMidstate {
            midstate,
            second_chunk,
        }
    }

    /// SHA-256d of the header with `nonce`, in internal byte order.
    pub fn hash_with_nonce(&mut self, nonce: u32) -> Hash256 {
        self.second_chunk[12..16].copy_from_slice(&nonce.to_le_bytes());
        let mut first = self.midstate;
        compress(&mut first, &self.second_chunk);
        let mut digest_chunk = [0u8; 64];
        for (slot, word) in digest_chunk.chunks_exact_mut(4).zip(first) {
            slot.copy_from_slice(&word.to_be_bytes());
        }
        digest_chunk[32] = 0x80;
        digest_chunk[56..].copy_from_slice(&256u64.to_be_bytes());
        let mut second = SHA256_IV;
        compress(&mut second, &digest_chunk);
        let mut out = [0u8; 32];
        for (slot, word) in out.chunks_exact_mut(4).zip(second) {
            slot.copy_from_slice(&word.to_be_bytes());
        }
        Hash256(out)
    }
}

/// Tries every nonce in `nonces` on `header` until one meets `target` or `stop` is set.
pub fn search_nonces(
    header: &BlockHeader,
    nonces: RangeInclusive<u32>,
    target: &U256,
    stop: &AtomicBool,
) -> SearchReport {
    let mut midstate = HeaderMidstate::new(header);
    let mut hashes = 0u64;
    for nonce in nonces {
        if nonce % STOP_CHECK_INTERVAL == 0 && stop.load(Ordering::Relaxed) {
            return SearchReport {
                outcome: SearchOutcome::Stopped,
                hashes,
            };
        }
        hashes += 1;
        let hash = midstate.hash_with_nonce(nonce);
        if U256::from_little_endian(&hash.0) <= *target {
            return SearchReport {
                outcome: SearchOutcome::Found(nonce),
                hashes,
            };
        }
    }
    SearchReport {
        outcome: SearchOutcome::Exhausted,
        hashes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(seed: u8, time: u32) -> BlockHeader {
        BlockHeader {
            version: 1,
            prev_hash: Hash256([seed; 32]),
            merkle_root: Hash256([seed.wrapping_mul(7); 32]),
            time,
            bits: 0x207f_ffff,
            nonce: 0,
        }
    }

    proptest! {
        #[test]
        fn midstate_hash_equals_plain_sha256d(seed: u8, time: u32, nonce: u32) {
            let mut with_nonce = header(seed, time);
            with_nonce.nonce = nonce;
            let mut midstate = HeaderMidstate::new(&header(seed, time));
            prop_assert_eq!(midstate.hash_with_nonce(nonce), with_nonce.hash());
        }
    }

    #[test]
    fn finds_the_first_nonce_meeting_the_target() {
        let base = header(1, 1000);
        let target = U256::MAX >> 4;
        let report = search_nonces(&base, 0..=u32::MAX, &target, &AtomicBool::new(false));
        let SearchOutcome::Found(found) = report.outcome else {
            panic!("a 1-in-16 target must be met within 2^32 nonces");
        };
        for nonce in 0..=found {
            let mut candidate = base;
            candidate.nonce = nonce;
            let meets = U256::from_little_endian(&candidate.hash().0) <= target;
            assert_eq!(meets, nonce == found, "nonce {nonce}");
        }
        assert_eq!(report.hashes, u64::from(found) + 1);
    }

    #[test]
    fn stops_when_asked_and_reports_exhaustion() {
        let base = header(2, 1000);
        let stopped = search_nonces(&base, 0..=u32::MAX, &U256::zero(), &AtomicBool::new(true));
        assert_eq!(stopped.outcome, SearchOutcome::Stopped);
        let exhausted = search_nonces(&base, 1..=100, &U256::zero(), &AtomicBool::new(false));
        assert_eq!(exhausted.outcome, SearchOutcome::Exhausted);
        assert_eq!(exhausted.hashes, 100);
    }
}
