//! `nakachain devnet` against real node processes on regtest: up, status, propagation, refusals,
//! partition and heal, crashes, and a `down` that leaves no process behind. Each test runs in its
//! own temporary working directory (so `chain-data/` lands there) with its own ports.

use nakachain::devnet::state::{self, DevnetState};
use nakachain::devnet::DevnetNode;
use serde_json::{json, Value};
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A bound so a broken build fails instead of hanging; not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// A devnet in a temporary directory; dropping it runs `devnet down` so a failing test leaves
/// no process behind.
struct Devnet {
    dir: tempfile::TempDir,
}

impl Devnet {
    fn new() -> Devnet {
        Devnet {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_nakachain"))
            .current_dir(self.dir.path())
            .args(["--network", "regtest", "devnet"])
            .args(args)
            .output()
            .expect("run nakachain")
    }

    /// Runs a devnet command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "devnet {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs a devnet command that must fail; returns its stderr.
    fn refused(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(!output.status.success(), "devnet {args:?} succeeded");
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("chain-data").join("regtest")
    }

    fn state(&self) -> DevnetState {
        state::load(&self.root()).expect("devnet state")
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        if self.root().join("devnet.json").exists() {
            let _ = self.run(&["down"]);
        }
    }
}

/// Whether `pid` is a live process (a zombie waiting to be reaped is not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
        })
        .unwrap_or(false)
}

fn pids(state: &DevnetState) -> Vec<u32> {
    state
        .nodes
        .iter()
        .map(|node| node.pid.expect("pid"))
        .collect()
}

fn call(node: &DevnetNode, method: &str, params: Vec<Value>) -> Value {
    node.call(method, params)
        .unwrap_or_else(|error| panic!("{method} on {}: {error}", node.name))
}

fn best(node: &DevnetNode) -> String {
    call(node, "getbestblockhash", vec![])
        .as_str()
        .expect("hash")
        .to_string()
}

/// Waits until every node in `nodes` has `tip` as its best block.
fn wait_for_tip(nodes: &[&DevnetNode], tip: &str) {
    let deadline = Instant::now() + PATIENCE;
    while nodes.iter().any(|node| best(node) != tip) {
        assert!(Instant::now() < deadline, "nodes never reached {tip}");
        sleep(Duration::from_millis(50));
    }
}

/// Generates `blocks` on `node` and returns the last block's hash.
fn generate(node: &DevnetNode, blocks: u64) -> String {
    let hashes = call(node, "generate", vec![json!(blocks)]);
    hashes
        .as_array()
        .and_then(|hashes| hashes.last())
        .and_then(Value::as_str)
        .expect("generate returns hashes")
        .to_string()
}

fn assert_all_gone(pids: &[u32]) {
    let gone: Vec<bool> = pids.iter().map(|pid| !alive(*pid)).collect();
    assert!(
        gone.iter().all(|g| *g),
        "processes left behind: {pids:?} gone={gone:?}"
    );
}

#[test]
fn up_status_propagate_refuse_and_down() {
    let devnet = Devnet::new();
    let table = devnet.ok(&[
        "up",
        "--nodes",
        "3",
        "--mine",
        "none",
        "--base-port",
        "24500",
    ]);
    assert!(
        table.contains("node-2") && table.contains("127.0.0.1:24504"),
        "{table}"
    );
    let state = devnet.state();
    assert_eq!(state.nodes.len(), 3);

    let status = devnet.ok(&["status"]);
    assert_eq!(status.matches(" running ").count(), 3, "{status}");
    assert!(status.contains("all 3 nodes agree"), "{status}");

    let tip = generate(&state.nodes[1], 1);
    wait_for_tip(&state.nodes.iter().collect::<Vec<_>>(), &tip);

    let again = devnet.refused(&[
        "up",
        "--nodes",
        "2",
        "--mine",
        "none",
        "--base-port",
        "24520",
    ]);
    assert!(again.contains("a devnet is already up"), "{again}");
    let unknown = devnet.refused(&["logs", "node-9"]);
    assert!(
        unknown.contains("unknown node node-9 (this devnet has node-0, node-1, node-2)"),
        "{unknown}"
    );
    assert!(!devnet.ok(&["logs", "node-0"]).is_empty());

    let pids = pids(&state);
    assert!(pids.iter().all(|pid| alive(*pid)));
    let down = devnet.ok(&["down"]);
    assert!(down.contains("stopped 3 processes"), "{down}");
    assert_all_gone(&pids);
    assert!(!devnet.root().join("devnet.json").exists());
    // Chain data is kept: a second devnet starts on the same chain.
    assert!(devnet.root().join("node-0").join("blocks.log").exists());
    let missing = devnet.refused(&["status"]);
    assert!(missing.contains("no devnet is up"), "{missing}");
    // A stopped node's log stays readable, to see why it crashed.
    assert!(devnet.ok(&["logs", "node-2"]).contains("node stopped"));
}

