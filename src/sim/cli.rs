//! `nakachain sim`: its arguments, their checks (each refusal a `SimError` with a stable code),
//! the progress line, and the report as text or one JSON line.
//!
//! Owns turning a command line into a `RunConfig` and a report into output. Must not simulate.

use super::plot::{propagation_cdf_svg, stale_sweep_svg};
use super::replay;
use super::report::{report, Report};
use super::run::{run, Finished, Hashrate, PartitionPlan, Progress, RunConfig, SelfishPlan};
use super::topology::{Bandwidth, Latency, MAX_SIM_NODES};
use crate::observe::answers;
use crate::observe::{RenderOptions, TreeView};
use crate::params::MAX_BLOCK_BYTES;
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

/// Prints a line on stdout; a reader that went away (`| head`) is not an error worth a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// What `nakachain sim` refuses, each with a stable `code()`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// Too few or too many nodes.
    #[error("a simulation has 2 to {max} nodes, not {nodes}")]
    Nodes {
        /// Nodes asked for.
        nodes: usize,
        /// The most allowed.
        max: usize,
    },
    /// More outbound peers than other nodes, or none.
    #[error("--peers {peers} does not fit {nodes} nodes: each node dials 1 to {} others", .nodes - 1)]
    Peers {
        /// Outbound peers asked for.
        peers: usize,
        /// Nodes in the simulation.
        nodes: usize,
    },
    /// No blocks to mine.
    #[error("--blocks must be at least 1")]
    Blocks,
    /// Blocks larger than consensus allows.
    #[error("--block-size {bytes} is over the largest block consensus allows ({max} bytes)")]
    BlockSize {
        /// Bytes asked for.
        bytes: usize,
        /// The most allowed.
        max: usize,
    },
    /// A block time that is not a positive number of seconds.
    #[error("--block-time takes seconds above 0 (like 600 or 0.5), not {0}")]
    BlockTime(String),
    /// A latency model that does not parse.
    #[error("--latency takes regions, uniform:A-B or fixed:MS (milliseconds), not {0:?}")]
    Latency(String),
    /// A bandwidth that does not parse.
    #[error("--bandwidth takes regions, unlimited or a number of Mbit/s, not {0:?}")]
    Bandwidth(String),
    /// A selfish pool's share outside (0, 0.5).
    #[error("--selfish takes the pool's share of the hashrate, above 0 and below 0.5, not {0}")]
    Alpha(f64),
    /// A share of nodes outside [0, 1].
    #[error("--gamma-nodes takes a share of the nodes from 0 to 1, not {0}")]
    GammaNodes(f64),
    /// The output directory or a file in it cannot be written.
    #[error("cannot write {}: {reason}", .path.display())]
    Out {
        /// What could not be written.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A partition that does not parse or does not make sense.
    #[error("--partition takes SHARE@FROM-TO: a share of nodes between 0 and 1 split off from FROM to TO seconds after mining starts (like 0.5@600-1200), not {0:?}")]
    Partition(String),
}

impl SimError {
    /// A stable code for scripts and tests.
    pub fn code(&self) -> &'static str {
        match self {
            SimError::Nodes { .. } => "sim-nodes",
            SimError::Peers { .. } => "sim-peers",
            SimError::Blocks => "sim-blocks",
            SimError::BlockSize { .. } => "sim-block-size",
            SimError::BlockTime(_) => "sim-block-time",
            SimError::Latency(_) => "sim-latency",
            SimError::Bandwidth(_) => "sim-bandwidth",
            SimError::Partition(_) => "sim-partition",
            SimError::Alpha(_) => "sim-alpha",
            SimError::Out { .. } => "sim-out",
            SimError::GammaNodes(_) => "sim-gamma-nodes",
        }
    }
}

impl FromStr for Latency {
    type Err = SimError;

    fn from_str(text: &str) -> Result<Latency, SimError> {
        let error = || SimError::Latency(text.to_string());
        if text == "regions" {
            return Ok(Latency::Regions);
        }
        if let Some(ms) = text.strip_prefix("fixed:") {
            return ms.parse().map(Latency::Fixed).map_err(|_| error());
        }
        let range = text.strip_prefix("uniform:").ok_or_else(error)?;
        let (low, high) = range.split_once('-').ok_or_else(error)?;
        let (low, high): (u64, u64) = (
            low.parse().map_err(|_| error())?,
            high.parse().map_err(|_| error())?,
        );
        if low > high {
            return Err(error());
        }
        Ok(Latency::Uniform(low, high))
    }
}

