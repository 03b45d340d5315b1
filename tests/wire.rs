//! The wire format end to end: every message through `encode_frame` and `FrameDecoder`, the
//! stream cut at every byte, and one test per way a peer's bytes can be refused, each asserting
//! the exact `WireError` code.

use nakachain::codec;
use nakachain::consensus::Coin;
use nakachain::miner::{assemble_block, solve_block, BlockSpec};
use nakachain::params::Params;
use nakachain::types::{sha256d, Address, Amount, Block, BlockHeader, Hash256, OutPoint};
use nakachain::wallet::Wallet;
use nakachain::wire::{
    encode_frame, FrameDecoder, InvItem, Message, PeerAddress, WireError, FRAME_HEADER_BYTES,
    MAX_ADDRS, MAX_HEADERS, MAX_INV_ITEMS, MAX_LOCATOR_HASHES, MAX_MESSAGE_BYTES,
    MAX_USER_AGENT_BYTES, PROTOCOL_VERSION,
};
use proptest::prelude::*;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::atomic::AtomicBool;

const BUFFER_BOUND: usize = FRAME_HEADER_BYTES + MAX_MESSAGE_BYTES;

fn magic() -> [u8; 4] {
    Params::regtest().magic
}

fn solved(spec: &BlockSpec, transactions: Vec<nakachain::types::Transaction>) -> Block {
    let mut block = assemble_block(spec, transactions);
    assert!(solve_block(&mut block, &AtomicBool::new(false)));
    block
}

/// Two regtest blocks: the first pays its coinbase to a wallet, the second carries a payment
/// the wallet signed spending that coinbase.
fn real_blocks() -> (Block, Block) {
    let params = Params::regtest();
    let mut wallet = Wallet::from_seed([5; 32]);
    let payout = wallet.new_address();
    let first = solved(
        &BlockSpec {
            prev_hash: params.genesis_hash(),
            height: 1,
            bits: params.pow_limit_bits,
            time: params.genesis.header.time + 1,
            payout,
            coinbase_value: params.subsidy(1),
            extra_nonce: 0,
        },
        Vec::new(),
    );
    let coinbase = &first.transactions[0];
    let coin = Coin {
        output: coinbase.outputs[0],
        height: 1,
        is_coinbase: true,
    };
    let outpoint = OutPoint {
        txid: coinbase.txid(),
        vout: 0,
    };
    let payment = wallet
        .create_payment(
            Address([3; 20]),
            Amount::from_coins(1),
            1,
            &[(outpoint, coin)],
        )
        .unwrap();
    let second = solved(
        &BlockSpec {
            prev_hash: first.hash(),
            height: 2,
            bits: params.pow_limit_bits,
            time: first.header.time + 1,
            payout,
            coinbase_value: Amount(params.subsidy(2).0 + payment.fee.0),
            extra_nonce: 0,
        },
        vec![payment.tx],
    );
    (first, second)
}

/// One message of every variant, with real blocks and a real signed transaction.
fn every_message() -> Vec<Message> {
    let params = Params::regtest();
    let (first, second) = real_blocks();
    let tx = second.transactions[1].clone();
    let v6 = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 18_444, 0, 0));
    vec![
        Message::Version {
            protocol: PROTOCOL_VERSION,
            network_id: params.network_id(),
            best_height: 2,
            nonce: 0xdead_beef_f00d,
            user_agent: "/nakachain:0.1.0/".to_string(),
            listen_port: params.default_p2p_port,
        },
        Message::Verack,
        Message::Ping(7),
        Message::Pong(7),
        Message::Inv(vec![InvItem::block(second.hash()), InvItem::tx(tx.txid())]),
        Message::GetData(vec![InvItem::tx(tx.txid())]),
        Message::NotFound(vec![InvItem::block(Hash256([4; 32]))]),
        Message::Tx(tx),
        Message::Block(second.clone().into()),
        Message::GetHeaders {
            locator: vec![first.hash(), params.genesis_hash()],
            stop: Hash256::ZERO,
        },
        Message::Headers(vec![first.header, second.header]),
        Message::GetAddr,
        Message::Addr(vec![
            PeerAddress::from(SocketAddr::from(([127, 0, 0, 1], 28_444))),
            PeerAddress::from(v6),
        ]),
    ]
}

