//! One shard of the simulation: some of the nodes, the queue of what is due at them, what they
//! sent to other shards' nodes, and what the simulator should record of them. A shard changes
//! nothing outside itself, so shards run side by side (`windows`).
//!
//! Owns handing due items to its nodes' protocols and carrying out their outputs. Must not
//! reach another shard's nodes: what they are sent goes through the outboxes.

use super::network::{Due, Item, Post, Queue, Wires};
use super::record::Note;
use super::selfish::Pool;
use super::topology::node_of;
use super::SimNode;
use crate::protocol::{drive, DisconnectReason, Host, Input, PeerId, Received, ResumeWhen};
use crate::types::{Block, HashedBlock};
use crate::wire::{Message, FRAME_HEADER_BYTES};
use foldhash::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// What every shard reads and none changes while shards run.
pub(super) struct Shared<'a> {
    pub(super) wires: &'a Wires,
    /// Every block mined, hashed once, keyed by its allocation.
    pub(super) hashed: &'a HashMap<usize, HashedBlock>,
    /// The simulated wall clock at simulated time zero, Unix milliseconds.
    pub(super) clock_start_ms: u64,
}

/// Some of the nodes and everything due at them.
pub(super) struct Shard {
    pub(super) index: usize,
    /// The shard's nodes, in the order of their indexes.
    pub(super) nodes: Vec<SimNode>,
    pub(super) queue: Queue,
    /// Items for other shards' nodes, by the shard they go to.
    pub(super) outboxes: Vec<Vec<Item>>,
    /// What the simulator records: the (time, order) key of the item that led to it, at which
    /// node, what.
    pub(super) notes: Vec<((u64, u64), usize, Note)>,
    /// The key of the item being handled (zero for inputs from outside, which are recorded
    /// alone).
    handling: (u64, u64),
    /// Inputs handed to the shard's nodes so far.
    pub(super) inputs: u64,
    pub(super) now_us: u64,
    /// The selfish pool, in the shard of its gateway.
    pub(super) pool: Option<Pool>,
}

impl Shard {
    /// Shard `index` of `shards`, with no nodes yet.
    pub(super) fn new(index: usize, shards: usize) -> Shard {
        Shard {
            index,
            nodes: Vec::new(),
            queue: Queue::default(),
            outboxes: (0..shards).map(|_| Vec::new()).collect(),
            notes: Vec::new(),
            handling: (0, 0),
            inputs: 0,
            now_us: 0,
            pool: None,
        }
    }

    pub(super) fn node(&self, shared: &Shared<'_>, node: usize) -> &SimNode {
        &self.nodes[shared.wires.home(node).slot]
    }

    pub(super) fn node_mut(&mut self, shared: &Shared<'_>, node: usize) -> &mut SimNode {
        &mut self.nodes[shared.wires.home(node).slot]
    }

    pub(super) fn clock_ms(&self, shared: &Shared<'_>) -> u64 {
        shared.clock_start_ms + self.now_us / 1_000
    }

    /// When the next item is due.
    pub(super) fn next_time_us(&mut self) -> Option<u64> {
        self.queue.peek_key().map(|(at_us, _)| at_us)
    }

    /// Records what `node`'s host noted since last asked.
    pub(super) fn take_notes(&mut self, shared: &Shared<'_>, node: usize) {
        let notes = self.node_mut(shared, node).host.take_notes();
        let key = (self.now_us, self.handling.1);
        self.notes
            .extend(notes.into_iter().map(|note| (key, node, note)));
    }

    /// Hands `input` to node `node`'s protocol and carries out what it does.
    pub(super) fn input(&mut self, shared: &Shared<'_>, node: usize, input: Input<'_>) {
        self.inputs += 1;
        let now_ms = self.now_us / 1_000;
        let clock_ms = self.clock_ms(shared);
        let sim_node = &mut self.nodes[shared.wires.home(node).slot];
        sim_node.host.set_clock_ms(clock_ms);
        let mut links = SimLinks {
            net: &mut sim_node.net,
            post: Post {
                shard: self.index,
                queue: &mut self.queue,
                outboxes: &mut self.outboxes,
            },
            wires: shared.wires,
            hashed: shared.hashed,
            now_us: self.now_us,
        };
        drive(
            &mut sim_node.protocol,
            &mut sim_node.host,
            &mut links,
            now_ms,
            input,
            ResumeWhen::AtOnce,
        );
        let now_us = self.now_us;
        let notes = sim_node.host.take_notes();
        let key = (now_us, self.handling.1);
        self.notes
            .extend(notes.into_iter().map(|note| (key, node, note)));
        if let Some(wake_ms) = sim_node.protocol.next_wake_ms(now_ms) {
            let wake_us = (wake_ms * 1_000).max(now_us);
            if wake_us < sim_node.wake_at_us {
                sim_node.wake_at_us = wake_us;
                let scheduled = sim_node.net.schedule(wake_us, Due::Wake { node });
                self.queue.push(scheduled);
            }
        }
        if let Some(pool) = self.pool.as_mut().filter(|pool| pool.gateway == node) {
            pool.dirty = true;
        }
    }

