//! A deterministic many-node simulator over `protocol`: nodes with in-memory chains, mempools
//! and event logs (the same reorg stories a node tells, `Sim::events`), a seeded network with
//! per-link latency and loss, partitions, and a mining oracle that picks which node finds the
//! next block. Each node's protocol is driven by the same driver as a real node's.
//!
//! Owns simulated time and the simulated network. Everything random comes from the seed, so a
//! failing run is reproduced from the seed it prints. Must not touch sockets, files or the
//! real clock.

mod host;
mod network;

pub use host::SimHost;

use crate::events::Event;
use crate::miner::{assemble_block, solve_block, BlockSpec};
use crate::params::{Params, MAX_BLOCK_BYTES};
use crate::protocol::{drive, Host, Input, Protocol, ProtocolConfig, Received, ResumeWhen};
use crate::types::{Address, Amount, Block, Hash256, Transaction, Txid};
use crate::wallet::{Wallet, WalletError};
use network::{node_addr, Delivery, Network, SimLinks};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;

/// Simulated time between a node's ticks.
const TICK_MS: u64 = 1_000;
/// The simulated clock starts this long after the genesis block's time, so the first blocks
/// are not from before it.
const CLOCK_START_AFTER_GENESIS_SECS: u64 = 3_600;

/// How a simulation is set up.
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
}

