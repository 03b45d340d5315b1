//! The simulated network: connections between nodes, and one queue of everything due (messages
//! in flight, dials answered, connections closed, nodes' timers), ordered by time. A message
//! arrives after its latency plus its size over the link's bandwidth; each direction of a
//! connection carries one message at a time, in order, as TCP does. Partitions cut connections
//! and refuse dials across the cut.
//!
//! Owns connections and the queue. Must not touch a node's state: it hands `Due` items to the
//! simulator, which feeds them to the node.

use super::topology::{node_addr, Links};
use crate::protocol::PeerId;
use crate::wire::Message;
use rand::rngs::StdRng;
use rand::Rng;
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};
use std::net::SocketAddr;

/// Something due at a node at a given time.
#[derive(Debug)]
pub(super) enum Due {
    Connected {
        node: usize,
        peer: PeerId,
        addr: SocketAddr,
        inbound: bool,
    },
    ConnectFailed {
        node: usize,
        addr: SocketAddr,
    },
    Message {
        node: usize,
        peer: PeerId,
        message: Message,
    },
    Disconnected {
        node: usize,
        peer: PeerId,
    },
    /// The node's protocol asked to be woken (`Protocol::next_wake_ms`).
    Wake {
        node: usize,
    },
}

/// Items are kept in buckets of this many microseconds of simulated time: pushing one is an
/// append, and a bucket is sorted once when its turn comes. One binary heap of the hundreds of
/// thousands of messages a large network has in flight spent most of its time on cache misses.
const BUCKET_US: u64 = 1_000;

struct Scheduled {
    at_us: u64,
    seq: u64,
    due: Due,
}

impl Scheduled {
    fn key(&self) -> (u64, u64) {
        (self.at_us, self.seq)
    }
}

/// An item scheduled into the bucket already being taken from: kept in a small heap of its own.
struct Late(Scheduled);

impl PartialEq for Late {
    fn eq(&self, other: &Late) -> bool {
        self.0.key() == other.0.key()
    }
}

impl Eq for Late {}

impl PartialOrd for Late {
    fn partial_cmp(&self, other: &Late) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Late {
    /// Reversed, so the max-heap pops the earliest (and of equal times, the first scheduled).
    fn cmp(&self, other: &Late) -> Ordering {
        other.0.key().cmp(&self.0.key())
    }
}

/// Everything due, in (time, order of scheduling) order.
#[derive(Default)]
struct Calendar {
    /// Buckets after the current one, each unsorted.
    later: BTreeMap<u64, Vec<Scheduled>>,
    /// The bucket being taken from, sorted and reversed (the next item last).
    current: Vec<Scheduled>,
    /// Items scheduled into the current bucket while it is being taken from.
    late: BinaryHeap<Late>,
    current_bucket: u64,
    len: usize,
}

impl Calendar {
    fn push(&mut self, scheduled: Scheduled) {
        self.len += 1;
        let bucket = scheduled.at_us / BUCKET_US;
        if bucket < self.current_bucket {
            // A look ahead took a later bucket out (nothing was due before it then): put it
            // back, so the early item and its followers are not all pushed onto the late heap.
            let mut items = std::mem::take(&mut self.current);
            items.extend(self.late.drain().map(|Late(item)| item));
            if !items.is_empty() {
                self.later.insert(self.current_bucket, items);
            }
            self.current_bucket = bucket;
        }
        if bucket <= self.current_bucket && !(self.current.is_empty() && self.late.is_empty()) {
            self.late.push(Late(scheduled));
        } else {
            self.later.entry(bucket).or_default().push(scheduled);
        }
    }

    /// Makes the current bucket the earliest one with something in it.
    fn refill(&mut self) {
        if !self.current.is_empty() || !self.late.is_empty() {
            return;
        }
        if let Some((bucket, mut items)) = self.later.pop_first() {
            items.sort_unstable_by_key(|item| Reverse(item.key()));
            self.current = items;
            self.current_bucket = bucket;
        }
    }

    /// Whether the next item is the late heap's rather than the sorted bucket's.
    fn late_first(&self) -> bool {
        match (self.current.last(), self.late.peek()) {
            (Some(sorted), Some(Late(late))) => late.key() < sorted.key(),
            (None, Some(_)) => true,
            _ => false,
        }
    }

