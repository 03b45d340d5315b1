//! The simulated network: connections between nodes, messages in flight with seeded latency and
//! loss (in order per direction, as TCP keeps them), and partitions.

use crate::protocol::{DisconnectReason, Links, PeerId};
use crate::wire::Message;
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};

/// The port every simulated node listens on (each has its own loopback address).
const SIM_PORT: u16 = 18_444;

/// Where simulated node `index` listens.
pub(super) fn node_addr(index: usize) -> SocketAddr {
    let host = u8::try_from(index + 1).unwrap_or(u8::MAX);
    SocketAddr::from((Ipv4Addr::new(127, 0, 1, host), SIM_PORT))
}

/// One node's view of the network while the driver carries out its protocol's outputs.
pub(super) struct SimLinks<'a> {
    pub(super) network: &'a mut Network,
    pub(super) rng: &'a mut StdRng,
    pub(super) now_ms: u64,
    /// The node whose outputs these are.
    pub(super) node: usize,
}

impl Links for SimLinks<'_> {
    fn send(&mut self, peer: PeerId, message: Message) -> bool {
        self.network
            .send(self.rng, self.now_ms, self.node, peer, message);
        true
    }

    fn connect(&mut self, addr: SocketAddr) {
        let target = (0..self.network.nodes).find(|index| node_addr(*index) == addr);
        self.network
            .connect(self.rng, self.now_ms, self.node, target, addr);
    }

    fn disconnect(&mut self, peer: PeerId, _reason: &DisconnectReason) {
        self.network
            .disconnect(self.rng, self.now_ms, self.node, peer);
    }
}

/// Something the network hands a node at a given time.
#[derive(Debug)]
pub(super) enum Delivery {
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
}

pub(super) struct Network {
    latency_ms: (u64, u64),
    loss: f64,
    queue: BTreeMap<(u64, u64), Delivery>,
    next_seq: u64,
    next_peer: PeerId,
    /// Each connection end, keyed by (node, its peer id), and the other end.
    ends: HashMap<(usize, PeerId), (usize, PeerId)>,
    /// When the last message sent from each end arrives, so later ones never overtake it.
    last_arrival: HashMap<(usize, PeerId), u64>,
    /// Each node's partition group; `None` when the network is whole.
    groups: Option<Vec<Option<usize>>>,
    nodes: usize,
}

impl Network {
    pub(super) fn new(nodes: usize, latency_ms: (u64, u64), loss: f64) -> Network {
        Network {
            latency_ms: (latency_ms.0.max(1), latency_ms.1.max(latency_ms.0.max(1))),
            loss,
            queue: BTreeMap::new(),
            next_seq: 0,
            next_peer: 1,
            ends: HashMap::new(),
            last_arrival: HashMap::new(),
            groups: None,
            nodes,
        }
    }

    fn push(&mut self, at_ms: u64, delivery: Delivery) {
        self.queue.insert((at_ms, self.next_seq), delivery);
        self.next_seq += 1;
    }

    fn latency_ms(&self, rng: &mut StdRng) -> u64 {
        rng.random_range(self.latency_ms.0..=self.latency_ms.1)
    }

    fn reachable(&self, a: usize, b: usize) -> bool {
        match &self.groups {
            None => true,
            Some(groups) => groups[a].is_some() && groups[a] == groups[b],
        }
    }

    pub(super) fn send(
        &mut self,
        rng: &mut StdRng,
        now_ms: u64,
        node: usize,
        peer: PeerId,
        message: Message,
    ) {
        let Some(&(to_node, to_peer)) = self.ends.get(&(node, peer)) else {
            return;
        };
        if rng.random_bool(self.loss.clamp(0.0, 1.0)) {
            return;
        }
        let arrival = (now_ms + self.latency_ms(rng))
            .max(self.last_arrival.get(&(node, peer)).copied().unwrap_or(0));
        self.last_arrival.insert((node, peer), arrival);
        self.push(
            arrival,
            Delivery::Message {
                node: to_node,
                peer: to_peer,
                message,
            },
        );
    }

    pub(super) fn connect(
        &mut self,
        rng: &mut StdRng,
        now_ms: u64,
        node: usize,
        target: Option<usize>,
        addr: SocketAddr,
    ) {
        let at = now_ms + self.latency_ms(rng);
        let Some(target) = target.filter(|t| self.reachable(node, *t)) else {
            self.push(at, Delivery::ConnectFailed { node, addr });
            return;
        };
        let (ours, theirs) = (self.next_peer, self.next_peer + 1);
        self.next_peer += 2;
        self.ends.insert((node, ours), (target, theirs));
        self.ends.insert((target, theirs), (node, ours));
        // The accepting side sees an ephemeral port, not the dialer's listening one.
        let ephemeral = u16::try_from(40_000 + theirs % 20_000).unwrap_or(40_000);
        let from = SocketAddr::new(super::node_addr(node).ip(), ephemeral);
        self.push(
            at,
            Delivery::Connected {
                node: target,
                peer: theirs,
                addr: from,
                inbound: true,
            },
        );
        self.push(
            at,
            Delivery::Connected {
                node,
                peer: ours,
                addr,
                inbound: false,
            },
        );
    }

    pub(super) fn disconnect(&mut self, rng: &mut StdRng, now_ms: u64, node: usize, peer: PeerId) {
        if let Some(other) = self.ends.remove(&(node, peer)) {
            self.ends.remove(&other);
            let at = now_ms + self.latency_ms(rng);
            self.push(
                at,
                Delivery::Disconnected {
                    node: other.0,
                    peer: other.1,
                },
            );
        }
    }

    /// Splits the nodes into `groups` (unlisted nodes reach nobody) and cuts every connection
    /// across groups; returns both ends of each cut connection.
    pub(super) fn partition(&mut self, groups: &[&[usize]]) -> Vec<(usize, PeerId)> {
        let mut of = vec![None; self.nodes];
        for (group, members) in groups.iter().enumerate() {
            for member in *members {
                if let Some(slot) = of.get_mut(*member) {
                    *slot = Some(group);
                }
            }
        }
        self.groups = Some(of);
        let mut cut: Vec<(usize, PeerId)> = self
            .ends
            .iter()
            .filter(|(end, other)| !self.reachable(end.0, other.0))
            .map(|(end, _)| *end)
            .collect();
        cut.sort_unstable();
        for end in &cut {
            self.ends.remove(end);
        }
        cut
    }

    pub(super) fn heal(&mut self) {
        self.groups = None;
    }

    /// When the next delivery is due.
    pub(super) fn next_time(&self) -> Option<u64> {
        self.queue.keys().next().map(|(at, _)| *at)
    }

    /// The next delivery; messages for connections that were cut meanwhile are dropped.
    pub(super) fn pop(&mut self) -> Option<Delivery> {
        while let Some((_, delivery)) = self.queue.pop_first() {
            if let Delivery::Message { node, peer, .. } = &delivery {
                if !self.ends.contains_key(&(*node, *peer)) {
                    continue;
                }
            }
            return Some(delivery);
        }
        None
    }
}
