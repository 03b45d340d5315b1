//! A connection's life: the handshake and what breaks it, two connections to one node,
//! keep-alive and its timeout, and the addresses a node learns, dials and shares.

use super::*;

#[test]
fn message_before_version_or_second_version_disconnects() {
    let mut node = Node::new();
    node.connect(0, 1, 1, true);
    let out = node.recv(0, 1, &Message::Ping(1));
    assert!(disconnects(&out, 1), "{out:?}");

    node.handshake(0, 2, 2);
    let out = node.recv(1, 2, &version(555));
    assert!(disconnects(&out, 2), "{out:?}");
}

#[test]
fn version_from_other_network_or_from_ourselves_disconnects() {
    let mut node = Node::new();
    node.connect(0, 1, 1, true);
    let other = Params::devnet().network_id();
    assert_ne!(other, sim_params().network_id());
    let out = node.recv(0, 1, &version_on(other, 99));
    assert!(disconnects(&out, 1), "{out:?}");

    let out = node.connect(0, 2, 2, false);
    let own_nonce = sent(&out, 2)
        .into_iter()
        .find_map(|m| match m {
            Message::Version { nonce, .. } => Some(*nonce),
            _ => None,
        })
        .expect("an outbound connection starts with our Version");
    let out = node.recv(0, 2, &version(own_nonce));
    assert!(disconnects(&out, 2), "{out:?}");
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Disconnect { peer: 2, reason } if *reason == DisconnectReason::SelfConnection
    )));
}

#[test]
fn two_connections_to_one_node_keep_the_one_the_smaller_nonce_dialed() {
    // Peer 1 is the connection we dialed, peer 2 the one the other node dialed; both ends
    // keep the one whose dialer has the smaller nonce.
    for (their_nonce, dropped, kept) in [(NODE_NONCE + 1, 2, 1), (NODE_NONCE - 1, 1, 2)] {
        let mut node = Node::new();
        node.connect(0, 1, 5, false);
        node.recv(0, 1, &version(their_nonce));
        node.recv(0, 1, &Message::Verack);
        node.connect(0, 2, 5, true);
        let out = node.recv(0, 2, &version(their_nonce));
        assert!(
            out.iter().any(|o| matches!(
                o,
                Output::Disconnect { peer, reason } if *peer == dropped && *reason == DisconnectReason::DuplicateConnection
            )),
            "nonce {their_nonce:x}: {out:?}"
        );
        assert!(!disconnects(&out, kept), "nonce {their_nonce:x}: {out:?}");
        let peers: Vec<PeerId> = node.protocol.peers().iter().map(|peer| peer.id).collect();
        assert_eq!(peers, vec![kept], "nonce {their_nonce:x}");
    }
    // Two connections one end dialed: the older stays.
    let mut node = Node::new();
    node.connect(0, 1, 5, true);
    node.recv(0, 1, &version(77));
    node.connect(0, 2, 6, true);
    let out = node.recv(0, 2, &version(77));
    assert!(disconnects(&out, 2) && !disconnects(&out, 1), "{out:?}");
}

#[test]
fn an_address_that_reached_a_peer_we_had_is_not_dialed_again_while_it_stays() {
    let mut node = Node::new();
    let configured = peer_addr(5);
    node.input(0, Input::AddPeer(configured));
    let out = node.tick(0);
    assert!(
        out.contains(&Output::Connect { addr: configured }),
        "{out:?}"
    );
    node.connect(0, 1, 5, false);
    // The same node dialed us too, from an ephemeral port, naming a listen port (9,333) that
    // is not the one we dial: only its nonce says it is the same node.
    node.input(
        0,
        Input::Connected {
            peer: 2,
            addr: SocketAddr::new(configured.ip(), 55_555),
            inbound: true,
        },
    );
    node.recv(0, 1, &version(NODE_NONCE - 1));
    let out = node.recv(0, 2, &version(NODE_NONCE - 1));
    assert!(disconnects(&out, 1) && !disconnects(&out, 2), "{out:?}");
    node.input(0, Input::Disconnected { peer: 1 });
    node.recv(0, 2, &Message::Verack);

    // Long past the reconnect backoff, within the ping timeout.
    let out = node.tick(PING_TIMEOUT_MS / 2);
    assert!(
        !out.contains(&Output::Connect { addr: configured }),
        "{out:?}"
    );
    node.input(PING_TIMEOUT_MS / 2, Input::Disconnected { peer: 2 });
    let out = node.tick(PING_TIMEOUT_MS);
    assert!(
        out.contains(&Output::Connect { addr: configured }),
        "{out:?}"
    );
}

#[test]
fn unfinished_handshake_times_out() {
    let mut node = Node::new();
    node.connect(0, 1, 1, true);
    node.recv(0, 1, &version(5));
    let out = node.tick(HANDSHAKE_TIMEOUT_MS);
    assert!(!disconnects(&out, 1), "{out:?}");
    let out = node.tick(HANDSHAKE_TIMEOUT_MS + 1);
    assert!(disconnects(&out, 1), "{out:?}");
}

fn ping_sent(out: &[Output], peer: PeerId) -> Option<u64> {
    sent(out, peer).into_iter().find_map(|m| match m {
        Message::Ping(nonce) => Some(*nonce),
        _ => None,
    })
}

