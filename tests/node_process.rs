//! Real-process test: the `nakachain` binary on regtest, driven over its RPC on loopback.
//! Mines, pays, restarts, and checks that height, tip and balance survive; also checks that
//! bad requests get clear errors while the node keeps running.

#[path = "support/process.rs"]
mod process;

use nakachain::codec;
use nakachain::consensus::pow::{compact_to_target, hash_meets_target};
use nakachain::params::MAX_BLOCK_BYTES;
use nakachain::rpc::{ClientError, Cookie, RpcClient};
use nakachain::store::DataDir;
use nakachain::types::Block;
use process::{failed_start, free_port, NodeProcess, PATIENCE};
use serde_json::{json, Value};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

fn units(coins: &Value) -> i64 {
    (coins.as_f64().expect("amount") * 1e8).round() as i64
}

#[test]
fn mine_pay_restart_and_keep_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("node");
    let port = free_port();
    let node = NodeProcess::start(&datadir, port);

    let hashes = node.call("generate", vec![json!(101)]);
    assert_eq!(hashes.as_array().map(Vec::len), Some(101));
    assert_eq!(node.call("getblockcount", vec![]), json!(101));
    let balances = node.call("getbalances", vec![]);
    // Maturity 100: at height 101 the next block may spend the coinbases of heights 1 and 2.
    assert_eq!(units(&balances["mine"]["trusted"]), 2 * 50 * 100_000_000);
    assert_eq!(units(&balances["mine"]["immature"]), 99 * 50 * 100_000_000);

    let to = node.call("getnewaddress", vec![]);
    let txid = node.call("sendtoaddress", vec![to.clone(), json!("1.5")]);
    let pool = node.call("getrawmempool", vec![json!(true)]);
    let fee = units(&pool[txid.as_str().expect("txid")]["fee"]);
    assert!(fee > 0, "the payment pays a fee");
    let pending = node.call("getbalances", vec![]);
    assert!(units(&pending["mine"]["untrusted_pending"]) >= 150_000_000);

    let mined = node.call("generate", vec![json!(1)]);
    let block = node.call("getblock", vec![mined[0].clone(), json!(1)]);
    assert!(block["tx"].as_array().expect("txids").contains(&txid));
    assert_eq!(node.call("getrawmempool", vec![]), json!([]));
    let after = node.call("getbalances", vec![]);
    // Paid ourselves: only the fee is gone; block 3's coinbase matured meanwhile.
    assert_eq!(units(&after["mine"]["trusted"]), 3 * 50 * 100_000_000 - fee);

    let tip = node.call("getbestblockhash", vec![]);
    node.stop();

    let node = NodeProcess::start(&datadir, port);
    assert_eq!(node.call("getblockcount", vec![]), json!(102));
    assert_eq!(node.call("getbestblockhash", vec![]), tip);
    assert_eq!(node.call("getbalances", vec![]), after);
    node.stop();
}

