//! The simulated network: what is due at a node (`Due`), each node's ends of its connections
//! with its own random generator (`NodeNet`), and what every node reads alike (`Wires`: links,
//! partitions, which shard each node lives in). A message arrives after its latency plus its size
//! over the link's bandwidth; each direction of a connection carries one message at a time, in
//! order, as TCP does. Partitions cut connections and refuse dials across the cut.
//!
//! A node's ends and generator belong to the node, so a node's sends change nothing another
//! node owns: shards of the network run side by side, and the outcome does not depend on which
//! ran first. Owns connections and the scheduling of what they carry. Must not touch a node's
//! protocol or chain: the shard hands `Due` items to the node.

use super::calendar::{Calendar, Scheduled};
use super::topology::{node_addr, Latency, Links, REGION_LATENCY_MS};
use crate::protocol::PeerId;
use crate::wire::Message;
use rand::rngs::SmallRng;
use rand::Rng;
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
        /// The sending node.
        from: usize,
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

/// One item in a shard's queue: what is due, when, in which order.
pub(super) type Item = Scheduled<Due>;
/// A shard's queue of what is due at its nodes.
pub(super) type Queue = Calendar<Due>;

/// Shards are not worth their barriers when messages between them may arrive sooner than this.
const MIN_LOOKAHEAD_US: u64 = 1_000;
/// Shards the nodes are split into: more than threads, so a thread that finished its share of
/// a window takes another shard instead of waiting for a slow one (with two, a third of the
/// threads' time went to waiting at the barrier).
const SHARDS: usize = 8;
/// Bits of an item's order taken by the scheduling node's own count.
const SEQUENCE_BITS: u32 = 40;
/// Bits of a peer id's connection key taken by the dialer's own count of dials.
const DIAL_BITS: u32 = 32;

/// Where a node lives: its shard and its place in the shard's list.
#[derive(Clone, Copy, Debug)]
pub(super) struct Home {
    pub(super) shard: usize,
    pub(super) slot: usize,
}

/// What every shard reads and none changes while shards run.
pub(super) struct Wires {
    links: Links,
    loss: f64,
    /// Each node's partition group; `None` when the network is whole.
    groups: Option<Vec<Option<usize>>>,
    homes: Vec<Home>,
    shards: usize,
    /// No message between two shards arrives sooner than this after it leaves.
    lookahead_us: u64,
}

impl Wires {
    /// The network over `links`, split into shards as `plan_shards` finds best.
    pub(super) fn new(links: Links, loss: f64, nodes: usize) -> Wires {
        let (shard_of, lookahead_us) = plan_shards(&links, nodes);
        let shards = shard_of.iter().max().map_or(1, |last| last + 1);
        let mut filled = vec![0; shards];
        let homes = shard_of
            .iter()
            .map(|&shard| {
                let slot = filled[shard];
                filled[shard] += 1;
                Home { shard, slot }
            })
            .collect();
        Wires {
            links,
            loss,
            groups: None,
            homes,
            shards,
            lookahead_us,
        }
    }

    pub(super) fn nodes(&self) -> usize {
        self.homes.len()
    }

    pub(super) fn shards(&self) -> usize {
        self.shards
    }

    pub(super) fn lookahead_us(&self) -> u64 {
        self.lookahead_us
    }

    pub(super) fn home(&self, node: usize) -> Home {
        self.homes[node]
    }

    pub(super) fn region(&self, node: usize) -> u8 {
        self.links.regions.get(node).copied().unwrap_or(0)
    }

    pub(super) fn reachable(&self, a: usize, b: usize) -> bool {
        match &self.groups {
            None => true,
            Some(groups) => groups[a].is_some() && groups[a] == groups[b],
        }
    }

    /// Splits the nodes into `groups` (unlisted nodes reach nobody).
    pub(super) fn set_groups(&mut self, groups: &[&[usize]]) {
        let mut of = vec![None; self.homes.len()];
        for (group, members) in groups.iter().enumerate() {
            for member in *members {
                if let Some(slot) = of.get_mut(*member) {
                    *slot = Some(group);
                }
            }
        }
        self.groups = Some(of);
    }

    pub(super) fn heal(&mut self) {
        self.groups = None;
    }
}

