//! Miner worker threads: one per requested thread, each searching its own extra-nonce lane of the
//! current job with the chosen kernel, handing found blocks to the node task. Workers lower
//! their own OS priority first (`Priority`), so a laptop stays usable while every core mines.
//!
//! Owns the threads, the current job, the hash counter and the restart measurement. Must not
//! validate or store blocks (the node task submits what a worker finds like any other block)
//! and must not touch chain state: a job is a self-contained template.

use super::kernel_pick::KernelChoice;
use crate::consensus::pow::compact_to_target;
use crate::miner::{set_extra_nonce, CoinbaseBranch, Kernel, SearchOutcome};
use crate::types::Block;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Nonces a worker hashes between updates of its hash counter: a few hundredths of a second.
const NONCES_PER_CHUNK: u32 = 1 << 20;

/// How miner threads share the CPU with everything else on the machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Priority {
    /// As any other thread.
    Normal,
    /// The lowest priority (nice 19 on Linux and macOS): other programs come first, mining
    /// takes the rest. The default: threads this low still get a sliver of a busy CPU, so a
    /// killed node exits at once even while the machine is loaded.
    #[default]
    Low,
    /// Linux's `SCHED_IDLE` (elsewhere as `low`): only time nothing else wants. On a loaded
    /// machine such threads can wait long for any CPU, even to exit when killed.
    Idle,
}

impl Priority {
    /// Lowers the calling thread's priority to this level.
    fn apply_to_current_thread(self) -> Result<(), thread_priority::Error> {
        use thread_priority::{set_current_thread_priority, ThreadPriority};
        match self {
            Priority::Normal => Ok(()),
            Priority::Low => set_current_thread_priority(ThreadPriority::Min),
            #[cfg(target_os = "linux")]
            Priority::Idle => {
                use thread_priority::unix::{
                    set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
                    ThreadSchedulePolicy,
                };
                set_thread_priority_and_policy(
                    thread_native_id(),
                    ThreadPriority::Min,
                    ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
                )
            }
            #[cfg(not(target_os = "linux"))]
            Priority::Idle => set_current_thread_priority(ThreadPriority::Min),
        }
    }
}

/// How the miner runs, besides its number of threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MinerOptions {
    /// Which kernel hashes.
    pub kernel: KernelChoice,
    /// The workers' OS priority.
    pub priority: Priority,
}

/// A template for the workers and the flag that retires it.
struct Job {
    id: u64,
    block: Block,
    branch: CoinbaseBranch,
    /// Set when the tip moves or the node stops; every search on this job then ends.
    stale: Arc<AtomicBool>,
    published: Instant,
}

/// How quickly the workers moved to the latest job.
struct Restart {
    job: AtomicU64,
    workers_started: AtomicUsize,
    slowest_nanos: AtomicU64,
    /// The slowest worker's time for the last job every worker reached; `u64::MAX` before one.
    last_complete_nanos: AtomicU64,
}

struct Shared {
    job: Mutex<Option<Arc<Job>>>,
    job_changed: Condvar,
    shutdown: AtomicBool,
    hashes: AtomicU64,
    restart: Restart,
    workers: AtomicUsize,
}

impl Shared {
    fn lock_job(&self) -> MutexGuard<'_, Option<Arc<Job>>> {
        // A worker that panicked mid-update leaves a valid Option behind; keep mining.
        self.job.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running workers.
pub(super) struct MinerPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    kernel: Kernel,
    next_job_id: u64,
}

impl MinerPool {
    /// Starts `threads` workers searching with `kernel` at `priority`, calling `on_found` with
    /// every block they solve.
    pub(super) fn start(
        threads: usize,
        kernel: Kernel,
        priority: Priority,
        on_found: impl Fn(Block) + Send + Sync + 'static,
    ) -> MinerPool {
        let shared = Arc::new(Shared {
            job: Mutex::new(None),
            job_changed: Condvar::new(),
            shutdown: AtomicBool::new(false),
            hashes: AtomicU64::new(0),
            restart: Restart {
                job: AtomicU64::new(0),
                workers_started: AtomicUsize::new(0),
                slowest_nanos: AtomicU64::new(0),
                last_complete_nanos: AtomicU64::new(u64::MAX),
            },
            workers: AtomicUsize::new(0),
        });
        let on_found = Arc::new(on_found);
        let threads = threads.max(1);
        let workers = (0..threads)
            .map(|lane| {
                let shared = Arc::clone(&shared);
                let on_found = Arc::clone(&on_found);
                let lane = Lane {
                    first_extra_nonce: lane as u64,
                    stride: threads as u64,
                };
                std::thread::Builder::new()
                    .name(format!("miner-{}", lane.first_extra_nonce))
                    .spawn(move || {
                        if let Err(error) = priority.apply_to_current_thread() {
                            // Mining at a higher priority than asked is better than not mining.
                            tracing::warn!(?priority, %error, "cannot lower a miner thread's priority");
                        }
                        work(lane, kernel, &shared, &*on_found)
                    })
            })
            .filter_map(|spawned| match spawned {
                Ok(handle) => Some(handle),
                Err(error) => {
                    tracing::error!(%error, "cannot start a miner thread");
                    None
                }
            })
            .collect::<Vec<_>>();
        shared.workers.store(workers.len(), Ordering::Release);
        MinerPool {
            shared,
            workers,
            kernel,
            next_job_id: 1,
        }
    }

