use super::*;
use crate::types::{Address, Amount, TxOut};

const MAGIC: [u8; 4] = *b"test";

fn header(len: usize) -> BlockHeader {
    BlockHeader {
        version: 1,
        prev_hash: Hash256([1; 32]),
        merkle_root: Hash256([2; 32]),
        time: 3,
        bits: 4,
        nonce: len as u32,
    }
}

fn version(user_agent_len: usize) -> Message {
    Message::Version {
        protocol: PROTOCOL_VERSION,
        network_id: Hash256([9; 32]),
        best_height: 0,
        nonce: 1,
        user_agent: "a".repeat(user_agent_len),
        listen_port: 0,
    }
}

/// Every limited list with its limit, as its error names it.
const LISTS: [(&str, usize); 6] = [
    ("inv", MAX_INV_ITEMS),
    ("getdata", MAX_INV_ITEMS),
    ("notfound", MAX_INV_ITEMS),
    ("locator", MAX_LOCATOR_HASHES),
    ("headers", MAX_HEADERS),
    ("addr", MAX_ADDRS),
];

/// The message carrying list `list` with `len` items.
fn list_message(list: &str, len: usize) -> Message {
    let items = vec![InvItem::tx(Hash256::ZERO); len];
    match list {
        "inv" => Message::Inv(items),
        "getdata" => Message::GetData(items),
        "notfound" => Message::NotFound(items),
        "locator" => Message::GetHeaders {
            locator: vec![Hash256::ZERO; len],
            stop: Hash256::ZERO,
        },
        "headers" => Message::Headers((0..len).map(header).collect()),
        "addr" => Message::Addr(vec![
            PeerAddress::from(SocketAddr::from(([127, 0, 0, 1], 1)));
            len
        ]),
        other => panic!("no list {other}"),
    }
}

#[test]
fn lists_at_their_limit_pass_and_one_more_is_an_oversized_list() {
    for (list, max) in LISTS {
        assert_eq!(list_message(list, 0).check_limits(), Ok(()), "{list}");
        assert_eq!(list_message(list, max).check_limits(), Ok(()), "{list}");
        assert_eq!(
            list_message(list, max + 1).check_limits(),
            Err(WireError::OversizedList {
                list,
                len: max + 1,
                max
            })
        );
    }
}

#[test]
fn user_agent_over_256_bytes_is_refused() {
    assert_eq!(version(MAX_USER_AGENT_BYTES).check_limits(), Ok(()));
    let error = version(MAX_USER_AGENT_BYTES + 1)
        .check_limits()
        .unwrap_err();
    assert_eq!(error.code(), "oversized-user-agent");
    assert!(error.disconnects());
}

#[test]
fn only_a_bad_checksum_spares_the_peer() {
    let errors = [
        WireError::BadMagic {
            expected: MAGIC,
            got: [0; 4],
        },
        WireError::OversizedFrame { len: 1, max: 0 },
        WireError::BadChecksum {
            expected: [0; 4],
            got: [1; 4],
        },
        WireError::Undecodable(String::new()),
        WireError::TrailingBytes { extra: 1 },
        WireError::OversizedList {
            list: "inv",
            len: 1,
            max: 0,
        },
        WireError::OversizedUserAgent { len: 1 },
    ];
    let codes: Vec<_> = errors.iter().map(|e| (e.code(), e.disconnects())).collect();
    assert_eq!(
        codes,
        [
            ("bad-magic", true),
            ("oversized-frame", true),
            ("bad-checksum", false),
            ("undecodable", true),
            ("trailing-bytes", true),
            ("oversized-list", true),
            ("oversized-user-agent", true),
        ]
    );
}

/// A transaction over the 4 MB frame limit: enough 28-byte outputs.
fn oversized_tx() -> Message {
    let output = TxOut {
        amount: Amount(1),
        address: Address([0; 20]),
    };
    Message::Tx(Transaction {
        version: Transaction::VERSION,
        coinbase: None,
        inputs: Vec::new(),
        outputs: vec![output; MAX_MESSAGE_BYTES / 28 + 1],
    })
}

#[test]
fn encode_frame_refuses_what_a_peer_would_refuse() {
    let inv = list_message("inv", MAX_INV_ITEMS + 1);
    assert_eq!(
        encode_frame(MAGIC, &inv).map_err(|e| e.code()),
        Err("oversized-list")
    );

    assert_eq!(
        encode_frame(MAGIC, &oversized_tx()).map_err(|e| e.code()),
        Err("oversized-frame")
    );
}

#[test]
fn frames_built_in_place_are_appended_and_a_refused_one_leaves_nothing() {
    let mut out = b"earlier bytes".to_vec();
    encode_frame_into(MAGIC, &Message::Ping(7), &mut out).expect("a ping frames");
    encode_frame_into(MAGIC, &version(3), &mut out).expect("a version frames");
    let mut expected = b"earlier bytes".to_vec();
    expected.extend(encode_frame(MAGIC, &Message::Ping(7)).expect("frame"));
    expected.extend(encode_frame(MAGIC, &version(3)).expect("frame"));
    assert_eq!(out, expected);

    let refused = encode_frame_into(MAGIC, &list_message("inv", MAX_INV_ITEMS + 1), &mut out);
    assert_eq!(refused.map_err(|e| e.code()), Err("oversized-list"));
    let refused = encode_frame_into(MAGIC, &oversized_tx(), &mut out);
    assert_eq!(refused.map_err(|e| e.code()), Err("oversized-frame"));
    assert_eq!(out, expected, "nothing of a refused frame stays");
}

#[test]
fn decode_payload_refuses_a_payload_over_the_frame_limit() {
    let error = Message::decode_payload(&vec![0; MAX_MESSAGE_BYTES + 1]).unwrap_err();
    assert_eq!(error.code(), "oversized-frame");
}

#[test]
fn payload_buffer_grows_with_arriving_bytes_and_never_past_the_announced_length() {
    let mut frame = Vec::from(MAGIC);
    let len = 3 * 1024 * 1024 + 5;
    frame.extend_from_slice(&(len as u32).to_le_bytes());
    frame.extend_from_slice(&[0; 4]);
    let mut decoder = FrameDecoder::new(MAGIC);
    assert_eq!(decoder.push(&frame), FRAME_HEADER_BYTES);
    assert_eq!(decoder.push(&[0]), 1);
    assert!(decoder.payload_capacity() < 1024);

    let chunk = vec![0; 64 * 1024 + 1];
    let mut received = 1;
    while received < len {
        received += decoder.push(&chunk);
        assert!(decoder.payload_capacity() <= len);
        assert_eq!(decoder.buffered_len(), FRAME_HEADER_BYTES + received);
    }
    assert_eq!(received, len);
    assert_eq!(decoder.push(&chunk), 0, "the frame is whole");
    assert_eq!(decoder.payload_capacity(), len);
    assert_eq!(
        decoder.next_frame().map(|r| r.map_err(|e| e.code())),
        Some(Err("bad-checksum"))
    );
    assert_eq!(decoder.buffered_len(), 0);
}
