//! Which kernel mines: the one `--kernel` names, or the fastest this CPU runs, found by timing
//! each for a few tens of milliseconds when mining starts. AVX-512 wins on AMD Zen 4 and Intel
//! cores that have it, SHA-NI where there is no AVX-512, AVX2 on laptops with neither; how far
//! ahead depends on the core, so no fixed order is right everywhere.
//!
//! Owns the timing and the names. Reads the wall clock (it is a measurement, as `hash_bench`
//! is) on the calling thread; must not spawn threads or touch chain state.

use crate::miner::Kernel;
use crate::types::{BlockHeader, Hash256};
use primitive_types::U256;
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Rounds of timing: each kernel is timed once per round, so a burst of load from elsewhere
/// falls on one slice of each rather than on all of one kernel's time.
const ROUNDS: usize = 3;
/// One kernel's time per round.
const SLICE: Duration = Duration::from_millis(10);
/// Nonces per search call while timing: well under a millisecond for every kernel.
const CHUNK_NONCES: u32 = 1 << 13;
/// Bits whose target is 1: no header meets it, so every search hashes its whole range.
pub(super) const IMPOSSIBLE_BITS: u32 = 0x0300_0001;

/// The header kernels are timed on (`bench-hash` too).
pub(super) fn sample_header() -> BlockHeader {
    BlockHeader {
        version: 1,
        prev_hash: Hash256([0x11; 32]),
        merkle_root: Hash256([0x22; 32]),
        time: 1_767_225_600,
        bits: IMPOSSIBLE_BITS,
        nonce: 0,
    }
}

/// How the miner's kernel is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KernelChoice {
    /// The fastest by measurement.
    #[default]
    Fastest,
    /// This one.
    Named(Kernel),
}

/// A `--kernel` name this build does not know, or whose instructions this CPU lacks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KernelNameError {
    /// No kernel has this name.
    #[error("no kernel is called {name:?}; this CPU runs: fastest, {available}")]
    Unknown {
        /// The name given.
        name: String,
        /// The names this CPU runs, comma-separated.
        available: String,
    },
    /// The CPU lacks the kernel's instructions.
    #[error("kernel {name:?} needs {needs}, which this CPU lacks; it runs: fastest, {available}")]
    Unsupported {
        /// The name given.
        name: String,
        /// The features the kernel needs.
        needs: &'static str,
        /// The names this CPU runs, comma-separated.
        available: String,
    },
}

impl KernelNameError {
    /// A stable code for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            KernelNameError::Unknown { .. } => "kernel-unknown",
            KernelNameError::Unsupported { .. } => "kernel-unsupported",
        }
    }
}

/// The names of the kernels this CPU runs, for error messages and help.
fn available_names() -> String {
    let names: Vec<&str> = Kernel::available().into_iter().map(Kernel::name).collect();
    names.join(", ")
}

impl KernelChoice {
    /// Parses `--kernel`: `fastest` or a kernel's name that this CPU runs.
    pub fn parse(name: &str) -> Result<KernelChoice, KernelNameError> {
        if name == "fastest" {
            return Ok(KernelChoice::Fastest);
        }
        let kernel = Kernel::all()
            .into_iter()
            .find(|kernel| kernel.name() == name)
            .ok_or_else(|| KernelNameError::Unknown {
                name: name.to_owned(),
                available: available_names(),
            })?;
        if Kernel::available().contains(&kernel) {
            Ok(KernelChoice::Named(kernel))
        } else {
            Err(KernelNameError::Unsupported {
                name: name.to_owned(),
                needs: kernel.required_features(),
                available: available_names(),
            })
        }
    }

    /// The kernel to mine with: the named one, or the fastest (measured once per process, on
    /// the calling thread: about 120 ms the first time).
    pub fn resolve(self) -> Kernel {
        match self {
            KernelChoice::Named(kernel) => kernel,
            KernelChoice::Fastest => *FASTEST.get_or_init(|| {
                let rates = measure(&Kernel::available(), SLICE, ROUNDS);
                let fastest = fastest_of(&rates);
                tracing::debug!(?rates, kernel = fastest.name(), "kernels timed");
                fastest
            }),
        }
    }

