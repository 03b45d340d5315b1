//! Driving `nakachain --network regtest devnet …` for tests: each devnet lives in its own
//! temporary working directory (so `chain-data/` lands there) and is taken down when dropped,
//! so a failing test leaves no process behind. Shared by the devnet tests through `#[path]`.
#![allow(dead_code)] // each test file uses a different part of it

use nakachain::devnet::state::{self, DevnetState};
use nakachain::devnet::DevnetNode;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A bound so a broken build fails instead of hanging; not a speed assertion.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct Devnet {
    pub dir: tempfile::TempDir,
}

impl Devnet {
    pub fn new() -> Devnet {
        Devnet {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_nakachain"))
            .current_dir(self.dir.path())
            .args(["--network", "regtest", "devnet"])
            .args(args)
            .output()
            .expect("run nakachain")
    }

    /// Runs a devnet command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "devnet {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs a devnet command that must fail; returns its stderr.
    pub fn refused(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(!output.status.success(), "devnet {args:?} succeeded");
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("chain-data").join("regtest")
    }

    pub fn state(&self) -> DevnetState {
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

/// The arguments of `devnet up` for `nodes` nodes that mine only when told to, with ports
/// counted from `base_port`; a test can append more.
pub fn up_args<'a>(nodes: &'a str, base_port: &'a str) -> Vec<&'a str> {
    vec![
        "up",
        "--nodes",
        nodes,
        "--mine",
        "none",
        "--base-port",
        base_port,
    ]
}

pub fn call(node: &DevnetNode, method: &str, params: Vec<Value>) -> Value {
    node.call(method, params)
        .unwrap_or_else(|error| panic!("{method} on {}: {error}", node.name))
}

pub fn best(node: &DevnetNode) -> String {
    call(node, "getbestblockhash", vec![])
        .as_str()
        .expect("hash")
        .to_string()
}

/// Waits until every node in `nodes` has `tip` as its best block.
pub fn wait_for_tip(nodes: &[&DevnetNode], tip: &str) {
    let deadline = Instant::now() + PATIENCE;
    while nodes.iter().any(|node| best(node) != tip) {
        assert!(Instant::now() < deadline, "nodes never reached {tip}");
        sleep(Duration::from_millis(50));
    }
}

fn last_hash(hashes: &Value) -> String {
    hashes
        .as_array()
        .and_then(|hashes| hashes.last())
        .and_then(Value::as_str)
        .expect("generate returns hashes")
        .to_string()
}

/// Generates `blocks` on `node` and returns the last block's hash.
pub fn generate(node: &DevnetNode, blocks: u64) -> String {
    last_hash(&call(node, "generate", vec![json!(blocks)]))
}

/// Generates `blocks` on `node` paying a fresh address of its wallet, so two nodes never mine
/// the same block; returns the last block's hash.
pub fn generate_fresh(node: &DevnetNode, blocks: u64) -> String {
    let address = call(node, "getnewaddress", vec![]);
    last_hash(&call(
        node,
        "generatetoaddress",
        vec![json!(blocks), address],
    ))
}

/// Whether `pid` is a live process (a zombie waiting to be reaped is not).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
        })
        .unwrap_or(false)
}

/// Kills `node`'s process outright (as a crash would) and waits until it is gone.
pub fn crash(node: &DevnetNode) {
    let pid = node.pid.expect("a started node has a pid");
    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let deadline = Instant::now() + PATIENCE;
    while alive(pid) {
        assert!(Instant::now() < deadline, "killed {} still runs", node.name);
        sleep(Duration::from_millis(20));
    }
}
