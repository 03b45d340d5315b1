//! `nakachain bench-hash`: every kernel this CPU runs, one thread each, and the miner's kernel
//! (the fastest, or the one `--kernel` names) against plain SHA-256d and a single stream of
//! `sha2::compress256`, all measured in the same run, plus thread scaling and how fast the
//! workers move to a new job.
//!
//! Owns the measurement loops and the report. Reads the wall clock (it is a benchmark); must not
//! touch chain state.

use super::kernel_pick::{fastest_of, measure, sample_header, KernelChoice, IMPOSSIBLE_BITS};
use super::mining::{MinerPool, Priority};
use crate::miner::kernel::{compress, SHA256_IV};
use crate::miner::{assemble_block, BlockSpec, Kernel};
use crate::types::{sha256d, Address, Amount, BlockHeader, Hash256};
use indicatif::{ProgressBar, ProgressStyle};
use primitive_types::U256;
use serde::Serialize;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Nonces per kernel call: small enough to stop on time, large enough to be free.
const CHUNK_NONCES: u32 = 1 << 16;
/// New jobs published to measure how fast every worker switches.
const RESTART_SAMPLES: usize = 20;
/// Time between measured job switches.
const RESTART_PAUSE: Duration = Duration::from_millis(20);

/// What `bench-hash` measured. Rates are millions per second.
#[derive(Clone, Debug, Serialize)]
pub struct HashBenchReport {
    /// The kernel measured with every thread: the fastest in `kernels`, or the one named.
    pub kernel: &'static str,
    /// Every kernel this CPU runs, by name: nonces per second on one thread.
    pub kernels: BTreeMap<&'static str, f64>,
    /// Worker threads.
    pub threads: usize,
    /// Nonces per second of all threads together.
    pub mhps: f64,
    /// `mhps` per thread.
    pub per_thread_mhps: f64,
    /// `kernel` on one thread alone.
    pub single_thread_mhps: f64,
    /// `mhps / (threads × single_thread_mhps)`.
    pub scaling: f64,
    /// The portable kernel on one thread.
    pub portable_mhps: f64,
    /// SHA-256(SHA-256(80-byte header)) with `sha2`, one thread.
    pub naive_mhps: f64,
    /// Single-stream `sha2::compress256` calls, one thread.
    pub compress_mps: f64,
    /// `per_thread_mhps / compress_mps`: 1.0 means two compressions per nonce at the rate a
    /// single stream does one.
    pub per_thread_vs_compress: f64,
    /// Median time for every worker to move to a new job, in milliseconds.
    pub restart_ms_median: f64,
    /// Slowest such move, in milliseconds.
    pub restart_ms_max: f64,
}

/// Runs `step` (which reports the units of work it did) until `period` has passed; millions
/// of units per second.
fn rate(period: Duration, mut step: impl FnMut() -> u64) -> f64 {
    let started = Instant::now();
    let mut done = 0u64;
    while started.elapsed() < period {
        done += step();
    }
    done as f64 / started.elapsed().as_secs_f64() / 1e6
}

fn compress_rate(period: Duration) -> f64 {
    let block = [0x5au8; 64];
    let mut state = SHA256_IV;
    rate(period, || {
        for _ in 0..1024 {
            compress(&mut state, black_box(&block));
        }
        black_box(state);
        1024
    })
}

fn naive_rate(period: Duration) -> f64 {
    let mut header = sample_header();
    rate(period, || {
        for _ in 0..1024 {
            header.nonce = header.nonce.wrapping_add(1);
            black_box(sha256d(&black_box(header).to_bytes()));
        }
        1024
    })
}

/// `threads` threads searching with `kernel` for `period`; total millions of nonces per second.
fn kernel_rate(kernel: Kernel, threads: usize, period: Duration) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|lane| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let header = BlockHeader {
                    time: sample_header().time + lane as u32,
                    ..sample_header()
                };
                let mut hashes = 0u64;
                let mut start = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let end = start.saturating_add(CHUNK_NONCES - 1);
                    hashes += kernel
                        .search(&header, start..=end, &U256::one(), &stop)
                        .hashes;
                    start = end.wrapping_add(1);
                }
                hashes
            })
        })
        .collect();
    std::thread::sleep(period);
    stop.store(true, Ordering::Relaxed);
    let hashes: u64 = workers
        .into_iter()
        .map(|worker| worker.join().unwrap_or(0))
        .sum();
    hashes as f64 / started.elapsed().as_secs_f64() / 1e6
}

