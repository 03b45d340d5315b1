//! What a run measured: how fast blocks reached the nodes, how many were left stale against what
//! the propagation delay predicts, the reorgs nodes went through, and whether they converged.
//!
//! Owns the arithmetic from a finished run's records to the report. Must not run anything.

use super::record::BlockRecord;
use super::run::{Finished, RunConfig};
use super::selfish::eyal_sirer_share;
use crate::types::Hash256;
use foldhash::HashSet;
use serde::Serialize;

/// Propagation percentiles: for each block of the final chain (every node gets those), the time
/// from its mining until that share of the nodes had it; the median over those blocks.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Propagation {
    /// Half of the nodes.
    pub p50: f64,
    /// Nine tenths.
    pub p90: f64,
    /// 99 in 100.
    pub p99: f64,
}

/// Reorgs the nodes went through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Reorgs {
    /// How many, over every node.
    pub count: usize,
    /// The most blocks one took off.
    pub max_depth: usize,
}

/// The partition's course.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PartitionReport {
    /// The share of nodes on the first side.
    pub share: f64,
    /// When it split and healed, simulated seconds since mining started.
    pub from_secs: f64,
    /// When it healed.
    pub to_secs: f64,
    /// How long after the heal every node had the same tip (tenths of a second); `None` if
    /// they never did.
    pub converged_after_ms: Option<u64>,
}

/// How the selfish pool did.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SelfishReport {
    /// Its share of the hashrate.
    pub alpha: f64,
    /// Its share of the final chain's blocks.
    pub revenue_share: f64,
    /// Of the races an honest block decided, the share decided on the pool's block.
    pub gamma_measured: Option<f64>,
    /// Eyal and Sirer's closed form at `alpha` and the measured γ (0 if none was measured).
    pub eyal_sirer_share: f64,
    /// Races the pool started.
    pub races: u32,
}

/// A run's measurements: `nakachain sim --json` prints this. Fields named `wall_*` depend on
/// the machine; everything else is the same for the same seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Nodes simulated.
    pub nodes: usize,
    /// Blocks mined.
    pub blocks: usize,
    /// The seed.
    pub seed: u64,
    /// Outbound connections per node.
    pub peers: usize,
    /// Mean time between blocks, seconds.
    pub block_time_secs: f64,
    /// Simulated seconds from the start to the end.
    pub sim_seconds: f64,
    /// Propagation percentiles, milliseconds.
    pub propagation_ms: Propagation,
    /// Mean time from a block's mining until a node had it, weighted by the nodes' hashrate
    /// and averaged over the blocks of the final chain, milliseconds: τ.
    pub mean_propagation_ms: f64,
    /// Blocks mined that are not on the final chain.
    pub stale_blocks: usize,
    /// Stale blocks per block of the final chain (each stale block lost to one of them).
    pub stale_rate: f64,
    /// The stale rate's 95 % (Wilson score) interval.
    pub stale_rate_interval: [f64; 2],
    /// 1 − e^(−τ/T): the chance a block is found somewhere while another is still spreading.
    pub theory_stale_rate: f64,
    /// Reorgs over all nodes.
    pub reorgs: Reorgs,
    /// Whether every node ended on the same tip.
    pub converged: bool,
    /// The tip with the most work at the end.
    pub final_tip: Hash256,
    /// Its height.
    pub final_height: u32,
    /// The partition, if there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<PartitionReport>,
    /// The selfish pool, if there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selfish: Option<SelfishReport>,
    /// Inputs handed to nodes (messages, connections, wake-ups, blocks).
    pub events: u64,
    /// Wall-clock seconds.
    pub wall_seconds: f64,
    /// Inputs per wall-clock second.
    pub wall_events_per_sec: f64,
    /// The process's peak resident memory, megabytes (Linux), if known.
    pub wall_peak_rss_mb: Option<f64>,
}

