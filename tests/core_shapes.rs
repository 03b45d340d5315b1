//! Real-process test: the results existing Bitcoin tools read strictly (fork-observer among
//! them) have Bitcoin Core's field names and JSON types: `getnetworkinfo`, `getblockchaininfo`,
//! `getblockheader` (verbose and hex), `getblock`, `getchaintips`, `getblockhash`,
//! `getbestblockhash` and `waitfornewblock`. A missing field or a wrong type fails such a tool's
//! whole call, so each field is checked, not only the values nakachain cares about. With
//! `--rest`, Core's read-only REST requests for headers, blocks and chain info are answered too.

#[path = "support/process.rs"]
mod process;

use nakachain::types::sha256d;
use process::{free_port, NodeProcess};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A JSON type as Core's documentation gives it.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Int,
    Num,
    Str,
    Bool,
    /// A string of exactly this many lowercase hex digits.
    Hex(usize),
    /// An array of strings.
    Strings,
    Array,
}

fn is(kind: Kind, value: &Value) -> bool {
    match kind {
        Kind::Int => value.is_i64() || value.is_u64(),
        Kind::Num => value.is_number(),
        Kind::Str => value.is_string(),
        Kind::Bool => value.is_boolean(),
        Kind::Hex(digits) => value.as_str().is_some_and(|text| {
            text.len() == digits
                && text
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        }),
        Kind::Strings => value
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string)),
        Kind::Array => value.is_array(),
    }
}

/// Every field of `shape` is in `object` with its type.
fn check(what: &str, object: &Value, shape: &[(&str, Kind)]) {
    for (field, kind) in shape {
        let value = &object[field];
        assert!(
            is(*kind, value),
            "{what}: `{field}` should be {kind:?}, is {value}"
        );
    }
}

const HASH: Kind = Kind::Hex(64);

const HEADER: &[(&str, Kind)] = &[
    ("hash", HASH),
    ("confirmations", Kind::Int),
    ("height", Kind::Int),
    ("version", Kind::Int),
    ("versionHex", Kind::Hex(8)),
    ("merkleroot", HASH),
    ("time", Kind::Int),
    ("mediantime", Kind::Int),
    ("nonce", Kind::Int),
    ("bits", Kind::Hex(8)),
    ("difficulty", Kind::Num),
    ("chainwork", HASH),
    ("nTx", Kind::Int),
];

fn started() -> (tempfile::TempDir, NodeProcess) {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(&dir.path().join("node"), free_port());
    (dir, node)
}

#[test]
fn getnetworkinfo_and_getblockchaininfo_have_cores_fields() {
    let (_dir, node) = started();
    let info = node.call("getnetworkinfo", vec![]);
    check(
        "getnetworkinfo",
        &info,
        &[
            ("version", Kind::Int),
            ("subversion", Kind::Str),
            ("protocolversion", Kind::Int),
            ("localservices", Kind::Hex(16)),
            ("localservicesnames", Kind::Strings),
            ("localrelay", Kind::Bool),
            ("timeoffset", Kind::Int),
            ("networkactive", Kind::Bool),
            ("connections", Kind::Int),
            ("connections_in", Kind::Int),
            ("connections_out", Kind::Int),
            ("networks", Kind::Array),
            ("relayfee", Kind::Num),
            ("incrementalfee", Kind::Num),
            ("localaddresses", Kind::Array),
            ("warnings", Kind::Strings),
        ],
    );
    let subversion = info["subversion"].as_str().unwrap_or_default();
    assert!(
        subversion.starts_with("/nakachain:") && subversion.ends_with('/'),
        "{subversion}"
    );
    for network in info["networks"].as_array().expect("networks") {
        check(
            "getnetworkinfo networks",
            network,
            &[
                ("name", Kind::Str),
                ("limited", Kind::Bool),
                ("reachable", Kind::Bool),
                ("proxy", Kind::Str),
                ("proxy_randomize_credentials", Kind::Bool),
            ],
        );
    }
    // nakachain's own fields stay beside Core's.
    assert!(
        info["denied"].is_array() && info["latency_ms"].is_u64(),
        "{info}"
    );

    let chain = node.call("getblockchaininfo", vec![]);
    check(
        "getblockchaininfo",
        &chain,
        &[
            ("chain", Kind::Str),
            ("blocks", Kind::Int),
            ("headers", Kind::Int),
            ("bestblockhash", HASH),
            ("difficulty", Kind::Num),
            ("time", Kind::Int),
            ("mediantime", Kind::Int),
            ("verificationprogress", Kind::Num),
            ("initialblockdownload", Kind::Bool),
            ("chainwork", HASH),
            ("size_on_disk", Kind::Int),
            ("pruned", Kind::Bool),
            ("warnings", Kind::Strings),
        ],
    );
}

