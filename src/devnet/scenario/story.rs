//! The stage a scenario plays on: a fresh devnet of its own (or the devnet the web view watches),
//! numbered narrated steps, the nodes' events told as they happen, and the waits and checks every
//! script needs.
//!
//! Owns the plumbing shared by the scripts. Must not script anything itself, and must not reach
//! into a node except by RPC.

use crate::clock::unix_now_ms;
use crate::devnet::down::down;
use crate::devnet::plan::Topology;
use crate::devnet::status::short_hash as short;
use crate::devnet::up::{up, UpOptions};
use crate::devnet::{state, view, DevnetError, DevnetNode, DevnetState};
use crate::observe::narrate::timeline_line;
use crate::observe::{narrate_all, Convergence, EventFollower, RenderOptions, Verbosity};
use crate::params::{Network, Params};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a step may wait for the nodes (to agree, to disconnect) before the scenario fails.
const STEP_PATIENCE: Duration = Duration::from_secs(60);
const POLL_EVERY: Duration = Duration::from_millis(25);
/// Spacing of the devnet a scenario starts, so each `generate` takes about a second on one core
/// (the genesis target scales with the spacing).
const SCENARIO_BLOCK_SECS: u32 = 1;
/// Blocks below the tips drawn in the fork picture.
const FORK_VIEW_DEPTH: u32 = 8;

/// A payment signed but not yet broadcast.
pub(super) struct Payment {
    pub txid: String,
    pub hex: String,
    pub inputs: Value,
}

/// Where a story is told.
pub enum Narration {
    /// Printed on stdout, with the nodes' events and the fork picture (`devnet scenario`).
    Terminal,
    /// Sent line by line to the web view's timeline, which tells the nodes' events and draws
    /// the tree itself; each line starts with the scenario's name.
    Timeline {
        /// The timeline's inbox.
        lines: mpsc::Sender<String>,
        /// The scenario's name.
        scenario: &'static str,
    },
}

impl Narration {
    fn tell(&self, line: String) {
        match self {
            Narration::Terminal => println!("{line}"),
            // The page may be gone; the story plays on regardless.
            Narration::Timeline { lines, scenario } => {
                let line = line.trim();
                if !line.is_empty() && !line.starts_with("---") {
                    let _ = lines.send(timeline_line(unix_now_ms(), scenario, line));
                }
            }
        }
    }
}

pub(super) struct Story {
    pub state: DevnetState,
    /// The scenario's own devnet directory; `None` when it plays on a devnet someone else
    /// started, which it must leave running.
    root: Option<PathBuf>,
    narration: Narration,
    follower: EventFollower,
    names: HashMap<SocketAddr, String>,
    step: usize,
}

impl Story {
    /// Starts `nodes` nodes in a mesh, none of them mining: every block in a scenario comes
    /// from a `generate` the script asks for, so the story is the same on every run.
    /// The scenario's devnet lives in `root`, its own: what an earlier run kept there is
    /// cleared first (unless it still runs: `up` then refuses and says how to stop it).
    pub(super) fn start(
        network: Network,
        root: &Path,
        nodes: usize,
        base_port: Option<u16>,
    ) -> Result<Story, DevnetError> {
        if !state::state_path(root).exists() && root.exists() {
            down(root, true)?;
        }
        let options = UpOptions {
            network,
            nodes,
            topology: Topology::Mesh,
            mine: "none".to_string(),
            threads: None,
            block_time: (network == Network::Devnet).then_some(SCENARIO_BLOCK_SECS),
            link_latency_ms: None,
            tx_rate: None,
            base_port,
        };
        let state = up(&options, root)?;
        Story::on(state, Some(root.to_path_buf()), Narration::Terminal)
    }

    /// Plays on the running devnet `state`, told through `narration`; `root` is the devnet's
    /// directory when the story owns it.
    pub(super) fn on(
        state: DevnetState,
        root: Option<PathBuf>,
        narration: Narration,
    ) -> Result<Story, DevnetError> {
        let names = state.names_by_addr();
        let mut story = Story {
            state,
            root,
            narration,
            follower: EventFollower::new(),
            names,
            step: 0,
        };
        // What happened before (start-up chatter, earlier blocks) is not part of the story.
        story.skip_events()?;
        Ok(story)
    }

    pub(super) fn params(&self) -> Params {
        match (self.state.network, self.state.block_time) {
            (Network::Devnet, Some(secs)) => Params::devnet_with_spacing(secs),
            (network, _) => Params::for_network(network),
        }
    }

    /// Prints the next numbered step.
    pub(super) fn step(&mut self, text: &str) {
        self.step += 1;
        self.narration.tell(format!("\n[{}] {text}", self.step));
    }

    /// Prints a line under the current step.
    pub(super) fn say(&self, text: &str) {
        self.narration.tell(format!("    {text}"));
    }

    /// Tells the verdict's report, line by line.
    pub(super) fn report(&self, report: &str) {
        for line in report.lines() {
            self.narration.tell(line.to_string());
        }
    }

