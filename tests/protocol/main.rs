//! The peer protocol's answers to hostile and broken peers, and to the devnet's deny-list: one
//! `Protocol` driven through the shared driver (as the node and the simulator drive theirs), the
//! test playing the remote peers, asserting on the `Output`s the driver carried out.

use nakachain::chain::Chain;
use nakachain::consensus::rules::check_header;
use nakachain::events::EventKind;
use nakachain::miner::{assemble_block, solve_block, BlockSpec};
use nakachain::params::Params;
use nakachain::protocol::{
    drive, DisconnectReason, Host, Input, Links, Output, PeerId, Protocol, ProtocolConfig,
    Received, ResumeWhen, Timers, BLOCK_STALL_TIMEOUT_MS, HANDSHAKE_TIMEOUT_MS,
    MAX_BLOCKS_IN_FLIGHT_PER_PEER, MAX_BLOCKS_PER_GETDATA, MAX_LEARNED_ADDRESSES,
    MAX_UNCONNECTING_HEADERS, MIN_BLOCKS_IN_FLIGHT_PER_PEER, PING_INTERVAL_MS, PING_TIMEOUT_MS,
};
use nakachain::sim::{sim_params, SimHost};
use nakachain::types::{Address, Block, BlockHeader, Hash256, HashedBlock};
use nakachain::wire::{self, InvItem, InvKind, Message, PeerAddress, WireError};
use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::AtomicBool;

mod connections;
mod deny;
mod early_relay;
mod header_flood;
mod reasons;
mod tx_requests;
mod waiting_blocks;

const NODE_NONCE: u64 = 0x5eed_0001;

/// A simulated node's state with its clock well past genesis, so real blocks are not from
/// the future.
fn test_host() -> SimHost {
    let params = sim_params();
    let clock_secs = u64::from(params.genesis.header.time) + 1_000_000;
    let mut host = SimHost::new(params, true);
    host.set_clock_ms(clock_secs * 1_000);
    host
}

/// Mines `count` blocks on `host`'s own tip and returns them in order.
fn mine(host: &mut SimHost, count: usize) -> Vec<Block> {
    (0..count)
        .map(|index| {
            let block = solved(&host.chain, index as u64);
            let outcome = host
                .submit_block(HashedBlock::new(block.clone()))
                .expect("a fresh valid block");
            assert_eq!(outcome.accepted, vec![block.hash()]);
            block
        })
        .collect()
}

/// The next block on `chain`'s tip, unsolved; `extra_nonce` tells siblings apart.
fn assembled(chain: &Chain, extra_nonce: u64) -> Block {
    let next = chain.next_block();
    let params: &Params = chain.params();
    let spec = BlockSpec {
        prev_hash: next.prev_hash,
        height: next.height,
        bits: next.bits,
        time: next.min_time,
        payout: Address::from_pubkey(&[7; 32]),
        coinbase_value: params.subsidy(next.height),
        extra_nonce,
    };
    assemble_block(&spec, Vec::new())
}

fn solved(chain: &Chain, extra_nonce: u64) -> Block {
    let mut block = assembled(chain, extra_nonce);
    assert!(solve_block(&mut block, &AtomicBool::new(false)));
    block
}

/// The test's links: every output the driver carries out, in order.
#[derive(Default)]
struct Recorded(Vec<Output>);

impl Links for Recorded {
    fn send(&mut self, _peer: PeerId, _message: Message) -> bool {
        true
    }

    fn connect(&mut self, _addr: SocketAddr) {}

    fn disconnect(&mut self, _peer: PeerId, _reason: &DisconnectReason) {}

    fn observe(&mut self, output: &Output) {
        self.0.push(output.clone());
    }
}

struct Node {
    protocol: Protocol,
    host: SimHost,
}

impl Node {
    fn new() -> Node {
        Node::with_outbound(2)
    }

    fn with_outbound(max_outbound: usize) -> Node {
        Node::configured(max_outbound, Vec::new())
    }

    /// A node with room for `max_outbound` peers, keeping connected to `connect`.
    fn configured(max_outbound: usize, connect: Vec<SocketAddr>) -> Node {
        Node::configured_with(16, max_outbound, connect)
    }

