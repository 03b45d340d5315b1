//! The AVX2 kernel: 8 nonces in the 32-bit lanes of one `__m256i`, for CPUs with neither the
//! SHA extensions nor AVX-512 (most Intel laptops). Rotations are two shifts and an or; the
//! rounds themselves are `lanes`'.
//!
//! Owns the AVX2 instructions and the `unsafe` that reaching them takes. Must not decide
//! anything about targets or nonces beyond what `lanes` asks.
#![allow(unsafe_code)]

use super::lanes::{self, Job, Lanes};
use super::portable;
use super::{SearchReport, TargetCheck};
use crate::types::BlockHeader;
use std::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_and_si256, _mm256_castsi256_ps, _mm256_cmpeq_epi32,
    _mm256_min_epu32, _mm256_movemask_ps, _mm256_or_si256, _mm256_set1_epi32, _mm256_set_epi8,
    _mm256_setr_epi32, _mm256_shuffle_epi8, _mm256_slli_epi32, _mm256_srli_epi32, _mm256_xor_si256,
};
use std::ops::RangeInclusive;
use std::sync::atomic::AtomicBool;

/// Whether this CPU runs the kernel.
pub(super) fn supported() -> bool {
    is_x86_feature_detected!("avx2")
}

/// Eight lanes.
///
/// SAFETY of every `unsafe` block below: a value of this type is only made inside `group`,
/// which is compiled for AVX2 and only called once `supported()` said the CPU has it; the type
/// is private to this module, so no other code can make one.
#[derive(Clone, Copy)]
struct X8(__m256i);

macro_rules! ror {
    ($x:expr, $n:literal) => {
        _mm256_or_si256(
            _mm256_srli_epi32::<$n>($x),
            _mm256_slli_epi32::<{ 32 - $n }>($x),
        )
    };
}

macro_rules! xor3 {
    ($a:expr, $b:expr, $c:expr) => {
        X8(_mm256_xor_si256(_mm256_xor_si256($a, $b), $c))
    };
}

impl Lanes for X8 {
    const LANES: usize = 8;

    #[inline(always)]
    fn splat(value: u32) -> X8 {
        X8(unsafe { _mm256_set1_epi32(value as i32) })
    }

    #[inline(always)]
    fn add(self, other: X8) -> X8 {
        X8(unsafe { _mm256_add_epi32(self.0, other.0) })
    }

    #[inline(always)]
    fn big_sigma0(self) -> X8 {
        let x = self.0;
        unsafe { xor3!(ror!(x, 2), ror!(x, 13), ror!(x, 22)) }
    }

    #[inline(always)]
    fn big_sigma1(self) -> X8 {
        let x = self.0;
        unsafe { xor3!(ror!(x, 6), ror!(x, 11), ror!(x, 25)) }
    }

    #[inline(always)]
    fn small_sigma0(self) -> X8 {
        let x = self.0;
        unsafe { xor3!(ror!(x, 7), ror!(x, 18), _mm256_srli_epi32::<3>(x)) }
    }

    #[inline(always)]
    fn small_sigma1(self) -> X8 {
        let x = self.0;
        unsafe { xor3!(ror!(x, 17), ror!(x, 19), _mm256_srli_epi32::<10>(x)) }
    }

    #[inline(always)]
    fn choose(e: X8, f: X8, g: X8) -> X8 {
        // ((f ⊕ g) ∧ e) ⊕ g: three instructions instead of four.
        X8(unsafe { _mm256_xor_si256(_mm256_and_si256(_mm256_xor_si256(f.0, g.0), e.0), g.0) })
    }

    #[inline(always)]
    fn majority(a: X8, b: X8, c: X8) -> X8 {
        // ((a ⊕ b) ∧ (b ⊕ c)) ⊕ b.
        X8(unsafe {
            _mm256_xor_si256(
                _mm256_and_si256(_mm256_xor_si256(a.0, b.0), _mm256_xor_si256(b.0, c.0)),
                b.0,
            )
        })
    }

    #[inline(always)]
    fn nonce_words(first: u32) -> X8 {
        let offsets = unsafe { _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7) };
        byte_swap(X8::splat(first).add(X8(offsets)))
    }

    #[inline(always)]
    fn may_meet(self, top_word: u32) -> u32 {
        let top = byte_swap(self).0;
        unsafe {
            // Unsigned x ≤ t exactly where min(x, t) = x.
            let at_most = _mm256_cmpeq_epi32(_mm256_min_epu32(top, X8::splat(top_word).0), top);
            _mm256_movemask_ps(_mm256_castsi256_ps(at_most)) as u32
        }
    }
}

/// Reverses the bytes of every lane.
#[inline(always)]
fn byte_swap(x: X8) -> X8 {
    let reverse_words = unsafe {
        _mm256_set_epi8(
            12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11, 4,
            5, 6, 7, 0, 1, 2, 3,
        )
    };
    X8(unsafe { _mm256_shuffle_epi8(x.0, reverse_words) })
}

/// The may-meet mask of the 8 nonces from `first`.
#[target_feature(enable = "avx2")]
fn group(job: &Job, first: u32, top_word: u32) -> u32 {
    lanes::last_words::<X8>(job, first).may_meet(top_word)
}

/// The AVX2 search; see `Kernel::search`.
pub(super) fn search(
    header: &BlockHeader,
    nonces: RangeInclusive<u32>,
    check: &TargetCheck,
    stop: &AtomicBool,
) -> SearchReport {
    if !supported() {
        return portable::search(header, nonces, check, stop);
    }
    let job = Job::new(header);
    let top_word = check.top_word();
    lanes::search_in_groups(header, nonces, check, stop, X8::LANES, |first| {
        // SAFETY: `supported()` just confirmed the feature `group` is compiled for.
        unsafe { group(&job, first, top_word) }
    })
}
