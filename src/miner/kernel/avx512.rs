//! The AVX-512 kernel: 16 nonces in the 32-bit lanes of one `__m512i`. Rotations are single
//! `vprord` instructions and the three-input functions (the Σ/σ exclusive-ors, choose,
//! majority) single `vpternlogd`s, so a round is about half the instructions of AVX2's.
//! The rounds themselves are `lanes`'. One group at a time: two interleaved (32 lanes) measured
//! 11 % slower on Zen 4 (29.9 against 33.6 M/s), as two groups' state and schedule spill out of
//! the 32 vector registers.
//!
//! Owns the AVX-512 instructions and the `unsafe` that reaching them takes. Must not decide
//! anything about targets or nonces beyond what `lanes` asks.
#![allow(unsafe_code)]

use super::lanes::{self, Job, Lanes};
use super::portable;
use super::{SearchReport, TargetCheck};
use crate::types::BlockHeader;
use std::arch::x86_64::{
    __m512i, _mm512_add_epi32, _mm512_cmple_epu32_mask, _mm512_ror_epi32, _mm512_set1_epi32,
    _mm512_set_epi32, _mm512_setr_epi32, _mm512_shuffle_epi8, _mm512_srli_epi32,
    _mm512_ternarylogic_epi32,
};
use std::ops::RangeInclusive;
use std::sync::atomic::AtomicBool;

/// `vpternlogd` truth tables: a ⊕ b ⊕ c, a ? b : c, and the majority of a, b, c.
const XOR3: i32 = 0x96;
const SELECT: i32 = 0xCA;
const MAJORITY: i32 = 0xE8;

/// Whether this CPU runs the kernel: AVX-512 Foundation, and Byte and Word for the byte swap.
pub(super) fn supported() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw")
}

/// Sixteen lanes.
///
/// SAFETY of every `unsafe` block below: a value of this type is only made inside `group`,
/// which is compiled for AVX-512F and BW and only called once `supported()` said the CPU has
/// them; the type is private to this module, so no other code can make one.
#[derive(Clone, Copy)]
struct X16(__m512i);

macro_rules! xor3 {
    ($a:expr, $b:expr, $c:expr) => {
        X16(_mm512_ternarylogic_epi32::<XOR3>($a, $b, $c))
    };
}

impl Lanes for X16 {
    const LANES: usize = 16;

    #[inline(always)]
    fn splat(value: u32) -> X16 {
        X16(unsafe { _mm512_set1_epi32(value as i32) })
    }

    #[inline(always)]
    fn add(self, other: X16) -> X16 {
        X16(unsafe { _mm512_add_epi32(self.0, other.0) })
    }

    #[inline(always)]
    fn big_sigma0(self) -> X16 {
        let x = self.0;
        unsafe {
            xor3!(
                _mm512_ror_epi32::<2>(x),
                _mm512_ror_epi32::<13>(x),
                _mm512_ror_epi32::<22>(x)
            )
        }
    }

    #[inline(always)]
    fn big_sigma1(self) -> X16 {
        let x = self.0;
        unsafe {
            xor3!(
                _mm512_ror_epi32::<6>(x),
                _mm512_ror_epi32::<11>(x),
                _mm512_ror_epi32::<25>(x)
            )
        }
    }

    #[inline(always)]
    fn small_sigma0(self) -> X16 {
        let x = self.0;
        unsafe {
            xor3!(
                _mm512_ror_epi32::<7>(x),
                _mm512_ror_epi32::<18>(x),
                _mm512_srli_epi32::<3>(x)
            )
        }
    }

    #[inline(always)]
    fn small_sigma1(self) -> X16 {
        let x = self.0;
        unsafe {
            xor3!(
                _mm512_ror_epi32::<17>(x),
                _mm512_ror_epi32::<19>(x),
                _mm512_srli_epi32::<10>(x)
            )
        }
    }

    #[inline(always)]
    fn choose(e: X16, f: X16, g: X16) -> X16 {
        X16(unsafe { _mm512_ternarylogic_epi32::<SELECT>(e.0, f.0, g.0) })
    }

    #[inline(always)]
    fn majority(a: X16, b: X16, c: X16) -> X16 {
        X16(unsafe { _mm512_ternarylogic_epi32::<MAJORITY>(a.0, b.0, c.0) })
    }

    #[inline(always)]
    fn nonce_words(first: u32) -> X16 {
        let offsets =
            unsafe { _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) };
        byte_swap(X16::splat(first).add(X16(offsets)))
    }

    #[inline(always)]
    fn may_meet(self, top_word: u32) -> u32 {
        let top = byte_swap(self).0;
        u32::from(unsafe { _mm512_cmple_epu32_mask(top, X16::splat(top_word).0) })
    }
}

/// Reverses the bytes of every lane.
#[inline(always)]
fn byte_swap(x: X16) -> X16 {
    // Byte indexes within each 128-bit block, highest first as `set` takes them.
    let reverse_words = unsafe {
        _mm512_set_epi32(
            0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203, 0x0c0d0e0f, 0x08090a0b, 0x04050607,
            0x00010203, 0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203, 0x0c0d0e0f, 0x08090a0b,
            0x04050607, 0x00010203,
        )
    };
    X16(unsafe { _mm512_shuffle_epi8(x.0, reverse_words) })
}

/// The may-meet mask of the 16 nonces from `first`.
#[target_feature(enable = "avx512f,avx512bw")]
fn group(job: &Job, first: u32, top_word: u32) -> u32 {
    lanes::last_words::<X16>(job, first).may_meet(top_word)
}

/// The AVX-512 search; see `Kernel::search`.
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
    lanes::search_in_groups(header, nonces, check, stop, X16::LANES, |first| {
        // SAFETY: `supported()` just confirmed the features `group` is compiled for.
        unsafe { group(&job, first, top_word) }
    })
}
