//! The x86-64 SHA-NI kernel: SHA-256d with the CPU's SHA extensions, several nonces in flight.
//!
//! `sha256rnds2` has a latency of several cycles but a throughput of one or more per cycle, so a
//! single hash leaves the unit mostly idle; `LANES` independent nonces per batch keep it busy.
//! Per template it precomputes the midstate and the first two rounds of the second chunk (they
//! see only the merkle-root tail and the time, not the nonce). Per nonce it skips the last two
//! rounds of the second hash: the most significant word of the hash is known after round 61,
//! and almost every nonce is rejected on that word alone; the few that pass are confirmed with
//! the portable kernel and the full 256-bit comparison.
//!
//! Owns all `unsafe` code of the crate; each block says why it is sound.
#![allow(unsafe_code)]

use super::lanes::{self, ROUND_CONSTANTS};
use super::portable::{self, HeaderMidstate};
use super::{SearchReport, TargetCheck, SHA256_IV};
use crate::types::{BlockHeader, HEADER_BYTES};
use std::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_blend_epi16, _mm_cvtsi128_si32, _mm_insert_epi32,
    _mm_load_si128, _mm_loadu_si128, _mm_set_epi32, _mm_setzero_si128, _mm_sha256msg1_epu32,
    _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32, _mm_shuffle_epi32,
};
use std::ops::RangeInclusive;
use std::sync::atomic::AtomicBool;

/// Nonces hashed side by side.
const LANES: usize = 4;

/// Whether this CPU has every feature the kernel is compiled for.
pub(super) fn supported() -> bool {
    is_x86_feature_detected!("sha")
        && is_x86_feature_detected!("sse2")
        && is_x86_feature_detected!("ssse3")
        && is_x86_feature_detected!("sse4.1")
}

/// Per-template values in the SHA-NI register layout (ABEF / CDGH).
struct Template {
    mid_abef: __m128i,
    mid_cdgh: __m128i,
    /// The state after rounds 0 and 1 of the second chunk, as the round macro leaves it.
    cdgh_after_first_pair: __m128i,
    /// Message words 0–3 of the second chunk with the nonce word (3) zero.
    chunk_words: __m128i,
    iv_abef: __m128i,
    iv_cdgh: __m128i,
}

/// Four rounds on every lane. Like the SHA-NI reference code, the two state variables swap
/// roles each pair of rounds, which is why `cdgh` holds ABEF between the two instructions.
macro_rules! quad_round {
    ($abef:ident, $cdgh:ident, $w:ident, $group:expr) => {{
        // SAFETY (of the load): ROUND_CONSTANTS is 16-byte aligned and 64 words long; group < 16.
        let k = _mm_load_si128(ROUND_CONSTANTS.0.as_ptr().add(4 * $group).cast::<__m128i>());
        for lane in 0..LANES {
            let wk = _mm_add_epi32($w[lane], k);
            $cdgh[lane] = _mm_sha256rnds2_epu32($cdgh[lane], $abef[lane], wk);
            $abef[lane] =
                _mm_sha256rnds2_epu32($abef[lane], $cdgh[lane], _mm_shuffle_epi32(wk, 0x0E));
        }
    }};
}

/// The next four message words on every lane.
macro_rules! schedule {
    ($out:ident = $w0:ident, $w1:ident, $w2:ident, $w3:ident) => {{
        for lane in 0..LANES {
            let partial = _mm_sha256msg1_epu32($w0[lane], $w1[lane]);
            let mixed = _mm_add_epi32(partial, _mm_alignr_epi8($w3[lane], $w2[lane], 4));
            $out[lane] = _mm_sha256msg2_epu32(mixed, $w3[lane]);
        }
    }};
}

