//! During a sync a delivered block waits its turn (the protocol asks to be resumed): messages
//! that arrived behind it are handled first, the waiting blocks are validated on `Resume` in
//! arrival order, and they leave with the peer that delivered them.

use super::*;

/// Hands the protocol `message` from `peer` without resuming it afterwards.
fn recv_without_resuming(
    node: &mut Node,
    now_ms: u64,
    peer: PeerId,
    message: Message,
) -> Vec<Output> {
    node.input_resuming(
        now_ms,
        Input::Received {
            peer,
            message: Received::from(message),
        },
        ResumeWhen::Later,
    )
}

/// A node that took the headers of 40 blocks from peer 1 and asked it for the first ones.
fn syncing(node: &mut Node) -> Vec<Block> {
    let mut remote = test_host();
    let blocks = mine(&mut remote, 40);
    node.handshake(0, 1, 1);
    let out = node.recv(1, 1, &headers_of(&blocks));
    assert_eq!(
        getdata_blocks(&out, 1).first(),
        Some(&blocks[0].hash()),
        "{out:?}"
    );
    blocks
}

fn block_message(block: &Block) -> Message {
    Message::Block(block.clone().into())
}

#[test]
fn messages_behind_waiting_blocks_are_handled_first() {
    let mut node = Node::new();
    let blocks = syncing(&mut node);
    let genesis = node.tip();
    for block in &blocks[..2] {
        let out = recv_without_resuming(&mut node, 2, 1, block_message(block));
        assert_eq!(out.last(), Some(&Output::Resume), "{out:?}");
        assert!(!disconnects(&out, 1), "{out:?}");
    }
    assert_eq!(node.protocol.blocks_to_validate(), 2);

    let out = recv_without_resuming(&mut node, 3, 1, Message::Ping(7));
    assert!(sent(&out, 1).contains(&&Message::Pong(7)), "{out:?}");
    assert_eq!(node.tip(), genesis, "the blocks still wait");
    assert_eq!(out.last(), Some(&Output::Resume));

    let out = node.input(4, Input::Resume);
    assert_eq!(node.tip(), blocks[1].hash(), "validated in arrival order");
    assert_eq!(node.protocol.blocks_to_validate(), 0);
    assert!(!out.contains(&Output::Resume), "{out:?}");
}

#[test]
fn a_block_delivered_twice_is_unsolicited_the_second_time() {
    let mut node = Node::new();
    let blocks = syncing(&mut node);
    let out = recv_without_resuming(&mut node, 2, 1, block_message(&blocks[0]));
    assert!(!disconnects(&out, 1), "{out:?}");
    let out = recv_without_resuming(&mut node, 2, 1, block_message(&blocks[0]));
    assert!(disconnects(&out, 1), "{out:?}");
    assert_eq!(
        node.protocol.blocks_to_validate(),
        0,
        "its blocks left with it"
    );
}

#[test]
fn waiting_blocks_leave_with_their_peer_and_are_asked_of_another() {
    let mut node = Node::new();
    let blocks = syncing(&mut node);
    let genesis = node.tip();
    let first = blocks[0].hash();
    node.handshake(0, 2, 2);
    let out = node.recv(1, 2, &Message::Inv(vec![InvItem::block(first)]));
    assert!(
        getdata_blocks(&out, 2).is_empty(),
        "already asked of 1: {out:?}"
    );
    recv_without_resuming(&mut node, 2, 1, block_message(&blocks[0]));
    assert_eq!(node.protocol.blocks_to_validate(), 1);

    let out = node.input(3, Input::Disconnected { peer: 1 });
    assert_eq!(node.protocol.blocks_to_validate(), 0);
    assert_eq!(node.tip(), genesis, "not validated once its peer left");
    assert!(getdata_blocks(&out, 2).contains(&first), "{out:?}");

    node.recv(4, 2, &block_message(&blocks[0]));
    assert_eq!(node.tip(), first);
}
