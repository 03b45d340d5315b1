//! SHA-256d of a header for a group of nonces at once, written once over a vector of 32-bit
//! lanes (`Lanes`) and compiled for each instruction set: AVX-512 (16 lanes), AVX2 (8), and
//! plain `u32` (1), which also does the per-job scalar work.
//!
//! Per job, `Job::new` does everything that does not depend on the nonce: the midstate of the
//! first 64 header bytes, rounds 0–2 of the second chunk (they read the merkle-root tail, the
//! time and the bits), round 3 up to adding the nonce word, and the message-schedule words 16,
//! 17 and the constant parts of 18 and 19. The remaining message words are mostly constants
//! (padding, zeros, the length); the rounds are written so the compiler folds those. Per group,
//! the second hash stops after round 60: the hash's most significant word is `IV[7]` plus the
//! `e` that round makes, and almost every nonce is rejected on that word alone. The few that
//! pass are confirmed by the caller with the portable kernel and the full 256-bit comparison.
//!
//! Also owns the group loop every multi-lane kernel shares (`search_in_groups`): stop checks,
//! hash counts, confirmation, and the tail shorter than a group. Owns no `unsafe` code: the
//! instruction-set modules implement `Lanes` and call in.

use super::portable::{self, HeaderMidstate};
use super::{SearchOutcome, SearchReport, TargetCheck, SHA256_IV, STOP_CHECK_INTERVAL};
use crate::types::{BlockHeader, HEADER_BYTES};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};

/// SHA-256's round constants.
pub(super) const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// The same constants 16-byte aligned, so SHA-NI loads each group of four as one vector.
#[repr(align(16))]
pub(super) struct RoundConstants(pub(super) [u32; 64]);

/// `K` where SHA-NI loads it from.
pub(super) static ROUND_CONSTANTS: RoundConstants = RoundConstants(K);

/// The padding word that follows a message ending on a word boundary.
const PADDING: u32 = 0x8000_0000;
/// Bits in the header: the length word of its second chunk.
const HEADER_BITS: u32 = HEADER_BYTES as u32 * 8;
/// Bits in a digest: the length word of the second hash's only chunk.
const DIGEST_BITS: u32 = 256;
/// The header's second chunk from word 4 on (padding, zeros, length); words 0–3 vary.
const HEADER_TAIL_WORDS: [u32; 16] = {
    let mut words = [0; 16];
    words[4] = PADDING;
    words[15] = HEADER_BITS;
    words
};

/// A vector of 32-bit lanes, one nonce per lane, with the operations SHA-256 needs. Every
/// method is `#[inline(always)]` in its implementations, so the generic rounds below compile
/// into straight-line code of the implementation's instruction set.
pub(super) trait Lanes: Copy {
    /// Nonces per group.
    const LANES: usize;
    /// Every lane `value`.
    fn splat(value: u32) -> Self;
    /// Lane-wise wrapping addition.
    fn add(self, other: Self) -> Self;
    /// Σ0 = ror 2 ⊕ ror 13 ⊕ ror 22.
    fn big_sigma0(self) -> Self;
    /// Σ1 = ror 6 ⊕ ror 11 ⊕ ror 25.
    fn big_sigma1(self) -> Self;
    /// σ0 = ror 7 ⊕ ror 18 ⊕ shr 3.
    fn small_sigma0(self) -> Self;
    /// σ1 = ror 17 ⊕ ror 19 ⊕ shr 10.
    fn small_sigma1(self) -> Self;
    /// Ch(e, f, g) = (e ∧ f) ⊕ (¬e ∧ g).
    fn choose(e: Self, f: Self, g: Self) -> Self;
    /// Maj(a, b, c) = (a ∧ b) ⊕ (a ∧ c) ⊕ (b ∧ c).
    fn majority(a: Self, b: Self, c: Self) -> Self;
    /// The message word of nonce `first + lane` in each lane (the nonce's bytes are little
    /// endian in the header, message words big endian). Wraps past `u32::MAX`.
    fn nonce_words(first: u32) -> Self;
    /// Bit `lane` set where `top_word_of_hash(self[lane]) <= top_word`: `self` holds the last
    /// state word of the second hash, whose byte-swap is the hash's most significant 32 bits.
    fn may_meet(self, top_word: u32) -> u32;
}

impl Lanes for u32 {
    const LANES: usize = 1;

    #[inline(always)]
    fn splat(value: u32) -> u32 {
        value
    }

    #[inline(always)]
    fn add(self, other: u32) -> u32 {
        self.wrapping_add(other)
    }

    #[inline(always)]
    fn big_sigma0(self) -> u32 {
        self.rotate_right(2) ^ self.rotate_right(13) ^ self.rotate_right(22)
    }

    #[inline(always)]
    fn big_sigma1(self) -> u32 {
        self.rotate_right(6) ^ self.rotate_right(11) ^ self.rotate_right(25)
    }

    #[inline(always)]
    fn small_sigma0(self) -> u32 {
        self.rotate_right(7) ^ self.rotate_right(18) ^ (self >> 3)
    }