fn stream(messages: &[Message]) -> Vec<u8> {
    messages
        .iter()
        .flat_map(|m| encode_frame(magic(), m).unwrap())
        .collect()
}

/// A frame around any payload, with a correct checksum.
fn raw_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::from(magic());
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(&sha256d(payload).0[..4]);
    frame.extend_from_slice(payload);
    frame
}

fn codes(results: Vec<Result<Message, WireError>>) -> Vec<Result<Message, &'static str>> {
    results
        .into_iter()
        .map(|r| r.map_err(|e| e.code()))
        .collect()
}

/// What a decoder makes of `bytes` delivered in one chunk.
fn decode_all(bytes: &[u8]) -> Vec<Result<Message, &'static str>> {
    codes(FrameDecoder::new(magic()).feed(bytes).collect())
}

#[test]
fn every_message_round_trips_with_its_own_command() {
    let messages = every_message();
    let mut commands: Vec<_> = messages.iter().map(Message::command).collect();
    commands.sort_unstable();
    commands.dedup();
    assert_eq!(commands.len(), 13, "one message per variant");
    for message in messages {
        let frame = encode_frame(magic(), &message).unwrap();
        assert_eq!(decode_all(&frame), vec![Ok(message)]);
    }
}

#[test]
fn several_frames_in_one_push() {
    let messages = every_message();
    let expected: Vec<_> = messages.iter().cloned().map(Ok).collect();
    assert_eq!(decode_all(&stream(&messages)), expected);
}

#[test]
fn one_byte_at_a_time() {
    let messages = every_message();
    let mut decoder = FrameDecoder::new(magic());
    let mut decoded = Vec::new();
    for byte in stream(&messages) {
        assert_eq!(decoder.push(&[byte]), 1);
        decoded.extend(decoder.next_frame());
        assert!(decoder.buffered_len() <= BUFFER_BOUND);
    }
    assert_eq!(decoder.buffered_len(), 0);
    assert_eq!(
        codes(decoded),
        messages.into_iter().map(Ok).collect::<Vec<_>>()
    );
}

#[test]
fn split_at_every_byte_boundary() {
    let messages = every_message();
    let expected: Vec<_> = messages.iter().cloned().map(Ok).collect();
    let bytes = stream(&messages);
    for cut in 0..=bytes.len() {
        let mut decoder = FrameDecoder::new(magic());
        let mut decoded: Vec<_> = decoder.feed(&bytes[..cut]).collect();
        decoded.extend(decoder.feed(&bytes[cut..]));
        assert_eq!(codes(decoded), expected, "cut at {cut}");
    }
}

#[test]
fn wrong_magic_disconnects_and_stays_failed() {
    let frame = encode_frame(Params::devnet().magic, &Message::Verack).unwrap();
    let mut decoder = FrameDecoder::new(magic());
    assert_eq!(decoder.push(&frame), FRAME_HEADER_BYTES);
    for _ in 0..2 {
        let error = decoder.next_frame().unwrap().unwrap_err();
        assert_eq!(error.code(), "bad-magic");
        assert!(error.disconnects());
    }
    assert_eq!(decoder.push(&stream(&[Message::Verack])), 0);
}

#[test]
fn length_over_the_limit_is_refused_before_any_payload_is_buffered() {
    let mut header = Vec::from(magic());
    header.extend_from_slice(&(MAX_MESSAGE_BYTES as u32 + 1).to_le_bytes());
    header.extend_from_slice(&[0; 4]);
    let mut decoder = FrameDecoder::new(magic());
    let taken = decoder.push(&[header, vec![0; 4096]].concat());
    assert_eq!(taken, FRAME_HEADER_BYTES, "no payload byte taken");
    assert_eq!(decoder.buffered_len(), 0);
    let error = decoder.next_frame().unwrap().unwrap_err();
    assert_eq!(error.code(), "oversized-frame");
    assert!(error.disconnects());
    assert_eq!(decoder.push(&[0; 4096]), 0);
    assert_eq!(decoder.buffered_len(), 0);
}

