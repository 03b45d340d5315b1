//! Running the real `nakachain` binary on regtest for tests: start, call RPC, stop, kill.
//! Shared by the process tests through `#[path]`.
#![allow(dead_code)] // each test file uses a different part of it

use nakachain::rpc::{Cookie, RpcClient};
use nakachain::store::DataDir;
use serde_json::{json, Value};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long a node may take to start or stop before the test gives up (not a speed assertion:
/// only a bound so a broken build fails instead of hanging).
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct NodeProcess {
    pub child: Child,
    pub datadir: PathBuf,
    pub port: u16,
}

impl NodeProcess {
    pub fn start(datadir: &Path, port: u16) -> NodeProcess {
        NodeProcess::start_with(datadir, port, &[])
    }

    /// Starts `nakachain node` with extra node arguments (e.g. `--mine`).
    pub fn start_with(datadir: &Path, port: u16, node_args: &[&str]) -> NodeProcess {
        let log = std::fs::File::create(datadir.with_extension("log")).expect("create node log");
        let child = Command::new(env!("CARGO_BIN_EXE_nakachain"))
            .args(["--network", "regtest", "--datadir"])
            .arg(datadir)
            .args(["--rpc-port", &port.to_string(), "node"])
            .args(node_args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nakachain");
        let node = NodeProcess {
            child,
            datadir: datadir.to_path_buf(),
            port,
        };
        node.wait_ready();
        node
    }

    pub fn client(&self) -> RpcClient {
        let cookie = DataDir::read_cookie(&self.datadir).expect("cookie");
        RpcClient::new(
            SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)),
            Cookie::parse(&cookie).expect("cookie parses"),
        )
    }

    /// The `Authorization` header value of the node's cookie.
    pub fn client_cookie_header(&self) -> String {
        let cookie = DataDir::read_cookie(&self.datadir).expect("cookie");
        Cookie::parse(&cookie)
            .expect("cookie parses")
            .authorization_header()
    }

    pub fn call(&self, method: &str, params: Vec<Value>) -> Value {
        self.client()
            .call(method, params)
            .unwrap_or_else(|error| panic!("{method} failed: {error}"))
    }

    pub fn wait_ready(&self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let ready = DataDir::read_cookie(&self.datadir)
                .ok()
                .and_then(|cookie| Cookie::parse(&cookie).ok())
                .map(|cookie| {
                    RpcClient::new(SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)), cookie)
                        .call("getblockcount", vec![])
                        .is_ok()
                })
                .unwrap_or(false);
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node did not come up; see {}.log",
                self.datadir.display()
            );
            sleep(Duration::from_millis(100));
        }
    }

    pub fn stop(mut self) {
        assert_eq!(self.call("stop", vec![]), json!("nakachain stopping"));
        self.expect_clean_exit("RPC stop");
    }

    /// Sends SIGTERM and expects a clean exit.
    pub fn terminate(mut self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
        self.expect_clean_exit("SIGTERM");
    }

    fn expect_clean_exit(&mut self, after: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for node") {
                assert!(status.success(), "node exited with {status} after {after}");
                return;
            }
            assert!(Instant::now() < deadline, "node did not stop after {after}");
            sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the node on `datadir` expecting it to refuse to start; returns what it printed.
pub fn failed_start(datadir: &Path, port: u16) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_nakachain"))
        .args(["--network", "regtest", "--datadir"])
        .arg(datadir)
        .args(["--rpc-port", &port.to_string(), "node"])
        .output()
        .expect("run nakachain");
    assert!(
        !output.status.success(),
        "the node started on bad chain-data"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("free port")
}
