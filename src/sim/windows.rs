//! Running the shards up to a deadline, in windows as long as the lookahead (a conservative
//! parallel simulation: nothing one shard sends another during a window can arrive before the
//! window ends, so each shard handles its window alone and they trade what they sent at its
//! end): in one thread, shard after shard; or in several, each taking shards no other took
//! until the window's shards are done, then meeting at a barrier. Tests that look after every
//! item step item by item, in the order of their (time, scheduling) keys across all shards.
//!
//! Both ways hand every node the same items in the same order (a node's items are ordered by
//! their keys, which the scheduling nodes chose alone), so the outcome does not depend on the
//! number of threads or on which thread ran first. Owns the threads and their barrier. Must not
//! look inside items: shards handle them.

use super::network::Item;
use super::shard::{Shard, Shared};
use std::hint::spin_loop;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Spins (tens of microseconds) before a waiting thread sleeps: most windows end sooner.
const SPINS_BEFORE_SLEEP: u32 = 1_000;

/// Handles everything due by `deadline_us`, stopping early once the shards' inputs reach
/// `until_inputs`.
pub(super) fn run(
    shards: &mut [Shard],
    shared: &Shared<'_>,
    deadline_us: u64,
    until_inputs: u64,
    threads: usize,
) {
    if threads < 2 || shards.len() < 2 {
        in_turns(shards, shared, deadline_us, until_inputs);
    } else {
        let threads = threads.min(shards.len());
        side_by_side(shards, shared, deadline_us, until_inputs, threads);
    }
}

/// The windows in one thread, shard after shard. Stopping in the middle of a window is safe:
/// the next starts at the earliest item left, and nothing sent from then on arrives before its
/// end.
fn in_turns(shards: &mut [Shard], shared: &Shared<'_>, deadline_us: u64, until_inputs: u64) {
    loop {
        deliver_outboxes(shards);
        let start_us = shards
            .iter_mut()
            .filter_map(Shard::next_time_us)
            .min()
            .unwrap_or(u64::MAX);
        let mut budget = until_inputs.saturating_sub(inputs(shards));
        if start_us > deadline_us || budget == 0 {
            return;
        }
        let end_us = start_us
            .saturating_add(shared.wires.lookahead_us())
            .min(deadline_us.saturating_add(1));
        for shard in shards.iter_mut() {
            let before = shard.inputs;
            while budget > shard.inputs - before && shard.step(shared, end_us) {}
            budget = budget.saturating_sub(shard.inputs - before);
        }
    }
}

fn inputs(shards: &[Shard]) -> u64 {
    shards.iter().map(|shard| shard.inputs).sum()
}

/// Handles the earliest item of all shards if it is due by `deadline_us`; whether there was one.
pub(super) fn step(shards: &mut [Shard], shared: &Shared<'_>, deadline_us: u64) -> bool {
    let next = shards
        .iter_mut()
        .enumerate()
        .filter_map(|(index, shard)| shard.queue.peek_key().map(|key| (key, index)))
        .min();
    let Some(((at_us, _), index)) = next.filter(|((at_us, _), _)| *at_us <= deadline_us) else {
        return false;
    };
    shards[index].step(shared, at_us + 1);
    deliver_outboxes(shards);
    true
}

/// Moves what shards sent each other into the queues of the shards it is for.
pub(super) fn deliver_outboxes(shards: &mut [Shard]) {
    for from in 0..shards.len() {
        for to in 0..shards.len() {
            // Taken out and put back empty, so the outbox keeps its room for the next window.
            let mut items = std::mem::take(&mut shards[from].outboxes[to]);
            for item in items.drain(..) {
                shards[to].queue.push(item);
            }
            shards[from].outboxes[to] = items;
        }
    }
}

/// What shards trade at the end of a window. Two of everything, used in turns by the parity of
/// the window: a thread that is through a barrier fills one set while a slower thread still
/// reads the other.
struct Exchange {
    /// Items for each shard.
    mail: [Vec<Mutex<Vec<Item>>>; 2],
    /// Each shard's earliest item after its window, counting what it sent.
    next_us: [Vec<AtomicU64>; 2],
    inputs: [Vec<AtomicU64>; 2],
    /// The last window each shard was taken for.
    taken: Vec<AtomicU64>,
    barrier: SpinBarrier,
}

impl Exchange {
    fn new(shards: usize, threads: usize) -> Exchange {
        let mail = || (0..shards).map(|_| Mutex::new(Vec::new())).collect();
        let atomics = || (0..shards).map(|_| AtomicU64::new(0)).collect();
        Exchange {
            mail: [mail(), mail()],
            next_us: [atomics(), atomics()],
            inputs: [atomics(), atomics()],
            taken: atomics(),
            barrier: SpinBarrier::new(threads),
        }
    }

    fn publish(&self, parity: usize, shard: &Shard, next_us: u64) {
        self.next_us[parity][shard.index].store(next_us, Ordering::Relaxed);
        self.inputs[parity][shard.index].store(shard.inputs, Ordering::Relaxed);
    }

