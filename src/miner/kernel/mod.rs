//! Nonce-search kernels: SHA-256d over the 80-byte header with a changing nonce, the hot loop
//! of mining, behind one interface with the fastest kernel picked at run time.
//!
//! - `portable`: midstate plus two `sha2::compress256` calls per nonce; every CPU.
//! - `sha_ni` (x86-64 with the SHA extensions): several nonces in flight to hide the latency of
//!   `sha256rnds2`, per-template precomputation, and an early test of the last hash word.
//! - `avx512` and `avx2` (x86-64): 16 or 8 nonces in the lanes of one vector register, running
//!   the rounds written once in `lanes` with its per-job precomputation and early reject.
//!
//! Which one is fastest depends on the CPU (on AMD Zen 4, 16 AVX-512 lanes beat SHA-NI by about
//! 9 %; Zen 1–3 have SHA-NI and no AVX-512; on Intel cores with both, cpuminer-opt finds its
//! AVX-512 kernel twice as fast), so the node measures them at start rather than guessing.
//!
//! Owns the arithmetic and the only `unsafe` code of the crate (in `sha_ni`, `avx512` and
//! `avx2`; each runs its instructions only after detecting them). Must not decide block
//! validity (consensus re-checks every block a kernel finds) and must not spawn threads.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod lanes;
mod portable;
#[cfg(target_arch = "x86_64")]
mod sha_ni;

pub use portable::{compress, HeaderMidstate};

use crate::types::{BlockHeader, Hash256};
use primitive_types::U256;
use std::ops::RangeInclusive;
use std::sync::atomic::AtomicBool;

/// SHA-256's initial state.
pub(crate) const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];
/// How many nonces pass between looks at the stop flag: about 0.2 ms of hashing, so a new tip
/// reaches every worker well within 10 ms, while the atomic load costs nothing.
const STOP_CHECK_INTERVAL: u32 = 4096;

/// How a search ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SearchOutcome {
    /// This nonce meets the target.
    Found(u32),
    /// No nonce in the range meets it.
    Exhausted,
    /// The stop flag was raised.
    Stopped,
}

/// A search's outcome and the number of nonces it hashed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SearchReport {
    /// How it ended.
    pub outcome: SearchOutcome,
    /// Nonces hashed.
    pub hashes: u64,
}

/// A target prepared for the early test: almost every hash is rejected by comparing its most
/// significant 32 bits (the last digest word) alone, before any 256-bit comparison.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TargetCheck {
    target: U256,
    top_word: u32,
}

impl TargetCheck {
    /// The check for hashes at or below `target`.
    pub fn new(target: &U256) -> TargetCheck {
        TargetCheck {
            target: *target,
            top_word: (*target >> 224).low_u32(),
        }
    }

    /// Whether a hash whose most significant 32 bits are `top` may meet the target: false
    /// means it certainly does not.
    pub(crate) fn may_meet(&self, top: u32) -> bool {
        top <= self.top_word
    }

    /// The most significant 32 bits of the target.
    pub(crate) fn top_word(&self) -> u32 {
        self.top_word
    }

    /// The exact test: `hash` as a little-endian 256-bit integer is at most the target.
    pub fn meets(&self, hash: &Hash256) -> bool {
        let top = u32::from_le_bytes([hash.0[28], hash.0[29], hash.0[30], hash.0[31]]);
        top < self.top_word
            || (top == self.top_word && U256::from_little_endian(&hash.0) <= self.target)
    }
}

/// A nonce-search kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Plain Rust with the first chunk's midstate; runs everywhere.
    Portable,
    /// x86-64 SHA extensions; on a CPU without them it searches with the portable kernel.
    ShaNi,
    /// 8 lanes of AVX2; on a CPU without it, the portable kernel.
    Avx2X8,
    /// 16 lanes of AVX-512; on a CPU without it, the portable kernel.
    Avx512X16,
}

impl Kernel {
    /// The kernel expected to be fastest here without measuring (SHA-NI, then AVX-512, then
    /// AVX2): for solving blocks at test difficulty, where a few nonces do. A miner times them
    /// instead (`node::kernel_pick`).
    pub fn detect() -> Kernel {
        let preference = [Kernel::ShaNi, Kernel::Avx512X16, Kernel::Avx2X8];
        let available = Kernel::available();
        preference
            .into_iter()
            .find(|kernel| available.contains(kernel))
            .unwrap_or(Kernel::Portable)
    }

    /// Every kernel of this build, whether or not this CPU runs it.
    pub fn all() -> [Kernel; 4] {
        [
            Kernel::Portable,
            Kernel::Avx2X8,
            Kernel::Avx512X16,
            Kernel::ShaNi,
        ]
    }

    /// Every kernel this CPU runs, the portable one first.
    pub fn available() -> Vec<Kernel> {
        let mut kernels = vec![Kernel::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if avx2::supported() {
                kernels.push(Kernel::Avx2X8);
            }
            if avx512::supported() {
                kernels.push(Kernel::Avx512X16);
            }
            if sha_ni::supported() {
                kernels.push(Kernel::ShaNi);
            }
        }
        kernels
    }

