//! A run of `nakachain sim`: a network of nodes wired as Bitcoin's address managers would wire
//! them, mining as a Poisson process in simulated time (each node by its share of the hashrate),
//! an optional partition that splits and heals, until the number of blocks asked for are mined
//! and the network has settled.
//!
//! Owns the mining process and the course of a run. Must not print or measure: the caller shows
//! progress (`Progress`) and `report` measures the records.

use super::topology::{Bandwidth, Latency};
use super::{sim_params, PoolSetup, Sim, SimSetup, Wiring};
use crate::protocol::{Timers, PING_INTERVAL_MS, SYNC_INTERVAL_MS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// Simulated time for the nodes to connect before the first block is looked for.
pub const WARMUP_US: u64 = 10_000_000;
/// After the last block, simulated time allowed for every node to reach the same tip.
const SETTLE_LIMIT_US: u64 = 600_000_000;
/// While convergence matters, how often it is looked at.
const CONVERGENCE_CHECK_US: u64 = 100_000;
/// Inputs handled between two looks at the wall clock for a progress report.
const PROGRESS_EVERY_INPUTS: u64 = 1 << 16;
/// Inbound connections a simulated node accepts, as Bitcoin Core's default (125 connections,
/// 8 outbound and 2 block-relay-only of them, leave 115 inbound).
pub const SIM_MAX_INBOUND: usize = 115;

/// How the hashrate is shared among nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hashrate {
    /// Every node the same.
    Equal,
    /// Each node's share drawn from an exponential distribution.
    Exp,
    /// Each node's share drawn from a Pareto distribution (shape 1.16: a fifth of the nodes hold
    /// about four fifths of the hashrate).
    Pareto,
}

/// A split of the network during a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PartitionPlan {
    /// The share of nodes on the first side.
    pub share: f64,
    /// When it splits, simulated seconds after mining starts.
    pub from_secs: f64,
    /// When it heals, simulated seconds after mining starts.
    pub to_secs: f64,
}

/// Everything a run is made of.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// How many nodes.
    pub nodes: usize,
    /// How many blocks to mine.
    pub blocks: usize,
    /// The mean time between blocks over the whole network, seconds.
    pub block_time_secs: f64,
    /// The seed every random choice comes from.
    pub seed: u64,
    /// Outbound connections per node.
    pub peers: usize,
    /// How message latency is drawn.
    pub latency: Latency,
    /// How fast links carry bytes.
    pub bandwidth: Bandwidth,
    /// How the hashrate is shared.
    pub hashrate: Hashrate,
    /// A split and heal, if any.
    pub partition: Option<PartitionPlan>,
    /// Whether nodes keep event logs (for writing a run out).
    pub event_logs: bool,
    /// Blocks are padded to this size, bytes.
    pub block_bytes: Option<usize>,
    /// A selfish pool, if any.
    pub selfish: Option<SelfishPlan>,
    /// Threads the shards run in.
    pub threads: usize,
}

/// A selfish pool in a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SelfishPlan {
    /// The pool's share of the hashrate, in (0, 0.5).
    pub alpha: f64,
    /// The share of the other nodes its gateway connects to directly (more make it win more
    /// races: a higher γ).
    pub gamma_nodes: f64,
}

/// The node a selfish pool publishes through. Regions and peers are drawn at random, so the
/// first node is as good as any.
pub const SELFISH_GATEWAY: usize = 0;

/// How far a run is, for a progress line.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Simulated seconds so far.
    pub sim_secs: f64,
    /// Blocks mined so far.
    pub blocks: usize,
    /// Blocks to mine.
    pub blocks_total: usize,
    /// Inputs handed to nodes per wall-clock second, lately.
    pub events_per_sec: f64,
}

/// When the partition split and healed, and how long after the heal every node had one tip.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PartitionOutcome {
    /// When it split, simulated microseconds.
    pub split_us: u64,
    /// When it healed, simulated microseconds.
    pub healed_us: u64,
    /// How long after the heal every node first had the same tip, if they did.
    pub converged_after_us: Option<u64>,
}

/// A finished run: the simulation (with its records) and what the run itself knows.
pub struct Finished {
    /// The simulation as it ended.
    pub sim: Sim,
    /// Each node's share of the hashrate.
    pub shares: Vec<f64>,
    /// When mining started, simulated microseconds.
    pub mining_from_us: u64,
    /// Whether every node ended on the same tip.
    pub converged: bool,
    /// The partition's course, if there was one.
    pub partition: Option<PartitionOutcome>,
    /// Wall-clock seconds the run took.
    pub wall_secs: f64,
}