#[test]
fn bad_requests_get_clear_errors_and_the_node_keeps_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("node");
    let node = NodeProcess::start(&datadir, free_port());

    let wrong = RpcClient::new(
        SocketAddr::from((Ipv4Addr::LOCALHOST, node.port)),
        Cookie::from_secret([7; 32]),
    );
    assert!(matches!(
        wrong.call("getblockcount", vec![]),
        Err(ClientError::Unauthorized)
    ));

    let rpc_error = |method: &str, params: Vec<Value>| match node.client().call(method, params) {
        Err(ClientError::Rpc(error)) => error,
        other => panic!("{method}: expected an RPC error, got {other:?}"),
    };
    assert_eq!(rpc_error("nosuchmethod", vec![]).code, -32601);
    assert_eq!(rpc_error("getblockhash", vec![json!(5)]).code, -8);
    assert_eq!(rpc_error("getblockhash", vec![]).code, -32602);
    assert_eq!(rpc_error("getblockhash", vec![json!("x")]).code, -3);
    assert_eq!(rpc_error("getblock", vec![json!("00".repeat(32))]).code, -5);
    let address = node.call("getnewaddress", vec![]);
    let mut typo = address.as_str().expect("address").to_string();
    typo.replace_range(5..6, if &typo[5..6] == "0" { "1" } else { "0" });
    let error = rpc_error("sendtoaddress", vec![json!(typo), json!(1)]);
    assert!(error.message.contains("checksum"), "{}", error.message);
    let error = rpc_error("sendtoaddress", vec![address.clone(), json!(1)]);
    assert_eq!(
        error.code, -6,
        "an empty wallet cannot pay: {}",
        error.message
    );
    let error = rpc_error("submitblock", vec![json!("00ff")]);
    assert_eq!(error.code, -22);

    // A block with bad proof of work: a real block whose nonce is bumped until its hash misses
    // the target (about every other nonce on regtest).
    node.call("generate", vec![json!(1)]);
    let tip = node.call("getbestblockhash", vec![]);
    let raw = node.call("getblock", vec![tip.clone(), json!(0)]);
    let bytes = hex::decode(raw.as_str().expect("hex")).expect("hex decodes");
    let mut block: Block = codec::decode(&bytes, MAX_BLOCK_BYTES).expect("block decodes");
    let target = compact_to_target(block.header.bits).expect("bits");
    while hash_meets_target(&block.hash(), &target) {
        block.header.nonce = block.header.nonce.wrapping_add(1);
    }
    let error = rpc_error(
        "submitblock",
        vec![json!(hex::encode(codec::encode(&block)))],
    );
    assert!(error.message.starts_with("high-hash"), "{}", error.message);

    node.call("invalidateblock", vec![tip.clone()]);
    assert_eq!(node.call("getblockcount", vec![]), json!(0));
    node.call("reconsiderblock", vec![tip.clone()]);
    assert_eq!(node.call("getbestblockhash", vec![]), tip);

    // The largest sequence number a caller can send asks for nothing, and says where the log is.
    let far = node.call("getevents", vec![json!(u64::MAX), json!(0)]);
    assert_eq!(far["events"], json!([]));
    assert!(far["last_seq"].as_u64().is_some_and(|seq| seq > 0), "{far}");

    assert_eq!(
        node.call("getblockcount", vec![]),
        json!(1),
        "still serving"
    );
    node.stop();
}

#[test]
fn a_torn_tail_is_dropped_and_mid_file_corruption_stops_the_node_with_the_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("node");
    let port = free_port();
    let node = NodeProcess::start(&datadir, port);
    node.call("generate", vec![json!(5)]);
    let fourth = node.call("getblockhash", vec![json!(4)]);
    node.stop();

    let log = datadir.join("blocks.log");
    let bytes = std::fs::read(&log).expect("read log");
    std::fs::write(&log, &bytes[..bytes.len() - 3]).expect("tear the tail");
    let node = NodeProcess::start(&datadir, port);
    assert_eq!(
        node.call("getblockcount", vec![]),
        json!(4),
        "only the torn block is lost"
    );
    assert_eq!(node.call("getbestblockhash", vec![]), fourth);
    node.stop();

    let mut bytes = std::fs::read(&log).expect("read log");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&log, &bytes).expect("flip a byte");
    let stderr = failed_start(&datadir, port);
    assert!(stderr.contains("blocks.log"), "{stderr}");
    assert!(stderr.contains("corrupt record at byte"), "{stderr}");
    assert_eq!(
        std::fs::read(&log).expect("read log"),
        bytes,
        "nothing was truncated"
    );
}