#[test]
fn length_at_the_limit_is_buffered_as_it_arrives() {
    let mut header = Vec::from(magic());
    header.extend_from_slice(&(MAX_MESSAGE_BYTES as u32).to_le_bytes());
    header.extend_from_slice(&[0; 4]);
    let mut decoder = FrameDecoder::new(magic());
    assert_eq!(decoder.push(&[header, vec![0; 10]].concat()), 22);
    assert_eq!(decoder.buffered_len(), 22);
    assert!(decoder.next_frame().is_none());
}

#[test]
fn bad_checksum_drops_only_that_frame() {
    let mut bad = encode_frame(magic(), &Message::Ping(1)).unwrap();
    bad[8] ^= 1;
    let bytes = [bad, stream(&[Message::Pong(2)])].concat();
    let mut decoder = FrameDecoder::new(magic());
    let results: Vec<_> = decoder.feed(&bytes).collect();
    assert!(!results[0].as_ref().unwrap_err().disconnects());
    assert_eq!(
        codes(results),
        vec![Err("bad-checksum"), Ok(Message::Pong(2))]
    );
    assert_eq!(decoder.buffered_len(), 0);
}

#[test]
fn undecodable_payload_under_a_valid_checksum() {
    // Variant index 0xffff_ffff names no message.
    assert_eq!(decode_all(&raw_frame(&[0xff; 8])), vec![Err("undecodable")]);
}

#[test]
fn empty_payload_is_undecodable() {
    assert_eq!(decode_all(&raw_frame(&[])), vec![Err("undecodable")]);
}

#[test]
fn truncated_message_under_a_valid_checksum_is_undecodable() {
    let payload = codec::encode(&Message::Ping(9));
    let short = &payload[..payload.len() - 1];
    assert_eq!(decode_all(&raw_frame(short)), vec![Err("undecodable")]);
}

#[test]
fn trailing_bytes_after_a_valid_message() {
    let mut payload = codec::encode(&Message::Verack);
    payload.push(0);
    assert_eq!(
        decode_all(&raw_frame(&payload)),
        vec![Err("trailing-bytes")]
    );
}

/// Frames `message` without `encode_frame`, which would refuse it, and decodes it.
fn decode_unchecked(message: &Message) -> Vec<Result<Message, &'static str>> {
    decode_all(&raw_frame(&codec::encode(message)))
}

fn inv_items(len: usize) -> Vec<InvItem> {
    vec![InvItem::tx(Hash256([1; 32])); len]
}

#[test]
fn oversized_inv() {
    let message = Message::Inv(inv_items(MAX_INV_ITEMS + 1));
    assert_eq!(decode_unchecked(&message), vec![Err("oversized-list")]);
}

#[test]
fn oversized_getdata() {
    let message = Message::GetData(inv_items(MAX_INV_ITEMS + 1));
    assert_eq!(decode_unchecked(&message), vec![Err("oversized-list")]);
}

#[test]
fn oversized_notfound() {
    let message = Message::NotFound(inv_items(MAX_INV_ITEMS + 1));
    assert_eq!(decode_unchecked(&message), vec![Err("oversized-list")]);
}

#[test]
fn oversized_headers() {
    let header = Params::regtest().genesis.header;
    let message = Message::Headers(vec![header; MAX_HEADERS + 1]);
    assert_eq!(decode_unchecked(&message), vec![Err("oversized-list")]);
}

#[test]
fn oversized_addr() {
    let addr = PeerAddress::from(SocketAddr::from(([127, 0, 0, 1], 1)));
    let message = Message::Addr(vec![addr; MAX_ADDRS + 1]);
    assert_eq!(decode_unchecked(&message), vec![Err("oversized-list")]);
}

#[test]
fn oversized_locator() {
    let message = Message::GetHeaders {
        locator: vec![Hash256::ZERO; MAX_LOCATOR_HASHES + 1],
        stop: Hash256::ZERO,
    };
    assert_eq!(decode_unchecked(&message), vec![Err("oversized-list")]);
}

#[test]
fn oversized_user_agent() {
    let message = Message::Version {
        protocol: PROTOCOL_VERSION,
        network_id: Params::regtest().network_id(),
        best_height: 0,
        nonce: 1,
        user_agent: "x".repeat(MAX_USER_AGENT_BYTES + 1),
        listen_port: 0,
    };
    assert_eq!(
        decode_unchecked(&message),
        vec![Err("oversized-user-agent")]
    );
}

