//! The portable kernel: the first 64 header bytes do not contain the nonce, so they are
//! compressed once per template (the midstate); each nonce then costs two compressions — the
//! header's last 16 bytes with padding, and the 32-byte first digest with padding — through
//! `sha2::compress256`. Runs on every CPU, and is the reference the fast kernels are checked
//! against and confirm their candidates with.

use super::{SearchOutcome, SearchReport, TargetCheck, SHA256_IV, STOP_CHECK_INTERVAL};
use crate::types::{BlockHeader, Hash256, HEADER_BYTES};
use sha2::digest::generic_array::GenericArray;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};

/// One SHA-256 compression of `block` into `state`.
pub fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    sha2::compress256(state, std::slice::from_ref(GenericArray::from_slice(block)));
}

/// Per-template precomputation: the midstate and the padded second chunk.
pub struct HeaderMidstate {
    midstate: [u32; 8],
    second_chunk: [u8; 64],
}

impl HeaderMidstate {
    /// The midstate of `header`'s first 64 bytes.
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

    /// The state after the first 64 header bytes.
    pub(crate) fn midstate(&self) -> [u32; 8] {
        self.midstate
    }

    /// SHA-256d of the header with `nonce`, in internal byte order.
    pub(crate) fn hash_with_nonce(&mut self, nonce: u32) -> Hash256 {
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

/// Tries every nonce in `nonces` on `header`, in order, until one meets the target or `stop`
/// is set.
pub(super) fn search(
    header: &BlockHeader,
    nonces: RangeInclusive<u32>,
    check: &TargetCheck,
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
        if check.meets(&midstate.hash_with_nonce(nonce)) {
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

    proptest! {
        #[test]
        fn midstate_hash_equals_plain_sha256d(seed: u8, time: u32, nonce: u32) {
            let header = BlockHeader {
                version: 1,
                prev_hash: Hash256([seed; 32]),
                merkle_root: Hash256([seed.wrapping_mul(7); 32]),
                time,
                bits: 0x207f_ffff,
                nonce,
            };
            let mut midstate = HeaderMidstate::new(&BlockHeader { nonce: 0, ..header });
            prop_assert_eq!(midstate.hash_with_nonce(nonce), header.hash());
        }
    }
}