/// The report of a finished run.
pub fn report(config: &RunConfig, finished: &Finished) -> Report {
    let sim = &finished.sim;
    let records = sim.records();
    let nodes = sim.nodes().len();
    let final_tip = sim.most_work_tip();
    let main_chain: HashSet<Hash256> = records
        .chain_to(final_tip)
        .iter()
        .map(|block| block.hash)
        .collect();
    let blocks = records.blocks();
    let stale_blocks = blocks
        .iter()
        .filter(|block| !main_chain.contains(&block.hash))
        .count();
    let on_chain: Vec<&BlockRecord> = blocks
        .iter()
        .filter(|block| main_chain.contains(&block.hash))
        .collect();
    // Stale blocks per block of the final chain: the chance that a block had a competitor
    // that lost, which is what 1 − e^(−τ/T) predicts (of all blocks mined, the stale share is
    // r / (1 + r)).
    let stale_rate = ratio(stale_blocks, on_chain.len());
    let tau_ms = mean_weighted_delay_ms(&on_chain, &finished.shares);
    let block_time_ms = config.block_time_secs * 1_000.0;
    let reorgs = records.reorgs();
    Report {
        nodes,
        blocks: blocks.len(),
        seed: config.seed,
        peers: config.peers,
        block_time_secs: config.block_time_secs,
        sim_seconds: sim.now_us() as f64 / 1e6,
        propagation_ms: Propagation {
            p50: median_reach_ms(&on_chain, nodes, 0.5),
            p90: median_reach_ms(&on_chain, nodes, 0.9),
            p99: median_reach_ms(&on_chain, nodes, 0.99),
        },
        mean_propagation_ms: round3(tau_ms),
        stale_blocks,
        stale_rate: round6(stale_rate),
        stale_rate_interval: wilson_interval(stale_blocks, on_chain.len()).map(round6),
        theory_stale_rate: round6(1.0 - (-tau_ms / block_time_ms).exp()),
        reorgs: Reorgs {
            count: reorgs.len(),
            max_depth: reorgs.iter().map(|reorg| reorg.depth).max().unwrap_or(0),
        },
        converged: finished.converged,
        final_tip,
        final_height: sim
            .nodes()
            .find_map(|node| node.host.chain.entry(&final_tip).map(|entry| entry.height))
            .unwrap_or(0),
        partition: config
            .partition
            .zip(finished.partition)
            .map(|(plan, outcome)| PartitionReport {
                share: plan.share,
                from_secs: plan.from_secs,
                to_secs: plan.to_secs,
                converged_after_ms: outcome.converged_after_us.map(|us| us / 1_000),
            }),
        selfish: config.selfish.map(|plan| {
            let races = sim.races().unwrap_or_default();
            let pool_blocks = on_chain
                .iter()
                .filter(|block| Some(block.miner) == sim.pool_gateway())
                .count();
            let gamma = races.gamma();
            SelfishReport {
                alpha: plan.alpha,
                revenue_share: round6(ratio(pool_blocks, on_chain.len())),
                gamma_measured: gamma.map(round6),
                eyal_sirer_share: round6(eyal_sirer_share(plan.alpha, gamma.unwrap_or(0.0))),
                races: races.started,
            }
        }),
        events: sim.inputs(),
        wall_seconds: round3(finished.wall_secs),
        wall_events_per_sec: (sim.inputs() as f64 / finished.wall_secs.max(1e-9)).round(),
        wall_peak_rss_mb: peak_rss_mb(),
    }
}

/// For each block that reached `share` of the nodes, how long after its mining it did; the
/// median over those blocks, milliseconds.
fn median_reach_ms(blocks: &[&BlockRecord], nodes: usize, share: f64) -> f64 {
    let needed = ((share * nodes as f64).ceil() as usize).max(1);
    let mut reach: Vec<u64> = blocks
        .iter()
        .filter_map(|block| {
            block
                .arrivals
                .get(needed - 1)
                .map(|(_, at_us)| at_us - published_us(block))
        })
        .collect();
    if reach.is_empty() {
        return 0.0;
    }
    reach.sort_unstable();
    let middle = reach.len() / 2;
    let median_us = if reach.len() % 2 == 1 {
        reach[middle] as f64
    } else {
        (reach[middle - 1] + reach[middle]) as f64 / 2.0
    };
    round3(median_us / 1_000.0)
}