/// Which shard each node runs in, and the lookahead between shards: runs of consecutive
/// indexes, and the lowest latency a message can have. Runs by index mix the regions, so every
/// window of a block's spread has work for every shard; a split by region (Europe against the
/// rest, 119 ms apart) had longer windows but left one shard idle while a block crossed the
/// other's region, and ran 1.6 times slower. One shard when the lookahead is too short to be
/// worth its barriers.
fn plan_shards(links: &Links, nodes: usize) -> (Vec<usize>, u64) {
    let lowest_ms = match links.latency {
        // A Pareto draw never falls below its scale, the mean less 5 ms (`Links::latency_us`).
        Latency::Regions => REGION_LATENCY_MS
            .iter()
            .flatten()
            .map(|mean_ms| u64::from(mean_ms.saturating_sub(5)))
            .min()
            .unwrap_or(0),
        Latency::Uniform(low_ms, _) | Latency::Fixed(low_ms) => low_ms,
    };
    let lookahead_us = lowest_ms.saturating_mul(1_000);
    if nodes < 2 || lookahead_us < MIN_LOOKAHEAD_US {
        return (vec![0; nodes], u64::MAX);
    }
    let shards = SHARDS.min(nodes);
    let shard_of = (0..nodes).map(|node| node * shards / nodes).collect();
    (shard_of, lookahead_us)
}

/// Where a node's sends go: its own shard's queue, or the outbox for another shard.
pub(super) struct Post<'a> {
    pub(super) shard: usize,
    pub(super) queue: &'a mut Queue,
    pub(super) outboxes: &'a mut [Vec<Item>],
}

impl Post<'_> {
    fn push(&mut self, wires: &Wires, scheduled: Item, to_node: usize) {
        let shard = wires.homes[to_node].shard;
        if shard == self.shard {
            self.queue.push(scheduled);
        } else {
            self.outboxes[shard].push(scheduled);
        }
    }
}

/// One direction of a connection: from the node holding it to `remote`.
struct End {
    remote: usize,
    /// When the link finishes sending what is queued on it.
    busy_until_us: u64,
    /// When the last message sent arrives, so a later one never overtakes it.
    last_arrival_us: u64,
    open: bool,
}

impl End {
    fn new(remote: usize, last_arrival_us: u64) -> End {
        End {
            remote,
            busy_until_us: 0,
            last_arrival_us,
            open: true,
        }
    }
}

/// A connection's ends have peer ids `2k + 1` (the dialer's) and `2k + 2` (the acceptor's),
/// where `k` holds the dialer's index above its own count of dials: unique across the
/// simulation, chosen by the dialer alone, and the dialer's end is found by arithmetic.
fn peer_id(dialer: usize, dial: usize, side: u64) -> PeerId {
    (((dialer as u64) << DIAL_BITS) | dial as u64) * 2 + side + 1
}

/// The dialer, its dial number and the side (0: dialer) of a peer id.
fn decode(peer: PeerId) -> (usize, usize, u64) {
    let index = peer.saturating_sub(1);
    let key = index / 2;
    let dialer = usize::try_from(key >> DIAL_BITS).unwrap_or(usize::MAX);
    let dial = usize::try_from(key & ((1 << DIAL_BITS) - 1)).unwrap_or(usize::MAX);
    (dialer, dial, index % 2)
}

/// The id the other end of a connection has.
fn other_side(peer: PeerId) -> PeerId {
    let (dialer, dial, side) = decode(peer);
    peer_id(dialer, dial, 1 - side)
}

/// One node's ends of its connections, its random generator and its count of items scheduled.
/// A small generator (32 bytes): every send draws a latency from it, and a large one's state
/// was a cache miss of its own per message.
pub(super) struct NodeNet {
    node: usize,
    rng: SmallRng,
    scheduled: u64,
    /// Ends the node dialed, by dial number.
    outbound: Vec<End>,
    /// Peer ids of the ends others dialed, sorted, apart from the ends so a search reads
    /// few cache lines.
    inbound_ids: Vec<PeerId>,
    /// The ends others dialed, in the order of `inbound_ids`.
    inbound: Vec<End>,
}

impl NodeNet {
    pub(super) fn new(node: usize, rng: SmallRng) -> NodeNet {
        NodeNet {
            node,
            rng,
            scheduled: 0,
            outbound: Vec::new(),
            inbound_ids: Vec::new(),
            inbound: Vec::new(),
        }
    }