    pub(super) fn node(&self, name: &str) -> Result<&DevnetNode, DevnetError> {
        self.state.node(name)
    }

    pub(super) fn call(
        &self,
        name: &str,
        method: &str,
        params: Vec<Value>,
    ) -> Result<Value, DevnetError> {
        self.node(name)?.call(method, params)
    }

    /// Tells what the nodes did since the last look, one line per event (the web view's
    /// timeline tells them already).
    pub(super) fn tell_events(&mut self) -> Result<(), DevnetError> {
        if !matches!(self.narration, Narration::Terminal) {
            return Ok(());
        }
        let batch = self.follower.poll(&self.state.clients()?);
        for problem in &batch.problems {
            self.say(&format!("(events: {problem})"));
        }
        for line in narrate_all(&batch.events, &self.names, Verbosity::Concise) {
            println!("      {line}");
        }
        Ok(())
    }

    /// Forgets what the nodes did so far (a long warm-up tells nothing new).
    pub(super) fn skip_events(&mut self) -> Result<(), DevnetError> {
        for (name, client) in self.state.clients()? {
            self.follower.skip_history(&name, &client, 0);
        }
        Ok(())
    }

    /// `generate n` on `name`; returns the last block's hash.
    pub(super) fn generate(&self, name: &str, n: u32) -> Result<String, DevnetError> {
        let hashes = self.call(name, "generate", vec![json!(n)])?;
        hashes
            .as_array()
            .and_then(|hashes| hashes.last())
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| DevnetError::Scenario(format!("{name}: generate returned {hashes}")))
    }

    /// Waits until every node in `names` has `tip` as its best block.
    pub(super) fn wait_for_tip(&self, names: &[&str], tip: &str) -> Result<(), DevnetError> {
        self.wait(
            &format!("{} to reach {}", names.join(", "), short(tip)),
            || {
                names.iter().try_fold(true, |all, name| {
                    let best = self.call(name, "getbestblockhash", vec![])?;
                    Ok(all && best.as_str() == Some(tip))
                })
            },
        )
    }

    /// Waits until no node of one group has a peer from another.
    pub(super) fn wait_for_split(&self, groups: &[&[&str]]) -> Result<(), DevnetError> {
        let group_of: HashMap<SocketAddr, usize> = groups
            .iter()
            .enumerate()
            .flat_map(|(index, names)| {
                names
                    .iter()
                    .filter_map(|name| self.node(name).ok())
                    .map(move |node| (node.p2p_addr, index))
            })
            .collect();
        self.wait("the two sides to drop their links", || {
            for (index, names) in groups.iter().enumerate() {
                for name in *names {
                    let peers = self.call(name, "getpeerinfo", vec![])?;
                    let crosses = peers.as_array().into_iter().flatten().any(|peer| {
                        peer["listen_addr"]
                            .as_str()
                            .and_then(|addr| addr.parse::<SocketAddr>().ok())
                            .and_then(|addr| group_of.get(&addr))
                            .is_some_and(|group| *group != index)
                    });
                    if crosses {
                        return Ok(false);
                    }
                }
            }
            Ok(true)
        })
    }

    fn wait(
        &self,
        what: &str,
        mut done: impl FnMut() -> Result<bool, DevnetError>,
    ) -> Result<(), DevnetError> {
        let started = Instant::now();
        while !done()? {
            if started.elapsed() > STEP_PATIENCE {
                return Err(DevnetError::Scenario(format!(
                    "gave up after {} s waiting for {what}",
                    STEP_PATIENCE.as_secs()
                )));
            }
            std::thread::sleep(POLL_EVERY);
        }
        Ok(())
    }

    /// `payer` signs a payment of `amount` to a fresh address of `payee`, without sending it.
    pub(super) fn sign_payment(
        &self,
        payer: &str,
        payee: &str,
        amount: &str,
    ) -> Result<Payment, DevnetError> {
        let address = self.call(payee, "getnewaddress", vec![])?;
        let payment = self.call(payer, "createpayment", vec![address, json!(amount)])?;
        let text = |field: &str| {
            payment[field].as_str().map(str::to_string).ok_or_else(|| {
                DevnetError::Scenario(format!("createpayment without {field}: {payment}"))
            })
        };
        Ok(Payment {
            txid: text("txid")?,
            hex: text("hex")?,
            inputs: payment["inputs"].clone(),
        })
    }

    /// `payer` signs two payments of `amount` that spend the same coin, called `names`, to fresh
    /// addresses of `payees`: a double spend waiting for two sides to confirm one each.
    pub(super) fn sign_double_spend(
        &self,
        payer: &str,
        names: [&str; 2],
        payees: [&str; 2],
        amount: &str,
    ) -> Result<[Payment; 2], DevnetError> {
        let first = self.sign_payment(payer, payees[0], amount)?;
        let second = self.sign_payment(payer, payees[1], amount)?;
        if first.inputs != second.inputs {
            return Err(DevnetError::Scenario(format!(
                "{} and {} should spend the same coin, but spend {} and {}",
                names[0], names[1], first.inputs, second.inputs
            )));
        }
        self.say(&format!(
            "{} {}  {} {}  both spend coin {}",
            names[0],
            short(&first.txid),
            names[1],
            short(&second.txid),
            coins(&first.inputs)
        ));
        Ok([first, second])
    }

    /// `payer` pays `amount` to a fresh address of `payee` and broadcasts it; returns the txid.
    pub(super) fn pay(
        &self,
        payer: &str,
        payee: &str,
        amount: &str,
    ) -> Result<String, DevnetError> {
        let address = self.call(payee, "getnewaddress", vec![])?;
        let txid = self.call(payer, "sendtoaddress", vec![address, json!(amount)])?;
        txid.as_str()
            .map(str::to_string)
            .ok_or_else(|| DevnetError::Scenario(format!("{payer}: sendtoaddress returned {txid}")))
    }

    pub(super) fn broadcast(&self, name: &str, payment: &Payment) -> Result<(), DevnetError> {
        self.call(name, "sendrawtransaction", vec![json!(payment.hex)])?;
        Ok(())
    }

    /// The height of the block on `name`'s active chain that holds `txid`, looking at the
    /// `depth` blocks below its tip.
    pub(super) fn confirmed_at(
        &self,
        name: &str,
        txid: &str,
        depth: u32,
    ) -> Result<Option<u64>, DevnetError> {
        let height = self
            .call(name, "getblockcount", vec![])?
            .as_u64()
            .unwrap_or(0);
        for h in (height.saturating_sub(u64::from(depth))..=height).rev() {
            let hash = self.call(name, "getblockhash", vec![json!(h)])?;
            let block = self.call(name, "getblock", vec![hash, json!(1)])?;
            let holds = block["tx"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|tx| tx.as_str() == Some(txid));
            if holds {
                return Ok(Some(h));
            }
        }
        Ok(None)
    }

    /// Waits until `txid` is in the mempool of every node in `names`: a block mined before a
    /// payment reached its miner would leave the payment out.
    pub(super) fn wait_for_mempool(&self, names: &[&str], txid: &str) -> Result<(), DevnetError> {
        self.wait(
            &format!("{} to reach {}", short(txid), names.join(", ")),
            || {
                names
                    .iter()
                    .try_fold(true, |all, name| Ok(all && self.in_mempool(name, txid)?))
            },
        )
    }

    /// The coins `name`'s wallet can spend now (confirmed and mature).
    pub(super) fn spendable(&self, name: &str) -> Result<f64, DevnetError> {
        let balances = self.call(name, "getbalances", vec![])?;
        Ok(balances["mine"]["trusted"].as_f64().unwrap_or(0.0))
    }

    pub(super) fn in_mempool(&self, name: &str, txid: &str) -> Result<bool, DevnetError> {
        let pool = self.call(name, "getrawmempool", vec![])?;
        Ok(pool
            .as_array()
            .into_iter()
            .flatten()
            .any(|tx| tx.as_str() == Some(txid)))
    }

    /// Heals the network and waits for one tip as `devnet heal` does, then tells what happened;
    /// returns the convergence figures.
    pub(super) fn heal(&mut self) -> Result<Convergence, DevnetError> {
        let figures = view::heal_and_measure(&self.state, STEP_PATIENCE)?;
        self.tell_events()?;
        Ok(figures)
    }

    /// Draws the block tree as the nodes see it, each tip labelled with the nodes on it.
    pub(super) fn show_fork(&self) -> Result<(), DevnetError> {
        if !matches!(self.narration, Narration::Terminal) {
            return Ok(());
        }
        let options = RenderOptions {
            color: std::io::stdout().is_terminal(),
            collapse_linear_after: Some(3),
        };
        let tree = view::fetch_tree(&self.state, FORK_VIEW_DEPTH)?.render(&options);
        for line in tree.lines() {
            println!("      {line}");
        }
        Ok(())
    }

    /// Stops the devnet and removes its directory, unless asked to keep it for a look around.
    /// A devnet the story did not start is left as it is.
    pub(super) fn finish(self, keep: bool) -> Result<(), DevnetError> {
        let Some(root) = self.root else {
            return Ok(());
        };
        let dir = state::pretty(&root);
        if keep {
            let flags = format!(
                "--network {} devnet --dir {}",
                self.state.network,
                dir.display()
            );
            println!(
                "\nThe scenario's devnet is still up in {}: try `nakachain {flags} tree`, \
                 `nakachain {flags} events`, then `nakachain {flags} down --purge`.",
                dir.display()
            );
            return Ok(());
        }
        down(&root, true)?;
        // The directory held only the scenario's devnet: nothing of it is left.
        let _ = std::fs::remove_dir(&root);
        Ok(())
    }
}

/// The coins a `createpayment` answer spends, shortened: `6b676579…:0`.
pub(super) fn coins(inputs: &Value) -> String {
    let spent: Vec<String> = inputs
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|outpoint| match outpoint.split_once(':') {
            Some((txid, vout)) => format!("{}:{vout}", short(txid)),
            None => outpoint.to_string(),
        })
        .collect();
    spent.join(", ")
}
