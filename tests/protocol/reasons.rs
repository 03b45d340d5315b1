//! One case per `DisconnectReason` code: each drives the protocol into dropping a peer for exactly
//! that reason and asserts the code on the `Disconnect` output (and on the event that tells of it).
//! `send-queue-full` is the shell's reason: the driver gives it when the links refuse a message.
//! The last test fails when a code has no case here.

use super::*;
use nakachain::types::{Amount, Transaction, TxOut};

/// Drops `peer` with `code`; a `peer_disconnected` event about it (a peer past the handshake)
/// carries the same code.
fn assert_dropped_for(out: &[Output], peer: PeerId, code: &str) {
    assert_eq!(disconnect_reason(out, peer), Some(code), "{out:?}");
    for output in out {
        if let Output::Event(EventKind::PeerDisconnected {
            peer: p, code: c, ..
        }) = output
        {
            if *p == peer {
                assert_eq!(c, code, "{out:?}");
            }
        }
    }
}

/// A node with peer 1 through the handshake.
fn with_peer() -> Node {
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    node
}

#[test]
fn network_disabled() {
    let mut node = with_peer();
    let out = node.input(1, Input::SetNetworkActive(false));
    assert_dropped_for(&out, 1, "network-disabled");
}

#[test]
fn discouraged() {
    let mut node = Node::with_inbound(1);
    node.handshake_at(0, 1, remote_addr(1), true);
    let mut block = solved(&node.host.chain, 1);
    block.header.nonce = block.header.nonce.wrapping_add(1);
    while check_header(&block.header, node.host.chain.params()).is_ok() {
        block.header.nonce = block.header.nonce.wrapping_add(1);
    }
    node.recv(1, 1, &headers_of(&[block]));
    node.connect_from(2, 2, remote_addr(2), true);
    // The only slot is taken: a discouraged address evicts no one.
    let out = node.connect_from(2, 3, remote_addr(1), true);
    assert_dropped_for(&out, 3, "discouraged");
}

#[test]
fn denied() {
    let mut node = with_peer();
    let listen = SocketAddr::from((Ipv4Addr::new(127, 0, 0, 1), 9_333));
    let out = node.input(1, Input::SetDenied(&[listen]));
    assert_dropped_for(&out, 1, "denied");
}

#[test]
fn inbound_full() {
    let mut node = Node::new();
    let mut out = Vec::new();
    for peer in 1..=17 {
        out = node.connect(0, peer, peer as u8, true);
    }
    assert_dropped_for(&out, 17, "inbound-full");
}

#[test]
fn evicted() {
    let mut node = Node::with_inbound(32);
    for peer in 1..=32 {
        node.connect(peer, peer, peer as u8, true);
    }
    let out = node.connect(100, 33, 33, true);
    let evicted: Vec<PeerId> = (1..=32).filter(|p| disconnects(&out, *p)).collect();
    assert_eq!(evicted.len(), 1, "{out:?}");
    assert_dropped_for(&out, evicted[0], "evicted");
    assert!(!disconnects(&out, 33));
}

#[test]
fn before_version() {
    let mut node = Node::new();
    node.connect(0, 1, 1, true);
    let out = node.recv(0, 1, &Message::Ping(1));
    assert_dropped_for(&out, 1, "before-version");
}

#[test]
fn before_verack() {
    let mut node = Node::new();
    node.connect(0, 1, 1, true);
    node.recv(0, 1, &version(1_001));
    let out = node.recv(0, 1, &Message::Ping(1));
    assert_dropped_for(&out, 1, "before-verack");
}

#[test]
fn second_handshake() {
    let mut node = with_peer();
    let out = node.recv(1, 1, &version(1_001));
    assert_dropped_for(&out, 1, "second-handshake");
}

#[test]
fn self_connection() {
    let mut node = Node::new();
    node.connect(0, 1, 1, true);
    let out = node.recv(0, 1, &version(NODE_NONCE));
    assert_dropped_for(&out, 1, "self-connection");
}