/// The protocol's timers in a simulation: a node polls a quiet peer for headers at most every
/// ten block times, and pings it every hundred, no more often than a real node does. Simulated
/// connections neither drop silently nor change speed, so keep-alive traffic would only cost
/// time; blocks still reach every node by announcement, and a poll still catches one missed.
pub fn sim_timers(block_time_secs: f64) -> Timers {
    let blocks_ms = |blocks: f64| (block_time_secs * blocks * 1_000.0) as u64;
    Timers {
        ping_interval_ms: PING_INTERVAL_MS.max(blocks_ms(100.0)),
        sync_interval_ms: SYNC_INTERVAL_MS.max(blocks_ms(10.0)),
    }
}

/// Each node's share of the hashrate, summing to one.
pub fn hashrate_shares(nodes: usize, hashrate: Hashrate, rng: &mut StdRng) -> Vec<f64> {
    let weights: Vec<f64> = (0..nodes)
        .map(|_| match hashrate {
            Hashrate::Equal => 1.0,
            Hashrate::Exp => -(1.0 - rng.random::<f64>()).ln(),
            Hashrate::Pareto => (1.0 - rng.random::<f64>()).powf(-1.0 / 1.16),
        })
        .collect();
    let total: f64 = weights.iter().sum();
    weights.iter().map(|weight| weight / total).collect()
}

/// Picks the node that finds the next block, by hashrate.
struct MinerPicker {
    cumulative: Vec<f64>,
}

impl MinerPicker {
    fn new(shares: &[f64]) -> MinerPicker {
        let mut sum = 0.0;
        let cumulative = shares
            .iter()
            .map(|share| {
                sum += share;
                sum
            })
            .collect();
        MinerPicker { cumulative }
    }

    fn pick(&self, rng: &mut StdRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let draw = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|sum| *sum <= draw)
            .min(self.cumulative.len().saturating_sub(1))
    }
}

/// Runs `config`, calling `progress` now and then.
pub fn run(config: &RunConfig, progress: &mut dyn FnMut(&Progress)) -> Finished {
    let started = Instant::now();
    let mut sim = Sim::build(&SimSetup {
        nodes: config.nodes,
        seed: config.seed,
        params: sim_params(),
        latency: config.latency,
        bandwidth: config.bandwidth,
        loss: 0.0,
        wiring: Wiring::Random {
            outbound: config.peers,
            max_inbound: SIM_MAX_INBOUND,
        },
        timers: sim_timers(config.block_time_secs),
        event_logs: config.event_logs,
        block_bytes: config.block_bytes,
        pool: config.selfish.map(|plan| PoolSetup {
            gateway: SELFISH_GATEWAY,
            reach: (plan.gamma_nodes * (config.nodes - 1) as f64).round() as usize,
        }),
        threads: config.threads,
    });
    // The mining process draws from its own generator, so who mines when does not shift with
    // every message the network's generator draws for.
    let mut mining_rng = StdRng::seed_from_u64(config.seed ^ 0x6d69_6e65);
    let mut shares = hashrate_shares(config.nodes, config.hashrate, &mut mining_rng);
    if let Some(plan) = config.selfish {
        // The pool holds alpha, the honest nodes the rest in their proportions.
        let honest: f64 = shares.iter().skip(1).sum();
        for share in shares.iter_mut().skip(1) {
            *share *= (1.0 - plan.alpha) / honest;
        }
        shares[SELFISH_GATEWAY] = plan.alpha;
    }
    let picker = MinerPicker::new(&shares);
    let mut meter = Meter::new(started);
    sim.run_to_us(WARMUP_US);
    let mining_from_us = WARMUP_US;
    let block_time_us = config.block_time_secs * 1e6;
    let mut partition = config.partition.map(|plan| PartitionState {
        split_us: mining_from_us + (plan.from_secs * 1e6) as u64,
        heal_us: mining_from_us + (plan.to_secs * 1e6) as u64,
        first: ((plan.share * config.nodes as f64).round() as usize).clamp(1, config.nodes - 1),
        split: false,
        healed: false,
        converged_after_us: None,
    });
    let mut next_block_us = mining_from_us + exponential_us(block_time_us, &mut mining_rng);
    let mut mined = 0;
    let mut converged = false;
    let mut settle_until_us = u64::MAX;
    loop {
        let all_mined = mined == config.blocks;
        let healed = partition.as_ref().is_none_or(|state| state.healed);
        if all_mined && healed && converged {
            break;
        }
        if all_mined && settle_until_us == u64::MAX {
            settle_until_us = sim.now_us() + SETTLE_LIMIT_US;
        }
        if sim.now_us() >= settle_until_us {
            break;
        }
        // Convergence is looked at while it matters: after a heal until the nodes agree, and
        // once every block is mined.
        let watching = partition
            .as_ref()
            .is_some_and(|state| state.healed && state.converged_after_us.is_none())
            || all_mined;
        let mut next_us = if all_mined { u64::MAX } else { next_block_us };
        if let Some(change_us) = partition.as_ref().and_then(PartitionState::next_change_us) {
            next_us = next_us.min(change_us);
        }
        if watching {
            next_us = next_us.min(sim.now_us() + CONVERGENCE_CHECK_US);
        }
        run_with_progress(&mut sim, next_us, &mut meter, mined, config, progress);
        if let Some(state) = partition.as_mut() {
            state.apply(&mut sim);
        }
        if !all_mined && next_us == next_block_us {
            let miner = picker.pick(&mut mining_rng);
            if config.selfish.is_some() && miner == SELFISH_GATEWAY {
                sim.pool_mine();
            } else {
                sim.mine(miner);
            }
            mined += 1;
            next_block_us += exponential_us(block_time_us, &mut mining_rng);
        }
        if watching {
            converged = sim.converged();
            if let Some(state) = partition.as_mut() {
                state.note_convergence(&sim, converged);
            }
        }
    }
    Finished {
        shares,
        mining_from_us,
        converged,
        partition: partition.map(|state| PartitionOutcome {
            split_us: state.split_us,
            healed_us: state.heal_us,
            converged_after_us: state.converged_after_us,
        }),
        wall_secs: started.elapsed().as_secs_f64(),
        sim,
    }
}