/// Finding 8 of the hostile-peer report: a flipped byte in the wallet's seed started the node
/// with other keys and a balance of 0. It stops with a clear error now, the file untouched.
#[test]
fn a_flipped_byte_in_the_wallet_stops_the_node_and_the_file_is_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("node");
    let port = free_port();
    let node = NodeProcess::start(&datadir, port);
    node.call("getnewaddress", vec![]);
    node.stop();

    let wallet = datadir.join("wallet.dat");
    let mut bytes = std::fs::read(&wallet).expect("read the wallet");
    // Inside the seed: past the magic, the version and the body's length.
    bytes[30] ^= 0x01;
    std::fs::write(&wallet, &bytes).expect("flip a byte");
    let stderr = failed_start(&datadir, port);
    assert!(
        stderr.contains("wallet-corrupt") || stderr.contains("checksum mismatch"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&wallet).expect("read the wallet"), bytes);
}

/// Finding 6 of the hostile-peer report: 70 clients that call `waitforblockheight` far ahead and
/// hang up left every RPC place taken, `stop` included. Each hang-up frees its place now.
#[test]
fn abandoned_long_polls_leave_the_node_answering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let node = NodeProcess::start(&dir.path().join("node"), port);
    let cookie = node.client_cookie_header();
    let body = r#"{"method":"waitforblockheight","params":[1000000]}"#;
    for _ in 0..70 {
        let mut stream =
            std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the RPC port");
        let request = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: {cookie}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        std::io::Write::write_all(&mut stream, request.as_bytes()).expect("send the call");
        // Hang up without waiting for the answer, as a Ctrl-C on `nakachain rpc` does.
    }
    let answered = (0..200).find_map(|_| match node.client().call("getblockcount", vec![]) {
        Ok(count) => Some(count),
        Err(_) => {
            std::thread::sleep(std::time::Duration::from_millis(50));
            None
        }
    });
    assert_eq!(answered, Some(json!(0)));
    node.stop();
}

#[test]
fn a_second_node_on_the_same_datadir_or_port_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("node");
    let port = free_port();
    let node = NodeProcess::start(&datadir, port);

    let stderr = failed_start(&datadir, free_port());
    assert!(stderr.contains("in use by another node"), "{stderr}");
    let stderr = failed_start(&dir.path().join("other"), port);
    assert!(stderr.contains("cannot listen for RPC"), "{stderr}");

    assert_eq!(
        node.call("getblockcount", vec![]),
        json!(0),
        "the first node is unharmed"
    );
    node.terminate();
    assert!(
        DataDir::read_cookie(&datadir).is_err(),
        "a clean stop removes the cookie"
    );
}

#[test]
fn invalidateblock_survives_a_restart_until_reconsidered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("node");
    let port = free_port();
    let node = NodeProcess::start(&datadir, port);
    node.call("generate", vec![json!(3)]);
    let tip = node.call("getbestblockhash", vec![]);
    node.call("invalidateblock", vec![tip.clone()]);
    assert_eq!(node.call("getblockcount", vec![]), json!(2));
    node.stop();

    let node = NodeProcess::start(&datadir, port);
    assert_eq!(
        node.call("getblockcount", vec![]),
        json!(2),
        "still invalidated"
    );
    node.call("reconsiderblock", vec![tip.clone()]);
    assert_eq!(node.call("getbestblockhash", vec![]), tip);
    node.stop();

    let node = NodeProcess::start(&datadir, port);
    assert_eq!(
        node.call("getbestblockhash", vec![]),
        tip,
        "reconsidered for good"
    );
    node.stop();
}

#[test]
fn a_node_killed_while_mining_restarts_with_every_block_it_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("node");
    let port = free_port();
    let mut node = NodeProcess::start_with(
        &datadir,
        port,
        &["--mine", "--threads", "1", "--kernel", "portable-midstate"],
    );
    let mining = node.call("getmininginfo", vec![]);
    assert_eq!(mining["kernel"], "portable-midstate", "{mining}");
    // A height the node has answered with was fsynced before the answer: the RPC is served by
    // the same task that stores blocks, only between blocks.
    let mut reported = 0;
    let deadline = Instant::now() + PATIENCE;
    while reported < 200 {
        assert!(
            Instant::now() < deadline,
            "the node mined too slowly to test"
        );
        reported = node.call("getblockcount", vec![]).as_u64().expect("height");
    }
    node.child.kill().expect("SIGKILL the node mid-mining");
    node.child.wait().expect("reap the node");
    drop(node);

    let node = NodeProcess::start(&datadir, port);
    let height = node.call("getblockcount", vec![]).as_u64().expect("height");
    assert!(
        height >= reported,
        "lost blocks: reported {reported}, restarted at {height}"
    );
    node.stop();
}

