//! Miner worker threads: one per requested thread, each searching its own extra-nonce lane of the
//! current job, handing found blocks to the node task.
//!
//! Owns the threads, the current job and the hash counters. Must not validate or store blocks
//! (the node task submits what a worker finds like any other block) and must not touch chain
//! state: a job is a self-contained template.

use crate::consensus::pow::compact_to_target;
use crate::miner::{search_nonces, set_extra_nonce, SearchOutcome};
use crate::types::Block;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

/// Nonces a worker hashes between updates of its hash counter: about a tenth of a second.
const NONCES_PER_CHUNK: u32 = 1 << 20;

/// A template for the workers and the flag that retires it.
struct Job {
    id: u64,
    block: Block,
    /// Set when the tip moves or the node stops; every search on this job then ends.
    stale: Arc<AtomicBool>,
}

struct Shared {
    job: Mutex<Option<Arc<Job>>>,
    job_changed: Condvar,
    shutdown: AtomicBool,
    hashes: AtomicU64,
}

impl Shared {
    fn lock_job(&self) -> MutexGuard<'_, Option<Arc<Job>>> {
        // A worker that panicked mid-update leaves a valid Option behind; keep mining.
        self.job.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running workers.
pub struct MinerPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    next_job_id: u64,
}

impl MinerPool {
    /// Starts `threads` workers that call `on_found` with every block they solve.
    pub fn start(threads: usize, on_found: impl Fn(Block) + Send + Sync + 'static) -> MinerPool {
        let shared = Arc::new(Shared {
            job: Mutex::new(None),
            job_changed: Condvar::new(),
            shutdown: AtomicBool::new(false),
            hashes: AtomicU64::new(0),
        });
        let on_found = Arc::new(on_found);
        let threads = threads.max(1);
        let workers = (0..threads)
            .map(|lane| {
                let shared = Arc::clone(&shared);
                let on_found = Arc::clone(&on_found);
                std::thread::Builder::new()
                    .name(format!("miner-{lane}"))
                    .spawn(move || work(lane as u64, threads as u64, &shared, &*on_found))
            })
            .filter_map(|spawned| match spawned {
                Ok(handle) => Some(handle),
                Err(error) => {
                    tracing::error!(%error, "cannot start a miner thread");
                    None
                }
            })
            .collect();
        MinerPool {
            shared,
            workers,
            next_job_id: 1,
        }
    }

    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Total nonces hashed by all workers since start.
    pub fn hashes(&self) -> u64 {
        self.shared.hashes.load(Ordering::Relaxed)
    }

    /// Retires the current job and hands the workers `block` instead.
    pub fn set_job(&mut self, block: Block) {
        let job = Arc::new(Job {
            id: self.next_job_id,
            block,
            stale: Arc::new(AtomicBool::new(false)),
        });
        self.next_job_id += 1;
        let mut current = self.shared.lock_job();
        if let Some(old) = current.replace(job) {
            old.stale.store(true, Ordering::Relaxed);
        }
        drop(current);
        self.shared.job_changed.notify_all();
    }

    /// Stops and joins every worker.
    pub fn stop(self) {
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

/// One worker: lane `lane` of `lanes` searches extra nonces lane, lane + lanes, … so no two
/// workers ever hash the same header.
fn work(lane: u64, lanes: u64, shared: &Shared, on_found: &(dyn Fn(Block) + Send + Sync)) {
    let mut seen = 0;
    while let Some(job) = next_job(shared, seen) {
        seen = job.id;
        let Ok(target) = compact_to_target(job.block.header.bits) else {
            continue;
        };
        let mut block = job.block.clone();
        let mut extra_nonce = lane;
        set_extra_nonce(&mut block, extra_nonce);
        let mut chunk_start: u32 = 0;
        loop {
            let chunk_end = chunk_start.saturating_add(NONCES_PER_CHUNK - 1);
            let report = search_nonces(&block.header, chunk_start..=chunk_end, &target, &job.stale);
            shared.hashes.fetch_add(report.hashes, Ordering::Relaxed);
            match report.outcome {
                SearchOutcome::Found(nonce) => {
                    block.header.nonce = nonce;
                    on_found(block);
                    break;
                }
                SearchOutcome::Stopped => break,
                SearchOutcome::Exhausted if chunk_end == u32::MAX => {
                    extra_nonce += lanes;
                    set_extra_nonce(&mut block, extra_nonce);
                    chunk_start = 0;
                }
                SearchOutcome::Exhausted => chunk_start = chunk_end + 1,
            }
        }
    }
}