    fn peek_time_us(&mut self) -> Option<u64> {
        self.refill();
        if self.late_first() {
            self.late.peek().map(|Late(item)| item.at_us)
        } else {
            self.current.last().map(|item| item.at_us)
        }
    }

    fn pop(&mut self) -> Option<Scheduled> {
        self.refill();
        let item = if self.late_first() {
            self.late.pop().map(|Late(item)| item)
        } else {
            self.current.pop()
        }?;
        self.len -= 1;
        Some(item)
    }
}

/// One direction of a connection: from the node at this end to the other end.
struct End {
    node: usize,
    /// When the link finishes sending what is queued on it.
    busy_until_us: u64,
    /// When the last message sent arrives, so a later one never overtakes it.
    last_arrival_us: u64,
}

struct Connection {
    ends: [End; 2],
    open: bool,
}

/// A connection's ends have peer ids `2c + 1` and `2c + 2` for connection number `c`: unique
/// across the simulation (so within each node), and the connection is found by arithmetic.
fn connection_of(peer: PeerId) -> (usize, usize) {
    let index = usize::try_from(peer.saturating_sub(1)).unwrap_or(usize::MAX);
    (index / 2, index % 2)
}

fn peer_id(connection: usize, side: usize) -> PeerId {
    (connection as u64) * 2 + side as u64 + 1
}

pub(super) struct Network {
    links: Links,
    loss: f64,
    queue: Calendar,
    next_seq: u64,
    connections: Vec<Connection>,
    /// Each node's partition group; `None` when the network is whole.
    groups: Option<Vec<Option<usize>>>,
    nodes: usize,
}

impl Network {
    pub(super) fn new(nodes: usize, links: Links, loss: f64) -> Network {
        Network {
            links,
            loss,
            queue: Calendar::default(),
            next_seq: 0,
            connections: Vec::new(),
            groups: None,
            nodes,
        }
    }

    pub(super) fn nodes(&self) -> usize {
        self.nodes
    }

    pub(super) fn region(&self, node: usize) -> u8 {
        self.links.regions.get(node).copied().unwrap_or(0)
    }

    pub(super) fn push(&mut self, at_us: u64, due: Due) {
        self.queue.push(Scheduled {
            at_us,
            seq: self.next_seq,
            due,
        });
        self.next_seq += 1;
    }

    fn reachable(&self, a: usize, b: usize) -> bool {
        match &self.groups {
            None => true,
            Some(groups) => groups[a].is_some() && groups[a] == groups[b],
        }
    }

    fn open_end(&self, peer: PeerId) -> Option<(usize, usize)> {
        let (connection, side) = connection_of(peer);
        self.connections
            .get(connection)
            .filter(|connection| connection.open)
            .map(|_| (connection, side))
    }

    /// Sends `message` of `bytes` from `node`'s end `peer`, at `now_us`.
    pub(super) fn send(
        &mut self,
        rng: &mut StdRng,
        now_us: u64,
        peer: PeerId,
        message: Message,
        bytes: usize,
    ) {
        let Some((connection, side)) = self.open_end(peer) else {
            return;
        };
        if self.loss > 0.0 && rng.random_bool(self.loss.min(1.0)) {
            return;
        }
        let to = &self.connections[connection].ends[1 - side];
        let to_node = to.node;
        let from_node = self.connections[connection].ends[side].node;
        if !self.reachable(from_node, to_node) {
            return;
        }
        let latency_us = self.links.latency_us(from_node, to_node, rng);
        let transfer_us = self.links.transfer_us(from_node, to_node, bytes);
        let end = &mut self.connections[connection].ends[side];
        let sent_us = end.busy_until_us.max(now_us) + transfer_us;
        end.busy_until_us = sent_us;
        let arrival_us = (sent_us + latency_us).max(end.last_arrival_us);
        end.last_arrival_us = arrival_us;
        self.push(
            arrival_us,
            Due::Message {
                node: to_node,
                peer: peer_id(connection, 1 - side),
                message,
            },
        );
    }