    /// The CPU features the kernel needs, as `is_x86_feature_detected!` names them.
    pub fn required_features(self) -> &'static str {
        match self {
            Kernel::Portable => "none",
            Kernel::ShaNi => "sha, sse2, ssse3, sse4.1",
            Kernel::Avx2X8 => "avx2",
            Kernel::Avx512X16 => "avx512f, avx512bw",
        }
    }

    /// The name logs, `getmininginfo` and `bench-hash` show.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable-midstate",
            Kernel::ShaNi => "sha-ni-x4",
            Kernel::Avx2X8 => "avx2-x8",
            Kernel::Avx512X16 => "avx512-x16",
        }
    }

    /// Tries every nonce in `nonces` on `header`, in order, until one meets `target` or `stop`
    /// is set. Every kernel finds the same first nonce and reports the same hash count.
    pub(crate) fn search(
        self,
        header: &BlockHeader,
        nonces: RangeInclusive<u32>,
        target: &U256,
        stop: &AtomicBool,
    ) -> SearchReport {
        let check = TargetCheck::new(target);
        match self {
            Kernel::Portable => portable::search(header, nonces, &check, stop),
            #[cfg(target_arch = "x86_64")]
            Kernel::ShaNi => sha_ni::search(header, nonces, &check, stop),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2X8 => avx2::search(header, nonces, &check, stop),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512X16 => avx512::search(header, nonces, &check, stop),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::ShaNi | Kernel::Avx2X8 | Kernel::Avx512X16 => {
                portable::search(header, nonces, &check, stop)
            }
        }
    }
}

