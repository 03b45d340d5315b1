//! A block on our tip with the work the chain expects there is announced as it arrives, before
//! it is validated (the protocol pauses with `Output::Resume`); it is validated on `Resume`, and
//! one that fails is never served to the peers that heard of it.

use super::*;
use nakachain::types::Amount;

/// `peer` announces `block`, the node asks for it, and `peer` delivers it; returns what the
/// delivery produced, without resuming the protocol.
fn deliver_without_resuming(
    node: &mut Node,
    now_ms: u64,
    peer: PeerId,
    block: &Block,
) -> Vec<Output> {
    let out = node.recv(
        now_ms,
        peer,
        &Message::Inv(vec![InvItem::block(block.hash())]),
    );
    assert_eq!(getdata_blocks(&out, peer), vec![block.hash()], "{out:?}");
    let delivery = Message::Block(block.clone().into());
    node.input_resuming(
        now_ms,
        Input::Received {
            peer,
            message: Received::from(delivery),
        },
        ResumeWhen::Later,
    )
}

#[test]
fn a_block_on_the_tip_is_announced_before_it_is_validated() {
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    node.handshake(0, 2, 2);
    let block = solved(&node.host.chain, 6);
    let hash = block.hash();

    let out = deliver_without_resuming(&mut node, 1, 1, &block);
    assert_eq!(out.last(), Some(&Output::Resume), "{out:?}");
    assert_eq!(inv_hashes(&out, 2), vec![hash]);
    assert!(inv_hashes(&out, 1).is_empty(), "not back to its source");
    assert_ne!(node.tip(), hash, "announced, not yet validated");

    let out = node.input(1, Input::Resume);
    assert_eq!(node.tip(), hash);
    assert!(inv_hashes(&out, 2).is_empty(), "announced once: {out:?}");
    let out = node.recv(2, 2, &Message::GetData(vec![InvItem::block(hash)]));
    assert!(
        matches!(sent(&out, 2).as_slice(), [Message::Block(served)] if served.hash() == hash),
        "{out:?}"
    );
}

#[test]
fn an_announced_block_that_fails_validation_is_not_served() {
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    node.handshake(0, 2, 2);
    // Proof of work and merkle root are fine; the coinbase pays one unit too much, which only
    // connecting the block finds.
    let mut block = assembled(&node.host.chain, 6);
    let paid = block.transactions[0].outputs[0].amount;
    block.transactions[0].outputs[0].amount = Amount(paid.0 + 1);
    block.header.merkle_root = block.compute_merkle_root();
    assert!(solve_block(&mut block, &AtomicBool::new(false)));
    let hash = block.hash();

    let out = deliver_without_resuming(&mut node, 1, 1, &block);
    assert_eq!(inv_hashes(&out, 2), vec![hash], "{out:?}");
    let out = node.input(1, Input::Resume);
    assert!(disconnects(&out, 1), "its source broke a rule: {out:?}");
    assert_ne!(node.tip(), hash);

    let out = node.recv(2, 2, &Message::GetData(vec![InvItem::block(hash)]));
    assert!(!disconnects(&out, 2), "{out:?}");
    assert_eq!(
        sent(&out, 2),
        vec![&Message::NotFound(vec![InvItem::block(hash)])]
    );
}

#[test]
fn a_block_off_the_tip_is_validated_before_anything_is_said() {
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    node.handshake(0, 2, 2);
    let on_tip = solved(&node.host.chain, 6);
    node.host
        .submit_block(HashedBlock::new(on_tip))
        .expect("a valid block");
    // A sibling of the tip: a side branch, not the next block on our tip.
    let side = solved(&test_host().chain, 9);

    let out = deliver_without_resuming(&mut node, 1, 1, &side);
    assert!(!out.contains(&Output::Resume), "{out:?}");
    assert!(
        node.host.chain.entry(&side.hash()).is_some(),
        "validated at once"
    );
    assert!(
        inv_hashes(&out, 2).is_empty(),
        "a side branch is not relayed: {out:?}"
    );
}

#[test]
fn a_paused_block_is_validated_before_the_next_input_even_without_resume() {
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    node.handshake(0, 2, 2);
    let block = solved(&node.host.chain, 6);
    let out = deliver_without_resuming(&mut node, 1, 1, &block);
    assert_eq!(out.last(), Some(&Output::Resume));
    node.tick(2);
    assert_eq!(node.tip(), block.hash());
}

#[test]
fn with_nobody_else_to_tell_the_block_is_validated_at_once() {
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    let block = solved(&node.host.chain, 6);
    let out = deliver_without_resuming(&mut node, 1, 1, &block);
    assert!(!out.contains(&Output::Resume), "{out:?}");
    assert_eq!(node.tip(), block.hash());
}

#[test]
fn a_sync_tells_other_peers_of_its_tip_not_of_every_block() {
    let mut remote = test_host();
    let blocks = mine(&mut remote, 40);
    let mut node = Node::new();
    node.handshake(0, 1, 1);
    node.handshake(0, 2, 2);
    let mut out = node.recv(1, 1, &headers_of(&blocks));
    let mut asked: Vec<Hash256> = getdata_blocks(&out, 1);
    let mut told = inv_hashes(&out, 2);
    while let Some(hash) = asked.first().copied() {
        asked.remove(0);
        let block = blocks.iter().find(|b| b.hash() == hash).expect("announced");
        out = node.recv(2, 1, &Message::Block(block.clone().into()));
        asked.extend(getdata_blocks(&out, 1));
        told.extend(inv_hashes(&out, 2));
    }
    assert_eq!(node.tip(), remote.chain.tip().hash);
    assert_eq!(
        told,
        vec![node.tip()],
        "peer 2 hears of the tip once the sync is done"
    );
}
