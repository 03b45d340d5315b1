//! Finding 3 of the hostile-peer report: 2,000,000 valid headers forking from genesis at the
//! minimum difficulty, never followed by blocks, took the node from 16 to 690 MB, kept after the
//! peer was dropped. Headers now cost memory only as their blocks are queued, up to a bound;
//! past it the node asks for more once the queue has room, and a stalling peer's queue is given
//! back when it is dropped.

use super::*;
use nakachain::protocol::MAX_QUEUED_BLOCKS;
use nakachain::wire::MAX_HEADERS;

/// `count` headers on `prev`, each with valid proof of work at the minimum difficulty; `salt`
/// tells branches apart.
fn headers_on(prev: &mut Hash256, count: usize, salt: u8) -> Vec<BlockHeader> {
    let params = sim_params();
    let time = params.genesis.header.time + 1;
    (0..count)
        .map(|_| {
            let mut header = BlockHeader {
                version: 1,
                prev_hash: *prev,
                merkle_root: Hash256([salt; 32]),
                time,
                bits: params.genesis.header.bits,
                nonce: 0,
            };
            while check_header(&header, &params).is_err() {
                header.nonce += 1;
            }
            *prev = header.hash();
            header
        })
        .collect()
}

#[test]
fn a_header_flood_is_queued_up_to_a_bound_and_given_back_when_its_peer_stalls() {
    let mut node = Node::new();
    let (attacker, honest) = (1, 2);
    node.handshake(0, attacker, 1);
    node.handshake(0, honest, 2);
    let genesis = node.tip();
    let mut tip = genesis;
    let mut batches = 0;
    loop {
        let batch = headers_on(&mut tip, MAX_HEADERS, 1);
        let out = node.recv(1, attacker, &Message::Headers(batch));
        batches += 1;
        assert!(!disconnects(&out, attacker), "{out:?}");
        if !sent_getheaders(&out, attacker) {
            break;
        }
        assert!(
            batches <= MAX_QUEUED_BLOCKS / MAX_HEADERS + 1,
            "never paused"
        );
    }
    assert!(node.protocol.blocks_queued() <= MAX_QUEUED_BLOCKS);
    // Unasked-for headers past the bound are not queued either.
    for _ in 0..3 {
        let batch = headers_on(&mut tip, MAX_HEADERS, 1);
        node.recv(2, attacker, &Message::Headers(batch));
    }
    assert!(node.protocol.blocks_queued() <= MAX_QUEUED_BLOCKS);

    // An honest peer's headers meanwhile wait for room, and are asked for again once there is.
    let mut honest_tip = genesis;
    let out = node.recv(
        3,
        honest,
        &Message::Headers(headers_on(&mut honest_tip, MAX_HEADERS, 2)),
    );
    assert!(!sent_getheaders(&out, honest), "{out:?}");

    // The attacker never serves the blocks asked of it: dropped for stalling, its queue freed.
    let out = node.tick(3 + BLOCK_STALL_TIMEOUT_MS + 1);
    assert_eq!(
        disconnect_reason(&out, attacker),
        Some("block-download-stalled")
    );
    assert_eq!(node.protocol.blocks_queued(), 0);
    let resumed = sent(&out, honest).into_iter().any(|message| {
        matches!(message, Message::GetHeaders { locator, .. } if locator == &vec![genesis])
    });
    assert!(resumed, "{out:?}");
}
