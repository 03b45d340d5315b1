//! The deny-list a devnet splits the network with: denied peers are dropped without being
//! discouraged, never dialed, refused at their Version, and welcome again once the list is cleared.

use super::*;

/// Where a remote peer at 127.0.0.`ip` accepts connections (the port its Version names).
fn listen_addr(ip: u8) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(127, 0, 0, ip), 9_333))
}

/// The ephemeral address an inbound connection from 127.0.0.`ip` comes from.
fn inbound_addr(ip: u8) -> SocketAddr {
    peer_addr(ip)
}

impl Node {
    fn deny(&mut self, now_ms: u64, denied: &[SocketAddr]) -> Vec<Output> {
        self.input(now_ms, Input::SetDenied(denied))
    }
}

fn dials(out: &[Output]) -> Vec<SocketAddr> {
    out.iter()
        .filter_map(|o| match o {
            Output::Connect { addr } => Some(*addr),
            _ => None,
        })
        .collect()
}

fn events(out: &[Output]) -> Vec<&EventKind> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(kind) => Some(kind),
            _ => None,
        })
        .collect()
}

#[test]
fn denying_drops_a_connected_peer_without_discouraging_it() {
    let mut node = Node::configured(4, Vec::new());
    node.handshake_at(0, 1, inbound_addr(2), true);
    node.handshake_at(0, 2, inbound_addr(3), true);
    assert_eq!(node.protocol.peers()[0].listen_addr, Some(listen_addr(2)));

    let out = node.deny(10, &[listen_addr(2), listen_addr(2)]);
    assert!(disconnects(&out, 1), "{out:?}");
    assert!(!disconnects(&out, 2), "only the denied peer goes: {out:?}");
    assert_eq!(node.protocol.denied(), &[listen_addr(2)]);
    let kinds = events(&out);
    assert!(
        kinds.contains(&&EventKind::PeersDenied {
            denied: vec![listen_addr(2)]
        }),
        "{kinds:?}"
    );
    assert!(
        !kinds
            .iter()
            .any(|kind| matches!(kind, EventKind::PeerMisbehaved { .. })),
        "a denied peer did nothing wrong: {kinds:?}"
    );
    let peers = node.protocol.peers();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].id, 2);

    let out = node.deny(20, &[]);
    assert!(node.protocol.denied().is_empty());
    assert!(events(&out).contains(&&EventKind::PeersDenied { denied: vec![] }));
    // Not discouraged: the same address is welcome again the moment the list is cleared.
    node.handshake_at(30, 3, inbound_addr(2), true);
    assert_eq!(node.protocol.peers().len(), 2);
}

#[test]
fn denying_a_dialed_address_drops_the_outbound_peer() {
    let mut node = Node::configured(4, vec![listen_addr(4)]);
    let out = node.input(0, Input::Tick);
    assert_eq!(dials(&out), vec![listen_addr(4)]);
    node.handshake_at(0, 1, listen_addr(4), false);
    let out = node.deny(10, &[listen_addr(4)]);
    assert!(disconnects(&out, 1), "{out:?}");
    assert!(node.protocol.peers().is_empty());
}

#[test]
fn denied_addresses_are_not_dialed() {
    let configured = listen_addr(5);
    let added = listen_addr(6);
    let learned = listen_addr(7);
    let mut node = Node::configured(4, vec![configured]);
    node.deny(0, &[configured, added, learned]);
    node.input(0, Input::AddPeer(added));
    // A peer gossips the learned address; it is kept but not dialed while denied.
    node.handshake_at(0, 1, inbound_addr(8), true);
    node.recv(0, 1, &Message::Addr(vec![learned.into()]));
    for now_ms in [0, 1_000, 120_000] {
        let out = node.input(now_ms, Input::Tick);
        assert!(
            !dials(&out)
                .iter()
                .any(|addr| [configured, added, learned].contains(addr)),
            "dialed a denied address at {now_ms} ms: {out:?}"
        );
    }
    // A dial that raced the denial is refused when it connects.
    let out = node.input(
        120_000,
        Input::Connected {
            peer: 2,
            addr: configured,
            inbound: false,
        },
    );
    assert!(disconnects(&out, 2), "{out:?}");
}

#[test]
fn an_inbound_peer_naming_a_denied_listen_address_is_dropped_at_its_version() {
    let mut node = Node::configured(4, Vec::new());
    node.deny(0, &[listen_addr(9)]);
    let out = node.input(
        0,
        Input::Connected {
            peer: 1,
            addr: inbound_addr(9),
            inbound: true,
        },
    );
    assert!(
        !disconnects(&out, 1),
        "its ephemeral address is not denied: {out:?}"
    );
    let out = node.recv(0, 1, &version(77));
    assert!(disconnects(&out, 1), "{out:?}");
    assert!(
        !sent(&out, 1).contains(&&Message::Verack),
        "no handshake with a denied peer"
    );
    assert!(
        !events(&out)
            .iter()
            .any(|kind| matches!(kind, EventKind::PeerConnected { .. })),
        "{out:?}"
    );
    assert!(node.protocol.peers().is_empty());
}

#[test]
fn clearing_the_list_redials_configured_peers_in_the_same_call() {
    let peer = listen_addr(10);
    let mut node = Node::configured(4, vec![peer]);
    assert_eq!(dials(&node.input(0, Input::Tick)), vec![peer]);
    node.handshake_at(0, 1, peer, false);
    node.deny(0, &[peer]);
    assert!(node.protocol.peers().is_empty());
    let later = 60_000;
    assert!(dials(&node.input(later, Input::Tick)).is_empty());

    // Shrinking the list dials at once, not at the next tick and not after the backoff.
    let out = node.deny(later + 1, &[listen_addr(11)]);
    assert_eq!(dials(&out), vec![peer], "{out:?}");

    // That dial fails and backs off for seconds; denying and clearing again forgets the backoff.
    node.input(later + 2, Input::ConnectFailed { addr: peer });
    assert!(dials(&node.input(later + 3, Input::Tick)).is_empty());
    node.deny(later + 3, &[peer]);
    let out = node.deny(later + 4, &[]);
    assert_eq!(dials(&out), vec![peer], "{out:?}");
}

#[test]
fn a_peer_that_does_not_listen_has_no_listen_address() {
    let mut node = Node::configured(4, Vec::new());
    node.input(
        0,
        Input::Connected {
            peer: 1,
            addr: inbound_addr(12),
            inbound: true,
        },
    );
    let mut message = version(5);
    if let Message::Version { listen_port, .. } = &mut message {
        *listen_port = 0;
    }
    let out = node.recv(0, 1, &message);
    assert!(sent(&out, 1).contains(&&Message::Verack), "{out:?}");
    assert_eq!(node.protocol.peers()[0].listen_addr, None);
}