    #[inline(always)]
    fn small_sigma1(self) -> u32 {
        self.rotate_right(17) ^ self.rotate_right(19) ^ (self >> 10)
    }

    #[inline(always)]
    fn choose(e: u32, f: u32, g: u32) -> u32 {
        (e & f) ^ (!e & g)
    }

    #[inline(always)]
    fn majority(a: u32, b: u32, c: u32) -> u32 {
        (a & b) ^ (a & c) ^ (b & c)
    }

    #[inline(always)]
    fn nonce_words(first: u32) -> u32 {
        first.swap_bytes()
    }

    #[inline(always)]
    fn may_meet(self, top_word: u32) -> u32 {
        u32::from(self.swap_bytes() <= top_word)
    }
}

/// Runs `$body` once for each round number listed, with `$t` a constant: the rounds are
/// unrolled in the source, so every ring index is known when compiling and the state and
/// schedule stay in registers (loops the compiler kept rolled cost AVX-512 7 % and AVX2 14 %).
macro_rules! for_each_round {
    ($t:ident in $($round:literal),+ => $body:block) => {
        $({
            let $t: usize = $round;
            $body
        })+
    };
}

/// One round on state `[a, b, c, d, e, f, g, h]` with `k_plus_w` = K[t] + W[t].
#[inline(always)]
fn round<V: Lanes>(s: &mut [V; 8], k_plus_w: V) {
    let t1 = s[7]
        .add(s[4].big_sigma1())
        .add(V::choose(s[4], s[5], s[6]))
        .add(k_plus_w);
    let t2 = s[0].big_sigma0().add(V::majority(s[0], s[1], s[2]));
    *s = [t1.add(t2), s[0], s[1], s[2], s[3].add(t1), s[4], s[5], s[6]];
}

/// W[t] from the 16 words before it, kept in a ring indexed by `t % 16`.
#[inline(always)]
fn next_word<V: Lanes>(w: &mut [V; 16], t: usize) -> V {
    let word = w[(t - 2) % 16]
        .small_sigma1()
        .add(w[(t - 7) % 16])
        .add(w[(t - 15) % 16].small_sigma0())
        .add(w[t % 16]);
    w[t % 16] = word;
    word
}

/// What every nonce of one header shares, computed once per job.
#[derive(Clone, Copy, Debug)]
pub(super) struct Job {
    midstate: [u32; 8],
    /// The state after round 3 of the second chunk with the nonce word left out: it enters
    /// that round's T1 alone, so it is added to `a` and `e` (slots 0 and 4) per nonce.
    after_round_3: [u32; 8],
    /// Schedule words 16 and 17, and 18 and 19 without their nonce terms (σ0(nonce) and nonce).
    w16: u32,
    w17: u32,
    w18_part: u32,
    w19_part: u32,
}

impl Job {
    /// The per-job work for `header` (its nonce is ignored).
    pub(super) fn new(header: &BlockHeader) -> Job {
        let midstate = HeaderMidstate::new(header).midstate();
        let bytes = header.to_bytes();
        let word = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        // The second chunk's words 0–2: merkle-root tail, time, bits.
        let chunk_words = [word(64), word(68), word(72)];
        let mut after_round_3 = midstate;
        for (t, &w) in chunk_words.iter().enumerate() {
            round(&mut after_round_3, K[t].wrapping_add(w));
        }
        round(&mut after_round_3, K[3]);
        let w16 = chunk_words[1].small_sigma0().add(chunk_words[0]);
        let w17 = HEADER_BITS
            .small_sigma1()
            .add(chunk_words[2].small_sigma0())
            .add(chunk_words[1]);
        Job {
            midstate,
            after_round_3,
            w16,
            w17,
            w18_part: w16.small_sigma1().add(chunk_words[2]),
            w19_part: w17.small_sigma1().add(PADDING.small_sigma0()),
        }
    }
}

/// The last state word H7 of SHA-256d(header with nonce `first + lane`) in each lane, to pass
/// to `Lanes::may_meet`.
#[inline(always)]
pub(super) fn last_words<V: Lanes>(job: &Job, first: u32) -> V {
    let nonce = V::nonce_words(first);
    second_hash_last_word(&first_hash(job, nonce))
}

