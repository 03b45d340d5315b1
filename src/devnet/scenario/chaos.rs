//! `chaos`: a real devnet of five mining nodes and a payment generator, and a seeded nemesis that
//! splits the network, isolates nodes, slows links, kills nodes (kill -9) and restarts them, some
//! at the worst moment: restarted with the `--abort-in-reorg` failpoint, cut off to mine alone,
//! and healed, so the process dies in the middle of the reorg back onto the others' chain. After
//! the set time it heals and checks what must hold whatever happened: every node on the
//! most-work tip, no node lost a block its RPC had reported, no coin spent twice on the final
//! chain, every restart came up.
//!
//! Owns the nemesis and its checks. Must not reach into a node except through its process and
//! its RPC.

use super::Verdict;
use crate::devnet::down::down;
use crate::devnet::plan::Topology;
use crate::devnet::process;
use crate::devnet::up::{restart_node, up, UpOptions};
use crate::devnet::{control, state, view, DevnetError, DevnetState};
use crate::params::Network;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Nodes of the chaos devnet.
const NODES: usize = 5;
/// Its block spacing: blocks often enough that forks and reorgs happen in a short run.
const BLOCK_SECS: u32 = 1;
/// Payments a second.
const TX_RATE: f64 = 2.0;
/// How often the nodes' tips are read (what their RPC reported, to be checked at the end).
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// The longest pause between two strikes, in milliseconds.
const MAX_PAUSE_MS: u64 = 4_000;
/// How long a killed node stays down, at most, in milliseconds.
const MAX_DOWN_MS: u64 = 2_000;
/// How long a node with the failpoint armed mines alone before the heal that makes it reorg, at
/// most, in milliseconds: longer makes the reorg it dies in deeper.
const MAX_ALONE_MS: u64 = 8_000;
/// What a node logs when its `--abort-in-reorg` failpoint fires (`node::state`).
const FAILPOINT_FIRED: &str = "failpoint abort-in-reorg";
/// How long the nodes get to agree once the chaos is over.
const CONVERGE_PATIENCE: Duration = Duration::from_secs(120);

/// How long to play and with which seed.
#[derive(Clone, Copy, Debug)]
pub struct ChaosOptions {
    /// Seconds of chaos before the final heal.
    pub seconds: u64,
    /// The seed of every choice the nemesis makes.
    pub seed: u64,
}

/// The nemesis and what it saw.
struct Nemesis {
    state: DevnetState,
    root: std::path::PathBuf,
    rng: StdRng,
    started: Instant,
    /// What each node's RPC reported as its best block, over the run.
    reported: HashMap<String, HashSet<String>>,
    /// Nodes this run stopped or armed, and so expected to be down at times.
    expected_down: HashSet<usize>,
    /// Nodes with the failpoint armed.
    armed: HashSet<usize>,
    restarts: usize,
    failed_restarts: Vec<String>,
    unexpected_exits: Vec<String>,
    failpoint_aborts: usize,
}

impl Nemesis {
    fn log(&self, what: &str) {
        println!("  [{:>6.1} s] {what}", self.started.elapsed().as_secs_f64());
    }

    fn name(&self, index: usize) -> String {
        self.state.nodes[index].name.clone()
    }

    fn running(&self, index: usize) -> bool {
        let node = &self.state.nodes[index];
        node.pid
            .is_some_and(|pid| process::is_running(pid, &node.datadir.display().to_string()))
    }

    /// Reads every running node's tip; a node found down that was not expected to be is noted,
    /// and a node whose failpoint fired is restarted without it.
    fn look(&mut self) {
        for index in 0..self.state.nodes.len() {
            if !self.running(index) {
                if self.armed.remove(&index) {
                    self.failpoint_aborts += 1;
                    self.log(&format!(
                        "{} aborted in the middle of a reorg (failpoint); restarting it",
                        self.name(index)
                    ));
                    self.restart(index, None);
                } else if !self.expected_down.contains(&index) {
                    let name = self.name(index);
                    self.log(&format!("{name} exited unexpectedly; restarting it"));
                    self.unexpected_exits.push(name);
                    self.restart(index, None);
                }
                continue;
            }
            if let Ok(Value::String(tip)) = self.state.nodes[index].call("getbestblockhash", vec![])
            {
                self.reported
                    .entry(self.name(index))
                    .or_default()
                    .insert(tip);
            }
        }
    }

    /// Waits `ms`, looking at the nodes meanwhile.
    fn pause(&mut self, ms: u64) {
        let until = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < until {
            self.look();
            sleep(LOOK_EVERY.min(until.saturating_duration_since(Instant::now())));
        }
    }

