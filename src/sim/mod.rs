//! A deterministic many-node simulator over `protocol`: every node runs the real `Protocol` and
//! the real `Chain` (validation, most-work selection, reorgs) with its mempool and event log
//! (the same reorg stories a node tells, `Sim::events`), over a seeded network with per-message
//! latency, bandwidth, loss and partitions. Queues hold everything due, nodes included: a node is
//! woken only when its protocol has something to do (`Protocol::next_wake_ms`), so the cost
//! follows the messages, not the number of nodes times the simulated time. The nodes are split
//! into shards that run side by side (`windows`), with the same outcome in one thread or many.
//!
//! Owns simulated time and the simulated network. Everything random comes from the seed, so a
//! failing run is reproduced from the seed it prints. Must not touch sockets, files or the real
//! clock, with two exceptions at the edge: `run` reads the wall clock only for its progress line
//! and the `wall_*` figures, and `cli` writes what `--out` asks for. `run` adds the mining process
//! and the measurements of `nakachain sim`.
//!
//! - `topology`: addresses, regions, latency and bandwidth
//! - `network`: connections, what they carry, and which shard each node runs in
//! - `calendar`: one shard's queue of what is due
//! - `shard`: some of the nodes with their queue, handing them what is due
//! - `windows`: running the shards up to a time, in one thread or side by side
//! - `host`: one node's chain, mempool and event log behind `Host`
//! - `record`: what the simulator saw of each block (who mined it when, who had it when)
//! - `actions`: mining, payments and partitions, as tests and runs call them
//! - `selfish`: a selfish mining pool publishing through a gateway node
//! - `run`: the mining process and the course of a `nakachain sim` run
//! - `report`: propagation, stale rate against theory, reorgs, from a run's records
//! - `replay`: what a run leaves for its replay in the web page
//! - `plot`: the propagation CDF and the sweep's stale rate against theory, as SVG
//! - `cli`: the command's arguments, progress line and output

mod actions;
mod calendar;
pub mod cli;
mod host;
mod network;
mod plot;
mod record;
mod replay;
pub mod report;
pub mod run;
pub mod selfish;
mod shard;
pub mod topology;
mod windows;

pub use host::SimHost;
pub use record::{BlockRecord, Note, Records, ReorgRecord};

use crate::events::Event;
use crate::params::Params;
use crate::protocol::{Input, Protocol, ProtocolConfig, Timers, MAX_LEARNED_ADDRESSES};
use crate::types::{Address, Block, Hash256, HashedBlock};
use crate::wallet::Wallet;
use foldhash::HashMap;
use network::{Due, NodeNet, Wires};
use rand::rngs::{SmallRng, StdRng};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use shard::{Shard, Shared};
use std::net::SocketAddr;
use topology::{node_addr, Bandwidth, Latency, Links};

/// Learned addresses a randomly wired node remembers, per outbound peer.
const SIM_LEARNED_ADDRESSES_PER_PEER: usize = 8;
/// The simulated clock starts this long after the genesis block's time, so the first blocks
/// are not from before it.
const CLOCK_START_AFTER_GENESIS_SECS: u64 = 3_600;

/// How a test simulation is set up: a full mesh over uniform latency, no bandwidth limit.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// How many nodes.
    pub nodes: usize,
    /// The seed every random choice comes from.
    pub seed: u64,
    /// One-way message delay, drawn uniformly per message from this range.
    pub latency_ms: (u64, u64),
    /// Probability that a message is lost.
    pub loss: f64,
}

/// Who connects to whom.
#[derive(Clone, Debug)]
pub enum Wiring {
    /// Each node keeps connected to every node before it (`connect`).
    FullMesh,
    /// Each node knows a random sample of the others and dials `outbound` of them, as an
    /// address manager's picks would; at most `max_inbound` peers dial it.
    Random {
        /// Outbound connections per node.
        outbound: usize,
        /// Inbound connections a node accepts.
        max_inbound: usize,
    },
}

/// Everything a simulation is built from.
#[derive(Clone, Debug)]
pub struct SimSetup {
    /// How many nodes.
    pub nodes: usize,
    /// The seed every random choice comes from.
    pub seed: u64,
    /// The consensus parameters every node runs.
    pub params: Params,
    /// Latency and bandwidth of the links.
    pub latency: Latency,
    /// Bandwidth of the links.
    pub bandwidth: Bandwidth,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Who connects to whom.
    pub wiring: Wiring,
    /// How often nodes ping their peers and ask them for headers.
    pub timers: Timers,
    /// Whether nodes keep event logs (the stories of their reorgs): a run that writes them out
    /// does; one that only measures saves the work.
    pub event_logs: bool,
    /// Mined blocks are padded to this size, bytes (their coinbase carries the padding).
    pub block_bytes: Option<usize>,
    /// A selfish pool publishing through node `gateway`, which dials `reach` more nodes than
    /// the others do.
    pub pool: Option<PoolSetup>,
    /// Threads the shards run in (one runs them in turns); the outcome is the same for any.
    pub threads: usize,
}