    /// `node` dials `target` (the node at the dialed address, if any).
    pub(super) fn connect(
        &mut self,
        rng: &mut StdRng,
        now_us: u64,
        node: usize,
        target: Option<usize>,
        addr: SocketAddr,
    ) {
        let Some(target) = target.filter(|t| self.reachable(node, *t)) else {
            let at_us = now_us + self.links.latency_us(node, node, rng);
            self.push(at_us, Due::ConnectFailed { node, addr });
            return;
        };
        // The dialer hears of the connection a round trip later (SYN, SYN-ACK), the acceptor
        // half a round trip after that (ACK); each side's first message leaves then.
        let there_us = now_us + self.links.latency_us(node, target, rng);
        let back_us = there_us + self.links.latency_us(target, node, rng);
        let accepted_us = back_us + self.links.latency_us(node, target, rng);
        let connection = self.connections.len();
        // Nothing the dialer sends arrives before the acceptor knows of the connection.
        let end = |node, last_arrival_us| End {
            node,
            busy_until_us: 0,
            last_arrival_us,
        };
        self.connections.push(Connection {
            ends: [end(node, accepted_us), end(target, 0)],
            open: true,
        });
        // The accepting side sees an ephemeral port, not the dialer's listening one.
        let ephemeral = u16::try_from(40_000 + connection % 20_000).unwrap_or(40_000);
        let from = SocketAddr::new(node_addr(node).ip(), ephemeral);
        self.push(
            accepted_us,
            Due::Connected {
                node: target,
                peer: peer_id(connection, 1),
                addr: from,
                inbound: true,
            },
        );
        self.push(
            back_us,
            Due::Connected {
                node,
                peer: peer_id(connection, 0),
                addr,
                inbound: false,
            },
        );
    }

    /// `peer`'s end closes the connection; the other end hears of it after the messages already
    /// on their way.
    pub(super) fn disconnect(&mut self, rng: &mut StdRng, now_us: u64, peer: PeerId) {
        let Some((connection, side)) = self.open_end(peer) else {
            return;
        };
        let (from, to) = {
            let ends = &self.connections[connection].ends;
            (ends[side].node, ends[1 - side].node)
        };
        let latency_us = self.links.latency_us(from, to, rng);
        let end = &self.connections[connection].ends[side];
        let at_us = (end.busy_until_us.max(now_us) + latency_us).max(end.last_arrival_us);
        self.connections[connection].open = false;
        self.push(
            at_us,
            Due::Disconnected {
                node: to,
                peer: peer_id(connection, 1 - side),
            },
        );
    }

    /// Splits the nodes into `groups` (unlisted nodes reach nobody): nothing crosses between
    /// groups and no dial across succeeds, but connections stay up, as TCP connections do for
    /// minutes when a route fails; `heal` lets their messages through again.
    pub(super) fn blackhole(&mut self, groups: &[&[usize]]) {
        self.set_groups(groups);
    }

    fn set_groups(&mut self, groups: &[&[usize]]) {
        let mut of = vec![None; self.nodes];
        for (group, members) in groups.iter().enumerate() {
            for member in *members {
                if let Some(slot) = of.get_mut(*member) {
                    *slot = Some(group);
                }
            }
        }
        self.groups = Some(of);
    }

    /// Splits the nodes into `groups` (unlisted nodes reach nobody) and cuts every connection
    /// across groups; returns both ends of each cut connection.
    pub(super) fn partition(&mut self, groups: &[&[usize]]) -> Vec<(usize, PeerId)> {
        self.set_groups(groups);
        let mut cut = Vec::new();
        for index in 0..self.connections.len() {
            let connection = &self.connections[index];
            let (a, b) = (connection.ends[0].node, connection.ends[1].node);
            if connection.open && !self.reachable(a, b) {
                self.connections[index].open = false;
                cut.push((a, peer_id(index, 0)));
                cut.push((b, peer_id(index, 1)));
            }
        }
        cut
    }

    pub(super) fn heal(&mut self) {
        self.groups = None;
    }

    /// When the next item is due.
    pub(super) fn next_time_us(&mut self) -> Option<u64> {
        self.queue.peek_time_us()
    }

    /// The next item due, with its time; messages for connections that were cut meanwhile are
    /// dropped.
    pub(super) fn pop(&mut self) -> Option<(u64, Due)> {
        while let Some(Scheduled { at_us, due, .. }) = self.queue.pop() {
            if let Due::Message { node, peer, .. } = &due {
                let Some((connection, side)) = self.open_end(*peer) else {
                    continue;
                };
                // A message in flight when the network split is lost with the rest.
                let from = self.connections[connection].ends[1 - side].node;
                if !self.reachable(from, *node) {
                    continue;
                }
            }
            return Some((at_us, due));
        }
        None
    }

    /// Items waiting in the queue.
    pub(super) fn queued(&self) -> usize {
        self.queue.len
    }
}