    /// A node with `max_inbound` inbound slots.
    fn with_inbound(max_inbound: usize) -> Node {
        Node::configured_with(max_inbound, 2, Vec::new())
    }

    fn configured_with(max_inbound: usize, max_outbound: usize, connect: Vec<SocketAddr>) -> Node {
        let config = ProtocolConfig {
            nonce: NODE_NONCE,
            user_agent: "test-node".to_string(),
            listen_port: 18_444,
            max_inbound,
            max_outbound,
            connect,
            known: Vec::new(),
            max_learned_addresses: MAX_LEARNED_ADDRESSES,
            timers: Timers::default(),
        };
        Node {
            protocol: Protocol::new(config, sim_params().network_id(), 0),
            host: test_host(),
        }
    }

    /// Feeds `input` through the driver, which resumes the protocol whenever it pauses (as the
    /// simulator does); returns every output, the pause marks included.
    fn input(&mut self, now_ms: u64, input: Input<'_>) -> Vec<Output> {
        self.input_resuming(now_ms, input, ResumeWhen::AtOnce)
    }

    /// `input`, resuming as `resume` says: with `Later` a paused protocol stays paused.
    fn input_resuming(&mut self, now_ms: u64, input: Input<'_>, resume: ResumeWhen) -> Vec<Output> {
        let mut links = Recorded::default();
        drive(
            &mut self.protocol,
            &mut self.host,
            &mut links,
            now_ms,
            input,
            resume,
        );
        links.0
    }

    fn recv(&mut self, now_ms: u64, peer: PeerId, message: &Message) -> Vec<Output> {
        let message = Received::from(message.clone());
        self.input(now_ms, Input::Received { peer, message })
    }

    fn tick(&mut self, now_ms: u64) -> Vec<Output> {
        self.input(now_ms, Input::Tick)
    }

    fn connect(&mut self, now_ms: u64, peer: PeerId, ip: u8, inbound: bool) -> Vec<Output> {
        self.connect_from(now_ms, peer, peer_addr(ip), inbound)
    }

    fn connect_from(
        &mut self,
        now_ms: u64,
        peer: PeerId,
        addr: SocketAddr,
        inbound: bool,
    ) -> Vec<Output> {
        self.input(
            now_ms,
            Input::Connected {
                peer,
                addr,
                inbound,
            },
        )
    }

    /// An inbound peer from 127.0.0.`ip` through Version and Verack; returns what the node said
    /// after the Verack.
    fn handshake(&mut self, now_ms: u64, peer: PeerId, ip: u8) -> Vec<Output> {
        self.handshake_at(now_ms, peer, peer_addr(ip), true)
    }

    /// A peer at `addr` (dialed by the node unless `inbound`) through Version and Verack;
    /// returns what the node said after the Verack.
    fn handshake_at(
        &mut self,
        now_ms: u64,
        peer: PeerId,
        addr: SocketAddr,
        inbound: bool,
    ) -> Vec<Output> {
        let out = self.connect_from(now_ms, peer, addr, inbound);
        assert!(!disconnects(&out, peer), "{out:?}");
        let out = self.recv(now_ms, peer, &version(peer + 1_000));
        assert!(sent(&out, peer).contains(&&Message::Verack), "{out:?}");
        let out = self.recv(now_ms, peer, &Message::Verack);
        assert!(!disconnects(&out, peer), "{out:?}");
        out
    }

    fn tip(&self) -> Hash256 {
        self.host.chain.tip().hash
    }
}

fn peer_addr(ip: u8) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(127, 0, 0, ip), 40_000))
}

/// An address that means one host (not loopback), in a /16 of its own per `ip`.
fn remote_addr(ip: u8) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(10, ip, 0, 1), 40_000))
}

fn version(nonce: u64) -> Message {
    version_on(sim_params().network_id(), nonce)
}

fn version_on(network_id: Hash256, nonce: u64) -> Message {
    Message::Version {
        protocol: wire::PROTOCOL_VERSION,
        network_id,
        best_height: 0,
        nonce,
        user_agent: "remote".to_string(),
        listen_port: 9_333,
    }
}

fn disconnects(out: &[Output], peer: PeerId) -> bool {
    disconnect_reason(out, peer).is_some()
}