#[test]
fn other_network() {
    let mut node = Node::new();
    node.connect(0, 1, 1, true);
    let out = node.recv(0, 1, &version_on(Hash256([9; 32]), 1_001));
    assert_dropped_for(&out, 1, "other-network");
}

#[test]
fn duplicate_connection() {
    let mut node = with_peer();
    node.connect(1, 2, 2, true);
    // The same remote node (its nonce) on a second inbound connection: the older one stays.
    let out = node.recv(1, 2, &version(1_001));
    assert_dropped_for(&out, 2, "duplicate-connection");
}

#[test]
fn handshake_timeout() {
    let mut node = Node::new();
    node.connect(0, 1, 1, true);
    let out = node.tick(HANDSHAKE_TIMEOUT_MS + 1);
    assert_dropped_for(&out, 1, "handshake-timeout");
}

#[test]
fn ping_timeout() {
    let mut node = with_peer();
    node.tick(PING_INTERVAL_MS + 1);
    let out = node.tick(PING_INTERVAL_MS + PING_TIMEOUT_MS + 2);
    assert_dropped_for(&out, 1, "ping-timeout");
}

#[test]
fn block_download_stalled() {
    let mut node = with_peer();
    let block = solved(&node.host.chain, 1);
    let out = node.recv(1, 1, &Message::Inv(vec![InvItem::block(block.hash())]));
    assert_eq!(getdata_blocks(&out, 1), vec![block.hash()]);
    let out = node.tick(BLOCK_STALL_TIMEOUT_MS + 2);
    assert_dropped_for(&out, 1, "block-download-stalled");
}

#[test]
fn disconnectnode() {
    let mut node = with_peer();
    let out = node.input(1, Input::DisconnectPeer(1));
    assert_dropped_for(&out, 1, "disconnectnode");
}

#[test]
fn bad_frame() {
    let mut node = with_peer();
    let error = WireError::BadMagic {
        expected: [1; 4],
        got: [2; 4],
    };
    let out = node.input(
        1,
        Input::BadFrame {
            peer: 1,
            error: &error,
        },
    );
    assert_dropped_for(&out, 1, "bad-frame");
}

#[test]
fn oversized_getdata() {
    let mut node = with_peer();
    let items = (0..=MAX_BLOCKS_PER_GETDATA as u8)
        .map(|n| InvItem::block(Hash256([n; 32])))
        .collect();
    let out = node.recv(1, 1, &Message::GetData(items));
    assert_dropped_for(&out, 1, "oversized-getdata");
}

#[test]
fn unsolicited_block() {
    let mut node = with_peer();
    let block = solved(&node.host.chain, 1);
    let out = node.recv(1, 1, &Message::Block(block.into()));
    assert_dropped_for(&out, 1, "unsolicited-block");
}

#[test]
fn headers_not_a_chain() {
    let mut node = with_peer();
    let first = solved(&node.host.chain, 1);
    let sibling = solved(&node.host.chain, 2);
    let out = node.recv(1, 1, &headers_of(&[first, sibling]));
    assert_dropped_for(&out, 1, "headers-not-a-chain");
}

#[test]
fn unconnecting_headers() {
    let mut node = with_peer();
    let mut other = test_host();
    let far = mine(&mut other, 2);
    let lone = headers_of(&far[1..]);
    let mut out = Vec::new();
    for round in 0..=MAX_UNCONNECTING_HEADERS {
        out = node.recv(1 + u64::from(round), 1, &lone);
    }
    assert_dropped_for(&out, 1, "unconnecting-headers");
}

#[test]
fn invalid_transaction() {
    let mut node = with_peer();
    // No inputs: a rule every node applies, not a coin this node merely lacks.
    let tx = Transaction {
        version: Transaction::VERSION,
        coinbase: None,
        inputs: Vec::new(),
        outputs: vec![TxOut {
            amount: Amount(1),
            address: Address::from_pubkey(&[1; 32]),
        }],
    };
    let out = node.recv(1, 1, &Message::Inv(vec![InvItem::tx(tx.txid())]));
    assert!(sent(&out, 1)
        .iter()
        .any(|m| matches!(m, Message::GetData(_))));
    let out = node.recv(1, 1, &Message::Tx(tx));
    assert_dropped_for(&out, 1, "invalid-transaction");
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Event(EventKind::PeerMisbehaved { code, .. }) if code == "invalid-transaction")));
}