impl FromStr for Bandwidth {
    type Err = SimError;

    fn from_str(text: &str) -> Result<Bandwidth, SimError> {
        match text {
            "regions" => Ok(Bandwidth::Regions),
            "unlimited" => Ok(Bandwidth::Unlimited),
            mbit => match mbit.parse::<f64>() {
                Ok(mbit) if mbit.is_finite() && mbit > 0.0 => {
                    Ok(Bandwidth::Uniform((mbit * 1e6).max(1.0) as u64))
                }
                _ => Err(SimError::Bandwidth(text.to_string())),
            },
        }
    }
}

impl FromStr for PartitionPlan {
    type Err = SimError;

    fn from_str(text: &str) -> Result<PartitionPlan, SimError> {
        let error = || SimError::Partition(text.to_string());
        let (share, window) = text.split_once('@').ok_or_else(error)?;
        let (from, to) = window.split_once('-').ok_or_else(error)?;
        let number = |part: &str| part.parse::<f64>().ok().filter(|value| value.is_finite());
        let (share, from_secs, to_secs) = (
            number(share).ok_or_else(error)?,
            number(from).ok_or_else(error)?,
            number(to).ok_or_else(error)?,
        );
        if !(share > 0.0 && share < 1.0) || from_secs < 0.0 || to_secs <= from_secs {
            return Err(error());
        }
        Ok(PartitionPlan {
            share,
            from_secs,
            to_secs,
        })
    }
}

fn block_time(text: &str) -> Result<f64, SimError> {
    text.parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs > 0.0)
        .ok_or_else(|| SimError::BlockTime(text.to_string()))
}

/// How the hashrate is shared, as the command line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HashrateArg {
    /// Every node the same
    Equal,
    /// Drawn from an exponential distribution
    Exp,
    /// Drawn from a Pareto distribution (a fifth of the nodes hold four fifths)
    Pareto,
}

/// The options every simulation takes.
#[derive(Args, Debug, Clone)]
pub struct SimOptions {
    /// How many nodes
    #[arg(long, default_value_t = 100)]
    pub nodes: usize,
    /// How many blocks to mine
    #[arg(long, default_value_t = 100)]
    pub blocks: usize,
    /// The seed every random choice comes from: the same seed gives the same output
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Outbound connections per node (inbound is capped at 115, as Bitcoin Core's)
    #[arg(long, default_value_t = 8)]
    pub peers: usize,
    /// Message latency: regions (six regions, SimBlock's tables), uniform:A-B or fixed:MS
    #[arg(long, default_value = "regions", value_parser = Latency::from_str)]
    pub latency: Latency,
    /// Link bandwidth: regions (each region's upload and download), unlimited, or Mbit/s
    #[arg(long, default_value = "regions", value_parser = Bandwidth::from_str)]
    pub bandwidth: Bandwidth,
    /// Pad every block to this many bytes (its coinbase carries the padding), so blocks take as
    /// long to send as blocks full of transactions would [default: no padding, about 200 bytes]
    #[arg(long, value_name = "BYTES")]
    pub block_size: Option<usize>,
    /// Each node's share of the hashrate
    #[arg(long, value_enum, default_value_t = HashrateArg::Equal)]
    pub hashrate: HashrateArg,
    /// One pool with this share of the hashrate (0 to 0.5) mines selfishly (Eyal and Sirer)
    #[arg(long, value_name = "ALPHA")]
    pub selfish: Option<f64>,
    /// The share of the other nodes the selfish pool's gateway connects to directly (0 to 1);
    /// more win it more races
    #[arg(long, value_name = "F", default_value_t = 0.0, requires = "selfish")]
    pub gamma_nodes: f64,
    /// Split SHARE of the nodes off from FROM to TO seconds after mining starts, then heal
    #[arg(long, value_name = "SHARE@FROM-TO", value_parser = PartitionPlan::from_str)]
    pub partition: Option<PartitionPlan>,
    /// Threads to run in (default: one per core; the nodes run in eight shards, taken by
    /// whichever thread is free). The output is the same for any number.
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,
    /// Print one JSON object as the last line instead of the text report
    #[arg(long)]
    pub json: bool,
    /// Also write into this directory the report (JSON), plots (SVG), every node's block tree and
    /// events (as `getblocktree` and `getevents` answer) and the tree drawn
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `nakachain sim`: one simulation, or a sweep.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SimArgs {
    #[command(subcommand)]
    command: Option<SimCommand>,
    #[command(flatten)]
    options: SimOptions,
    /// Mean seconds between blocks over the whole network
    #[arg(long, default_value = "600", value_parser = block_time)]
    block_time: f64,
}

/// `nakachain sim …` subcommands.
#[derive(Subcommand, Debug)]
enum SimCommand {
    /// One simulation per block time; the stale rate with its 95 % interval against theory
    #[command(
        after_help = "Examples:\n  nakachain sim sweep --block-time 1,2,5,10,30,60,600 --nodes 200 --blocks 500"
    )]
    Sweep {
        #[command(flatten)]
        options: SimOptions,
        /// Mean seconds between blocks, one simulation each
        #[arg(long, value_delimiter = ',', default_value = "1,2,5,10,30,60,600", value_parser = block_time)]
        block_time: Vec<f64>,
    },
}