/// The simulation.
pub struct Sim {
    /// The seed this run came from (printed when a test fails).
    pub seed: u64,
    now_ms: u64,
    rng: StdRng,
    nodes: Vec<SimNode>,
    network: Network,
    next_tick_ms: u64,
    params: Params,
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
        let mut rng = StdRng::seed_from_u64(config.seed);
        let nodes = (0..config.nodes)
            .map(|index| {
                let mut wallet = Wallet::from_seed(rng.random());
                let payout = wallet.new_address();
                let protocol = Protocol::new(
                    ProtocolConfig {
                        nonce: rng.random(),
                        user_agent: format!("sim-{index}"),
                        listen_port: node_addr(index).port(),
                        max_inbound: 16,
                        max_outbound: 8,
                        connect: (0..index).map(node_addr).collect(),
                    },
                    params.network_id(),
                    0,
                );
                SimNode {
                    host: SimHost::new(params.clone()),
                    protocol,
                    wallet,
                    addr: node_addr(index),
                    payout,
                }
            })
            .collect();
        Sim {
            seed: config.seed,
            now_ms: 0,
            network: Network::new(config.nodes, config.latency_ms, config.loss),
            rng,
            nodes,
            next_tick_ms: 0,
            params,
        }
    }

    /// Simulated milliseconds since the start.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Node `index`.
    pub fn node(&self, index: usize) -> &SimNode {
        &self.nodes[index]
    }

    /// Every node.
    pub fn nodes(&self) -> &[SimNode] {
        &self.nodes
    }

    /// Splits the network: nodes in different groups cannot reach each other, and their
    /// connections drop. Nodes in no group are isolated.
    pub fn partition(&mut self, groups: &[&[usize]]) {
        let cut = self.network.partition(groups);
        self.deliver_cuts(cut);
    }

    /// Cuts one node off from every other.
    pub fn isolate(&mut self, node: usize) {
        let others: Vec<usize> = (0..self.nodes.len()).filter(|i| *i != node).collect();
        self.partition(&[&[node], &others]);
    }

    /// Lets every node reach every other again; they reconnect by themselves.
    pub fn heal(&mut self) {
        self.network.heal();
    }

    fn deliver_cuts(&mut self, cut: Vec<(usize, crate::protocol::PeerId)>) {
        for (node, peer) in cut {
            self.input(node, Input::Disconnected { peer });
        }
    }

    /// Node `index` finds the next block on its tip, with its mempool's transactions.
    pub fn mine(&mut self, index: usize) -> Hash256 {
        let node = &self.nodes[index];
        let chain = &node.host.chain;
        let next = chain.next_block();
        let selected = node.host.mempool.select_for_block(MAX_BLOCK_BYTES / 2);
        let fees = selected.iter().fold(Amount::ZERO, |sum, (_, fee)| {
            sum.checked_add(*fee).unwrap_or(sum)
        });
        let subsidy = self.params.subsidy(next.height);
        let spec = BlockSpec {
            prev_hash: next.prev_hash,
            height: next.height,
            bits: next.bits,
            time: next.min_time.max(self.clock_secs()),
            payout: node.payout,
            coinbase_value: subsidy.checked_add(fees).unwrap_or(subsidy),
            extra_nonce: self.rng.random(),
        };
        let mut block = assemble_block(&spec, selected.into_iter().map(|(tx, _)| tx).collect());
        // Regtest's target is met by about every other hash: the oracle decides who finds a
        // block, the hashing is only to make it a real one.
        solve_block(&mut block, &AtomicBool::new(false));
        let hash = block.hash();
        let clock_ms = self.clock_ms();
        let host = &mut self.nodes[index].host;
        host.set_clock_ms(clock_ms);
        if host.submit_mined(block) {
            self.input(index, Input::NewLocalBlock);
        }
        hash
    }

    /// A payment from node `from`'s wallet, admitted to its mempool and announced.
    pub fn pay(&mut self, from: usize, to: Address, amount: Amount) -> Result<Txid, WalletError> {
        let tx = self.build_payment(from, to, amount)?;
        Ok(self.submit_transaction(from, tx))
    }

    /// A signed payment from node `from`'s wallet, not yet sent anywhere.
    pub fn build_payment(
        &mut self,
        from: usize,
        to: Address,
        amount: Amount,
    ) -> Result<Transaction, WalletError> {
        let node = &mut self.nodes[from];
        let next_height = node.host.chain.height() + 1;
        let spendable = node.wallet.spendable_coins(
            node.host.chain.utxos().iter(),
            next_height,
            &self.params,
            |outpoint| node.host.mempool.spender_of(outpoint).is_some(),
        );
        Ok(node.wallet.create_payment(to, amount, 1, &spendable)?.tx)
    }

    /// Gives node `index` a transaction as if it came from its RPC; returns its txid.
    pub fn submit_transaction(&mut self, index: usize, tx: Transaction) -> Txid {
        let txid = tx.txid();
        if self.nodes[index].host.submit_transaction(tx).is_ok() {
            self.input(index, Input::AnnounceTx(txid));
        }
        txid
    }

    /// Where node `index` mines to.
    pub fn payout(&self, index: usize) -> Address {
        self.nodes[index].payout
    }

    /// The simulated wall clock in Unix milliseconds: blocks are stamped and judged by it, and
    /// events are stamped with it.
    fn clock_ms(&self) -> u64 {
        let start_secs =
            u64::from(self.params.genesis.header.time) + CLOCK_START_AFTER_GENESIS_SECS;
        start_secs * 1_000 + self.now_ms
    }

    fn clock_secs(&self) -> u32 {
        u32::try_from(self.clock_ms() / 1_000).unwrap_or(u32::MAX)
    }

    /// Feeds one input to a node and carries out what its protocol asks for, resuming it at
    /// once whenever it pauses.
    fn input(&mut self, index: usize, input: Input<'_>) {
        let clock_ms = self.clock_ms();
        let node = &mut self.nodes[index];
        node.host.set_clock_ms(clock_ms);
        let mut links = SimLinks {
            network: &mut self.network,
            rng: &mut self.rng,
            now_ms: self.now_ms,
            node: index,
        };
        drive(
            &mut node.protocol,
            &mut node.host,
            &mut links,
            self.now_ms,
            input,
            ResumeWhen::AtOnce,
        );
    }

    /// What happened at node `index`, oldest first: blocks connected and disconnected, reorgs
    /// with their stories, blocks mined, peers coming and going. Stamped with the simulated
    /// clock (Unix milliseconds).
    pub fn events(&self, index: usize) -> Vec<&Event> {
        self.nodes[index].host.events.since(0, usize::MAX)
    }

    /// Runs until `condition` holds or `limit_ms` of simulated time pass; whether it held.
    pub fn run_until(&mut self, limit_ms: u64, mut condition: impl FnMut(&Sim) -> bool) -> bool {
        let deadline = self.now_ms + limit_ms;
        loop {
            if condition(self) {
                return true;
            }
            let next_delivery = self.network.next_time();
            let next = next_delivery.map_or(self.next_tick_ms, |at| at.min(self.next_tick_ms));
            if next > deadline {
                self.now_ms = deadline;
                return condition(self);
            }
            self.now_ms = self.now_ms.max(next);
            if next_delivery == Some(next) {
                if let Some(delivery) = self.network.pop() {
                    self.deliver(delivery);
                }
            } else {
                self.next_tick_ms = self.now_ms + TICK_MS;
                for index in 0..self.nodes.len() {
                    self.input(index, Input::Tick);
                }
            }
        }
    }

    /// Runs for `duration_ms` of simulated time.
    pub fn run_for(&mut self, duration_ms: u64) {
        self.run_until(duration_ms, |_| false);
    }

    fn deliver(&mut self, delivery: Delivery) {
        match delivery {
            Delivery::Connected {
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
            Delivery::ConnectFailed { node, addr } => {
                self.input(node, Input::ConnectFailed { addr })
            }
            Delivery::Message {
                node,
                peer,
                message,
            } => self.input(
                node,
                Input::Received {
                    peer,
                    message: Received::from(message),
                },
            ),
            Delivery::Disconnected { node, peer } => self.input(node, Input::Disconnected { peer }),
        }
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

    /// The block mined by `hash` at any node, if one has it.
    pub fn block(&self, hash: &Hash256) -> Option<Block> {
        self.nodes
            .iter()
            .find_map(|node| node.host.chain.block(hash))
            .map(|block| Block::clone(&block))
    }
}