/// A block on the tip whose coinbase pays one unit too much: only connecting it finds that.
fn overpaying(chain: &Chain) -> Block {
    let mut block = assembled(chain, 6);
    let paid = block.transactions[0].outputs[0].amount;
    block.transactions[0].outputs[0].amount = Amount(paid.0 + 1);
    block.header.merkle_root = block.compute_merkle_root();
    assert!(solve_block(&mut block, &AtomicBool::new(false)));
    block
}

#[test]
fn invalid_block() {
    let mut node = with_peer();
    let block = overpaying(&node.host.chain);
    node.recv(1, 1, &Message::Inv(vec![InvItem::block(block.hash())]));
    let out = node.recv(1, 1, &Message::Block(block.into()));
    assert_dropped_for(&out, 1, "invalid-block");
}

#[test]
fn known_invalid_block() {
    let mut node = with_peer();
    let block = overpaying(&node.host.chain);
    let out = node.recv(1, 1, &Message::Inv(vec![InvItem::block(block.hash())]));
    assert_eq!(getdata_blocks(&out, 1), vec![block.hash()]);
    // While the peer is asked for it, the same block reaches the node another way (as through
    // `submitblock`) and fails: the peer's copy is one the node knows to be invalid.
    let outcome = node
        .host
        .submit_block(HashedBlock::new(block.clone()))
        .expect("a block that fails only on connect enters the tree");
    assert_eq!(outcome.invalid.len(), 1);
    let out = node.recv(2, 1, &Message::Block(block.into()));
    assert_dropped_for(&out, 1, "known-invalid-block");
}

#[test]
fn invalid_headers() {
    let mut node = with_peer();
    let mut block = solved(&node.host.chain, 1);
    while check_header(&block.header, node.host.chain.params()).is_ok() {
        block.header.nonce = block.header.nonce.wrapping_add(1);
    }
    let out = node.recv(1, 1, &headers_of(&[block]));
    assert_dropped_for(&out, 1, "invalid-headers");
}

#[test]
fn connection_closed() {
    let mut node = with_peer();
    let out = node.input(1, Input::Disconnected { peer: 1 });
    assert!(
        out.iter().any(|o| matches!(o, Output::Event(EventKind::PeerDisconnected { peer: 1, code, .. }) if code == "connection-closed")),
        "{out:?}"
    );
}

/// Links whose send queues are full for `slow`.
struct SlowPeer {
    slow: PeerId,
    recorded: Recorded,
    dropped: Vec<(PeerId, &'static str)>,
}

impl Links for SlowPeer {
    fn send(&mut self, peer: PeerId, _message: Message) -> bool {
        peer != self.slow
    }

    fn connect(&mut self, _addr: SocketAddr) {}

    fn disconnect(&mut self, peer: PeerId, reason: &DisconnectReason) {
        self.dropped.push((peer, reason.code()));
    }

    fn observe(&mut self, output: &Output) {
        self.recorded.observe(output);
    }
}

#[test]
fn send_queue_full() {
    let mut node = with_peer();
    let mut links = SlowPeer {
        slow: 1,
        recorded: Recorded::default(),
        dropped: Vec::new(),
    };
    let input = Input::Received {
        peer: 1,
        message: Received::from(Message::Ping(3)),
    };
    drive(
        &mut node.protocol,
        &mut node.host,
        &mut links,
        1,
        input,
        ResumeWhen::AtOnce,
    );
    assert_eq!(links.dropped, vec![(1, "send-queue-full")]);
    assert!(node.protocol.peers().is_empty(), "the protocol forgot it");
}

#[test]
fn every_disconnect_code_has_a_case_here() {
    let source = include_str!("reasons.rs");
    let missing: Vec<&str> = DisconnectReason::CODES
        .iter()
        .copied()
        .filter(|code| !source.contains(&format!("fn {}() {{", code.replace('-', "_"))))
        .collect();
    assert!(missing.is_empty(), "no case for {missing:?}");
}