impl SimOptions {
    fn selfish_plan(&self) -> Result<Option<SelfishPlan>, SimError> {
        let Some(alpha) = self.selfish else {
            return Ok(None);
        };
        if !(alpha > 0.0 && alpha < 0.5) {
            return Err(SimError::Alpha(alpha));
        }
        if !(0.0..=1.0).contains(&self.gamma_nodes) {
            return Err(SimError::GammaNodes(self.gamma_nodes));
        }
        Ok(Some(SelfishPlan {
            alpha,
            gamma_nodes: self.gamma_nodes,
        }))
    }

    /// The run these options describe at `block_time_secs`, or why they make no sense.
    pub fn config(&self, block_time_secs: f64) -> Result<RunConfig, SimError> {
        if !(2..=MAX_SIM_NODES).contains(&self.nodes) {
            return Err(SimError::Nodes {
                nodes: self.nodes,
                max: MAX_SIM_NODES,
            });
        }
        if self.peers == 0 || self.peers >= self.nodes {
            return Err(SimError::Peers {
                peers: self.peers,
                nodes: self.nodes,
            });
        }
        if self.blocks == 0 {
            return Err(SimError::Blocks);
        }
        if let Some(bytes) = self.block_size.filter(|bytes| *bytes > MAX_BLOCK_BYTES) {
            return Err(SimError::BlockSize {
                bytes,
                max: MAX_BLOCK_BYTES,
            });
        }
        Ok(RunConfig {
            nodes: self.nodes,
            blocks: self.blocks,
            block_time_secs,
            seed: self.seed,
            peers: self.peers,
            latency: self.latency,
            bandwidth: self.bandwidth,
            hashrate: match self.hashrate {
                HashrateArg::Equal => Hashrate::Equal,
                HashrateArg::Exp => Hashrate::Exp,
                HashrateArg::Pareto => Hashrate::Pareto,
            },
            partition: self.partition,
            event_logs: self.out.is_some(),
            block_bytes: self.block_size,
            selfish: self.selfish_plan()?,
            threads: self.threads.map_or_else(
                || std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
                NonZeroUsize::get,
            ),
        })
    }
}

/// Runs `nakachain sim`.
pub fn run_command(args: SimArgs) -> ExitCode {
    let result = match args.command {
        None => simulate(&args.options, args.block_time),
        Some(SimCommand::Sweep {
            options,
            block_time,
        }) => sweep(&options, &block_time),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error} [{}]", error.code());
            ExitCode::from(2)
        }
    }
}

fn simulate(options: &SimOptions, block_time_secs: f64) -> Result<(), SimError> {
    let config = options.config(block_time_secs)?;
    let (report, finished) = run_one(&config);
    if let Some(dir) = &options.out {
        let chain = finished
            .sim
            .records()
            .chain_to(finished.sim.most_work_tip());
        write_out(dir, "report.json", &json_line(&report))?;
        write_out(dir, "propagation.svg", &propagation_cdf_svg(&chain))?;
        let main_chain = chain.iter().map(|block| block.hash).collect();
        let replay = replay::replay(&finished.sim, &main_chain, config.block_time_secs);
        write_out(dir, "replay.json", &format!("{replay}\n"))?;
        write_nodes(dir, &finished)?;
    }
    if options.json {
        say!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        print_report(&config, &report);
    }
    Ok(())
}

