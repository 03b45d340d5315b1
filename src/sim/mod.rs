//! A deterministic many-node simulator over `protocol`: every node runs the real `Protocol` and
//! the real `Chain` (validation, most-work selection, reorgs) with its mempool and event log
//! (the same reorg stories a node tells, `Sim::events`), over a seeded network with per-message
//! latency, bandwidth, loss and partitions. One queue holds everything due, nodes included: a
//! node is woken only when its protocol has something to do (`Protocol::next_wake_ms`), so the
//! cost follows the messages, not the number of nodes times the simulated time.
//!
//! Owns simulated time and the simulated network. Everything random comes from the seed, so a
//! failing run is reproduced from the seed it prints. Must not touch sockets, files or the real
//! clock, with two exceptions at the edge: `run` reads the wall clock only for its progress line
//! and the `wall_*` figures, and `cli` writes what `--out` asks for. `run` adds the mining process
//! and the measurements of `nakachain sim`.
//!
//! - `topology`: addresses, regions, latency and bandwidth
//! - `network`: connections and the queue of what is due
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
pub mod cli;
mod host;
mod network;
mod plot;
mod record;
mod replay;
pub mod report;
pub mod run;
pub mod selfish;
pub mod topology;

pub use host::SimHost;
pub use record::{BlockRecord, Note, Records, ReorgRecord};

use crate::events::Event;
use crate::params::Params;
use crate::protocol::{
    drive, DisconnectReason, Input, PeerId, Protocol, ProtocolConfig, Received, ResumeWhen, Timers,
    MAX_LEARNED_ADDRESSES,
};
use crate::types::{Address, Block, Hash256, HashedBlock};
use crate::wallet::Wallet;
use crate::wire::{Message, FRAME_HEADER_BYTES};
use foldhash::HashMap;
use network::{Due, Network};
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::sync::Arc;
use topology::{node_addr, node_of, Bandwidth, Latency, Links};

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
}