    fn restart(&mut self, index: usize, abort_in_reorg: Option<usize>) {
        self.restarts += 1;
        match restart_node(&mut self.state, &self.root, index, abort_in_reorg) {
            Ok(()) => {
                self.expected_down.remove(&index);
                if abort_in_reorg.is_some() {
                    self.armed.insert(index);
                }
            }
            // Armed, it may reorg onto its peers' chain as it starts, and die there as asked.
            Err(_) if abort_in_reorg.is_some() && self.failpoint_fired(index) => {
                self.failpoint_aborts += 1;
                self.log(&format!(
                    "{} aborted in the middle of a reorg as it started (failpoint); restarting it",
                    self.name(index)
                ));
                self.restart(index, None);
            }
            Err(error) => {
                let name = self.name(index);
                self.log(&format!("{name} did not come back: {error}"));
                self.failed_restarts.push(format!("{name}: {error}"));
            }
        }
    }

    /// Whether node `index`'s log ends with its failpoint firing.
    fn failpoint_fired(&self, index: usize) -> bool {
        process::log_tail(&self.state.nodes[index].log_path(), 3)
            .iter()
            .any(|line| line.contains(FAILPOINT_FIRED))
    }

    fn kill(&mut self, index: usize) {
        // Killed by us, not by its failpoint: it is restarted by whoever killed it.
        self.armed.remove(&index);
        self.expected_down.insert(index);
        let node = &self.state.nodes[index];
        if let Some(pid) = node.pid {
            let _ = process::signal(pid, &node.datadir.display().to_string(), "KILL");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.running(index) && Instant::now() < deadline {
            sleep(Duration::from_millis(20));
        }
    }

    fn random_split(&mut self) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..NODES).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, self.rng.random_range(0..=i));
        }
        let cut = self.rng.random_range(1..NODES);
        vec![order[..cut].to_vec(), order[cut..].to_vec()]
    }

    /// A control call that may meet a node that is down (killed, or dead by its failpoint):
    /// what the others were told holds, and the node comes back without it.
    fn tolerate(&self, result: Result<(), DevnetError>) {
        if let Err(error) = result {
            self.log(&format!("  (not every node heard it: {error})"));
        }
    }

    /// One strike, chosen by the seed.
    fn strike(&mut self) {
        let roll = self.rng.random_range(0..100);
        let victim = self.rng.random_range(0..NODES);
        match roll {
            0..25 => {
                let groups = self.random_split();
                let spec = groups
                    .iter()
                    .map(|group| {
                        let names: Vec<String> = group.iter().map(|&i| self.name(i)).collect();
                        names.join(",")
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                self.log(&format!("partition {}", spec.replace('/', " | ")));
                self.tolerate(control::partition(&self.state, &spec).map(|_| ()));
            }
            25..35 => {
                self.log(&format!("isolate {}", self.name(victim)));
                self.tolerate(control::isolate(&self.state, &self.name(victim)));
            }
            35..45 => {
                let ms = self.rng.random_range(0..300);
                self.log(&format!("{ms} ms of latency on every link"));
                self.tolerate(control::latency(&self.state, ms, None));
            }
            45..65 => {
                self.log("heal");
                self.tolerate(control::heal(&self.state));
                self.tolerate(control::latency(&self.state, 0, None));
            }
            65..85 => {
                let down_ms = self.rng.random_range(100..MAX_DOWN_MS);
                self.log(&format!(
                    "kill -9 {}, restart after {down_ms} ms",
                    self.name(victim)
                ));
                self.kill(victim);
                self.pause(down_ms);
                self.restart(victim, None);
            }
            _ => {
                self.log(&format!(
                    "kill -9 {}, restart it with the abort-in-reorg failpoint, let it mine alone, heal",
                    self.name(victim)
                ));
                self.kill(victim);
                self.restart(victim, Some(1));
                self.tolerate(control::isolate(&self.state, &self.name(victim)));
                let alone_ms = self.rng.random_range(1_000..MAX_ALONE_MS);
                self.pause(alone_ms);
                self.tolerate(control::heal(&self.state));
            }
        }
    }
}

/// Plays chaos on a fresh devnet of `network` in `devnets/scenario-chaos`; prints the schedule
/// and the report. The devnet is removed at the end unless `keep`.
pub(super) fn run(
    network: Network,
    devnets: &Path,
    options: ChaosOptions,
    keep: bool,
    base_port: u16,
) -> Result<Verdict, DevnetError> {
    if network != Network::Devnet {
        return Err(DevnetError::Scenario(
            "chaos needs devnet: its miners must find blocks at a pace (regtest's are instant)"
                .to_string(),
        ));
    }
    let root = devnets.join("scenario-chaos");
    if !state::state_path(&root).exists() && root.exists() {
        down(&root, true)?;
    }
    let options_up = UpOptions {
        network,
        nodes: NODES,
        topology: Topology::Mesh,
        mine: "all".to_string(),
        threads: Some(NODES),
        block_time: Some(BLOCK_SECS),
        link_latency_ms: None,
        tx_rate: Some(TX_RATE),
        base_port: Some(base_port),
    };
    println!(
        "chaos: {NODES} mining nodes ({BLOCK_SECS} s blocks) and {TX_RATE} payments a second, \
         {} s of strikes, seed {}",
        options.seconds, options.seed
    );
    let state = up(&options_up, &root)?;
    let mut nemesis = Nemesis {
        state,
        root: root.clone(),
        rng: StdRng::seed_from_u64(options.seed),
        started: Instant::now(),
        reported: HashMap::new(),
        expected_down: HashSet::new(),
        armed: HashSet::new(),
        restarts: 0,
        failed_restarts: Vec::new(),
        unexpected_exits: Vec::new(),
        failpoint_aborts: 0,
    };
    let played = play(&mut nemesis, options);
    let finished = if keep {
        println!(
            "\nThe chaos devnet is still up in {}: `nakachain devnet --dir {} down --purge` \
             removes it.",
            state::pretty(&root).display(),
            state::pretty(&root).display()
        );
        Ok(())
    } else {
        down(&root, true).map(|_| {
            let _ = std::fs::remove_dir(&root);
        })
    };
    let verdict = played?;
    finished?;
    println!("\n{}", verdict.report());
    Ok(verdict)
}

fn play(nemesis: &mut Nemesis, options: ChaosOptions) -> Result<Verdict, DevnetError> {
    println!("\nschedule:");
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    while Instant::now() < deadline {
        let pause = nemesis.rng.random_range(500..MAX_PAUSE_MS);
        nemesis.pause(pause);
        nemesis.strike();
    }
    nemesis.log("the chaos ends: the nemesis disarms, heals, and stops the miners");
    for index in 0..NODES {
        if !nemesis.running(index) {
            nemesis.restart(index, None);
        }
    }
    // A node still armed is restarted without its failpoint: the last heal may reorg it.
    for index in std::mem::take(&mut nemesis.armed) {
        nemesis.kill(index);
        nemesis.restart(index, None);
    }
    nemesis.look();
    control::latency(&nemesis.state, 0, None)?;
    for node in &nemesis.state.nodes {
        node.call("setgenerate", vec![json!(false)])?;
    }
    let mut convergence = view::heal_and_measure(&nemesis.state, CONVERGE_PATIENCE)?;
    if !convergence.converged {
        // Tips of equal work stay apart (each node keeps the one it saw first) until a block
        // breaks the tie, as on any Nakamoto network.
        nemesis.log("tips of equal work: node-0 mines one block to break the tie");
        nemesis.state.nodes[0].call("generate", vec![json!(1)])?;
        convergence = view::heal_and_measure(&nemesis.state, CONVERGE_PATIENCE)?;
    }
    nemesis.look();
    let checks = vec![
        (
            nemesis.failed_restarts.is_empty(),
            format!(
                "every restart came up ({} restarts{})",
                nemesis.restarts,
                describe(&nemesis.failed_restarts)
            ),
        ),
        (
            nemesis.unexpected_exits.is_empty(),
            format!(
                "no node died but those the nemesis killed ({} by the failpoint){}",
                nemesis.failpoint_aborts,
                describe(&nemesis.unexpected_exits)
            ),
        ),
        lost_blocks(nemesis)?,
        double_spends(&nemesis.state)?,
    ];
    Ok(Verdict {
        convergence,
        checks,
    })
}

fn describe(problems: &[String]) -> String {
    if problems.is_empty() {
        String::new()
    } else {
        format!(": {}", problems.join("; "))
    }
}

/// Every block a node's RPC reported as its tip is still known to that node.
fn lost_blocks(nemesis: &Nemesis) -> Result<(bool, String), DevnetError> {
    let mut lost = Vec::new();
    let mut checked = 0;
    for node in &nemesis.state.nodes {
        for hash in nemesis.reported.get(&node.name).into_iter().flatten() {
            checked += 1;
            if node.call("getblockheader", vec![json!(hash)]).is_err() {
                lost.push(format!("{} lost {hash}", node.name));
            }
        }
    }
    Ok((
        lost.is_empty(),
        format!(
            "no node lost a block its RPC reported ({checked} reports checked{})",
            describe(&lost)
        ),
    ))
}

/// No coin is spent twice on the active chain of the first node (all agree by now).
fn double_spends(state: &DevnetState) -> Result<(bool, String), DevnetError> {
    let node = &state.nodes[0];
    let height = node.call("getblockcount", vec![])?.as_u64().unwrap_or(0);
    let mut spent = HashSet::new();
    let mut twice = Vec::new();
    let mut inputs = 0;
    for h in 1..=height {
        let hash = node.call("getblockhash", vec![json!(h)])?;
        let block = node.call("getblock", vec![hash, json!(2)])?;
        for tx in block["tx"].as_array().into_iter().flatten() {
            for input in tx["vin"].as_array().into_iter().flatten() {
                let outpoint = format!("{}:{}", input["txid"], input["vout"]);
                inputs += 1;
                if !spent.insert(outpoint.clone()) {
                    twice.push(outpoint);
                }
            }
        }
    }
    Ok((
        twice.is_empty(),
        format!(
            "no coin spent twice on the final chain ({inputs} inputs in {height} blocks{})",
            describe(&twice)
        ),
    ))
}