/// Groups 4–14: message schedule and rounds with the five-vector window rotating.
macro_rules! middle_groups {
    ($abef:ident, $cdgh:ident, $w0:ident, $w1:ident, $w2:ident, $w3:ident, $w4:ident) => {{
        schedule!($w4 = $w0, $w1, $w2, $w3);
        quad_round!($abef, $cdgh, $w4, 4);
        schedule!($w0 = $w1, $w2, $w3, $w4);
        quad_round!($abef, $cdgh, $w0, 5);
        schedule!($w1 = $w2, $w3, $w4, $w0);
        quad_round!($abef, $cdgh, $w1, 6);
        schedule!($w2 = $w3, $w4, $w0, $w1);
        quad_round!($abef, $cdgh, $w2, 7);
        schedule!($w3 = $w4, $w0, $w1, $w2);
        quad_round!($abef, $cdgh, $w3, 8);
        schedule!($w4 = $w0, $w1, $w2, $w3);
        quad_round!($abef, $cdgh, $w4, 9);
        schedule!($w0 = $w1, $w2, $w3, $w4);
        quad_round!($abef, $cdgh, $w0, 10);
        schedule!($w1 = $w2, $w3, $w4, $w0);
        quad_round!($abef, $cdgh, $w1, 11);
        schedule!($w2 = $w3, $w4, $w0, $w1);
        quad_round!($abef, $cdgh, $w2, 12);
        schedule!($w3 = $w4, $w0, $w1, $w2);
        quad_round!($abef, $cdgh, $w3, 13);
        schedule!($w4 = $w0, $w1, $w2, $w3);
        quad_round!($abef, $cdgh, $w4, 14);
    }};
}

/// A SHA-256 state `[a..h]` in the ABEF / CDGH layout.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn to_register_layout(state: &[u32; 8]) -> (__m128i, __m128i) {
    // SAFETY: `state` is 32 readable bytes; unaligned loads accept any address.
    let dcba = _mm_loadu_si128(state.as_ptr().cast::<__m128i>());
    let efgh = _mm_loadu_si128(state.as_ptr().add(4).cast::<__m128i>());
    let cdab = _mm_shuffle_epi32(dcba, 0xB1);
    let hgfe = _mm_shuffle_epi32(efgh, 0x1B);
    let abef = _mm_alignr_epi8(cdab, hgfe, 8);
    let cdgh = _mm_blend_epi16(hgfe, cdab, 0xF0);
    (abef, cdgh)
}

fn big_endian_word(bytes: &[u8; HEADER_BYTES], at: usize) -> i32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as i32
}

/// # Safety
/// The CPU must support SHA, SSE2, SSSE3 and SSE4.1 (`supported()`).
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn prepare(header: &BlockHeader) -> Template {
    let midstate = HeaderMidstate::new(header).midstate();
    let (mid_abef, mid_cdgh) = to_register_layout(&midstate);
    let (iv_abef, iv_cdgh) = to_register_layout(&SHA256_IV);
    let bytes = header.to_bytes();
    let chunk_words = _mm_set_epi32(
        0,
        big_endian_word(&bytes, 72),
        big_endian_word(&bytes, 68),
        big_endian_word(&bytes, 64),
    );
    // SAFETY (of the load): ROUND_CONSTANTS is 16-byte aligned.
    let k = _mm_load_si128(ROUND_CONSTANTS.0.as_ptr().cast::<__m128i>());
    // Rounds 0 and 1 read only the low two lanes (merkle tail and time), never the nonce.
    let cdgh_after_first_pair =
        _mm_sha256rnds2_epu32(mid_cdgh, mid_abef, _mm_add_epi32(chunk_words, k));
    Template {
        mid_abef,
        mid_cdgh,
        cdgh_after_first_pair,
        chunk_words,
        iv_abef,
        iv_cdgh,
    }
}