    /// `due` at `at_us`, in the node's own order.
    pub(super) fn schedule(&mut self, at_us: u64, due: Due) -> Item {
        let seq = ((self.node as u64) << SEQUENCE_BITS) | self.scheduled;
        self.scheduled += 1;
        Scheduled { at_us, seq, due }
    }

    fn end(&self, peer: PeerId) -> Option<&End> {
        let (dialer, dial, side) = decode(peer);
        if side == 0 {
            (dialer == self.node).then(|| self.outbound.get(dial))?
        } else {
            let at = self.inbound_ids.binary_search(&peer).ok()?;
            self.inbound.get(at)
        }
    }

    fn end_mut(&mut self, peer: PeerId) -> Option<&mut End> {
        let (dialer, dial, side) = decode(peer);
        if side == 0 {
            (dialer == self.node).then(|| self.outbound.get_mut(dial))?
        } else {
            let at = self.inbound_ids.binary_search(&peer).ok()?;
            self.inbound.get_mut(at)
        }
    }

    /// The node at the other end of `peer`, if the node's end is open.
    pub(super) fn open_remote(&self, peer: PeerId) -> Option<usize> {
        self.end(peer).filter(|end| end.open).map(|end| end.remote)
    }

    /// The node's end `peer` closes (it heard the other end close); whether it was open.
    pub(super) fn close(&mut self, peer: PeerId) -> bool {
        self.end_mut(peer)
            .is_some_and(|end| std::mem::replace(&mut end.open, false))
    }

    /// A connection dialed by another node reached this one as `peer`.
    pub(super) fn accept(&mut self, peer: PeerId) {
        let (dialer, _, _) = decode(peer);
        if let Err(at) = self.inbound_ids.binary_search(&peer) {
            self.inbound_ids.insert(at, peer);
            self.inbound.insert(at, End::new(dialer, 0));
        }
    }

    /// Sends `message` of `bytes` from end `peer`, at `now_us`.
    pub(super) fn send(
        &mut self,
        wires: &Wires,
        post: &mut Post<'_>,
        now_us: u64,
        peer: PeerId,
        message: Message,
        bytes: usize,
    ) {
        let Some(to) = self.open_remote(peer) else {
            return;
        };
        if wires.loss > 0.0 && self.rng.random_bool(wires.loss.min(1.0)) {
            return;
        }
        let from = self.node;
        if !wires.reachable(from, to) {
            return;
        }
        let latency_us = wires.links.latency_us(from, to, &mut self.rng);
        let transfer_us = wires.links.transfer_us(from, to, bytes);
        let Some(end) = self.end_mut(peer) else {
            return;
        };
        let sent_us = end.busy_until_us.max(now_us) + transfer_us;
        end.busy_until_us = sent_us;
        let arrival_us = (sent_us + latency_us).max(end.last_arrival_us);
        end.last_arrival_us = arrival_us;
        let due = Due::Message {
            node: to,
            peer: other_side(peer),
            from,
            message,
        };
        let scheduled = self.schedule(arrival_us, due);
        post.push(wires, scheduled, to);
    }

    /// Dials `target` (the node at the dialed address, if any).
    pub(super) fn connect(
        &mut self,
        wires: &Wires,
        post: &mut Post<'_>,
        now_us: u64,
        target: Option<usize>,
        addr: SocketAddr,
    ) {
        let node = self.node;
        let Some(target) = target.filter(|t| wires.reachable(node, *t)) else {
            let at_us = now_us + wires.links.latency_us(node, node, &mut self.rng);
            let scheduled = self.schedule(at_us, Due::ConnectFailed { node, addr });
            post.push(wires, scheduled, node);
            return;
        };
        // The dialer hears of the connection a round trip later (SYN, SYN-ACK), the acceptor
        // half a round trip after that (ACK); each side's first message leaves then.
        let there_us = now_us + wires.links.latency_us(node, target, &mut self.rng);
        let back_us = there_us + wires.links.latency_us(target, node, &mut self.rng);
        let accepted_us = back_us + wires.links.latency_us(node, target, &mut self.rng);
        let dial = self.outbound.len();
        // Nothing the dialer sends arrives before the acceptor knows of the connection.
        self.outbound.push(End::new(target, accepted_us));
        // The accepting side sees an ephemeral port, not the dialer's listening one.
        let ephemeral = u16::try_from(40_000 + dial % 20_000).unwrap_or(40_000);
        let from = SocketAddr::new(node_addr(node).ip(), ephemeral);
        let accepted = Due::Connected {
            node: target,
            peer: peer_id(node, dial, 1),
            addr: from,
            inbound: true,
        };
        let scheduled = self.schedule(accepted_us, accepted);
        post.push(wires, scheduled, target);
        let connected = Due::Connected {
            node,
            peer: peer_id(node, dial, 0),
            addr,
            inbound: false,
        };
        let scheduled = self.schedule(back_us, connected);
        post.push(wires, scheduled, node);
    }