/// The stable code of the reason `peer` was dropped for, if it was.
fn disconnect_reason(out: &[Output], peer: PeerId) -> Option<&'static str> {
    out.iter().find_map(|o| match o {
        Output::Disconnect { peer: p, reason } if *p == peer => Some(reason.code()),
        _ => None,
    })
}

fn sent(out: &[Output], peer: PeerId) -> Vec<&Message> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { peer: p, message } if *p == peer => Some(message),
            _ => None,
        })
        .collect()
}

/// The blocks asked of `peer`, checking that no one `getdata` asks more than a peer serves.
fn getdata_blocks(out: &[Output], peer: PeerId) -> Vec<Hash256> {
    sent(out, peer)
        .into_iter()
        .filter_map(|m| match m {
            Message::GetData(items) => {
                assert!(
                    items.len() <= MAX_BLOCKS_PER_GETDATA,
                    "{} items",
                    items.len()
                );
                Some(items.clone())
            }
            _ => None,
        })
        .flatten()
        .filter(|item| item.kind == InvKind::Block)
        .map(|item| item.hash)
        .collect()
}

fn inv_hashes(out: &[Output], peer: PeerId) -> Vec<Hash256> {
    sent(out, peer)
        .into_iter()
        .filter_map(|m| match m {
            Message::Inv(items) => Some(items.iter().map(|i| i.hash).collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn sent_getheaders(out: &[Output], peer: PeerId) -> bool {
    sent(out, peer)
        .iter()
        .any(|m| matches!(m, Message::GetHeaders { .. }))
}

fn headers_of(blocks: &[Block]) -> Message {
    Message::Headers(blocks.iter().map(|b| b.header).collect())
}

fn bad_checksum() -> WireError {
    WireError::BadChecksum {
        expected: [1, 2, 3, 4],
        got: [4, 3, 2, 1],
    }
}

/// Whether `peer` answers a Ping, i.e. is still connected and ready.
fn answers_ping(node: &mut Node, now_ms: u64, peer: PeerId) -> bool {
    let out = node.recv(now_ms, peer, &Message::Ping(77));
    sent(&out, peer).contains(&&Message::Pong(77))
}

#[test]
fn frame_errors_disconnect_except_bad_checksum() {
    let errors = [
        WireError::BadMagic {
            expected: [1, 2, 3, 4],
            got: [9, 9, 9, 9],
        },
        WireError::OversizedFrame {
            len: wire::MAX_MESSAGE_BYTES + 1,
            max: wire::MAX_MESSAGE_BYTES,
        },
        WireError::Undecodable("junk".to_string()),
        WireError::TrailingBytes { extra: 3 },
        WireError::OversizedList {
            list: "inv",
            len: wire::MAX_INV_ITEMS + 1,
            max: wire::MAX_INV_ITEMS,
        },
    ];
    let mut node = Node::new();
    for (index, error) in errors.iter().enumerate() {
        let peer = index as PeerId + 1;
        node.handshake(0, peer, peer as u8);
        let out = node.input(1, Input::BadFrame { peer, error });
        assert!(disconnects(&out, peer), "{}: {out:?}", error.code());
        assert!(!answers_ping(&mut node, 2, peer), "{}", error.code());
    }
    let peer = 50;
    node.handshake(0, peer, 50);
    let out = node.input(
        1,
        Input::BadFrame {
            peer,
            error: &bad_checksum(),
        },
    );
    assert!(!disconnects(&out, peer), "{out:?}");
    assert!(answers_ping(&mut node, 2, peer));
}

#[test]
fn unsolicited_block_disconnects() {
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    let block = solved(&node.host.chain, 1);
    let out = node.recv(1, 1, &Message::Block(block.into()));
    assert!(disconnects(&out, 1), "{out:?}");
    assert_eq!(node.tip(), sim_params().genesis_hash());
}

#[test]
fn getdata_serves_each_item_once_and_more_blocks_than_allowed_disconnects() {
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    let tip = InvItem::block(node.tip());
    // A block listed many times is served once.
    let out = node.recv(1, 1, &Message::GetData(vec![tip; MAX_BLOCKS_PER_GETDATA]));
    assert!(!disconnects(&out, 1), "{out:?}");
    assert_eq!(sent(&out, 1).len(), 1, "{out:?}");
    let out = node.recv(
        2,
        1,
        &Message::GetData(vec![tip; MAX_BLOCKS_PER_GETDATA + 1]),
    );
    assert!(disconnects(&out, 1), "{out:?}");
    assert!(
        !sent(&out, 1)
            .iter()
            .any(|message| matches!(message, Message::Block(_))),
        "{out:?}"
    );
}

/// A block whose proof of work fails, announced and delivered by `peer`: the peer is dropped
/// and its misbehaviour told.
fn deliver_bad_pow(node: &mut Node, now_ms: u64, peer: PeerId) {
    let params = sim_params();
    let mut block = assembled(&node.host.chain, 3);
    while check_header(&block.header, &params).is_ok() {
        block.header.nonce += 1;
    }
    let hash = block.hash();
    let out = node.recv(now_ms, peer, &Message::Inv(vec![InvItem::block(hash)]));
    assert_eq!(getdata_blocks(&out, peer), vec![hash]);
    let out = node.recv(now_ms, peer, &Message::Block(block.into()));
    assert!(disconnects(&out, peer), "{out:?}");
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Event(EventKind::PeerMisbehaved { peer: p, .. }) if *p == peer
    )));
}

#[test]
fn bad_proof_of_work_discourages_a_remote_ip_which_waits_behind_everyone_else() {
    let mut node = Node::with_inbound(4);
    node.handshake_at(0, 1, remote_addr(1), true);
    deliver_bad_pow(&mut node, 1, 1);
    // While there is room the address may come back, first in line for eviction.
    let out = node.connect_from(3, 2, remote_addr(1), true);
    assert!(!disconnects(&out, 2), "{out:?}");
    for peer in 3..=5 {
        node.connect_from(3, peer, remote_addr(peer as u8), true);
    }
    // Full: a newcomer from another address takes the discouraged peer's place...
    let out = node.connect_from(4, 6, remote_addr(6), true);
    assert_eq!(disconnect_reason(&out, 2), Some("evicted"), "{out:?}");
    assert!(!disconnects(&out, 6), "{out:?}");
    // ...and the discouraged address takes no one's.
    let out = node.connect_from(5, 7, remote_addr(1), true);
    assert_eq!(disconnect_reason(&out, 7), Some("discouraged"), "{out:?}");
}

#[test]
fn a_bad_block_from_loopback_drops_the_peer_but_not_the_address() {
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    deliver_bad_pow(&mut node, 1, 1);
    // Every devnet node is on 127.0.0.1: they are not shut out with the offender.
    let out = node.connect(3, 2, 1, true);
    assert!(!disconnects(&out, 2), "{out:?}");
}

#[test]
fn mutated_block_body_does_not_poison_the_good_block() {
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    node.handshake(0, 2, 2);
    let good = solved(&node.host.chain, 4);
    let hash = good.hash();
    let mut bad = good.clone();
    if let Some(data) = bad.transactions[0].coinbase.as_mut() {
        data.extra_nonce ^= 0xdead_beef;
    }
    assert_eq!(
        bad.hash(),
        hash,
        "the header, and so the hash, is unchanged"
    );

    let out = node.recv(1, 1, &Message::Inv(vec![InvItem::block(hash)]));
    assert_eq!(getdata_blocks(&out, 1), vec![hash]);
    let out = node.recv(2, 1, &Message::Block(bad.into()));
    assert!(disconnects(&out, 1), "{out:?}");
    assert_eq!(node.tip(), sim_params().genesis_hash());

    let out = node.recv(3, 2, &Message::Inv(vec![InvItem::block(hash)]));
    assert_eq!(getdata_blocks(&out, 2), vec![hash], "{out:?}");
    let out = node.recv(4, 2, &Message::Block(good.into()));
    assert!(!disconnects(&out, 2), "{out:?}");
    assert_eq!(node.tip(), hash);
}

#[test]
fn unconnecting_headers_are_answered_then_punished_and_broken_chains_disconnect() {
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    let mut stray: BlockHeader = solved(&node.host.chain, 5).header;
    stray.prev_hash = Hash256([0xab; 32]);
    let message = Message::Headers(vec![stray]);
    for round in 1..=MAX_UNCONNECTING_HEADERS {
        let out = node.recv(u64::from(round), 1, &message);
        assert!(!disconnects(&out, 1), "round {round}: {out:?}");
        assert!(sent_getheaders(&out, 1), "round {round}: {out:?}");
    }
    let out = node.recv(100, 1, &message);
    assert!(disconnects(&out, 1), "{out:?}");

    node.handshake(200, 2, 2);
    let mut remote = test_host();
    let blocks = mine(&mut remote, 2);
    let mut broken = vec![blocks[0].header, blocks[1].header];
    broken[1].prev_hash = Hash256([0xcd; 32]);
    let out = node.recv(201, 2, &Message::Headers(broken));
    assert!(disconnects(&out, 2), "{out:?}");
}

/// Delivers every block the node asks `peer` for, starting from `out`, checking the in-flight
/// limit; `between` runs after each delivery. Returns the most blocks that were in flight.
fn serve_blocks(
    node: &mut Node,
    now_ms: u64,
    peer: PeerId,
    blocks: &[Block],
    first: Vec<Output>,
    mut between: impl FnMut(&mut Node),
) -> usize {
    let mut in_flight: Vec<Hash256> = getdata_blocks(&first, peer);
    let mut widest = 0;
    while let Some(hash) = in_flight.first().copied() {
        assert!(in_flight.len() <= MAX_BLOCKS_IN_FLIGHT_PER_PEER);
        widest = widest.max(in_flight.len());
        in_flight.remove(0);
        let block = blocks
            .iter()
            .find(|b| b.hash() == hash)
            .expect("the node asks only for blocks the peer announced")
            .clone();
        let out = node.recv(now_ms, peer, &Message::Block(block.into()));
        assert!(!disconnects(&out, peer), "{out:?}");
        in_flight.extend(getdata_blocks(&out, peer));
        between(node);
    }
    widest
}

#[test]
fn headers_first_sync_downloads_the_peers_chain() {
    let mut remote = test_host();
    let blocks = mine(&mut remote, 400);
    let mut node = Node::new();
    let out = node.handshake(0, 1, 1);
    assert!(sent_getheaders(&out, 1), "{out:?}");
    let out = node.recv(1, 1, &headers_of(&blocks));
    assert_eq!(
        getdata_blocks(&out, 1).len(),
        MIN_BLOCKS_IN_FLIGHT_PER_PEER,
        "before any block arrived the window is the narrowest: {out:?}"
    );
    let widest = serve_blocks(&mut node, 2, 1, &blocks, out, |_| {});
    assert_eq!(node.tip(), remote.chain.tip().hash);
    // Regtest blocks are a few hundred bytes: the window widens to keep many in flight.
    assert!(
        widest >= 8 * MIN_BLOCKS_IN_FLIGHT_PER_PEER,
        "at most {widest} blocks were in flight"
    );
}

#[test]
fn stalled_block_is_requested_from_another_peer() {
    let mut remote = test_host();
    let blocks = mine(&mut remote, 3);
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    node.handshake(0, 2, 2);
    let out = node.recv(1, 1, &headers_of(&blocks));
    let asked: HashSet<Hash256> = getdata_blocks(&out, 1).into_iter().collect();
    assert_eq!(asked.len(), 3);
    let out = node.recv(1, 2, &headers_of(&blocks));
    assert!(
        getdata_blocks(&out, 2).is_empty(),
        "already in flight: {out:?}"
    );

    let out = node.tick(1 + BLOCK_STALL_TIMEOUT_MS);
    assert!(!disconnects(&out, 1), "not before the timeout: {out:?}");
    let out = node.tick(2 + BLOCK_STALL_TIMEOUT_MS);
    assert!(disconnects(&out, 1), "{out:?}");
    let again: HashSet<Hash256> = getdata_blocks(&out, 2).into_iter().collect();
    assert_eq!(again, asked, "{out:?}");
    serve_blocks(
        &mut node,
        3 + BLOCK_STALL_TIMEOUT_MS,
        2,
        &blocks,
        out,
        |_| {},
    );
    assert_eq!(node.tip(), remote.chain.tip().hash);
}

#[test]
fn junk_flood_from_one_peer_does_not_stop_another_peers_sync() {
    let mut remote = test_host();
    let blocks = mine(&mut remote, MAX_BLOCKS_IN_FLIGHT_PER_PEER + 4);
    let junk_tx = blocks[0].transactions[0].clone();
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    node.handshake(0, 2, 2);
    let out = node.recv(1, 2, &headers_of(&blocks));
    let mut floods = 0;
    serve_blocks(&mut node, 2, 2, &blocks, out, |node| {
        for index in 0..30 {
            let out = if index % 2 == 0 {
                node.input(
                    2,
                    Input::BadFrame {
                        peer: 1,
                        error: &bad_checksum(),
                    },
                )
            } else {
                node.recv(2, 1, &Message::Tx(junk_tx.clone()))
            };
            assert!(!disconnects(&out, 2), "{out:?}");
            floods += 1;
        }
    });
    assert!(floods >= 300, "{floods} junk messages");
    assert_eq!(node.tip(), remote.chain.tip().hash);
}

#[test]
fn accepted_blocks_and_local_inventory_are_relayed() {
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    node.handshake(0, 2, 2);
    node.connect(0, 3, 3, true);

    let block = solved(&node.host.chain, 6);
    let hash = block.hash();
    let out = node.recv(1, 1, &Message::Inv(vec![InvItem::block(hash)]));
    assert_eq!(getdata_blocks(&out, 1), vec![hash]);
    let out = node.recv(2, 1, &Message::Block(block.into()));
    assert_eq!(node.tip(), hash);
    assert_eq!(inv_hashes(&out, 2), vec![hash], "{out:?}");
    assert!(
        inv_hashes(&out, 1).is_empty(),
        "not back to its source: {out:?}"
    );
    assert!(
        inv_hashes(&out, 3).is_empty(),
        "not to a peer mid-handshake"
    );

    let local = solved(&node.host.chain, 7);
    let local_hash = local.hash();
    node.host
        .submit_block(HashedBlock::new(local))
        .expect("a valid block");
    let out = node.input(3, Input::NewLocalBlock);
    assert_eq!(inv_hashes(&out, 1), vec![local_hash], "{out:?}");
    assert_eq!(inv_hashes(&out, 2), vec![local_hash], "{out:?}");
    assert!(inv_hashes(&out, 3).is_empty());

    let txid = Hash256([0x11; 32]);
    let out = node.input(4, Input::AnnounceTx(txid));
    for peer in [1, 2] {
        assert!(sent(&out, peer).contains(&&Message::Inv(vec![InvItem::tx(txid)])));
    }
    assert!(inv_hashes(&out, 3).is_empty());

    let out = node.recv(5, 2, &Message::GetData(vec![InvItem::block(hash)]));
    assert!(
        matches!(sent(&out, 2)[..], [Message::Block(b)] if b.hash() == hash),
        "{out:?}"
    );
    let unknown = InvItem::block(Hash256([0x22; 32]));
    let out = node.recv(6, 2, &Message::GetData(vec![unknown]));
    assert_eq!(sent(&out, 2), vec![&Message::NotFound(vec![unknown])]);
}

#[test]
fn mutated_block_body_from_first_source_falls_back_to_second_source() {
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    node.handshake(0, 2, 2);
    let good = solved(&node.host.chain, 8);
    let hash = good.hash();
    let mut bad = good.clone();
    if let Some(data) = bad.transactions[0].coinbase.as_mut() {
        data.extra_nonce ^= 0xdead_beef;
    }
    let out = node.recv(1, 1, &Message::Inv(vec![InvItem::block(hash)]));
    assert_eq!(getdata_blocks(&out, 1), vec![hash]);
    let out = node.recv(2, 2, &Message::Inv(vec![InvItem::block(hash)]));
    assert!(
        getdata_blocks(&out, 2).is_empty(),
        "already in flight: {out:?}"
    );

    let out = node.recv(3, 1, &Message::Block(bad.into()));
    assert!(disconnects(&out, 1), "{out:?}");
    assert_eq!(getdata_blocks(&out, 2), vec![hash], "{out:?}");
    node.recv(4, 2, &Message::Block(good.into()));
    assert_eq!(node.tip(), hash);
}