    /// Handles the next item if it is due before `end_us`; whether there was one.
    pub(super) fn step(&mut self, shared: &Shared<'_>, end_us: u64) -> bool {
        if self.next_time_us().is_none_or(|at_us| at_us >= end_us) {
            return false;
        }
        let Some(item) = self.queue.pop() else {
            return false;
        };
        self.now_us = self.now_us.max(item.at_us);
        self.handling = item.key();
        self.deliver(shared, item.due);
        self.handling = (0, 0);
        if self.pool.as_ref().is_some_and(|pool| pool.dirty) {
            self.pool_react(shared);
        }
        true
    }

    fn deliver(&mut self, shared: &Shared<'_>, due: Due) {
        match due {
            Due::Connected {
                node,
                peer,
                addr,
                inbound,
            } => {
                let net = &mut self.node_mut(shared, node).net;
                if inbound {
                    net.accept(peer);
                } else if net.open_remote(peer).is_none() {
                    // A partition cut the connection while it was being made.
                    self.input(shared, node, Input::ConnectFailed { addr });
                    return;
                }
                self.input(
                    shared,
                    node,
                    Input::Connected {
                        peer,
                        addr,
                        inbound,
                    },
                );
            }
            Due::ConnectFailed { node, addr } => {
                self.input(shared, node, Input::ConnectFailed { addr });
            }
            Due::Message {
                node,
                peer,
                from,
                message,
            } => {
                // A message across a partition made while it was on its way is lost; one on a
                // connection this end closed reaches a protocol that no longer knows the peer,
                // and is ignored there.
                if !shared.wires.reachable(from, node) {
                    return;
                }
                let message = match message {
                    Message::Block(block) => Received::block(hashed_block(shared, &block)),
                    other => Received::from(other),
                };
                self.input(shared, node, Input::Received { peer, message });
            }
            Due::Disconnected { node, peer } => {
                if self.node_mut(shared, node).net.close(peer) {
                    self.input(shared, node, Input::Disconnected { peer });
                }
            }
            Due::Wake { node } => {
                let now_us = self.now_us;
                let sim_node = self.node_mut(shared, node);
                if sim_node.wake_at_us == now_us {
                    sim_node.wake_at_us = u64::MAX;
                    self.input(shared, node, Input::Tick);
                }
            }
        }
    }

    /// After an input to the gateway: the honest chain may have grown, and the pool answers.
    pub(super) fn pool_react(&mut self, shared: &Shared<'_>) {
        let Some(pool) = self.pool.as_mut() else {
            return;
        };
        pool.dirty = false;
        let gateway = &self.nodes[shared.wires.home(pool.gateway).slot].host.chain;
        if let Some(count) = pool.react(gateway.tip()) {
            self.publish(shared, count);
        }
    }

    /// Publishes the pool's first `count` unpublished blocks through its gateway: submitted to
    /// its chain and announced, as the network would have brought them.
    pub(super) fn publish(&mut self, shared: &Shared<'_>, count: usize) {
        let Some(pool) = self.pool.as_mut() else {
            return;
        };
        let gateway = pool.gateway;
        let blocks = pool.take_unpublished(count);
        let Some(last) = blocks.last().map(HashedBlock::hash) else {
            return;
        };
        let clock_ms = self.clock_ms(shared);
        let host = &mut self.node_mut(shared, gateway).host;
        host.set_clock_ms(clock_ms);
        for block in blocks {
            // The pool's own blocks, valid by construction; a refusal would show as the block
            // never reaching the others.
            let _ = host.submit_block(block);
        }
        self.take_notes(shared, gateway);
        self.input(shared, gateway, Input::AnnounceBlock(last));
        let public_height = self.node(shared, gateway).host.chain.tip().height;
        if let Some(pool) = self.pool.as_mut() {
            pool.published(public_height);
        }
    }
}

/// `block` hashed: once per simulation for a block mined here, shared by every node.
fn hashed_block(shared: &Shared<'_>, block: &Arc<Block>) -> HashedBlock {
    let key = Arc::as_ptr(block) as usize;
    shared
        .hashed
        .get(&key)
        .cloned()
        .unwrap_or_else(|| HashedBlock::new(Arc::clone(block)))
}

/// One node's view of the network while the driver carries out its protocol's outputs.
struct SimLinks<'a> {
    net: &'a mut super::network::NodeNet,
    post: Post<'a>,
    wires: &'a Wires,
    hashed: &'a HashMap<usize, HashedBlock>,
    now_us: u64,
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
        self.net.send(
            self.wires,
            &mut self.post,
            self.now_us,
            peer,
            message,
            bytes,
        );
        true
    }

    fn connect(&mut self, addr: SocketAddr) {
        let target = node_of(addr, self.wires.nodes());
        self.net
            .connect(self.wires, &mut self.post, self.now_us, target, addr);
    }

    fn disconnect(&mut self, peer: PeerId, _reason: &DisconnectReason) {
        self.net
            .disconnect(self.wires, &mut self.post, self.now_us, peer);
    }
}