/// Where a selfish pool publishes.
#[derive(Clone, Copy, Debug)]
pub struct PoolSetup {
    /// The node that publishes the pool's blocks.
    pub gateway: usize,
    /// Outbound connections it makes besides the usual ones.
    pub reach: usize,
}

/// One simulated node.
pub struct SimNode {
    /// The node's chain, mempool and events.
    pub host: SimHost,
    /// The node's protocol.
    pub protocol: Protocol,
    /// The node's wallet.
    pub wallet: Wallet,
    /// The address it listens on.
    pub addr: SocketAddr,
    payout: Address,
    /// When the node is next woken; `u64::MAX` when it asked for nothing.
    wake_at_us: u64,
    /// Its ends of its connections and its random generator.
    net: NodeNet,
}

/// The simulation.
pub struct Sim {
    /// The seed this run came from (printed when a test fails).
    pub seed: u64,
    now_us: u64,
    /// Choices made from outside the nodes: who mines, extra nonces, random picks for tests.
    rng: StdRng,
    shards: Vec<Shard>,
    wires: Wires,
    params: Params,
    /// Every block mined in the simulation, hashed once and shared by every node that gets it,
    /// keyed by its allocation (the `Arc` every message and chain holds).
    hashed: HashMap<usize, HashedBlock>,
    records: Records,
    block_bytes: Option<usize>,
    threads: usize,
}

/// The parameters simulated nodes run: regtest with coinbase maturity 1, so coins are
/// spendable one block after they are mined.
pub fn sim_params() -> Params {
    Params {
        coinbase_maturity: 1,
        ..Params::regtest()
    }
}

impl Sim {
    /// `config.nodes` nodes, each told to keep connected to every node before it (a full mesh).
    pub fn new(config: &SimConfig) -> Sim {
        Sim::with_params(config, sim_params())
    }

    /// As `new`, on a network of other consensus parameters (a retargeting one, say).
    pub fn with_params(config: &SimConfig, params: Params) -> Sim {
        Sim::build(&SimSetup {
            nodes: config.nodes,
            seed: config.seed,
            params,
            latency: Latency::Uniform(config.latency_ms.0.max(1), config.latency_ms.1),
            bandwidth: Bandwidth::Unlimited,
            loss: config.loss,
            wiring: Wiring::FullMesh,
            timers: Timers::default(),
            event_logs: true,
            block_bytes: None,
            pool: None,
            threads: 1,
        })
    }