/// The first hash's digest, as the words of the second hash's message.
#[inline(always)]
fn first_hash<V: Lanes>(job: &Job, nonce: V) -> [V; 8] {
    let mut s = job.after_round_3.map(V::splat);
    s[0] = s[0].add(nonce);
    s[4] = s[4].add(nonce);
    for_each_round!(t in 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 => {
        round(&mut s, V::splat(K[t].wrapping_add(HEADER_TAIL_WORDS[t])));
    });
    // The ring holds W[t - 16 .. t]; slots 0–3 are overwritten with W16–W19 below.
    let mut w = [V::splat(0); 16];
    w[4] = V::splat(PADDING);
    w[15] = V::splat(HEADER_BITS);
    w[0] = V::splat(job.w16);
    round(&mut s, V::splat(K[16].wrapping_add(job.w16)));
    w[1] = V::splat(job.w17);
    round(&mut s, V::splat(K[17].wrapping_add(job.w17)));
    w[2] = V::splat(job.w18_part).add(nonce.small_sigma0());
    round(&mut s, w[2].add(V::splat(K[18])));
    w[3] = V::splat(job.w19_part).add(nonce);
    round(&mut s, w[3].add(V::splat(K[19])));
    for_each_round!(t in 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63 => {
        let word = next_word(&mut w, t);
        round(&mut s, word.add(V::splat(K[t])));
    });
    let mut digest = s;
    for (word, mid) in digest.iter_mut().zip(job.midstate) {
        *word = word.add(V::splat(mid));
    }
    digest
}

/// The last state word of SHA-256 over `digest` with padding, after round 60 only: rounds
/// 61–63 shift that round's `e` into `h` unchanged, so the hash's last word is `IV[7]` plus it.
#[inline(always)]
fn second_hash_last_word<V: Lanes>(digest: &[V; 8]) -> V {
    let mut s = SHA256_IV.map(V::splat);
    let mut w = [V::splat(0); 16];
    w[..8].copy_from_slice(digest);
    w[8] = V::splat(PADDING);
    w[15] = V::splat(DIGEST_BITS);
    for (t, word) in w.iter().enumerate().take(8) {
        round(&mut s, word.add(V::splat(K[t])));
    }
    let constant_words = [PADDING, 0, 0, 0, 0, 0, 0, DIGEST_BITS];
    for (t, word) in (8..16).zip(constant_words) {
        round(&mut s, V::splat(K[t].wrapping_add(word)));
    }
    for_each_round!(t in 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59 => {
        let word = next_word(&mut w, t);
        round(&mut s, word.add(V::splat(K[t])));
    });
    let k_plus_w = next_word(&mut w, 60).add(V::splat(K[60]));
    let t1 = s[7]
        .add(s[4].big_sigma1())
        .add(V::choose(s[4], s[5], s[6]))
        .add(k_plus_w);
    s[3].add(t1).add(V::splat(SHA256_IV[7]))
}

/// Searches `nonces` in groups of `lanes`, asking `group` for the may-meet mask of the group
/// starting at a nonce; candidates are confirmed with the portable kernel and the exact test.
/// The last nonces, fewer than a group, are searched by the portable kernel.
pub(super) fn search_in_groups(
    header: &BlockHeader,
    nonces: RangeInclusive<u32>,
    check: &TargetCheck,
    stop: &AtomicBool,
    lanes: usize,
    mut group: impl FnMut(u32) -> u32,
) -> SearchReport {
    let mut confirm = HeaderMidstate::new(header);
    let (start, end) = (u64::from(*nonces.start()), u64::from(*nonces.end()));
    let mut next = start;
    let mut until_stop_check = 0usize;
    while next + lanes as u64 - 1 <= end {
        if until_stop_check == 0 {
            if stop.load(Ordering::Relaxed) {
                return SearchReport {
                    outcome: SearchOutcome::Stopped,
                    hashes: next - start,
                };
            }
            until_stop_check = STOP_CHECK_INTERVAL as usize / lanes;
        }
        until_stop_check -= 1;
        // `next + lanes - 1 <= end <= u32::MAX`, so every lane's nonce fits in a u32.
        let first = next as u32;
        let mut mask = group(first);
        while mask != 0 {
            let nonce = first + mask.trailing_zeros();
            mask &= mask - 1;
            if check.meets(&confirm.hash_with_nonce(nonce)) {
                return SearchReport {
                    outcome: SearchOutcome::Found(nonce),
                    hashes: u64::from(nonce) - start + 1,
                };
            }
        }
        next += lanes as u64;
    }
    if next > end {
        return SearchReport {
            outcome: SearchOutcome::Exhausted,
            hashes: end + 1 - start,
        };
    }
    let tail = portable::search(header, next as u32..=end as u32, check, stop);
    SearchReport {
        outcome: tail.outcome,
        hashes: next - start + tail.hashes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::kernel::test_header;
    use proptest::prelude::*;

    proptest! {
        /// The generic rounds with one plain `u32` lane: the arithmetic every instruction set
        /// shares, checked on any CPU.
        #[test]
        fn the_scalar_lane_yields_the_last_word_of_sha256d(seed: u8, time: u32, bits: u32, nonce: u32) {
            let base = test_header(seed, time, bits);
            let word: u32 = last_words(&Job::new(&base), nonce);
            let hash = BlockHeader { nonce, ..base }.hash();
            let top = u32::from_le_bytes([hash.0[28], hash.0[29], hash.0[30], hash.0[31]]);
            prop_assert_eq!(word.swap_bytes(), top);
            prop_assert_eq!(word.may_meet(top), 1);
            prop_assert_eq!(word.may_meet(top.wrapping_sub(1)), u32::from(top == 0));
        }
    }
}
