//! The web view's controls: each does what the matching CLI command does (partition, isolate,
//! heal, latency, mine blocks on a node, pay from one node to another, start and stop a node's
//! miner, play a scenario) and answers with what happened or the CLI's error.
//!
//! Owns turning a control request into devnet calls. Must not hold state between requests.

use super::super::scenario::{self, ScenarioName};
use super::super::{control, view, DevnetError, DevnetState};
use serde::Deserialize;
use serde_json::json;
use std::sync::mpsc;

/// The most blocks one click may mine.
const MAX_MINE_BLOCKS: u64 = 100;

/// A request from the page, as `{"action": "...", ...}`.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum Control {
    /// `devnet partition GROUPS`.
    Partition { groups: String },
    /// `devnet isolate NODE`.
    Isolate { node: String },
    /// `devnet heal`: waits for one tip and measures the convergence.
    Heal,
    /// `devnet latency MS [--between A,B]`.
    Latency { ms: u64, between: Option<String> },
    /// `devnet rpc NODE generate BLOCKS`.
    Mine { node: String, blocks: u64 },
    /// A payment of AMOUNT coins from one node's wallet to a new address of another's.
    Pay {
        from: String,
        to: String,
        amount: String,
    },
    /// `setgenerate ON` on one node.
    Mining { node: String, on: bool },
    /// `devnet scenario NAME`, played on this devnet (`scenario::play_on`); `web` runs it in
    /// the background, not `apply`.
    Scenario { name: String },
}

/// Carries out `request` on the devnet; the sentence says what happened. A scenario tells its
/// story to `timeline` as it plays.
pub(super) fn apply(
    state: &DevnetState,
    request: Control,
    timeline: mpsc::Sender<String>,
) -> Result<String, DevnetError> {
    match request {
        Control::Partition { groups } => {
            let groups = control::partition(state, &groups)?;
            Ok(format!(
                "partitioned: {}",
                control::describe_groups(state, &groups)
            ))
        }
        Control::Isolate { node } => {
            control::isolate(state, &node)?;
            Ok(format!("{node} is cut off from every other node"))
        }
        Control::Heal => {
            // As `devnet heal` does: wait for one tip and say how long it took.
            let figures = view::heal_and_measure(state, view::DEFAULT_PATIENCE)?;
            Ok(view::heal_headline(&figures))
        }
        Control::Latency { ms, between } => {
            let between = between.filter(|names| !names.trim().is_empty());
            control::latency(state, ms, between.as_deref())?;
            Ok(match between {
                Some(nodes) => format!("{ms} ms added on the links among {nodes}"),
                None => format!("{ms} ms added on every link"),
            })
        }
        Control::Mine { node, blocks } => {
            if !(1..=MAX_MINE_BLOCKS).contains(&blocks) {
                return Err(DevnetError::MineCount {
                    blocks,
                    max: MAX_MINE_BLOCKS,
                });
            }
            let mined = state.node(&node)?.call("generate", vec![json!(blocks)])?;
            let count = mined.as_array().map_or(0, Vec::len);
            Ok(format!("{node} mined {count} block(s)"))
        }
        Control::Pay { from, to, amount } => {
            let address = state.node(&to)?.call("getnewaddress", vec![])?;
            let txid = state
                .node(&from)?
                .call("sendtoaddress", vec![address, json!(amount)])?;
            Ok(format!(
                "{from} paid {amount} to {to}: {}",
                txid.as_str().unwrap_or("?")
            ))
        }
        Control::Mining { node, on } => {
            state.node(&node)?.call("setgenerate", vec![json!(on)])?;
            Ok(format!(
                "{node} {} mining",
                if on { "started" } else { "stopped" }
            ))
        }
        Control::Scenario { name } => {
            let scenario = ScenarioName::parse(&name)?;
            let verdict = scenario::play_on(scenario, state, timeline)?;
            let outcome = if verdict.passed() {
                "passed: every node converged on the most-work tip"
            } else {
                "failed: see its checks above"
            };
            Ok(format!("{} {outcome}", scenario.name()))
        }
    }
}