fn sweep(options: &SimOptions, block_times: &[f64]) -> Result<(), SimError> {
    let configs = block_times
        .iter()
        .map(|secs| options.config(*secs))
        .collect::<Result<Vec<_>, _>>()?;
    let mut reports = Vec::new();
    if !options.json {
        say!(
            "{:>10}  {:>7}  {:>9}  {:>10}  {:>19}  {:>10}",
            "block time",
            "blocks",
            "τ (ms)",
            "stale rate",
            "95 % interval",
            "theory"
        );
    }
    for config in &configs {
        let (report, _) = run_one(config);
        if !options.json {
            say!(
                "{:>9}s  {:>7}  {:>9.1}  {:>9.3}%  {:>8.3}%–{:>8.3}%  {:>9.3}%{}",
                config.block_time_secs,
                report.blocks,
                report.mean_propagation_ms,
                report.stale_rate * 100.0,
                report.stale_rate_interval[0] * 100.0,
                report.stale_rate_interval[1] * 100.0,
                report.theory_stale_rate * 100.0,
                if within(&report) {
                    ""
                } else {
                    "  (theory outside)"
                }
            );
        }
        reports.push(report);
    }
    if let Some(dir) = &options.out {
        let all = serde_json::to_string(&reports).unwrap_or_default();
        write_out(dir, "sweep.json", &format!("{all}\n"))?;
        write_out(dir, "stale-rate.svg", &stale_sweep_svg(&reports))?;
    }
    if options.json {
        say!("{}", serde_json::to_string(&reports).unwrap_or_default());
    }
    Ok(())
}

fn json_line(report: &Report) -> String {
    format!("{}\n", serde_json::to_string(report).unwrap_or_default())
}

/// Nodes whose tips label the tree drawing: enough to see the branches, few enough to read.
const TREE_NODES: usize = 8;

/// Every node's block tree and events, as `getblocktree` and `getevents` answer them, in
/// `nodes/node-N/`; and the first nodes' trees drawn as `tree.txt` and `tree.svg`.
fn write_nodes(dir: &Path, finished: &Finished) -> Result<(), SimError> {
    let sim = &finished.sim;
    let mut drawn = Vec::new();
    for (index, node) in sim.nodes().enumerate() {
        let name = format!("node-{index}");
        let chain = &node.host.chain;
        let tree = answers::block_tree(chain, chain.height());
        let node_dir = dir.join("nodes").join(&name);
        write_out(&node_dir, "blocktree.json", &format!("{tree}\n"))?;
        let events = answers::events_page(&node.host.events, 0, usize::MAX);
        write_out(&node_dir, "events.json", &format!("{events}\n"))?;
        if index < TREE_NODES {
            drawn.push((name, tree));
        }
    }
    // The answers come from the nodes' own chains, so they agree with each other.
    if let Ok(view) = TreeView::from_nodes(&drawn) {
        let options = RenderOptions {
            color: false,
            collapse_linear_after: Some(3),
        };
        write_out(dir, "tree.txt", &view.render(&options))?;
        write_out(dir, "tree.svg", &view.render_svg(&options))?;
    }
    Ok(())
}

/// Writes `name` into `dir`, making the directory if need be.
fn write_out(dir: &Path, name: &str, contents: &str) -> Result<(), SimError> {
    let failed = |path: &Path, error: std::io::Error| SimError::Out {
        path: path.to_path_buf(),
        reason: error.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|error| failed(dir, error))?;
    let path = dir.join(name);
    std::fs::write(&path, contents).map_err(|error| failed(&path, error))
}

/// Whether theory falls within the measured stale rate's 95 % interval.
fn within(report: &Report) -> bool {
    let [low, high] = report.stale_rate_interval;
    (low..=high).contains(&report.theory_stale_rate)
}

/// Runs one simulation with a progress line on a terminal's stderr.
fn run_one(config: &RunConfig) -> (Report, Finished) {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}").unwrap_or(ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar.set_message(format!(
        "starting: {} nodes, {} blocks",
        config.nodes, config.blocks
    ));
    let finished = run(config, &mut |progress: &Progress| {
        bar.set_message(format!(
            "simulated {} · block {}/{} · {:.2} M events/s",
            duration_text(progress.sim_secs),
            progress.blocks,
            progress.blocks_total,
            progress.events_per_sec / 1e6
        ));
    });
    bar.finish_and_clear();
    (report(config, &finished), finished)
}