#[test]
fn headers_blocks_and_tips_have_cores_fields_and_hex_headers_hash_to_their_block() {
    let (_dir, node) = started();
    node.call("generate", vec![json!(3)]);
    let best = node.call("getbestblockhash", vec![]);
    assert!(is(HASH, &best), "{best}");

    let genesis = node.call("getblockhash", vec![json!(0)]);
    let middle = node.call("getblockhash", vec![json!(2)]);
    assert!(is(HASH, &genesis) && is(HASH, &middle));
    for (hash, previous, next) in [
        (&genesis, false, true),
        (&middle, true, true),
        (&best, true, false),
    ] {
        let header = node.call("getblockheader", vec![hash.clone()]);
        check("getblockheader", &header, HEADER);
        assert_eq!(
            header["previousblockhash"].is_string(),
            previous,
            "{header}"
        );
        assert_eq!(header["nextblockhash"].is_string(), next, "{header}");
        assert_eq!(&header["hash"], hash);

        let hex = node.call("getblockheader", vec![hash.clone(), json!(false)]);
        assert!(is(Kind::Hex(160), &hex), "{hex}");
        let bytes = hex::decode(hex.as_str().unwrap_or_default()).expect("hex");
        assert_eq!(
            json!(sha256d(&bytes)),
            *hash,
            "the header hashes to its block"
        );
    }

    let block = node.call("getblock", vec![best.clone()]);
    check("getblock", &block, HEADER);
    check(
        "getblock",
        &block,
        &[
            ("size", Kind::Int),
            ("strippedsize", Kind::Int),
            ("weight", Kind::Int),
            ("tx", Kind::Strings),
        ],
    );
    let hex = node.call("getblock", vec![best.clone(), json!(0)]);
    assert!(hex.as_str().is_some_and(|text| !text.is_empty()), "{hex}");

    // A block off the active chain has -1 confirmations, and its branch an invalid tip.
    node.call("invalidateblock", vec![best.clone()]);
    let off = node.call("getblockheader", vec![best.clone()]);
    assert_eq!(off["confirmations"], json!(-1), "{off}");
    let tips = node.call("getchaintips", vec![]);
    let tips = tips.as_array().expect("an array of tips");
    let statuses = [
        "active",
        "valid-fork",
        "valid-headers",
        "headers-only",
        "invalid",
    ];
    for tip in tips {
        check(
            "getchaintips",
            tip,
            &[
                ("height", Kind::Int),
                ("hash", HASH),
                ("branchlen", Kind::Int),
                ("status", Kind::Str),
            ],
        );
        let status = tip["status"].as_str().unwrap_or_default();
        assert!(statuses.contains(&status), "{status}");
    }
    assert!(tips
        .iter()
        .any(|tip| tip["status"] == "invalid" && tip["hash"] == best));
}