/// The simulation.
pub struct Sim {
    /// The seed this run came from (printed when a test fails).
    pub seed: u64,
    now_us: u64,
    rng: StdRng,
    nodes: Vec<SimNode>,
    network: Network,
    params: Params,
    /// Every block mined in the simulation, hashed once and shared by every node that gets it,
    /// keyed by its allocation (the `Arc` every message and chain holds).
    hashed: HashMap<usize, HashedBlock>,
    records: Records,
    /// Inputs handed to nodes so far.
    inputs: u64,
    block_bytes: Option<usize>,
    pool: Option<selfish::Pool>,
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
        })
    }

    /// A simulation as `setup` says. Nodes start within the first second, each at its own time.
    pub fn build(setup: &SimSetup) -> Sim {
        let mut rng = StdRng::seed_from_u64(setup.seed);
        let regions = topology::assign_regions(setup.nodes, &mut rng);
        let mut nodes = Vec::with_capacity(setup.nodes);
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
            nodes.push(SimNode {
                host: SimHost::new(setup.params.clone(), setup.event_logs),
                protocol,
                wallet,
                addr: node_addr(index),
                payout,
                wake_at_us: u64::MAX,
            });
        }
        let links = Links {
            latency: setup.latency,
            bandwidth: setup.bandwidth,
            regions,
        };
        let mut network = Network::new(setup.nodes, links, setup.loss);
        for (index, node) in nodes.iter_mut().enumerate() {
            let start_us = rng.random_range(0..1_000_000);
            node.wake_at_us = start_us;
            network.push(start_us, Due::Wake { node: index });
        }
        Sim {
            seed: setup.seed,
            now_us: 0,
            network,
            rng,
            nodes,
            params: setup.params.clone(),
            hashed: HashMap::default(),
            records: Records::default(),
            inputs: 0,
            block_bytes: setup.block_bytes,
            pool: setup.pool.map(|pool| {
                selfish::Pool::new(
                    pool.gateway,
                    setup.params.genesis_hash(),
                    setup.params.genesis.header.time,
                )
            }),
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
        &self.nodes[index]
    }

    /// Every node.
    pub fn nodes(&self) -> &[SimNode] {
        &self.nodes
    }

    /// Node `index`'s region, an index into `topology::REGIONS`.
    pub fn region(&self, index: usize) -> u8 {
        self.network.region(index)
    }

    /// What the simulator saw of every block mined.
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// Inputs handed to nodes so far (messages, connections, wake-ups, mined blocks).
    pub fn inputs(&self) -> u64 {
        self.inputs
    }

    /// Items waiting in the network's queue.
    pub fn queued(&self) -> usize {
        self.network.queued()
    }

    /// The consensus parameters the nodes run.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The simulated wall clock in Unix milliseconds: blocks are stamped and judged by it, and
    /// events are stamped with it.
    pub fn clock_ms(&self) -> u64 {
        let start_secs =
            u64::from(self.params.genesis.header.time) + CLOCK_START_AFTER_GENESIS_SECS;
        start_secs * 1_000 + self.now_ms()
    }

    fn clock_secs(&self) -> u32 {
        u32::try_from(self.clock_ms() / 1_000).unwrap_or(u32::MAX)
    }

    /// Feeds one input to a node and carries out what its protocol asks for, resuming it at
    /// once whenever it pauses; then notes what its host saw and when it wants waking.
    fn input(&mut self, index: usize, input: Input<'_>) {
        self.inputs += 1;
        let clock_ms = self.clock_ms();
        let now_ms = self.now_ms();
        let node = &mut self.nodes[index];
        node.host.set_clock_ms(clock_ms);
        let mut links = SimLinks {
            network: &mut self.network,
            rng: &mut self.rng,
            now_us: self.now_us,
            node: index,
            hashed: &self.hashed,
        };
        drive(
            &mut node.protocol,
            &mut node.host,
            &mut links,
            now_ms,
            input,
            ResumeWhen::AtOnce,
        );
        for note in node.host.take_notes() {
            self.records.note(index, self.now_us, note);
        }
        if let Some(pool) = self.pool.as_mut().filter(|pool| pool.gateway == index) {
            pool.dirty = true;
        }
        if let Some(wake_ms) = node.protocol.next_wake_ms(now_ms) {
            let wake_us = (wake_ms * 1_000).max(self.now_us);
            if wake_us < node.wake_at_us {
                node.wake_at_us = wake_us;
                self.network.push(wake_us, Due::Wake { node: index });
            }
        }
    }

    /// What happened at node `index`, oldest first: blocks connected and disconnected, reorgs
    /// with their stories, blocks mined, peers coming and going. Stamped with the simulated
    /// clock (Unix milliseconds).
    pub fn events(&self, index: usize) -> Vec<&Event> {
        self.nodes[index].host.events.since(0, usize::MAX)
    }

    /// Runs until `condition` holds or `limit_ms` of simulated time pass; whether it held.
    pub fn run_until(&mut self, limit_ms: u64, mut condition: impl FnMut(&Sim) -> bool) -> bool {
        let deadline_us = self.now_us + limit_ms * 1_000;
        loop {
            if condition(self) {
                return true;
            }
            if !self.step(deadline_us) {
                self.now_us = deadline_us;
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
        while self.step(at_us) {}
        self.now_us = self.now_us.max(at_us);
    }

    /// Handles what is due up to `at_us`, but at most `max_inputs` items; the clock is set to
    /// `at_us` only if everything due by then was handled.
    pub fn run_to_us_or_inputs(&mut self, at_us: u64, max_inputs: u64) {
        for _ in 0..max_inputs {
            if !self.step(at_us) {
                self.now_us = self.now_us.max(at_us);
                return;
            }
        }
    }

    /// Handles the next item due, if it is due by `deadline_us`; whether there was one.
    fn step(&mut self, deadline_us: u64) -> bool {
        if self
            .network
            .next_time_us()
            .is_none_or(|at_us| at_us > deadline_us)
        {
            return false;
        }
        let Some((at_us, due)) = self.network.pop() else {
            return false;
        };
        self.now_us = self.now_us.max(at_us);
        self.deliver(due);
        if self.pool.as_ref().is_some_and(|pool| pool.dirty) {
            self.pool_react();
        }
        true
    }

    fn deliver(&mut self, due: Due) {
        match due {
            Due::Connected {
                node,
                peer,
                addr,
                inbound,
            } => self.input(
                node,
                Input::Connected {
                    peer,
                    addr,
                    inbound,
                },
            ),
            Due::ConnectFailed { node, addr } => self.input(node, Input::ConnectFailed { addr }),
            Due::Message {
                node,
                peer,
                message,
            } => {
                let message = match message {
                    Message::Block(block) => Received::block(self.hashed_block(&block)),
                    other => Received::from(other),
                };
                self.input(node, Input::Received { peer, message });
            }
            Due::Disconnected { node, peer } => self.input(node, Input::Disconnected { peer }),
            Due::Wake { node } => {
                if self.nodes[node].wake_at_us == self.now_us {
                    self.nodes[node].wake_at_us = u64::MAX;
                    self.input(node, Input::Tick);
                }
            }
        }
    }

    /// `block` hashed: once per simulation for a block mined here, shared by every node.
    fn hashed_block(&mut self, block: &Arc<Block>) -> HashedBlock {
        let key = Arc::as_ptr(block) as usize;
        self.hashed
            .entry(key)
            .or_insert_with(|| HashedBlock::new(Arc::clone(block)))
            .clone()
    }

    /// Whether every node has the same tip.
    pub fn converged(&self) -> bool {
        let first = self.nodes[0].host.chain.tip().hash;
        self.nodes
            .iter()
            .all(|node| node.host.chain.tip().hash == first)
    }

    /// The tip with the most chainwork any node knows of (first seen by node 0's order on ties).
    pub fn most_work_tip(&self) -> Hash256 {
        let mut best: Option<(primitive_types::U256, Hash256)> = None;
        for node in &self.nodes {
            let tip = node.host.chain.tip();
            if best.is_none_or(|(work, _)| tip.chainwork > work) {
                best = Some((tip.chainwork, tip.hash));
            }
        }
        best.map_or(Hash256::ZERO, |(_, hash)| hash)
    }

    /// A random node index, from the seeded generator.
    pub fn random_node(&mut self) -> usize {
        self.rng.random_range(0..self.nodes.len())
    }

    /// The seeded generator, for choices a run makes (who mines next, and when).
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// The block mined by `hash` at any node, if one has it.
    pub fn block(&self, hash: &Hash256) -> Option<Block> {
        self.nodes
            .iter()
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

/// One node's view of the network while the driver carries out its protocol's outputs.
struct SimLinks<'a> {
    network: &'a mut Network,
    rng: &'a mut StdRng,
    now_us: u64,
    /// The node whose outputs these are.
    node: usize,
    hashed: &'a HashMap<usize, HashedBlock>,
}

impl crate::protocol::Links for SimLinks<'_> {
    fn send(&mut self, peer: PeerId, message: Message) -> bool {
        let bytes = match &message {
            Message::Block(block) => self
                .hashed
                .get(&(Arc::as_ptr(block) as usize))
                .map_or_else(|| block.encoded_len(), HashedBlock::encoded_len),
            other => crate::codec::encoded_len(other),
        } + FRAME_HEADER_BYTES;
        self.network
            .send(self.rng, self.now_us, peer, message, bytes);
        true
    }

    fn connect(&mut self, addr: SocketAddr) {
        let nodes = self.network.nodes();
        let target = node_of(addr, nodes);
        self.network
            .connect(self.rng, self.now_us, self.node, target, addr);
    }

    fn disconnect(&mut self, peer: PeerId, _reason: &DisconnectReason) {
        self.network.disconnect(self.rng, self.now_us, peer);
    }
}