    pub(super) fn threads(&self) -> usize {
        self.workers.len()
    }

    pub(super) fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Total nonces hashed by all workers since start.
    pub(super) fn hashes(&self) -> u64 {
        self.shared.hashes.load(Ordering::Relaxed)
    }

    /// Retires the current job and hands the workers `block` instead. `since` is when the
    /// reason for the new job happened (the tip moved), so the restart time includes building
    /// the template.
    pub(super) fn set_job(&mut self, block: Block, since: Instant) {
        let id = self.next_job_id;
        self.next_job_id += 1;
        let restart = &self.shared.restart;
        restart.workers_started.store(0, Ordering::Relaxed);
        restart.slowest_nanos.store(0, Ordering::Relaxed);
        restart.job.store(id, Ordering::Release);
        let job = Arc::new(Job {
            id,
            branch: CoinbaseBranch::of(&block),
            block,
            stale: Arc::new(AtomicBool::new(false)),
            published: since,
        });
        let mut current = self.shared.lock_job();
        if let Some(old) = current.replace(job) {
            old.stale.store(true, Ordering::Relaxed);
        }
        drop(current);
        self.shared.job_changed.notify_all();
    }

    /// For the last job every worker reached: how long the slowest took to get there from the
    /// job's `since` (building the template, noticing the old job was stale, taking the new one,
    /// preparing its header). `None` before the first.
    pub(super) fn last_restart(&self) -> Option<Duration> {
        let nanos = self
            .shared
            .restart
            .last_complete_nanos
            .load(Ordering::Acquire);
        (nanos != u64::MAX).then(|| Duration::from_nanos(nanos))
    }

    /// Stops and joins every worker.
    pub(super) fn stop(self) {
        self.shared.shutdown.store(true, Ordering::Relaxed);
        if let Some(job) = self.shared.lock_job().as_ref() {
            job.stale.store(true, Ordering::Relaxed);
        }
        self.shared.job_changed.notify_all();
        for worker in self.workers {
            if worker.join().is_err() {
                tracing::error!("a miner thread panicked");
            }
        }
    }
}

/// Which extra nonces a worker owns: first, first + stride, … so no two workers ever hash the
/// same header.
#[derive(Clone, Copy)]
struct Lane {
    first_extra_nonce: u64,
    stride: u64,
}