    /// Takes shard `index` for `window` unless another thread did.
    fn take(&self, index: usize, window: u64) -> bool {
        self.taken[index]
            .compare_exchange(window - 1, window, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// The end of the next window, from the figures of set `parity`; `None` when nothing is
    /// due by the deadline or the inputs asked for were handled.
    fn next_window(
        &self,
        parity: usize,
        shared: &Shared<'_>,
        deadline_us: u64,
        until_inputs: u64,
    ) -> Option<u64> {
        let start_us = self.next_us[parity]
            .iter()
            .map(|next| next.load(Ordering::Relaxed))
            .min()
            .unwrap_or(u64::MAX);
        if start_us > deadline_us || self.inputs(parity) >= until_inputs {
            return None;
        }
        Some(
            start_us
                .saturating_add(shared.wires.lookahead_us())
                .min(deadline_us.saturating_add(1)),
        )
    }

    fn inputs(&self, parity: usize) -> u64 {
        self.inputs[parity]
            .iter()
            .map(|inputs| inputs.load(Ordering::Relaxed))
            .sum()
    }

    fn mail(&self, parity: usize, shard: usize) -> MutexGuard<'_, Vec<Item>> {
        self.mail[parity][shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn side_by_side(
    shards: &mut [Shard],
    shared: &Shared<'_>,
    deadline_us: u64,
    until_inputs: u64,
    threads: usize,
) {
    let exchange = Exchange::new(shards.len(), threads);
    for shard in shards.iter_mut() {
        let next_us = shard.next_time_us().unwrap_or(u64::MAX);
        exchange.publish(0, shard, next_us);
    }
    let cells: Vec<Mutex<&mut Shard>> = shards.iter_mut().map(Mutex::new).collect();
    std::thread::scope(|scope| {
        for thread in 1..threads {
            let (cells, exchange) = (&cells, &exchange);
            scope.spawn(move || work(thread, cells, shared, exchange, deadline_us, until_inputs));
        }
        work(0, &cells, shared, &exchange, deadline_us, until_inputs);
    });
    // What the last window sent is due after the deadline: into the queues it goes.
    for shard in shards.iter_mut() {
        for parity in 0..2 {
            let mail = std::mem::take(&mut *exchange.mail(parity, shard.index));
            for item in mail {
                shard.queue.push(item);
            }
        }
    }
}

/// One thread: windows until every shard agrees that nothing more is due. In each window the
/// thread takes shards no other thread took yet, starting from its own part of the list.
fn work(
    thread: usize,
    cells: &[Mutex<&mut Shard>],
    shared: &Shared<'_>,
    exchange: &Exchange,
    deadline_us: u64,
    until_inputs: u64,
) {
    let shards = cells.len();
    let threads = exchange.barrier.parties;
    let mut parity = 0;
    let mut window = 0;
    // Every thread reads the same figures, so all agree on the window or on stopping.
    while let Some(end_us) = exchange.next_window(parity, shared, deadline_us, until_inputs) {
        window += 1;
        for offset in 0..shards {
            let index = (thread * shards / threads + offset) % shards;
            if exchange.take(index, window) {
                let mut shard = cells[index].lock().unwrap_or_else(PoisonError::into_inner);
                run_window(&mut shard, shared, exchange, parity, end_us);
            }
        }
        parity ^= 1;
        exchange.barrier.wait();
    }
}

/// One shard's window: what was sent it in the last window into its queue, everything due
/// before `end_us` handled, what it sent other shards posted for the next.
fn run_window(
    shard: &mut Shard,
    shared: &Shared<'_>,
    exchange: &Exchange,
    parity: usize,
    end_us: u64,
) {
    for item in exchange.mail(parity, shard.index).drain(..) {
        shard.queue.push(item);
    }
    while shard.step(shared, end_us) {}
    let mut sent_min_us = u64::MAX;
    for (to, items) in shard.outboxes.iter_mut().enumerate() {
        if let Some(earliest_us) = items.iter().map(|item| item.at_us).min() {
            sent_min_us = sent_min_us.min(earliest_us);
            exchange.mail(parity ^ 1, to).append(items);
        }
    }
    let next_us = shard.next_time_us().unwrap_or(u64::MAX).min(sent_min_us);
    exchange.publish(parity ^ 1, shard, next_us);
}

/// A barrier that spins a little, then sleeps: a window is often a few tens of microseconds of
/// work and waking a sleeping thread costs about as much, but on a machine busy with other work a
/// thread that only spins takes the core from the very thread it waits for (two threads ran
/// twice as slow as one beside a build).
struct SpinBarrier {
    parties: usize,
    waiting: AtomicUsize,
    generation: AtomicUsize,
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    woken: Condvar,
}

impl SpinBarrier {
    fn new(parties: usize) -> SpinBarrier {
        SpinBarrier {
            parties,
            waiting: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            woken: Condvar::new(),
        }
    }

    /// Returns once every party called it; what each wrote before is visible to all after.
    fn wait(&self) {
        let generation = self.generation.load(Ordering::SeqCst);
        if self.waiting.fetch_add(1, Ordering::AcqRel) + 1 == self.parties {
            self.waiting.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::SeqCst);
            if self.sleepers.load(Ordering::SeqCst) > 0 {
                // Taking the lock first: a sleeper is either not yet asleep (and will see the
                // new generation) or asleep (and is woken).
                let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
                self.woken.notify_all();
            }
            return;
        }
        for _ in 0..SPINS_BEFORE_SLEEP {
            if self.generation.load(Ordering::Acquire) != generation {
                return;
            }
            spin_loop();
        }
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        while self.generation.load(Ordering::SeqCst) == generation {
            guard = self
                .woken
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }
}
