//! Transactions withheld by the peer that announced them first still arrive from the others:
//! the request moves on when it times out, when the peer answers `notfound`, and at once when
//! the peer leaves; and one peer cannot make the node remember its announcements without bound.

use super::*;
use nakachain::protocol::{MAX_PEER_TX_ANNOUNCEMENTS, TX_REQUEST_TIMEOUT_MS};

const HOSTILE: PeerId = 1;
const HONEST: PeerId = 2;

fn txid(index: u32) -> Hash256 {
    let mut bytes = [0xab; 32];
    bytes[..4].copy_from_slice(&index.to_le_bytes());
    Hash256(bytes)
}

fn inv_txs(txids: &[Hash256]) -> Message {
    Message::Inv(txids.iter().copied().map(InvItem::tx).collect())
}

/// The transactions asked of `peer`.
fn getdata_txs(out: &[Output], peer: PeerId) -> Vec<Hash256> {
    sent(out, peer)
        .into_iter()
        .filter_map(|m| match m {
            Message::GetData(items) => Some(items.clone()),
            _ => None,
        })
        .flatten()
        .filter(|item| item.kind == InvKind::Tx)
        .map(|item| item.hash)
        .collect()
}

/// A node with a hostile and an honest peer that both announced `txid(1)`, the hostile one
/// first: only the hostile one is asked.
fn both_announced() -> Node {
    let mut node = Node::new();
    node.handshake(0, HOSTILE, 1);
    node.handshake(0, HONEST, 2);
    let out = node.recv(10, HOSTILE, &inv_txs(&[txid(1)]));
    assert_eq!(getdata_txs(&out, HOSTILE), vec![txid(1)]);
    let out = node.recv(20, HONEST, &inv_txs(&[txid(1)]));
    assert!(getdata_txs(&out, HONEST).is_empty(), "{out:?}");
    node
}

#[test]
fn a_withheld_transaction_is_asked_of_the_next_announcer_after_the_timeout() {
    let mut node = both_announced();
    let out = node.tick(10 + TX_REQUEST_TIMEOUT_MS - 1);
    assert!(getdata_txs(&out, HONEST).is_empty(), "{out:?}");
    let out = node.tick(10 + TX_REQUEST_TIMEOUT_MS);
    assert_eq!(getdata_txs(&out, HONEST), vec![txid(1)]);
    assert!(
        !disconnects(&out, HOSTILE),
        "withholding is not punished: {out:?}"
    );
}

#[test]
fn a_departed_announcers_request_goes_to_the_next_at_once() {
    let mut node = both_announced();
    let out = node.input(30, Input::Disconnected { peer: HOSTILE });
    assert_eq!(getdata_txs(&out, HONEST), vec![txid(1)]);
}

#[test]
fn notfound_moves_the_request_on_at_once() {
    let mut node = both_announced();
    let out = node.recv(30, HOSTILE, &Message::NotFound(vec![InvItem::tx(txid(1))]));
    assert_eq!(getdata_txs(&out, HONEST), vec![txid(1)]);
    // A notfound for what was not asked of that peer moves nothing.
    let out = node.recv(40, HOSTILE, &Message::NotFound(vec![InvItem::tx(txid(1))]));
    assert!(getdata_txs(&out, HONEST).is_empty(), "{out:?}");
}

#[test]
fn outbound_announcers_are_preferred_when_a_request_moves_on() {
    let mut node = Node::new();
    node.handshake(0, HOSTILE, 1);
    node.handshake(0, HONEST, 2);
    let outbound = 3;
    node.handshake_at(0, outbound, peer_addr(3), false);
    node.recv(10, HOSTILE, &inv_txs(&[txid(1)]));
    node.recv(20, HONEST, &inv_txs(&[txid(1)]));
    node.recv(30, outbound, &inv_txs(&[txid(1)]));
    let out = node.tick(10 + TX_REQUEST_TIMEOUT_MS);
    assert_eq!(getdata_txs(&out, outbound), vec![txid(1)]);
    assert!(getdata_txs(&out, HONEST).is_empty(), "{out:?}");
}

#[test]
fn one_peers_announcements_are_remembered_within_a_bound() {
    let mut node = Node::new();
    node.handshake(0, HOSTILE, 1);
    node.handshake(0, HONEST, 2);
    let flood = MAX_PEER_TX_ANNOUNCEMENTS as u32 + 3_000;
    let mut asked = 0;
    for chunk in (0..flood).collect::<Vec<_>>().chunks(1_000) {
        let txids: Vec<Hash256> = chunk.iter().map(|index| txid(*index)).collect();
        let out = node.recv(10, HOSTILE, &inv_txs(&txids));
        asked += getdata_txs(&out, HOSTILE).len();
        assert!(!disconnects(&out, HOSTILE));
    }
    assert_eq!(asked, MAX_PEER_TX_ANNOUNCEMENTS);
    // The flood costs the honest peer nothing: its announcement is asked for at once.
    let out = node.recv(20, HONEST, &inv_txs(&[txid(flood + 1)]));
    assert_eq!(getdata_txs(&out, HONEST), vec![txid(flood + 1)]);
    // Once the hostile peer's requests time out it may announce again, as many as before.
    node.tick(10 + TX_REQUEST_TIMEOUT_MS);
    let out = node.recv(
        20 + TX_REQUEST_TIMEOUT_MS,
        HOSTILE,
        &inv_txs(&[txid(flood + 2)]),
    );
    assert_eq!(getdata_txs(&out, HOSTILE), vec![txid(flood + 2)]);
}