#[test]
fn a_taken_port_and_a_crashed_node_get_clear_messages_and_down_cleans_up() {
    let devnet = Devnet::new();
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 24542)).expect("bind test port");
    let clash = devnet.refused(&[
        "up",
        "--nodes",
        "2",
        "--mine",
        "none",
        "--base-port",
        "24540",
    ]);
    assert!(
        clash.contains("port 24542 (node-1 p2p) is already in use; pick another --base-port"),
        "{clash}"
    );
    assert!(!devnet.root().join("devnet.json").exists());
    drop(taken);

    devnet.ok(&[
        "up",
        "--nodes",
        "2",
        "--mine",
        "none",
        "--base-port",
        "24540",
    ]);
    let state = devnet.state();
    let pids = pids(&state);
    let killed = Command::new("kill")
        .args(["-KILL", &pids[1].to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let deadline = Instant::now() + PATIENCE;
    while alive(pids[1]) {
        assert!(Instant::now() < deadline, "killed node still runs");
        sleep(Duration::from_millis(20));
    }
    let status = devnet.ok(&["status"]);
    assert!(
        status.contains("node-1   not running — crashed?"),
        "{status}"
    );
    assert!(status.contains("node.log"), "{status}");

    devnet.ok(&["down"]);
    assert_all_gone(&pids);
}

/// Needs the node's `setdeniedpeers` RPC.
#[test]
fn partition_then_heal_converges_on_the_longer_side() {
    let devnet = Devnet::new();
    devnet.ok(&[
        "up",
        "--nodes",
        "4",
        "--mine",
        "none",
        "--base-port",
        "24560",
    ]);
    let state = devnet.state();
    let nodes: Vec<&DevnetNode> = state.nodes.iter().collect();

    let bad = devnet.refused(&["partition", "node-0,node-1/node-2"]);
    assert!(bad.contains("node-3 is in no group"), "{bad}");
    devnet.ok(&["partition", "node-0,node-1/node-2,node-3"]);
    let side_a = generate(nodes[0], 1);
    let side_b = generate(nodes[3], 2);
    wait_for_tip(&nodes[..2], &side_a);
    wait_for_tip(&nodes[2..], &side_b);

    devnet.ok(&["heal"]);
    wait_for_tip(&nodes, &side_b);
    let status = devnet.ok(&["status"]);
    assert!(status.contains("all 4 nodes agree"), "{status}");
    let pids = pids(&state);
    devnet.ok(&["down"]);
    assert_all_gone(&pids);
}

#[test]
fn logs_of_a_missing_devnet_is_refused() {
    let devnet = Devnet::new();
    let error = devnet.refused(&["logs", "node-0"]);
    assert!(error.contains("no devnet is up"), "{error}");
    assert!(!devnet.root().join("devnet.json").exists());
}

/// Needs the node's `setdeniedpeers` RPC and `denied` in `getnetworkinfo`.
#[test]
fn a_line_keeps_its_shape_and_relays_end_to_end() {
    let devnet = Devnet::new();
    devnet.ok(&[
        "up",
        "--nodes",
        "3",
        "--topology",
        "line",
        "--mine",
        "none",
        "--base-port",
        "24580",
    ]);
    let state = devnet.state();
    let nodes: Vec<&DevnetNode> = state.nodes.iter().collect();
    // Nodes learn each other's addresses from their peers; the ends are kept apart.
    let denied = call(nodes[0], "getnetworkinfo", vec![])["denied"].clone();
    assert_eq!(denied, json!([nodes[2].p2p_addr.to_string()]));
    let middle = call(nodes[1], "getnetworkinfo", vec![])["denied"].clone();
    assert_eq!(middle, json!([]));

    let tip = generate(nodes[0], 1);
    wait_for_tip(&nodes, &tip);
    let pids = pids(&state);
    devnet.ok(&["down"]);
    assert_all_gone(&pids);
}
