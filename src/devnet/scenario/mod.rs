//! Scenarios: stories of Nakamoto consensus played on a fresh devnet of real node processes —
//! narrated step by step as the nodes report their events, and ended with a report of who
//! reorged, how deep, which confirmations were undone and the tip everyone agreed on.
//!
//! Owns the scenario catalogue, the verdict and its report. Must not decide what the nodes
//! do: blocks come from `generate`, splits from the deny-lists, and every fact in the report is
//! read back from the nodes.
//!
//! - `story`: the stage (start, steps, waits, payments, events)
//! - `partition_heal`, `majority_attack`: the scripts

mod majority_attack;
mod partition_heal;
mod story;

use super::up::default_base_port;
use super::DevnetError;
use crate::observe::Convergence;
use crate::params::Network;
use std::path::Path;
use story::Story;

/// A scenario's first port lies this far above a devnet's default one: a devnet of the most
/// nodes takes fewer ports than that.
const SCENARIO_PORT_OFFSET: u16 = 500;

/// The stories there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScenarioName {
    /// Split 2|2, both sides confirm their own version of a double spend, heal: the heavier
    /// side wins and the other side's confirmation is undone.
    PartitionHeal,
    /// A miner with most of the hashrate double-spends a merchant's confirmed payment with a
    /// secret longer chain.
    #[value(name = "51-percent")]
    FiftyOnePercent,
}

/// How a scenario ended: the convergence figures and the script's own checks.
pub struct Verdict {
    /// How the nodes converged after the heal.
    pub convergence: Convergence,
    /// Each check the script made, and whether it held.
    pub checks: Vec<(bool, String)>,
}

impl Verdict {
    /// Converged, on the most-work tip, and every check held.
    pub(crate) fn passed(&self) -> bool {
        self.convergence.converged
            && self.convergence.most_work
            && self.checks.iter().all(|(held, _)| *held)
    }

    /// The report printed at the end.
    pub fn report(&self) -> String {
        let mut lines = vec!["Report".to_string(), "------".to_string()];
        lines.push(self.convergence.report());
        if let Some(ms) = self.convergence.time_to_agree_ms {
            lines.push(format!("time from the heal to one agreed tip: {ms} ms"));
        }
        lines.push("checks:".to_string());
        lines.extend(
            self.checks
                .iter()
                .map(|(held, what)| format!("  [{}] {what}", if *held { "ok" } else { "FAILED" })),
        );
        lines.push(if self.passed() {
            "PASSED: every node converged on the most-work tip".to_string()
        } else {
            "FAILED: see the checks above".to_string()
        });
        lines.join("\n")
    }
}

/// Plays `name` on a fresh devnet of `network` in a directory of its own under `devnets`
/// (`scenario-<name>`, so it never meets the devnet you started there), prints the story and
/// the report, and returns the verdict. The devnet is stopped and its directory removed at the
/// end (even when the story fails) unless `keep`.
pub fn run(
    name: ScenarioName,
    network: Network,
    devnets: &Path,
    keep: bool,
    base_port: Option<u16>,
) -> Result<Verdict, DevnetError> {
    let (nodes, dir_name) = match name {
        ScenarioName::PartitionHeal => (partition_heal::NODES, "scenario-partition-heal"),
        ScenarioName::FiftyOnePercent => (majority_attack::NODES, "scenario-51-percent"),
    };
    // Ports of their own too, so a scenario can play beside a devnet started with the defaults.
    let base_port = base_port.unwrap_or(default_base_port(network) + SCENARIO_PORT_OFFSET);
    let mut story = Story::start(network, &devnets.join(dir_name), nodes, Some(base_port))?;
    let played = match name {
        ScenarioName::PartitionHeal => partition_heal::play(&mut story),
        ScenarioName::FiftyOnePercent => majority_attack::play(&mut story),
    };
    let finished = story.finish(keep);
    let verdict = played?;
    finished?;
    println!("\n{}", verdict.report());
    Ok(verdict)
}