#[test]
fn waitfornewblock_answers_the_next_tip_or_the_current_one_at_its_timeout() {
    let (_dir, node) = started();
    let tip = node.call("getbestblockhash", vec![]);
    let timed_out = node.call("waitfornewblock", vec![json!(50)]);
    check(
        "waitfornewblock",
        &timed_out,
        &[("hash", HASH), ("height", Kind::Int)],
    );
    assert_eq!(timed_out["hash"], tip);

    // Blocks are mined until the waiting call answers: whenever it reached the node, the next
    // block after that ends it, and the answer is that block.
    let waiter = node.client();
    let (answered, answer) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = answered.send(waiter.call("waitfornewblock", vec![]));
    });
    let mut mined = Vec::new();
    let answer = loop {
        mined.push(node.call("generate", vec![json!(1)])[0].clone());
        if let Ok(answer) = answer.recv_timeout(Duration::from_millis(100)) {
            break answer.expect("an answer");
        }
        assert!(mined.len() < 600, "waitfornewblock never answered");
    };
    let height = answer["height"].as_u64().expect("a height");
    assert!(height >= 1, "{answer}");
    assert_eq!(answer["hash"], mined[height as usize - 1], "{answer}");
}

/// Sends `GET target` to the node's RPC port without credentials; returns the status, the
/// content type and the body.
fn get(port: u16, target: &str) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(process::PATIENCE))
        .expect("a read timeout");
    write!(stream, "GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head[9..12].parse().expect("a status");
    let content_type = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Type: "))
        .unwrap_or_default()
        .to_string();
    (status, content_type, response[split + 4..].to_vec())
}

#[test]
fn rest_serves_headers_blocks_and_chaininfo_without_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let node = NodeProcess::start_with(&dir.path().join("node"), port, &["--rest"]);
    let mined = node.call("generate", vec![json!(4)]);
    let genesis = node.call("getblockhash", vec![json!(0)]);
    let genesis = genesis.as_str().expect("a hash");

    // Headers back to back, each hashing to the next active block.
    let (status, content_type, body) = get(port, &format!("/rest/headers/3/{genesis}.bin"));
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/octet-stream")
    );
    assert_eq!(body.len(), 3 * 80);
    for (index, header) in body.chunks(80).enumerate() {
        let expected = node.call("getblockhash", vec![json!(index)]);
        assert_eq!(json!(sha256d(header)), expected, "header {index}");
    }
    // The newer form, hex and JSON; a count past the tip stops at the tip.
    let (status, _, hex_body) = get(port, &format!("/rest/headers/{genesis}.hex?count=10"));
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8_lossy(&hex_body).trim().len(), 5 * 160);
    let (status, content_type, json_body) = get(port, &format!("/rest/headers/2/{genesis}.json"));
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let headers: Value = serde_json::from_slice(&json_body).expect("JSON");
    check("rest headers", &headers[1], HEADER);
    assert_eq!(headers[1]["hash"], mined[0]);

    let tip = mined[3].as_str().expect("a hash");
    let (status, _, block) = get(port, &format!("/rest/block/{tip}.bin"));
    assert_eq!(status, 200);
    assert_eq!(
        json!(sha256d(&block[..80])),
        mined[3],
        "a block starts with its header"
    );
    let (status, _, info) = get(port, "/rest/chaininfo.json");
    assert_eq!(status, 200);
    let info: Value = serde_json::from_slice(&info).expect("JSON");
    assert_eq!(info["blocks"], json!(4));

    let unknown = "11".repeat(32);
    let (status, _, _) = get(port, &format!("/rest/block/{unknown}.bin"));
    assert_eq!(status, 404);
    let (status, _, _) = get(port, &format!("/rest/headers/0/{genesis}.bin"));
    assert_eq!(status, 400);
    let (status, _, _) = get(port, &format!("/rest/block/{tip}.xml"));
    assert_eq!(status, 400);
}

#[test]
fn without_rest_a_get_is_refused_and_says_how_to_turn_it_on() {
    let (_dir, node) = started();
    let (status, _, body) = get(node.port, "/rest/chaininfo.json");
    assert_eq!(status, 405);
    assert!(String::from_utf8_lossy(&body).contains("--rest"));
}