    /// What a status report names without measuring: the kernel `resolve` gives if it is known
    /// by now, else the one expected fastest (`Kernel::detect`), so a status call never holds
    /// the node task up for a measurement.
    pub fn known_or_expected(self) -> Kernel {
        match self {
            KernelChoice::Named(kernel) => kernel,
            KernelChoice::Fastest => FASTEST.get().copied().unwrap_or_else(Kernel::detect),
        }
    }
}

/// The fastest kernel, once measured.
static FASTEST: OnceLock<Kernel> = OnceLock::new();

/// The kernel with the highest rate (the portable one if `rates` is empty).
pub fn fastest_of(rates: &[(Kernel, f64)]) -> Kernel {
    rates
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(Kernel::Portable, |(kernel, _)| *kernel)
}

/// Millions of nonces per second of each kernel on this thread, each timed for `slice` in
/// each of `rounds` rounds; a kernel's rate is its best slice.
pub fn measure(kernels: &[Kernel], slice: Duration, rounds: usize) -> Vec<(Kernel, f64)> {
    let header = sample_header();
    let never = AtomicBool::new(false);
    let mut best = vec![0.0f64; kernels.len()];
    let mut start = 0u32;
    for _ in 0..rounds {
        for (kernel, best) in kernels.iter().zip(&mut best) {
            let began = Instant::now();
            let mut hashes = 0u64;
            while began.elapsed() < slice {
                let end = start.saturating_add(CHUNK_NONCES - 1);
                // A target of 1: no nonce meets it, so every call hashes its whole chunk.
                hashes += kernel
                    .search(&header, start..=end, &U256::one(), &never)
                    .hashes;
                start = end.checked_add(1).unwrap_or(0);
            }
            *best = best.max(hashes as f64 / began.elapsed().as_secs_f64() / 1e6);
        }
    }
    kernels.iter().copied().zip(best).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_to_kernels_the_cpu_runs_and_others_are_refused_by_name() {
        assert_eq!(KernelChoice::parse("fastest"), Ok(KernelChoice::Fastest));
        for kernel in Kernel::available() {
            assert_eq!(
                KernelChoice::parse(kernel.name()),
                Ok(KernelChoice::Named(kernel))
            );
        }
        for kernel in Kernel::all() {
            if !Kernel::available().contains(&kernel) {
                let refused = KernelChoice::parse(kernel.name()).unwrap_err();
                assert_eq!(refused.code(), "kernel-unsupported");
                assert!(refused.to_string().contains(kernel.name()), "{refused}");
            }
        }
        let unknown = KernelChoice::parse("sha-ni-x5").unwrap_err();
        assert_eq!(unknown.code(), "kernel-unknown");
        assert!(
            unknown.to_string().contains("portable-midstate"),
            "{unknown}"
        );
    }

    #[test]
    fn every_available_kernel_is_timed_and_the_fastest_is_the_highest_rate() {
        let rates = measure(&Kernel::available(), Duration::from_millis(2), 1);
        assert_eq!(rates.len(), Kernel::available().len());
        assert!(rates.iter().all(|(_, rate)| *rate > 0.0), "{rates:?}");
        let fastest = fastest_of(&rates);
        let top = rates.iter().map(|(_, rate)| *rate).fold(0.0, f64::max);
        assert!(rates.contains(&(fastest, top)));
        assert_eq!(fastest_of(&[]), Kernel::Portable);
    }

    #[test]
    fn a_status_names_the_measured_kernel_once_known_and_the_named_one_always() {
        for kernel in Kernel::available() {
            assert_eq!(KernelChoice::Named(kernel).known_or_expected(), kernel);
        }
        let measured = KernelChoice::Fastest.resolve();
        assert_eq!(KernelChoice::Fastest.known_or_expected(), measured);
    }
}