/// Waits for a job newer than `seen`, or `None` on shutdown.
fn next_job(shared: &Shared, seen: u64) -> Option<Arc<Job>> {
    let mut current = shared.lock_job();
    loop {
        if shared.shutdown.load(Ordering::Relaxed) {
            return None;
        }
        if let Some(job) = current.as_ref().filter(|job| job.id > seen) {
            return Some(Arc::clone(job));
        }
        current = shared
            .job_changed
            .wait(current)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

fn record_start(shared: &Shared, job: &Job) {
    let restart = &shared.restart;
    if restart.job.load(Ordering::Acquire) != job.id {
        return;
    }
    let nanos = u64::try_from(job.published.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
    let slowest = restart
        .slowest_nanos
        .fetch_max(nanos, Ordering::AcqRel)
        .max(nanos);
    let started = restart.workers_started.fetch_add(1, Ordering::AcqRel) + 1;
    if started == shared.workers.load(Ordering::Acquire) {
        restart
            .last_complete_nanos
            .store(slowest, Ordering::Release);
    }
}

fn work(lane: Lane, kernel: Kernel, shared: &Shared, on_found: &(dyn Fn(Block) + Send + Sync)) {
    let mut seen = 0;
    while let Some(job) = next_job(shared, seen) {
        seen = job.id;
        let Ok(target) = compact_to_target(job.block.header.bits) else {
            continue;
        };
        let mut block = job.block.clone();
        let mut extra_nonce = lane.first_extra_nonce;
        set_extra_nonce(&mut block, extra_nonce, &job.branch);
        record_start(shared, &job);
        let mut chunk_start: u32 = 0;
        loop {
            let chunk_end = chunk_start.saturating_add(NONCES_PER_CHUNK - 1);
            let report = kernel.search(&block.header, chunk_start..=chunk_end, &target, &job.stale);
            shared.hashes.fetch_add(report.hashes, Ordering::Relaxed);
            match report.outcome {
                SearchOutcome::Found(nonce) => {
                    block.header.nonce = nonce;
                    on_found(block);
                    break;
                }
                SearchOutcome::Stopped => break,
                SearchOutcome::Exhausted if chunk_end == u32::MAX => {
                    extra_nonce += lane.stride;
                    set_extra_nonce(&mut block, extra_nonce, &job.branch);
                    chunk_start = 0;
                }
                SearchOutcome::Exhausted => chunk_start = chunk_end + 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::rules::check_block;
    use crate::miner::{assemble_block, BlockSpec};
    use crate::params::Params;
    use crate::types::Address;
    use std::sync::mpsc;

    fn regtest_template(params: &Params, bits: u32) -> Block {
        assemble_block(
            &BlockSpec {
                prev_hash: params.genesis_hash(),
                height: 1,
                bits,
                time: params.genesis.header.time + 1,
                payout: Address([8; 20]),
                coinbase_value: params.subsidy(1),
                extra_nonce: 0,
            },
            Vec::new(),
        )
    }

    /// Waits (bounded, so a bug fails instead of hanging) for `condition`.
    fn eventually(mut condition: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if condition() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    #[test]
    fn workers_hand_over_valid_blocks_from_their_own_lanes() {
        let params = Params::regtest();
        let (found_tx, found) = mpsc::channel();
        let found_tx = Mutex::new(found_tx);
        let mut pool = MinerPool::start(2, Kernel::detect(), Priority::Normal, move |block| {
            let _ = found_tx.lock().map(|tx| tx.send(block));
        });
        pool.set_job(
            regtest_template(&params, params.pow_limit_bits),
            Instant::now(),
        );
        let mut lanes = std::collections::HashSet::new();
        for _ in 0..2 {
            let block = found
                .recv_timeout(Duration::from_secs(30))
                .expect("a regtest block is found at once");
            assert_eq!(check_block(&block, &params), Ok(()));
            lanes.insert(
                block.transactions[0]
                    .coinbase
                    .as_ref()
                    .map(|data| data.extra_nonce),
            );
        }
        pool.stop();
        assert_eq!(lanes.len(), 2, "each worker mines its own extra nonce");
    }

    #[test]
    fn every_worker_moves_to_a_new_job_and_the_restart_is_measured() {
        let params = Params::regtest();
        let impossible = 0x0300_0001;
        let mut pool = MinerPool::start(2, Kernel::detect(), Priority::Normal, |_| {});
        assert_eq!(pool.last_restart(), None);
        pool.set_job(regtest_template(&params, impossible), Instant::now());
        assert!(eventually(|| pool.last_restart().is_some()));
        let first = pool.hashes();
        assert!(eventually(|| pool.hashes() > first), "workers are hashing");
        pool.stop();
    }

    /// The calling thread's nice value and scheduling policy, as Linux reports them.
    #[cfg(target_os = "linux")]
    fn nice_and_policy() -> (i64, i64) {
        nice_and_policy_of("/proc/thread-self")
    }

    /// The nice value and policy of the thread whose `/proc` directory is `dir`.
    #[cfg(target_os = "linux")]
    fn nice_and_policy_of(dir: impl AsRef<std::path::Path>) -> (i64, i64) {
        let stat = std::fs::read_to_string(dir.as_ref().join("stat")).expect("read a stat");
        // Fields after the command name, which ends with the last ')': state is field 3, nice
        // field 19 and policy field 41 (proc(5)).
        let fields: Vec<&str> = stat[stat.rfind(')').expect("a command name") + 2..]
            .split_whitespace()
            .collect();
        let field = |number: usize| fields[number - 3].parse::<i64>().expect("a number");
        (field(19), field(41))
    }

    /// Linux's policy numbers (sched(7)).
    #[cfg(target_os = "linux")]
    const SCHED_OTHER: i64 = 0;
    #[cfg(target_os = "linux")]
    const SCHED_IDLE: i64 = 5;

    #[cfg(target_os = "linux")]
    #[test]
    fn each_priority_sets_the_nice_value_and_policy_linux_reports() {
        let on_a_thread = |priority: Priority| {
            std::thread::spawn(move || {
                priority
                    .apply_to_current_thread()
                    .expect("lowering needs no privilege");
                nice_and_policy()
            })
            .join()
            .expect("the thread ran")
        };
        let (normal_nice, normal_policy) = on_a_thread(Priority::Normal);
        assert_eq!(normal_policy, SCHED_OTHER);
        assert_eq!(on_a_thread(Priority::Low), (19, SCHED_OTHER));
        assert_eq!(on_a_thread(Priority::Idle).1, SCHED_IDLE);
        assert!(
            normal_nice < 19,
            "the test itself runs at nice {normal_nice}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_pool_runs_its_workers_at_the_priority_asked() {
        let pool = MinerPool::start(2, Kernel::detect(), Priority::Idle, |_| {});
        // Other tests' pools (at normal priority) may run beside this one: count idle workers.
        let idle_miners = || -> usize {
            let tasks = std::fs::read_dir("/proc/self/task").expect("list own threads");
            tasks
                .filter_map(Result::ok)
                .filter(|task| {
                    std::fs::read_to_string(task.path().join("comm"))
                        .is_ok_and(|name| name.starts_with("miner-"))
                })
                .filter(|task| nice_and_policy_of(task.path()).1 == SCHED_IDLE)
                .count()
        };
        // Each worker lowers itself as it starts; wait until both have.
        let deadline = Instant::now() + Duration::from_secs(30);
        while idle_miners() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let idle = idle_miners();
        pool.stop();
        assert_eq!(idle, 2, "both workers under SCHED_IDLE");
    }
}