/// Publishes new jobs to a running pool and times how long until every worker hashes each.
fn restart_latencies(kernel: Kernel, threads: usize) -> Vec<Duration> {
    let mut pool = MinerPool::start(threads, kernel, Priority::Normal, |_| {});
    let template = |time: u32| {
        assemble_block(
            &BlockSpec {
                prev_hash: Hash256([0x33; 32]),
                height: 1,
                bits: IMPOSSIBLE_BITS,
                time,
                payout: Address([0x44; 20]),
                coinbase_value: Amount(1),
                extra_nonce: 0,
            },
            Vec::new(),
        )
    };
    let mut latencies = Vec::with_capacity(RESTART_SAMPLES);
    let mut previous = None;
    for sample in 0..=RESTART_SAMPLES {
        pool.set_job(template(sample as u32), Instant::now());
        // Let every worker reach the job and get deep into it before the "tip" moves again;
        // the first job only warms up.
        std::thread::sleep(RESTART_PAUSE);
        let latest = pool.last_restart();
        if sample > 0 {
            // A job not reached by every worker within the pause counts as the whole pause.
            let reached = latest.filter(|_| latest != previous);
            latencies.push(reached.unwrap_or(RESTART_PAUSE));
        }
        previous = latest;
    }
    pool.stop();
    latencies
}

/// Measures everything, each loop for `seconds`, showing which phase runs. Workers run at
/// normal priority: a benchmark measures the kernel, not the scheduler.
pub fn run(seconds: f64, threads: usize, choice: KernelChoice) -> HashBenchReport {
    let period = Duration::from_secs_f64(seconds.max(0.1));
    let threads = threads.max(1);
    let progress = ProgressBar::new_spinner();
    progress.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    progress.enable_steady_tick(Duration::from_millis(100));
    let phase = |name: &str| progress.set_message(format!("measuring {name}…"));

    phase("sha2::compress256, one stream");
    let compress_mps = compress_rate(period);
    phase("plain SHA-256d of the header");
    let naive_mhps = naive_rate(period);
    phase("every kernel, one thread");
    // Each kernel in turn in short slices, so load from elsewhere falls on all of them alike.
    let slices = 10;
    let rates = measure(&Kernel::available(), period / slices, slices as usize);
    let kernel = match choice {
        KernelChoice::Named(kernel) => kernel,
        KernelChoice::Fastest => fastest_of(&rates),
    };
    let rate_of = |wanted: Kernel| {
        rates
            .iter()
            .find(|(kernel, _)| *kernel == wanted)
            .map_or(0.0, |(_, rate)| *rate)
    };
    let portable_mhps = rate_of(Kernel::Portable);
    let single_thread_mhps = rate_of(kernel);
    phase(&format!("{}, {threads} threads", kernel.name()));
    let mhps = kernel_rate(kernel, threads, period);
    phase("restarts on a new job");
    let mut restarts = restart_latencies(kernel, threads);
    progress.finish_and_clear();

    restarts.sort();
    let millis = |latency: Option<&Duration>| latency.map_or(f64::NAN, |l| l.as_secs_f64() * 1e3);
    let per_thread_mhps = mhps / threads as f64;
    HashBenchReport {
        kernel: kernel.name(),
        kernels: rates
            .iter()
            .map(|(kernel, rate)| (kernel.name(), *rate))
            .collect(),
        threads,
        mhps,
        per_thread_mhps,
        single_thread_mhps,
        scaling: mhps / (threads as f64 * single_thread_mhps),
        portable_mhps,
        naive_mhps,
        compress_mps,
        per_thread_vs_compress: per_thread_mhps / compress_mps,
        restart_ms_median: millis(restarts.get(restarts.len() / 2)),
        restart_ms_max: millis(restarts.last()),
    }
}

impl HashBenchReport {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let kernels = self
            .kernels
            .iter()
            .map(|(name, rate)| format!("  {name:<26}{rate:8.2} M nonces/s, one thread"));
        ["every kernel this CPU runs:".to_owned()]
            .into_iter()
            .chain(kernels)
            .chain([
            format!("kernel                      {}", self.kernel),
            format!("threads                     {}", self.threads),
            format!("nonces/s, all threads       {:8.2} M", self.mhps),
            format!("nonces/s per thread         {:8.2} M", self.per_thread_mhps),
            format!(
                "nonces/s, one thread alone  {:8.2} M   (scaling {:.2} × threads)",
                self.single_thread_mhps, self.scaling
            ),
            format!("portable kernel, 1 thread   {:8.2} M", self.portable_mhps),
            format!("plain SHA-256d, 1 thread    {:8.2} M", self.naive_mhps),
            format!("compress256, 1 stream       {:8.2} M compressions/s", self.compress_mps),
            format!(
                "per thread vs compress      {:8.2} ×   (1.0 = two compressions per nonce at one stream's rate)",
                self.per_thread_vs_compress
            ),
            format!(
                "restart on a new job        {:8.3} ms median, {:.3} ms max",
                self.restart_ms_median, self.restart_ms_max
            ),
        ])
        .collect::<Vec<_>>()
        .join("\n")
    }
}