/// A header for the kernels' tests: hashes filled from `seed`, nonce zero.
#[cfg(test)]
fn test_header(seed: u8, time: u32, bits: u32) -> BlockHeader {
    BlockHeader {
        version: 1,
        prev_hash: Hash256([seed; 32]),
        merkle_root: Hash256([seed ^ 0x5a; 32]),
        time,
        bits,
        nonce: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The kernels this CPU runs; each one it cannot run is named, with the features it lacks,
    /// so a skipped kernel is never silent.
    fn kernels_under_test() -> Vec<Kernel> {
        let available = Kernel::available();
        for kernel in Kernel::all() {
            if !available.contains(&kernel) {
                eprintln!(
                    "skipping {}: this CPU lacks {}",
                    kernel.name(),
                    kernel.required_features()
                );
            }
        }
        available
    }

    fn header(seed: u8, time: u32) -> BlockHeader {
        test_header(seed, time, 0x207f_ffff)
    }

    fn hash_at(base: &BlockHeader, nonce: u32) -> Hash256 {
        BlockHeader { nonce, ..*base }.hash()
    }

    fn plain_hits(base: &BlockHeader, nonces: RangeInclusive<u32>, target: &U256) -> Vec<u32> {
        nonces
            .filter(|&nonce| U256::from_little_endian(&hash_at(base, nonce).0) <= *target)
            .collect()
    }

    /// Every nonce `kernel` finds in `nonces`, by searching again after each find.
    fn kernel_hits(
        kernel: Kernel,
        base: &BlockHeader,
        nonces: RangeInclusive<u32>,
        target: &U256,
    ) -> Vec<u32> {
        let never = AtomicBool::new(false);
        let (mut next, end) = (*nonces.start(), *nonces.end());
        let mut hits = Vec::new();
        loop {
            let report = kernel.search(base, next..=end, target, &never);
            match report.outcome {
                SearchOutcome::Found(nonce) => {
                    assert_eq!(
                        report.hashes,
                        u64::from(nonce - next) + 1,
                        "{kernel:?} counts every nonce it tried"
                    );
                    hits.push(nonce);
                    if nonce == end {
                        return hits;
                    }
                    next = nonce + 1;
                }
                SearchOutcome::Exhausted => {
                    assert_eq!(report.hashes, u64::from(end - next) + 1);
                    return hits;
                }
                SearchOutcome::Stopped => panic!("{kernel:?} stopped without being asked"),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn every_kernel_finds_exactly_the_plain_sha256d_hits(
            seed: u8,
            time: u32,
            // A quarter of the ranges end at u32::MAX, with groups of lanes straddling it.
            start in prop_oneof![3 => any::<u32>(), 1 => (u32::MAX - 400)..=u32::MAX],
            len in 0u32..300,
            target_shift in 1u32..8,
            pick in any::<prop::sample::Index>(),
        ) {
            let base = header(seed, time);
            let end = start.saturating_add(len);
            let easy = U256::MAX >> target_shift;
            let expected = plain_hits(&base, start..=end, &easy);
            for kernel in kernels_under_test() {
                prop_assert_eq!(kernel_hits(kernel, &base, start..=end, &easy), expected.clone(), "{:?}", kernel);
            }
            // A target equal to one nonce's hash: that nonce meets it, and so do only nonces
            // whose hashes are no larger; the last word of many candidates ties with it.
            let chosen = start + pick.index((end - start) as usize + 1) as u32;
            let exact = U256::from_little_endian(&hash_at(&base, chosen).0);
            let expected = plain_hits(&base, start..=end, &exact);
            prop_assert!(expected.contains(&chosen));
            for kernel in kernels_under_test() {
                prop_assert_eq!(kernel_hits(kernel, &base, start..=end, &exact), expected.clone(), "{:?}", kernel);
            }
        }

        #[test]
        fn a_target_whose_top_word_ties_is_decided_by_the_lower_words(seed: u8, nonce: u32) {
            let base = header(seed, 7);
            let hash = U256::from_little_endian(&hash_at(&base, nonce).0);
            let top_only = (hash >> 224) << 224;
            let just_below = hash - U256::one();
            for kernel in kernels_under_test() {
                let found = |target: &U256| {
                    kernel.search(&base, nonce..=nonce, target, &AtomicBool::new(false)).outcome
                };
                prop_assert_eq!(found(&hash), SearchOutcome::Found(nonce));
                prop_assert_eq!(found(&just_below), SearchOutcome::Exhausted);
                // Same top word, lower words all zero: below the hash unless the hash is.
                let expected = if top_only >= hash { SearchOutcome::Found(nonce) } else { SearchOutcome::Exhausted };
                prop_assert_eq!(found(&top_only), expected);
            }
        }
    }

    #[test]
    fn every_kernel_stops_when_asked_and_reports_exhaustion() {
        let base = header(2, 1000);
        for kernel in kernels_under_test() {
            let stopped = kernel.search(&base, 0..=u32::MAX, &U256::zero(), &AtomicBool::new(true));
            assert_eq!(stopped.outcome, SearchOutcome::Stopped, "{kernel:?}");
            let exhausted = kernel.search(&base, 1..=100, &U256::zero(), &AtomicBool::new(false));
            assert_eq!(exhausted.outcome, SearchOutcome::Exhausted, "{kernel:?}");
            assert_eq!(exhausted.hashes, 100);
            #[allow(clippy::reversed_empty_ranges)] // an empty range on purpose
            let empty = kernel.search(&base, 5..=4, &U256::MAX, &AtomicBool::new(false));
            assert_eq!(
                empty,
                SearchReport {
                    outcome: SearchOutcome::Exhausted,
                    hashes: 0
                }
            );
        }
    }

    /// A job restart: the stop flag rises while a search is under way, wherever in a group of
    /// lanes it is. The count reported must be exactly the nonces tried, so a search resumed
    /// from there neither skips a hit nor reports one twice.
    #[test]
    fn a_search_stopped_midway_resumes_exactly_where_it_stopped() {
        let base = header(9, 77);
        // About one hit per 2^18 nonces: the stop usually comes before the first.
        let target = U256::MAX >> 18;
        let (start, end) = (1_000_003u32, 1_000_003 + (1 << 20));
        let expected = plain_hits(&base, start..=end, &target);
        for (round, kernel) in kernels_under_test().into_iter().enumerate() {
            let stop = AtomicBool::new(false);
            let report = std::thread::scope(|scope| {
                scope.spawn(|| {
                    std::thread::sleep(std::time::Duration::from_micros(300 * round as u64 + 200));
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                });
                kernel.search(&base, start..=end, &target, &stop)
            });
            let resume_at = match report.outcome {
                SearchOutcome::Stopped => start + report.hashes as u32,
                SearchOutcome::Found(nonce) => {
                    assert_eq!(report.hashes, u64::from(nonce - start) + 1, "{kernel:?}");
                    nonce + 1
                }
                SearchOutcome::Exhausted => end + 1,
            };
            let before: Vec<u32> = expected
                .iter()
                .copied()
                .filter(|&n| n < resume_at)
                .collect();
            let first = match report.outcome {
                SearchOutcome::Found(nonce) => vec![nonce],
                _ => Vec::new(),
            };
            assert_eq!(
                first, before,
                "{kernel:?} missed or invented a hit before {resume_at}"
            );
            if resume_at <= end {
                let rest = kernel_hits(kernel, &base, resume_at..=end, &target);
                let after: Vec<u32> = expected
                    .iter()
                    .copied()
                    .filter(|&n| n >= resume_at)
                    .collect();
                assert_eq!(rest, after, "{kernel:?} resumed at {resume_at}");
            }
        }
    }

    #[test]
    fn the_range_ends_at_u32_max_without_overflow() {
        let base = header(3, 1000);
        let target = U256::MAX >> 1;
        let expected = plain_hits(&base, u32::MAX - 20..=u32::MAX, &target);
        for kernel in kernels_under_test() {
            assert_eq!(
                kernel_hits(kernel, &base, u32::MAX - 20..=u32::MAX, &target),
                expected,
                "{kernel:?}"
            );
        }
    }
}