#[test]
fn silent_peer_is_dropped_after_ping_timeout_but_answering_peer_stays() {
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    node.handshake(0, 2, 2);
    let out = node.tick(PING_INTERVAL_MS);
    assert_eq!(ping_sent(&out, 1), None, "not before the interval: {out:?}");
    let ping_at = PING_INTERVAL_MS + 1;
    let out = node.tick(ping_at);
    assert!(ping_sent(&out, 1).is_some(), "{out:?}");
    let nonce = ping_sent(&out, 2).expect("peer 2 pinged too");
    node.recv(ping_at + 5, 2, &Message::Pong(nonce));

    let out = node.tick(ping_at + PING_TIMEOUT_MS);
    assert!(!disconnects(&out, 1), "not before the timeout: {out:?}");
    let out = node.tick(ping_at + PING_TIMEOUT_MS + 1);
    assert!(disconnects(&out, 1), "{out:?}");
    assert!(!disconnects(&out, 2), "{out:?}");
    assert!(answers_ping(&mut node, ping_at + PING_TIMEOUT_MS + 2, 2));
}

#[test]
fn addresses_are_asked_for_learned_dialed_and_shared() {
    let mut node = Node::new();
    let out = node.handshake(0, 1, 1);
    assert!(sent(&out, 1).contains(&&Message::GetAddr), "{out:?}");

    let learned = SocketAddr::from((Ipv4Addr::new(127, 0, 5, 5), 7_000));
    node.recv(1, 1, &Message::Addr(vec![PeerAddress::from(learned)]));
    let out = node.tick(2);
    assert!(out.contains(&Output::Connect { addr: learned }), "{out:?}");
    // The inbound peer's own listen address (its IP, the port its Version named) was learned
    // in the handshake, but that peer is connected already: no second connection to it.
    let listening = SocketAddr::new(peer_addr(1).ip(), 9_333);
    assert!(
        !out.contains(&Output::Connect { addr: listening }),
        "{out:?}"
    );

    let out = node.recv(3, 1, &Message::GetAddr);
    let shared = sent(&out, 1)
        .into_iter()
        .find_map(|m| match m {
            Message::Addr(addrs) => Some(addrs.clone()),
            _ => None,
        })
        .expect("GetAddr is answered with Addr");
    assert!(shared.contains(&PeerAddress::from(learned)), "{shared:?}");
}

/// Finding 4 of the hostile-peer report: 300 connections that hold every inbound slot (from
/// one address, answering pings) kept an honest newcomer out for as long as they lasted. Each
/// newcomer now takes the place of a peer of the flood, and a peer that relays blocks is never
/// the one to go however long the flood goes on.
#[test]
fn a_connection_flood_locks_no_one_out_and_evicts_no_useful_peer() {
    let mut node = Node::with_inbound(32);
    let honest: PeerId = 1;
    node.handshake_at(0, honest, remote_addr(200), true);
    let block = solved(&node.host.chain, 1);
    let hash = block.hash();
    node.recv(1, honest, &Message::Inv(vec![InvItem::block(hash)]));
    node.recv(2, honest, &Message::Block(block.into()));
    assert_eq!(node.tip(), hash);

    let mut now_ms = 10;
    for attacker in 2..=300 {
        now_ms += 10;
        let out = node.handshake_at(now_ms, attacker, peer_addr((attacker % 250) as u8), true);
        assert!(!disconnects(&out, honest), "attacker {attacker}: {out:?}");
        assert!(answers_ping(&mut node, now_ms, attacker));
    }
    let newcomer: PeerId = 1_000;
    let out = node.handshake_at(now_ms + 10, newcomer, remote_addr(201), true);
    assert!(!disconnects(&out, newcomer), "{out:?}");
    assert!(!disconnects(&out, honest), "{out:?}");
    assert!(answers_ping(&mut node, now_ms + 20, honest));
    assert!(answers_ping(&mut node, now_ms + 20, newcomer));
}

/// The wake-up a shell with many nodes relies on: every timer a tick acts on is announced by
/// `next_wake_ms` no later than when it falls due, and a tick at that time acts on it.
#[test]
fn the_next_wake_names_each_timer_before_it_falls_due() {
    let mut node = Node::new();
    assert_eq!(node.protocol.next_wake_ms(0), None, "nothing waits");
    node.connect(0, 1, 1, true);
    let handshake_due = node.protocol.next_wake_ms(0).expect("a handshake timeout");
    assert!(handshake_due <= HANDSHAKE_TIMEOUT_MS + 1, "{handshake_due}");
    node.handshake(0, 2, 2);
    let out = node.tick(handshake_due);
    assert!(disconnects(&out, 1), "the silent newcomer goes: {out:?}");

    // Peer 2 is ready: its ping is the next thing due.
    let ping_due = node.protocol.next_wake_ms(handshake_due).expect("a ping");
    assert!(ping_due <= PING_INTERVAL_MS + 1, "{ping_due}");
    let out = node.tick(ping_due.max(PING_INTERVAL_MS + 1));
    assert!(ping_sent(&out, 2).is_some(), "{out:?}");
    let timeout_due = node
        .protocol
        .next_wake_ms(PING_INTERVAL_MS + 1)
        .expect("the ping's timeout");
    assert!(timeout_due <= PING_INTERVAL_MS + 1 + PING_TIMEOUT_MS + 1);
    let out = node.tick(PING_INTERVAL_MS + 1 + PING_TIMEOUT_MS + 1);
    assert!(disconnects(&out, 2), "unanswered: {out:?}");
}
