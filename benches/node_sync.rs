//! The real node's initial block download: a node started on empty chain-data syncs a
//! 100,000-block regtest chain from one peer over loopback TCP, storing every block in its
//! block log, against the node's own replay-and-validate of the same chain from its log
//! (`Node::open`), measured in the same run. Target: ≥ 70 % of the replay rate.
//!
//! Both nodes are `nakachain::node::run`, the code `nakachain node` runs, each with its own tokio
//! runtime and data directory in one process. Run with `cargo bench --bench node_sync`; it
//! prints its own table.

#[path = "support/allocator.rs"]
mod allocator;

#[path = "support/chain.rs"]
mod chain_support;
#[path = "support/rounds.rs"]
mod rounds;

use chain_support::regtest_chain;
use nakachain::node::{run, Node, NodeConfig};
use nakachain::params::Params;
use nakachain::rpc::{Cookie, RpcClient};
use nakachain::store::{BlockLog, DataDir};
use rounds::print_download_against_replay;
use serde_json::json;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const CHAIN_BLOCKS: u32 = 100_000;
/// Replays and syncs of the chain, alternating.
const ROUNDS: usize = 5;
/// Longest a sync may take before the bench gives up.
const SYNC_TIMEOUT_MS: u64 = 300_000;

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// A node running `run(config)` on a thread of its own, and its RPC client once it answers.
struct RunningNode {
    thread: thread::JoinHandle<()>,
    client: RpcClient,
}

impl RunningNode {
    fn start(datadir: &Path, listen: Option<SocketAddr>, connect: Vec<SocketAddr>) -> RunningNode {
        let rpc_port = free_port();
        let config = NodeConfig {
            params: Params::regtest(),
            datadir: datadir.to_path_buf(),
            rpc_port,
            mine_threads: None,
            miner: Default::default(),
            stop_after_mined: None,
            status_line: false,
            listen,
            connect,
            rest: false,
            abort_in_reorg: None,
        };
        let thread = thread::spawn(move || run(config).expect("the node runs"));
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = loop {
            let client = DataDir::read_cookie(datadir)
                .ok()
                .and_then(|cookie| Cookie::parse(&cookie).ok())
                .map(|cookie| {
                    RpcClient::new(SocketAddr::from((Ipv4Addr::LOCALHOST, rpc_port)), cookie)
                })
                .filter(|client| client.call("getblockcount", vec![]).is_ok());
            if let Some(client) = client {
                break client;
            }
            assert!(Instant::now() < deadline, "the node did not come up");
            thread::sleep(Duration::from_millis(5));
        };
        RunningNode { thread, client }
    }

    fn height(&self) -> u64 {
        self.client
            .call("getblockcount", vec![])
            .ok()
            .and_then(|height| height.as_u64())
            .unwrap_or(0)
    }

    /// Waits (one `waitforblockheight` call, answered when the node gets there) until the node
    /// has `height` blocks; returns the height it answered with.
    fn wait_for_height(&self, height: u32) -> u64 {
        self.client
            .call(
                "waitforblockheight",
                vec![json!(height), json!(SYNC_TIMEOUT_MS)],
            )
            .ok()
            .and_then(|tip| tip["height"].as_u64())
            .unwrap_or(0)
    }

    fn stop(self) {
        self.client
            .call("stop", vec![])
            .expect("the node takes stop");
        self.thread.join().expect("the node thread ends");
    }
}

fn main() {
    let params = Params::regtest();
    println!("building a {CHAIN_BLOCKS}-block regtest chain…");
    let blocks = regtest_chain(&params, CHAIN_BLOCKS, 0);
    // The same log twice: one for the serving node, one for the replays (a running node holds
    // its data directory's lock).
    let server_dir = TempDir::new().expect("temp dir");
    let replay_dir = TempDir::new().expect("temp dir");
    for dir in [&server_dir, &replay_dir] {
        let (mut log, _) =
            BlockLog::open(&dir.path().join("blocks.log"), params.magic).expect("open the log");
        log.append_all(&blocks).expect("write the log");
    }
    drop(blocks);

    let p2p = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
    let server = RunningNode::start(server_dir.path(), Some(p2p), Vec::new());
    assert_eq!(server.height(), u64::from(CHAIN_BLOCKS));
    // Replays and syncs alternate: on a shared machine a slow spell then hits both, and the
    // best of each is the least disturbed.
    let mut replays = Vec::new();
    let mut syncs = Vec::new();
    for _ in 0..ROUNDS {
        let replay_started = Instant::now();
        let node = Node::open(params.clone(), replay_dir.path()).expect("the node opens");
        replays.push(replay_started.elapsed());
        assert_eq!(node.chain.height(), CHAIN_BLOCKS);
        drop(node);

        let client_dir = TempDir::new().expect("temp dir");
        let started = Instant::now();
        let client = RunningNode::start(client_dir.path(), None, vec![p2p]);
        let reached = client.wait_for_height(CHAIN_BLOCKS);
        syncs.push(started.elapsed());
        assert_eq!(reached, u64::from(CHAIN_BLOCKS), "the sync stalled");
        client.stop();
    }
    server.stop();

    print_download_against_replay(CHAIN_BLOCKS, "replay and validate at start", replays, syncs);
}