    /// End `peer` closes the connection; the other end hears of it after the messages already
    /// on their way.
    pub(super) fn disconnect(
        &mut self,
        wires: &Wires,
        post: &mut Post<'_>,
        now_us: u64,
        peer: PeerId,
    ) {
        let Some(to) = self.open_remote(peer) else {
            return;
        };
        let latency_us = wires.links.latency_us(self.node, to, &mut self.rng);
        let Some(end) = self.end_mut(peer) else {
            return;
        };
        end.open = false;
        let at_us = (end.busy_until_us.max(now_us) + latency_us).max(end.last_arrival_us);
        let due = Due::Disconnected {
            node: to,
            peer: other_side(peer),
        };
        let scheduled = self.schedule(at_us, due);
        post.push(wires, scheduled, to);
    }

    /// Closes every open end across the groups `wires` has now; the ids of those closed.
    pub(super) fn cut(&mut self, wires: &Wires) -> Vec<PeerId> {
        let node = self.node;
        let outbound = self.outbound.iter_mut().enumerate().map(|(dial, end)| {
            let peer = peer_id(node, dial, 0);
            (peer, end)
        });
        let inbound = self
            .inbound_ids
            .iter()
            .copied()
            .zip(self.inbound.iter_mut());
        outbound
            .chain(inbound)
            .filter(|(_, end)| end.open && !wires.reachable(node, end.remote))
            .map(|(peer, end)| {
                end.open = false;
                peer
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_name_the_dialer_the_dial_and_the_side() {
        for (dialer, dial) in [(0, 0), (1, 0), (9_999, 7), ((1 << 24) - 1, (1 << 20) + 3)] {
            let dialer_end = peer_id(dialer, dial, 0);
            let acceptor_end = peer_id(dialer, dial, 1);
            assert_ne!(dialer_end, 0, "0 is no peer id");
            assert_eq!(decode(dialer_end), (dialer, dial, 0));
            assert_eq!(decode(acceptor_end), (dialer, dial, 1));
            assert_eq!(other_side(dialer_end), acceptor_end);
            assert_eq!(other_side(acceptor_end), dialer_end);
        }
        assert_ne!(peer_id(1, 0, 0), peer_id(0, 1, 0));
    }

    #[test]
    fn the_lookahead_is_a_latency_no_message_beats() {
        let regions: Vec<u8> = (0..60).map(|node| (node % 6) as u8).collect();
        let links = Links {
            latency: Latency::Regions,
            bandwidth: super::super::topology::Bandwidth::Unlimited,
            regions,
        };
        let (shard_of, lookahead_us) = plan_shards(&links, 60);
        assert_eq!(lookahead_us, 6_000, "Europe to Europe: 11 ms less 5");
        assert!(shard_of.windows(2).all(|pair| pair[0] <= pair[1]));
        assert_eq!(shard_of.iter().filter(|shard| **shard == 0).count(), 8);
        assert_eq!(shard_of.last(), Some(&(SHARDS - 1)));
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(5);
        for from in 0..60 {
            for to in 0..60 {
                for _ in 0..20 {
                    assert!(links.latency_us(from, to, &mut rng) >= lookahead_us);
                }
            }
        }
    }

    #[test]
    fn too_short_a_lookahead_or_one_node_keeps_one_shard() {
        let links = |latency| Links {
            latency,
            bandwidth: super::super::topology::Bandwidth::Unlimited,
            regions: vec![0; 10],
        };
        assert_eq!(plan_shards(&links(Latency::Fixed(0)), 10).1, u64::MAX);
        assert_eq!(plan_shards(&links(Latency::Uniform(2, 9)), 1).1, u64::MAX);
        let (shard_of, lookahead_us) = plan_shards(&links(Latency::Uniform(2, 9)), 4);
        assert_eq!(lookahead_us, 2_000);
        assert_eq!(shard_of, [0, 1, 2, 3], "no more shards than nodes");
    }
}