#[test]
fn lists_at_their_limits_decode() {
    let header = Params::regtest().genesis.header;
    for message in [
        Message::Inv(inv_items(MAX_INV_ITEMS)),
        Message::Headers(vec![header; MAX_HEADERS]),
        Message::GetHeaders {
            locator: vec![Hash256::ZERO; MAX_LOCATOR_HASHES],
            stop: Hash256::ZERO,
        },
    ] {
        let frame = encode_frame(magic(), &message).unwrap();
        assert_eq!(decode_all(&frame), vec![Ok(message)]);
    }
}

/// Chunks of a hostile stream: noise, frames of this network, and headers announcing any length.
fn chunk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        (any::<u64>()).prop_map(|n| stream(&[Message::Ping(n)])),
        (any::<u32>(), any::<[u8; 4]>())
            .prop_map(|(len, sum)| { [&magic()[..], &len.to_le_bytes(), &sum].concat() }),
    ]
}

fn header_strategy() -> impl Strategy<Value = BlockHeader> {
    (
        any::<u32>(),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        any::<(u32, u32, u32)>(),
    )
        .prop_map(|(version, prev, root, (time, bits, nonce))| BlockHeader {
            version,
            prev_hash: Hash256(prev),
            merkle_root: Hash256(root),
            time,
            bits,
            nonce,
        })
}

fn peer_address() -> impl Strategy<Value = PeerAddress> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| PeerAddress::from(SocketAddr::from((ip, port)))),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, port)| PeerAddress::from(SocketAddr::from((ip, port)))),
    ]
}

fn listed_message() -> impl Strategy<Value = Message> {
    let item = (any::<bool>(), any::<[u8; 32]>()).prop_map(|(block, hash)| {
        if block {
            InvItem::block(Hash256(hash))
        } else {
            InvItem::tx(Hash256(hash))
        }
    });
    prop_oneof![
        proptest::collection::vec(item, 0..40).prop_map(Message::Inv),
        proptest::collection::vec(header_strategy(), 0..40).prop_map(Message::Headers),
        proptest::collection::vec(peer_address(), 0..40).prop_map(Message::Addr),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn hostile_bytes_never_panic_and_stay_bounded(
        chunks in proptest::collection::vec(chunk(), 0..12),
    ) {
        let mut decoder = FrameDecoder::new(magic());
        for chunk in &chunks {
            let mut rest = &chunk[..];
            loop {
                let taken = decoder.push(rest);
                rest = &rest[taken..];
                prop_assert!(decoder.buffered_len() <= BUFFER_BOUND);
                let Some(result) = decoder.next_frame() else {
                    prop_assert!(rest.is_empty(), "push left bytes with nothing to yield");
                    break;
                };
                if let Err(error) = result {
                    if error.disconnects() {
                        prop_assert_eq!(decoder.next_frame(), Some(Err(error)), "final");
                        prop_assert_eq!(decoder.push(b"more"), 0);
                        return Ok(());
                    }
                }
            }
        }
    }

    #[test]
    fn random_lists_round_trip(message in listed_message(), cut in any::<prop::sample::Index>()) {
        let frame = encode_frame(magic(), &message).unwrap();
        let cut = cut.index(frame.len() + 1);
        let mut decoder = FrameDecoder::new(magic());
        let mut decoded: Vec<_> = decoder.feed(&frame[..cut]).collect();
        decoded.extend(decoder.feed(&frame[cut..]));
        prop_assert_eq!(decoded, vec![Ok(message)]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A relaying node sends a large block on in the bytes it arrived in (`BlockFrames`), which
    /// is only the same as encoding it again if a payload that decodes has one encoding: flip
    /// bytes of a real block's payload, and whatever still decodes encodes back to those bytes.
    #[test]
    fn a_payload_that_decodes_is_the_encoding_of_what_it_decodes_to(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1..=255u8), 1..4),
    ) {
        let (_, block) = real_blocks();
        let mut payload = nakachain::codec::encode(&Message::Block(block.into()));
        for (at, mask) in flips {
            let at = at.index(payload.len());
            payload[at] ^= mask;
        }
        if let Ok(message) = Message::decode_payload(&payload) {
            prop_assert_eq!(nakachain::codec::encode(&message), payload);
        }
    }
}
