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
//! - `chaos`: a seeded nemesis on a mining devnet, with the checks that must hold after it

mod chaos;
mod majority_attack;
mod partition_heal;
mod story;

use super::up::default_base_port;
use super::{view, DevnetError, DevnetState};
use crate::observe::Convergence;
use crate::params::Network;
pub use chaos::ChaosOptions;
use serde_json::json;
use std::path::Path;
use std::sync::mpsc;
use story::{Narration, Story};

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
    /// Five mining nodes and a payment generator while a seeded nemesis partitions, isolates,
    /// slows, kills and restarts them (some in the middle of a reorg) for `--seconds`; then
    /// checks every node is on the most-work tip, no reported block was lost, no coin was
    /// spent twice and every restart came up.
    Chaos,
}

impl ScenarioName {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ScenarioName::PartitionHeal => "partition-heal",
            ScenarioName::FiftyOnePercent => "51-percent",
            ScenarioName::Chaos => "chaos",
        }
    }

    /// The scenario named `name`, or an error listing the names there are.
    pub fn parse(name: &str) -> Result<ScenarioName, DevnetError> {
        <ScenarioName as clap::ValueEnum>::value_variants()
            .iter()
            .copied()
            .find(|scenario| scenario.name() == name)
            .ok_or_else(|| DevnetError::UnknownScenario(name.to_string()))
    }

    /// The nodes its script plays with.
    fn nodes(self) -> usize {
        match self {
            ScenarioName::PartitionHeal => partition_heal::NODES,
            ScenarioName::FiftyOnePercent => majority_attack::NODES,
            ScenarioName::Chaos => 0,
        }
    }

    fn play(self, story: &mut Story) -> Result<Verdict, DevnetError> {
        match self {
            ScenarioName::PartitionHeal => partition_heal::play(story),
            ScenarioName::FiftyOnePercent => majority_attack::play(story),
            ScenarioName::Chaos => Err(chaos_on_its_own()),
        }
    }
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
    chaos: ChaosOptions,
) -> Result<Verdict, DevnetError> {
    // Ports of their own too, so a scenario can play beside a devnet started with the defaults.
    let base_port = base_port.unwrap_or(default_base_port(network) + SCENARIO_PORT_OFFSET);
    if name == ScenarioName::Chaos {
        return chaos::run(network, devnets, chaos, keep, base_port);
    }
    let root = devnets.join(format!("scenario-{}", name.name()));
    let mut story = Story::start(network, &root, name.nodes(), Some(base_port))?;
    let played = name.play(&mut story);
    let finished = story.finish(keep);
    let verdict = played?;
    finished?;
    println!("\n{}", verdict.report());
    Ok(verdict)
}

/// Plays `name` on the running devnet `state` (the one the web view watches), telling the
/// story, line by line, to `timeline`. The devnet needs the scenario's number of nodes. Every
/// block of a story comes from `generate`, so the nodes' miners are stopped while it plays and
/// started again after; the nodes are healed into one tip first, and stay up at the end.
pub fn play_on(
    name: ScenarioName,
    state: &DevnetState,
    timeline: mpsc::Sender<String>,
) -> Result<Verdict, DevnetError> {
    fits(name, state)?;
    let miners = stop_miners(state)?;
    let narration = Narration::Timeline {
        lines: timeline,
        scenario: name.name(),
    };
    let mut story = Story::on(state.clone(), None, narration)?;
    if !miners.is_empty() {
        let names: Vec<&str> = miners.iter().map(|(name, _)| name.as_str()).collect();
        story.say(&format!(
            "the miners of {} stop while the scenario plays: its blocks come from generate",
            names.join(", ")
        ));
    }
    let played =
        view::heal_and_measure(state, view::DEFAULT_PATIENCE).and_then(|_| name.play(&mut story));
    let restarted = start_miners(state, &miners);
    let verdict = played?;
    restarted?;
    story.report(&verdict.report());
    Ok(verdict)
}

/// Whether `name` can play on `state`: it needs the scenario's number of nodes.
pub fn fits(name: ScenarioName, state: &DevnetState) -> Result<(), DevnetError> {
    if name == ScenarioName::Chaos {
        return Err(chaos_on_its_own());
    }
    if state.nodes.len() == name.nodes() {
        return Ok(());
    }
    Err(DevnetError::ScenarioNodes {
        scenario: name.name(),
        needs: name.nodes(),
        has: state.nodes.len(),
    })
}

fn chaos_on_its_own() -> DevnetError {
    DevnetError::Scenario(
        "chaos kills and restarts nodes: it plays on a devnet of its own, \
         `nakachain devnet scenario chaos`"
            .to_string(),
    )
}

/// Stops every node's miner; returns the nodes that were mining, with their thread counts.
fn stop_miners(state: &DevnetState) -> Result<Vec<(String, u64)>, DevnetError> {
    let mut miners = Vec::new();
    for node in &state.nodes {
        let info = node.call("getmininginfo", vec![])?;
        if info["generate"].as_bool() == Some(true) {
            node.call("setgenerate", vec![json!(false)])?;
            miners.push((node.name.clone(), info["threads"].as_u64().unwrap_or(1)));
        }
    }
    Ok(miners)
}

fn start_miners(state: &DevnetState, miners: &[(String, u64)]) -> Result<(), DevnetError> {
    for (name, threads) in miners {
        state
            .node(name)?
            .call("setgenerate", vec![json!(true), json!(threads)])?;
    }
    Ok(())
}