#[test]
fn a_second_payment_spends_the_first_ones_unconfirmed_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(&dir.path().join("node"), free_port());
    node.call("generate", vec![json!(101)]);
    // Two mature coinbases of 50: paying 1.5 leaves 48.5 of change in the mempool, and only
    // that change together with the other coinbase can pay 60.
    let to = node.call("getnewaddress", vec![]);
    let first = node.call("sendtoaddress", vec![to.clone(), json!("1.5")]);
    let second = node.call("sendtoaddress", vec![to, json!(60)]);
    let pool = node.call("getrawmempool", vec![]);
    assert_eq!(pool.as_array().map(Vec::len), Some(2), "{pool}");
    let mined = node.call("generate", vec![json!(1)]);
    let block = node.call("getblock", vec![mined[0].clone(), json!(1)]);
    let txids = block["tx"].as_array().expect("txids");
    assert!(txids.contains(&first) && txids.contains(&second));
    node.stop();
}

#[test]
fn createpayment_signs_without_broadcasting_and_two_calls_make_a_double_spend() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(&dir.path().join("node"), free_port());
    node.call("generate", vec![json!(101)]);
    let first_to = node.call("getnewaddress", vec![]);
    let second_to = node.call("getnewaddress", vec![]);
    let first = node.call("createpayment", vec![first_to, json!(2)]);
    let second = node.call("createpayment", vec![second_to, json!(2)]);
    assert_eq!(node.call("getrawmempool", vec![]), json!([]));
    assert_eq!(first["inputs"], second["inputs"], "{first} {second}");
    assert_ne!(first["txid"], second["txid"]);

    let accepted = node.call("sendrawtransaction", vec![first["hex"].clone()]);
    assert_eq!(accepted, first["txid"]);
    let error = node
        .client()
        .call("sendrawtransaction", vec![second["hex"].clone()])
        .expect_err("a conflicting spend");
    let ClientError::Rpc(error) = error else {
        panic!("expected an RPC error, got {error:?}");
    };
    assert_eq!(error.code, -26, "{}", error.message);
    assert!(error.message.contains("conflict"), "{}", error.message);
    node.stop();
}

#[test]
fn waitforblockheight_answers_once_the_chain_is_there_or_its_time_is_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(&dir.path().join("node"), free_port());
    let genesis = node.call("getbestblockhash", vec![]);
    let at_genesis = json!({"hash": genesis, "height": 0});
    assert_eq!(node.call("waitforblockheight", vec![json!(0)]), at_genesis);
    // The chain does not get there in 50 ms: the answer is the tip as it is then.
    assert_eq!(
        node.call("waitforblockheight", vec![json!(3), json!(50)]),
        at_genesis
    );

    let client = node.client();
    let waiting = std::thread::spawn(move || {
        client.call("waitforblockheight", vec![json!(3), json!(60_000)])
    });
    node.call("generate", vec![json!(2)]);
    node.call("generate", vec![json!(3)]);
    let answer = waiting
        .join()
        .expect("the waiting thread")
        .expect("an answer");
    let height = answer["height"].as_u64().expect("a height");
    assert!((3..=5).contains(&height), "{answer}");
    assert_eq!(
        node.call("getblockhash", vec![json!(height)]),
        answer["hash"]
    );

    for bad in [vec![], vec![json!(-1)], vec![json!(1), json!("soon")]] {
        assert!(
            matches!(
                node.client().call("waitforblockheight", bad.clone()),
                Err(ClientError::Rpc(_))
            ),
            "{bad:?}"
        );
    }
    node.stop();
}