    /// A simulation as `setup` says. Nodes start within the first second, each at its own time.
    pub fn build(setup: &SimSetup) -> Sim {
        let mut rng = StdRng::seed_from_u64(setup.seed);
        let regions = topology::assign_regions(setup.nodes, &mut rng);
        let links = Links {
            latency: setup.latency,
            bandwidth: setup.bandwidth,
            regions,
        };
        let wires = Wires::new(links, setup.loss, setup.nodes);
        let shard_count = wires.shards();
        let mut shards: Vec<Shard> = (0..shard_count)
            .map(|index| Shard::new(index, shard_count))
            .collect();
        let max_learned_addresses = match setup.wiring {
            Wiring::FullMesh => MAX_LEARNED_ADDRESSES,
            // Enough to replace every outbound peer a few times over; thousands of nodes each
            // remembering a thousand addresses would be most of a run's memory.
            Wiring::Random { outbound, .. } => SIM_LEARNED_ADDRESSES_PER_PEER * outbound,
        };
        for index in 0..setup.nodes {
            let mut wallet = Wallet::from_seed(rng.random());
            let payout = wallet.new_address();
            let (connect, known, max_outbound, max_inbound) = match setup.wiring {
                Wiring::FullMesh => ((0..index).map(node_addr).collect(), Vec::new(), 8, 16),
                Wiring::Random {
                    outbound,
                    max_inbound,
                } => {
                    let reach = setup
                        .pool
                        .filter(|pool| pool.gateway == index)
                        .map_or(0, |pool| pool.reach);
                    let known = known_sample(index, setup.nodes, 4 * outbound + reach, &mut rng);
                    (Vec::new(), known, outbound + reach, max_inbound)
                }
            };
            let protocol = Protocol::new(
                ProtocolConfig {
                    nonce: rng.random(),
                    user_agent: format!("sim-{index}"),
                    listen_port: node_addr(index).port(),
                    max_inbound,
                    max_outbound,
                    connect,
                    // The pool's gateway knows more nodes than the others remember.
                    max_learned_addresses: max_learned_addresses.max(known.len()),
                    known,
                    timers: setup.timers,
                },
                setup.params.network_id(),
                0,
            );
            let mut net = NodeNet::new(index, SmallRng::seed_from_u64(rng.random()));
            let start_us = rng.random_range(0..1_000_000);
            let shard = &mut shards[wires.home(index).shard];
            shard
                .queue
                .push(net.schedule(start_us, Due::Wake { node: index }));
            shard.nodes.push(SimNode {
                host: SimHost::new(setup.params.clone(), setup.event_logs),
                protocol,
                wallet,
                addr: node_addr(index),
                payout,
                wake_at_us: start_us,
                net,
            });
        }
        if let Some(pool) = setup.pool {
            shards[wires.home(pool.gateway).shard].pool = Some(selfish::Pool::new(
                pool.gateway,
                setup.params.genesis_hash(),
                setup.params.genesis.header.time,
            ));
        }
        Sim {
            seed: setup.seed,
            now_us: 0,
            rng,
            shards,
            wires,
            params: setup.params.clone(),
            hashed: HashMap::default(),
            records: Records::default(),
            block_bytes: setup.block_bytes,
            threads: setup.threads.max(1),
        }
    }

    /// Simulated milliseconds since the start.
    pub fn now_ms(&self) -> u64 {
        self.now_us / 1_000
    }

    /// Simulated microseconds since the start.
    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    /// Node `index`.
    pub fn node(&self, index: usize) -> &SimNode {
        let home = self.wires.home(index);
        &self.shards[home.shard].nodes[home.slot]
    }

    /// How many nodes.
    pub fn node_count(&self) -> usize {
        self.wires.nodes()
    }