/// The last word (H7) of SHA-256d(header with nonce `first + lane`) for every lane.
///
/// # Safety
/// The CPU must support SHA, SSE2, SSSE3 and SSE4.1 (`supported()`).
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn last_words(t: &Template, first: u32) -> [u32; LANES] {
    let zero = _mm_setzero_si128();
    // First hash, second chunk: [tail, time, bits, nonce], padding, length 640 bits.
    let mut w0 = [zero; LANES];
    for (lane, w) in w0.iter_mut().enumerate() {
        let nonce = first.wrapping_add(lane as u32).swap_bytes() as i32;
        *w = _mm_insert_epi32(t.chunk_words, nonce, 3);
    }
    let mut w1 = [_mm_set_epi32(0, 0, 0, 0x8000_0000_u32 as i32); LANES];
    let mut w2 = [zero; LANES];
    let mut w3 = [_mm_set_epi32(640, 0, 0, 0); LANES];
    let mut w4 = [zero; LANES];
    let mut abef = [zero; LANES];
    let mut cdgh = [t.cdgh_after_first_pair; LANES];
    // SAFETY (of the load): ROUND_CONSTANTS is 16-byte aligned.
    let k0 = _mm_load_si128(ROUND_CONSTANTS.0.as_ptr().cast::<__m128i>());
    for lane in 0..LANES {
        let wk = _mm_shuffle_epi32(_mm_add_epi32(w0[lane], k0), 0x0E);
        abef[lane] = _mm_sha256rnds2_epu32(t.mid_abef, cdgh[lane], wk);
    }
    quad_round!(abef, cdgh, w1, 1);
    quad_round!(abef, cdgh, w2, 2);
    quad_round!(abef, cdgh, w3, 3);
    middle_groups!(abef, cdgh, w0, w1, w2, w3, w4);
    schedule!(w0 = w1, w2, w3, w4);
    quad_round!(abef, cdgh, w0, 15);

    // The first digest becomes the second hash's message: words 0–7, padding, length 256 bits.
    for lane in 0..LANES {
        let abef_sum = _mm_add_epi32(abef[lane], t.mid_abef);
        let cdgh_sum = _mm_add_epi32(cdgh[lane], t.mid_cdgh);
        let feba = _mm_shuffle_epi32(abef_sum, 0x1B);
        let dchg = _mm_shuffle_epi32(cdgh_sum, 0xB1);
        w0[lane] = _mm_blend_epi16(feba, dchg, 0xF0);
        w1[lane] = _mm_alignr_epi8(dchg, feba, 8);
        w2[lane] = _mm_set_epi32(0, 0, 0, 0x8000_0000_u32 as i32);
        w3[lane] = _mm_set_epi32(256, 0, 0, 0);
        abef[lane] = t.iv_abef;
        cdgh[lane] = t.iv_cdgh;
    }
    quad_round!(abef, cdgh, w0, 0);
    quad_round!(abef, cdgh, w1, 1);
    quad_round!(abef, cdgh, w2, 2);
    quad_round!(abef, cdgh, w3, 3);
    middle_groups!(abef, cdgh, w0, w1, w2, w3, w4);
    schedule!(w0 = w1, w2, w3, w4);
    // Rounds 60–61 only: afterwards the F lane (0) holds e60, which rounds 61–63 shift into h.
    // SAFETY (of the load): ROUND_CONSTANTS is 16-byte aligned; 60 + 4 <= 64.
    let k15 = _mm_load_si128(ROUND_CONSTANTS.0.as_ptr().add(60).cast::<__m128i>());
    let mut words = [0u32; LANES];
    for lane in 0..LANES {
        let wk = _mm_add_epi32(w0[lane], k15);
        let abef_61 = _mm_sha256rnds2_epu32(cdgh[lane], abef[lane], wk);
        words[lane] = (_mm_cvtsi128_si32(abef_61) as u32).wrapping_add(SHA256_IV[7]);
    }
    words
}

/// The SHA-NI search; see `Kernel::search`.
pub(super) fn search(
    header: &BlockHeader,
    nonces: RangeInclusive<u32>,
    check: &TargetCheck,
    stop: &AtomicBool,
) -> SearchReport {
    if !supported() {
        return portable::search(header, nonces, check, stop);
    }
    // SAFETY: `supported()` just confirmed every feature `prepare` is compiled for.
    let template = unsafe { prepare(header) };
    lanes::search_in_groups(header, nonces, check, stop, LANES, |first| {
        // SAFETY: `supported()` confirmed every feature `last_words` is compiled for.
        let words = unsafe { last_words(&template, first) };
        words
            .into_iter()
            .enumerate()
            .filter(|(_, word)| check.may_meet(word.swap_bytes()))
            .fold(0, |mask, (lane, _)| mask | 1 << lane)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::kernel::test_header;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn each_lane_yields_the_last_word_of_sha256d(seed: u8, time: u32, bits: u32, first: u32) {
            if !supported() {
                eprintln!("skipping sha-ni-x4 lanes: this CPU lacks sha, sse2, ssse3 or sse4.1");
                return Ok(());
            }
            let base = test_header(seed, time, bits);
            // SAFETY: `supported()` holds (assumed above).
            let words = unsafe { last_words(&prepare(&base), first) };
            for (lane, word) in words.into_iter().enumerate() {
                let nonce = first.wrapping_add(lane as u32);
                let hash = BlockHeader { nonce, ..base }.hash();
                let expected = u32::from_be_bytes([hash.0[28], hash.0[29], hash.0[30], hash.0[31]]);
                prop_assert_eq!(word, expected, "lane {}", lane);
            }
        }
    }
}