fn print_report(config: &RunConfig, report: &Report) {
    say!(
        "nakachain sim: {} nodes, {} blocks every {} s on average (seed {}), {} outbound peers each",
        report.nodes, report.blocks, config.block_time_secs, report.seed, report.peers
    );
    say!(
        "simulated {} in {:.1} s ({:.2} M events/s){}",
        duration_text(report.sim_seconds),
        report.wall_seconds,
        report.wall_events_per_sec / 1e6,
        report
            .wall_peak_rss_mb
            .map_or(String::new(), |mb| format!(", peak memory {mb:.0} MB"))
    );
    let p = report.propagation_ms;
    say!(
        "propagation   half the nodes {:.0} ms, 90 % {:.0} ms, 99 % {:.0} ms; mean τ {:.0} ms",
        p.p50,
        p.p90,
        p.p99,
        report.mean_propagation_ms
    );
    say!(
        "stale blocks  {} of {} mined, {:.3} % per block of the chain (95 % interval {:.3}–{:.3} %); theory 1 − e^(−τ/T) = {:.3} %{}",
        report.stale_blocks,
        report.blocks,
        report.stale_rate * 100.0,
        report.stale_rate_interval[0] * 100.0,
        report.stale_rate_interval[1] * 100.0,
        report.theory_stale_rate * 100.0,
        if within(report) { ", within" } else { ", outside" }
    );
    say!(
        "reorgs        {} over all nodes, the deepest {} block(s)",
        report.reorgs.count,
        report.reorgs.max_depth
    );
    if let Some(partition) = &report.partition {
        say!(
            "partition     {:.0} % of the nodes split off from {} s to {} s; {}",
            partition.share * 100.0,
            partition.from_secs,
            partition.to_secs,
            partition
                .converged_after_ms
                .map_or("they never agreed again".to_string(), |ms| format!(
                    "one tip again {ms} ms after the heal"
                ))
        );
    }
    if let Some(selfish) = &report.selfish {
        say!(
            "selfish pool  {:.0} % of the hashrate took {:.1} % of the chain's blocks; Eyal-Sirer at the measured γ {}: {:.1} % ({} races)",
            selfish.alpha * 100.0,
            selfish.revenue_share * 100.0,
            selfish
                .gamma_measured
                .map_or("(no race decided)".to_string(), |gamma| format!("{gamma:.2}")),
            selfish.eyal_sirer_share * 100.0,
            selfish.races
        );
    }
    say!(
        "converged     {}, most work at height {}: {}",
        if report.converged { "yes" } else { "no" },
        report.final_height,
        report.final_tip
    );
}

fn duration_text(secs: f64) -> String {
    let whole = secs as u64;
    match whole {
        0..60 => format!("{secs:.1} s"),
        60..3_600 => format!("{}m {:02}s", whole / 60, whole % 60),
        _ => format!("{}h {:02}m", whole / 3_600, whole % 3_600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_parse_and_nonsense_is_refused_with_its_code() {
        assert_eq!("regions".parse(), Ok(Latency::Regions));
        assert_eq!("uniform:20-200".parse(), Ok(Latency::Uniform(20, 200)));
        assert_eq!("fixed:50".parse(), Ok(Latency::Fixed(50)));
        for bad in ["uniform:200-20", "uniform:5", "fixed:x", "fast"] {
            assert_eq!(
                bad.parse::<Latency>().map_err(|e| e.code()),
                Err("sim-latency")
            );
        }
        assert_eq!("100".parse(), Ok(Bandwidth::Uniform(100_000_000)));
        assert_eq!(
            "0".parse::<Bandwidth>().map_err(|e| e.code()),
            Err("sim-bandwidth")
        );
        let plan: PartitionPlan = "0.5@600-1200".parse().expect("a plan");
        assert_eq!(
            (plan.share, plan.from_secs, plan.to_secs),
            (0.5, 600.0, 1200.0)
        );
        for bad in ["1.5@0-10", "0.5@10-5", "0@0-1", "half@1-2", "0.5"] {
            assert_eq!(
                bad.parse::<PartitionPlan>().map_err(|e| e.code()),
                Err("sim-partition")
            );
        }
    }
}