/// An exponential draw with mean `mean_us`, microseconds (at least one).
fn exponential_us(mean_us: f64, rng: &mut StdRng) -> u64 {
    let uniform = 1.0 - rng.random::<f64>();
    ((-uniform.ln() * mean_us) as u64).max(1)
}

/// Runs the simulation to `until_us`, in slices that let the progress line move.
fn run_with_progress(
    sim: &mut Sim,
    until_us: u64,
    meter: &mut Meter,
    mined: usize,
    config: &RunConfig,
    progress: &mut dyn FnMut(&Progress),
) {
    loop {
        let before = sim.inputs();
        sim.run_to_us_or_inputs(until_us, PROGRESS_EVERY_INPUTS);
        if let Some(events_per_sec) = meter.tick(sim.inputs()) {
            progress(&Progress {
                sim_secs: sim.now_us() as f64 / 1e6,
                blocks: mined,
                blocks_total: config.blocks,
                events_per_sec,
            });
        }
        if sim.now_us() >= until_us || sim.inputs() == before {
            return;
        }
    }
}

/// Measures events per wall-clock second, at most a few times a second.
struct Meter {
    last: Instant,
    last_inputs: u64,
}

impl Meter {
    fn new(started: Instant) -> Meter {
        Meter {
            last: started,
            last_inputs: 0,
        }
    }

    fn tick(&mut self, inputs: u64) -> Option<f64> {
        let elapsed = self.last.elapsed().as_secs_f64();
        if elapsed < 0.25 {
            return None;
        }
        let rate = (inputs - self.last_inputs) as f64 / elapsed;
        self.last = Instant::now();
        self.last_inputs = inputs;
        Some(rate)
    }
}

struct PartitionState {
    split_us: u64,
    heal_us: u64,
    /// Nodes `0..first` are one side, the rest the other (regions and peers are random, so the
    /// indices are as good as a random split).
    first: usize,
    split: bool,
    healed: bool,
    converged_after_us: Option<u64>,
}

impl PartitionState {
    fn next_change_us(&self) -> Option<u64> {
        if !self.split {
            Some(self.split_us)
        } else if !self.healed {
            Some(self.heal_us)
        } else {
            None
        }
    }

    fn apply(&mut self, sim: &mut Sim) {
        let now_us = sim.now_us();
        if !self.split && now_us >= self.split_us {
            let nodes = sim.nodes().len();
            let first: Vec<usize> = (0..self.first).collect();
            let second: Vec<usize> = (self.first..nodes).collect();
            sim.blackhole(&[&first, &second]);
            self.split = true;
        }
        if self.split && !self.healed && now_us >= self.heal_us {
            sim.heal();
            self.healed = true;
        }
    }

    fn note_convergence(&mut self, sim: &Sim, converged: bool) {
        if self.healed && converged && self.converged_after_us.is_none() {
            self.converged_after_us = Some(sim.now_us() - self.heal_us);
        }
    }
}