/// τ: the mean, over `blocks`, of the hashrate-weighted mean delay until each node had the
/// block (a node that never got it counts with the latest delay seen for that block).
fn mean_weighted_delay_ms(blocks: &[&BlockRecord], shares: &[f64]) -> f64 {
    if blocks.is_empty() {
        return 0.0;
    }
    let total: f64 = blocks
        .iter()
        .map(|block| {
            let mut weighted_us = 0.0;
            let mut covered = 0.0;
            let mut latest_us = 0;
            for (node, at_us) in &block.arrivals {
                let share = shares.get(*node as usize).copied().unwrap_or(0.0);
                let delay_us = at_us - published_us(block);
                weighted_us += share * delay_us as f64;
                covered += share;
                latest_us = latest_us.max(delay_us);
            }
            weighted_us + (1.0 - covered).max(0.0) * latest_us as f64
        })
        .sum();
    total / blocks.len() as f64 / 1_000.0
}

/// When a block first left its miner: when it was mined, or for a withheld block when its
/// miner published it (its first arrival is the miner's own).
fn published_us(block: &BlockRecord) -> u64 {
    block
        .arrivals
        .first()
        .map_or(block.mined_us, |(_, at_us)| *at_us)
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The 95 % Wilson score interval of `successes` in `trials`.
pub fn wilson_interval(successes: usize, trials: usize) -> [f64; 2] {
    if trials == 0 {
        return [0.0, 1.0];
    }
    const Z: f64 = 1.959_964;
    let n = trials as f64;
    let p = successes as f64 / n;
    let denominator = 1.0 + Z * Z / n;
    let centre = (p + Z * Z / (2.0 * n)) / denominator;
    let half = Z * (p * (1.0 - p) / n + Z * Z / (4.0 * n * n)).sqrt() / denominator;
    [(centre - half).max(0.0), (centre + half).min(1.0)]
}

fn round3(value: f64) -> f64 {
    (value * 1e3).round() / 1e3
}

fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// The process's peak resident set, from /proc (Linux only).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(round3(kb / 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(mined_us: u64, arrivals: &[u64]) -> BlockRecord {
        BlockRecord {
            hash: Hash256::ZERO,
            parent: Hash256::ZERO,
            height: 1,
            miner: 0,
            mined_us,
            arrivals: arrivals
                .iter()
                .enumerate()
                .map(|(node, at)| (node as u32, *at))
                .collect(),
        }
    }

    #[test]
    fn reach_is_the_median_over_blocks_of_the_time_to_that_share() {
        let records = [
            block(0, &[0, 1_000, 2_000, 3_000]),
            block(10_000, &[10_000, 12_000, 14_000, 16_000]),
            block(20_000, &[20_000, 23_000]),
        ];
        let blocks: Vec<&BlockRecord> = records.iter().collect();
        // Half of four nodes: the second arrival: 1, 2 and 3 ms; all four: 3 and 6 ms.
        assert_eq!(median_reach_ms(&blocks, 4, 0.5), 2.0);
        assert_eq!(median_reach_ms(&blocks, 4, 1.0), 4.5);
    }

    #[test]
    fn tau_weighs_nodes_by_hashrate_and_counts_the_missing_at_the_latest_delay() {
        let blocks = [block(0, &[0, 4_000])];
        let refs: Vec<&BlockRecord> = blocks.iter().collect();
        assert_eq!(mean_weighted_delay_ms(&refs, &[0.5, 0.5]), 2.0);
        assert_eq!(mean_weighted_delay_ms(&refs, &[0.25, 0.25, 0.5]), 3.0);
    }

    #[test]
    fn the_wilson_interval_holds_the_rate_and_narrows_with_trials() {
        let [low, high] = wilson_interval(10, 100);
        assert!(low < 0.1 && 0.1 < high);
        assert!((low - 0.0552).abs() < 1e-3 && (high - 0.1744).abs() < 1e-3);
        let [wide_low, wide_high] = wilson_interval(1, 10);
        assert!(wide_high - wide_low > high - low);
        assert_eq!(wilson_interval(0, 0), [0.0, 1.0]);
    }
}