    /// Every node, in the order of their indexes.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = &SimNode> {
        (0..self.node_count()).map(|index| self.node(index))
    }

    /// Node `index`'s region, an index into `topology::REGIONS`.
    pub fn region(&self, index: usize) -> u8 {
        self.wires.region(index)
    }

    /// What the simulator saw of every block mined.
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// Inputs handed to nodes so far (messages, connections, wake-ups, mined blocks).
    pub fn inputs(&self) -> u64 {
        self.shards.iter().map(|shard| shard.inputs).sum()
    }

    /// The consensus parameters the nodes run.
    pub fn params(&self) -> &Params {
        &self.params
    }

    fn clock_start_ms(&self) -> u64 {
        (u64::from(self.params.genesis.header.time) + CLOCK_START_AFTER_GENESIS_SECS) * 1_000
    }

    /// The simulated wall clock in Unix milliseconds: blocks are stamped and judged by it, and
    /// events are stamped with it.
    pub fn clock_ms(&self) -> u64 {
        self.clock_start_ms() + self.now_ms()
    }

    fn clock_secs(&self) -> u32 {
        u32::try_from(self.clock_ms() / 1_000).unwrap_or(u32::MAX)
    }

    /// Runs `act` on node `index`'s shard at the present time, then delivers what it sent to
    /// other shards and records what it noted.
    fn in_shard<T>(&mut self, index: usize, act: impl FnOnce(&mut Shard, &Shared<'_>) -> T) -> T {
        let shared = Shared {
            wires: &self.wires,
            hashed: &self.hashed,
            clock_start_ms: self.clock_start_ms(),
        };
        let shard = &mut self.shards[self.wires.home(index).shard];
        shard.now_us = self.now_us;
        let result = act(shard, &shared);
        self.settle();
        result
    }

    /// Hands node `index` an input at the present time and carries out what it does.
    fn input(&mut self, index: usize, input: Input<'_>) {
        self.in_shard(index, |shard, shared| shard.input(shared, index, input));
    }

    /// Delivers what shards sent each other, records what they noted (in the order of the items
    /// that led to it, as one thread handling every item in turn would, whichever shard noted it
    /// first) and agrees on the time.
    fn settle(&mut self) {
        windows::deliver_outboxes(&mut self.shards);
        let mut notes: Vec<((u64, u64), usize, Note)> = Vec::new();
        for shard in &mut self.shards {
            notes.append(&mut shard.notes);
            self.now_us = self.now_us.max(shard.now_us);
        }
        // Stable, so what one item led to keeps its order.
        notes.sort_by_key(|(key, _, _)| *key);
        for ((at_us, _), node, note) in notes {
            self.records.note(node, at_us, note);
        }
        for shard in &mut self.shards {
            shard.now_us = self.now_us;
        }
    }

    /// What happened at node `index`, oldest first: blocks connected and disconnected, reorgs
    /// with their stories, blocks mined, peers coming and going. Stamped with the simulated
    /// clock (Unix milliseconds).
    pub fn events(&self, index: usize) -> Vec<&Event> {
        self.node(index).host.events.since(0, usize::MAX)
    }

    /// Runs until `condition` holds or `limit_ms` of simulated time pass; whether it held.
    pub fn run_until(&mut self, limit_ms: u64, mut condition: impl FnMut(&Sim) -> bool) -> bool {
        let deadline_us = self.now_us + limit_ms * 1_000;
        loop {
            if condition(self) {
                return true;
            }
            if !self.step(deadline_us) {
                self.set_now_us(deadline_us);
                return condition(self);
            }
        }
    }

    /// Runs for `duration_ms` of simulated time.
    pub fn run_for(&mut self, duration_ms: u64) {
        self.run_to_us(self.now_us + duration_ms * 1_000);
    }

    /// Handles everything due up to `at_us`, then sets the clock there.
    pub fn run_to_us(&mut self, at_us: u64) {
        self.run_to_us_or_inputs(at_us, u64::MAX);
    }

    /// Handles what is due up to `at_us`, stopping once about `max_inputs` items were handled;
    /// the clock is set to `at_us` only if everything due by then was handled.
    pub fn run_to_us_or_inputs(&mut self, at_us: u64, max_inputs: u64) {
        let until_inputs = self.inputs().saturating_add(max_inputs);
        let shared = Shared {
            wires: &self.wires,
            hashed: &self.hashed,
            clock_start_ms: self.clock_start_ms(),
        };
        windows::run(&mut self.shards, &shared, at_us, until_inputs, self.threads);
        self.settle();
        let pending = self.shards.iter_mut().filter_map(Shard::next_time_us).min();
        if pending.is_none_or(|next_us| next_us > at_us) {
            self.set_now_us(at_us);
        }
    }

    fn set_now_us(&mut self, at_us: u64) {
        self.now_us = self.now_us.max(at_us);
        for shard in &mut self.shards {
            shard.now_us = self.now_us;
        }
    }

    /// Handles the next item due, if it is due by `deadline_us`; whether there was one.
    fn step(&mut self, deadline_us: u64) -> bool {
        let shared = Shared {
            wires: &self.wires,
            hashed: &self.hashed,
            clock_start_ms: self.clock_start_ms(),
        };
        let stepped = windows::step(&mut self.shards, &shared, deadline_us);
        self.settle();
        stepped
    }

    /// Whether every node has the same tip.
    pub fn converged(&self) -> bool {
        let first = self.node(0).host.chain.tip().hash;
        self.nodes().all(|node| node.host.chain.tip().hash == first)
    }

    /// The tip with the most chainwork any node knows of (first seen by node 0's order on ties).
    pub fn most_work_tip(&self) -> Hash256 {
        let mut best: Option<(primitive_types::U256, Hash256)> = None;
        for node in self.nodes() {
            let tip = node.host.chain.tip();
            if best.is_none_or(|(work, _)| tip.chainwork > work) {
                best = Some((tip.chainwork, tip.hash));
            }
        }
        best.map_or(Hash256::ZERO, |(_, hash)| hash)
    }

    /// A random node index, from the seeded generator.
    pub fn random_node(&mut self) -> usize {
        self.rng.random_range(0..self.node_count())
    }

    /// The seeded generator, for choices a run makes (who mines next, and when).
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// The block mined by `hash` at any node, if one has it.
    pub fn block(&self, hash: &Hash256) -> Option<Block> {
        self.nodes()
            .find_map(|node| node.host.chain.block(hash))
            .map(|block| Block::clone(&block))
    }
}

/// `count` distinct random nodes other than `index`, out of `nodes`, as addresses.
fn known_sample(index: usize, nodes: usize, count: usize, rng: &mut StdRng) -> Vec<SocketAddr> {
    let others = nodes.saturating_sub(1);
    sample(rng, others, count.min(others))
        .into_iter()
        .map(|pick| node_addr(if pick >= index { pick + 1 } else { pick }))
        .collect()
}
