//! `devnet up`: check the ports and that no devnet is up, start every node wired per topology,
//! wait until every link has finished its handshake, then hold the topology with deny lists,
//! apply latency and start the transaction generator. Anything that fails after the first spawn
//! stops what was started.
//!
//! Owns the start-up sequence. Must not signal processes itself (`process` does) nor repeat the
//! shutdown sequence (it calls `down`'s).

use super::down::stop_processes;
use super::plan::{self, Topology};
use super::process::{self, NodeLaunch};
use super::state::{self, DevnetState, TXGEN_LOG_FILE};
use super::{control, DevnetError, DevnetNode};
use crate::params::Network;
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long every node has to answer RPC and finish its handshakes.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How often readiness is polled.
const READY_POLL: Duration = Duration::from_millis(50);
/// Log lines quoted when a node dies during start-up.
const LOG_TAIL_LINES: usize = 8;

#[derive(Clone, Debug)]
/// What `devnet up` starts.
pub struct UpOptions {
    /// The network the nodes run.
    pub network: Network,
    /// How many nodes.
    pub nodes: usize,
    /// How they are wired.
    pub topology: Topology,
    /// `all`, `none` or node names.
    pub mine: String,
    /// Total miner threads over all mining nodes [default: one per core].
    pub threads: Option<usize>,
    /// Devnet block spacing in seconds, if not the default.
    pub block_time: Option<u32>,
    /// Delay added on every link.
    pub link_latency_ms: Option<u64>,
    /// Payments a second by the transaction generator.
    pub tx_rate: Option<f64>,
    /// The first port, if not the network's default.
    pub base_port: Option<u16>,
}

/// The first port a devnet of `network` uses by default.
pub(crate) fn default_base_port(network: Network) -> u16 {
    match network {
        Network::Devnet => 19_000,
        Network::Regtest => 29_000,
    }
}

/// Starts a devnet in `root` and returns its state once every node is up and peered.
pub fn up(options: &UpOptions, root: &Path) -> Result<DevnetState, DevnetError> {
    let root = root.to_path_buf();
    let mut state = plan_devnet(options, &root)?;
    refuse_if_up(&root)?;
    check_ports_free(&state)?;
    let result = start(&mut state, options, &root);
    if let Err(error) = result {
        stop_processes(&root, Some(&state));
        // Best effort: the error that stopped start-up is the one worth reporting.
        let _ = state::remove(&root);
        return Err(error);
    }
    Ok(state)
}

fn plan_devnet(options: &UpOptions, root: &Path) -> Result<DevnetState, DevnetError> {
    if options.block_time.is_some() && options.network == Network::Regtest {
        return Err(DevnetError::BlockTimeOnRegtest);
    }
    if let Some(rate) = options.tx_rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(DevnetError::TxRate(rate));
        }
    }
    plan::check_node_count(options.nodes)?;
    let base = options
        .base_port
        .unwrap_or_else(|| default_base_port(options.network));
    let ports = plan::ports(base, options.nodes)?;
    let mining = plan::parse_mine(&options.mine, options.nodes)?;
    let total_threads = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let threads = plan::split_threads(total_threads, &mining);
    let nodes = ports
        .iter()
        .zip(threads)
        .enumerate()
        .map(|(i, (&(p2p, rpc), mining_threads))| {
            let name = plan::node_name(i);
            DevnetNode {
                datadir: root.join(&name),
                name,
                p2p_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, p2p)),
                rpc_port: rpc,
                pid: None,
                mining_threads,
            }
        })
        .collect();
    Ok(DevnetState {
        network: options.network,
        block_time: options.block_time,
        topology: options.topology,
        nodes,
        txgen_pid: None,
    })
}

/// Refuses when a state file or any process of a devnet in `root` is still around.
fn refuse_if_up(root: &Path) -> Result<(), DevnetError> {
    let pretty_root = state::pretty(root);
    match state::load(root) {
        Ok(existing) => {
            let running = existing
                .nodes
                .iter()
                .any(|node| node.pid.is_some_and(|pid| is_node_running(node, pid)));
            return Err(if running {
                DevnetError::AlreadyUp {
                    root: pretty_root,
                    nodes: existing.nodes.len(),
                }
            } else {
                DevnetError::StaleState {
                    root: pretty_root,
                    nodes: existing.nodes.len(),
                }
            });
        }
        Err(DevnetError::NotUp { .. }) => {}
        Err(other) => return Err(other),
    }
    let strays = process::find_by_root(root);
    if strays.is_empty() {
        Ok(())
    } else {
        Err(DevnetError::AlreadyUp {
            root: pretty_root,
            nodes: strays.len(),
        })
    }
}

pub(super) fn is_node_running(node: &DevnetNode, pid: u32) -> bool {
    process::is_running(pid, &node.datadir.display().to_string())
}

/// Binds every port once, so a clash is reported before any node starts.
fn check_ports_free(state: &DevnetState) -> Result<(), DevnetError> {
    for node in &state.nodes {
        for (port, role) in [(node.p2p_addr.port(), "p2p"), (node.rpc_port, "rpc")] {
            if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
                return Err(DevnetError::PortInUse {
                    port,
                    node: node.name.clone(),
                    role,
                });
            }
        }
    }
    Ok(())
}

/// How node `index` of `state` is started: its ports, its data directory, the peers its
/// topology has it dial, its miner.
fn launch_of(state: &DevnetState, index: usize) -> NodeLaunch {
    let dials = state.topology.dials(state.nodes.len());
    let node = &state.nodes[index];
    NodeLaunch {
        name: node.name.clone(),
        network: state.network,
        datadir: node.datadir.clone(),
        rpc_port: node.rpc_port,
        listen: node.p2p_addr,
        connect: dials
            .get(index)
            .into_iter()
            .flatten()
            .map(|&j| state.nodes[j].p2p_addr)
            .collect(),
        mining_threads: node.mining_threads,
        block_time: state.block_time,
        log: node.log_path(),
        abort_in_reorg: None,
    }
}

/// Starts node `index` of the devnet in `root` again, as `up` started it (after it died or was
/// killed), optionally with the `--abort-in-reorg` failpoint armed; saves its new pid and waits
/// until its RPC answers.
pub(crate) fn restart_node(
    state: &mut DevnetState,
    root: &Path,
    index: usize,
    abort_in_reorg: Option<usize>,
) -> Result<(), DevnetError> {
    let launch = NodeLaunch {
        abort_in_reorg,
        ..launch_of(state, index)
    };
    spawn(&mut state.nodes[index], &launch)?;
    state::save(root, state)?;
    let node = &state.nodes[index];
    let deadline = Instant::now() + READY_TIMEOUT;
    while node.call("getblockcount", vec![]).is_err() {
        if !node.pid.is_some_and(|pid| is_node_running(node, pid)) || Instant::now() >= deadline {
            return Err(DevnetError::NodeExited {
                node: node.name.clone(),
                log: state::pretty(&node.log_path()),
                tail: process::log_tail(&node.log_path(), LOG_TAIL_LINES),
            });
        }
        sleep(READY_POLL);
    }
    Ok(())
}

/// Starts `node`'s process as `launch` says and keeps its pid (marked by its data directory).
fn spawn(node: &mut DevnetNode, launch: &NodeLaunch) -> Result<(), DevnetError> {
    let marker = node.datadir.display().to_string();
    node.pid = Some(process::spawn_detached(
        &launch.name,
        &launch.args(),
        &launch.log,
        &marker,
    )?);
    Ok(())
}

fn start(state: &mut DevnetState, options: &UpOptions, root: &Path) -> Result<(), DevnetError> {
    let launches: Vec<NodeLaunch> = (0..state.nodes.len())
        .map(|index| launch_of(state, index))
        .collect();
    for (node, launch) in state.nodes.iter_mut().zip(&launches) {
        spawn(node, launch)?;
    }
    // Saved before waiting, so `down` finds the nodes even if this command is interrupted.
    state::save(root, state)?;
    wait_ready(state)?;
    if state.topology != Topology::Mesh {
        // Nodes dial the addresses their peers announce; the deny lists keep the shape.
        control::heal(state)?;
    }
    if let Some(ms) = options.link_latency_ms {
        control::latency(state, ms, None)?;
    }
    if let Some(rate) = options.tx_rate {
        state.txgen_pid = Some(spawn_txgen(state.network, rate, root)?);
        state::save(root, state)?;
    }
    Ok(())
}

fn spawn_txgen(network: Network, rate: f64, root: &Path) -> Result<u32, DevnetError> {
    let state_file = state::state_path(root).display().to_string();
    let args = [
        "--network".to_string(),
        network.name().to_string(),
        "devnet".to_string(),
        "txgen".to_string(),
        "--rate".to_string(),
        rate.to_string(),
        "--state".to_string(),
        state_file.clone(),
    ];
    process::spawn_detached(
        "the transaction generator",
        &args,
        &root.join(TXGEN_LOG_FILE),
        &state_file,
    )
}

/// Polls every node until its RPC answers and every topology link has finished its handshake.
/// A link counts when either end lists the other among its handshaken peers, by the address it
/// dialed or by the listen address the other announced: nodes also dial addresses they learned,
/// so the `--connect` side is not always the one holding the connection.
fn wait_ready(state: &DevnetState) -> Result<(), DevnetError> {
    let neighbours = state.topology.neighbours(state.nodes.len());
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let mut linked = Vec::with_capacity(state.nodes.len());
        for node in &state.nodes {
            if !node.pid.is_some_and(|pid| is_node_running(node, pid)) {
                return Err(DevnetError::NodeExited {
                    node: node.name.clone(),
                    log: state::pretty(&node.log_path()),
                    tail: process::log_tail(&node.log_path(), LOG_TAIL_LINES),
                });
            }
            let peers = node.call("getpeerinfo", vec![]).ok();
            linked.push(peers.map(|peers| handshaken_addrs(&peers)));
        }
        let has = |i: usize, j: usize| {
            linked[i]
                .as_ref()
                .is_some_and(|addrs| addrs.contains(&state.nodes[j].p2p_addr))
        };
        let missing = |i: usize| -> Vec<usize> {
            neighbours[i]
                .iter()
                .copied()
                .filter(|&j| !has(i, j) && !has(j, i))
                .collect()
        };
        let waiting =
            (0..state.nodes.len()).find(|&i| linked[i].is_none() || !missing(i).is_empty());
        let Some(waiting) = waiting else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            let node = &state.nodes[waiting];
            let names: Vec<String> = missing(waiting)
                .iter()
                .map(|&j| state.nodes[j].name.clone())
                .collect();
            return Err(DevnetError::NotReady {
                node: node.name.clone(),
                waiting_for: if linked[waiting].is_none() {
                    "its RPC".to_string()
                } else {
                    format!("links to {}", names.join(", "))
                },
                after: READY_TIMEOUT,
                log: state::pretty(&node.log_path()),
            });
        }
        sleep(READY_POLL);
    }
}

/// The addresses of a `getpeerinfo` answer's handshaken peers: the address each was reached at
/// and, where the peer announced one, its listen address.
fn handshaken_addrs(peers: &Value) -> Vec<SocketAddr> {
    peers
        .as_array()
        .into_iter()
        .flatten()
        .filter(|peer| peer["handshake_done"].as_bool() == Some(true))
        .flat_map(|peer| [&peer["addr"], &peer["listen_addr"]])
        .filter_map(|addr| addr.as_str()?.parse().ok())
        .collect()
}

/// The node table `up` prints.
pub(crate) fn node_table(state: &DevnetState) -> String {
    let mut out = format!(
        "{:<8} {:<16} {:>6} {:>7}  {}\n",
        "node", "p2p", "rpc", "threads", "datadir"
    );
    for node in &state.nodes {
        out.push_str(&format!(
            "{:<8} {:<16} {:>6} {:>7}  {}\n",
            node.name,
            node.p2p_addr.to_string(),
            node.rpc_port,
            node.mining_threads,
            state::pretty(&node.datadir).display()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    #[test]
    fn handshaken_addresses_include_announced_listen_addresses() {
        let peers = json!([
            {"addr": "127.0.0.1:19000", "inbound": false, "handshake_done": true},
            {"addr": "127.0.0.1:40000", "inbound": true, "handshake_done": true,
             "listen_addr": "127.0.0.1:19004"},
            {"addr": "127.0.0.1:19002", "inbound": false, "handshake_done": false},
            {"addr": "127.0.0.1:40001", "inbound": true, "handshake_done": true,
             "listen_addr": null},
        ]);
        let addrs: Vec<String> = handshaken_addrs(&peers)
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(
            addrs,
            vec![
                "127.0.0.1:19000",
                "127.0.0.1:40000",
                "127.0.0.1:19004",
                "127.0.0.1:40001"
            ]
        );
        assert!(handshaken_addrs(&json!(null)).is_empty());
    }

    #[test]
    fn plan_gives_each_node_its_ports_and_threads() {
        let options = UpOptions {
            network: Network::Regtest,
            nodes: 3,
            topology: Topology::Line,
            mine: "node-0,node-2".into(),
            threads: Some(3),
            block_time: None,
            link_latency_ms: None,
            tx_rate: None,
            base_port: Some(24_000),
        };
        let state = plan_devnet(&options, Path::new("/tmp/devnet")).unwrap();
        let node = &state.nodes[2];
        assert_eq!(node.name, "node-2");
        assert_eq!(node.p2p_addr.port(), 24_004);
        assert_eq!(node.rpc_port, 24_005);
        assert_eq!(node.datadir, Path::new("/tmp/devnet/node-2"));
        let threads: Vec<usize> = state.nodes.iter().map(|n| n.mining_threads).collect();
        assert_eq!(threads, vec![2, 0, 1]);
        let regtest_block_time = UpOptions {
            block_time: Some(1),
            ..options.clone()
        };
        assert_eq!(
            plan_devnet(&regtest_block_time, Path::new("/tmp/devnet"))
                .unwrap_err()
                .code(),
            "devnet-block-time-regtest"
        );
        let bad_rate = UpOptions {
            tx_rate: Some(0.0),
            ..options
        };
        assert_eq!(
            plan_devnet(&bad_rate, Path::new("/tmp/devnet"))
                .unwrap_err()
                .code(),
            "devnet-tx-rate"
        );
    }

    #[test]
    fn a_taken_port_is_named() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let taken = listener.local_addr().unwrap().port();
        let state = DevnetState {
            network: Network::Regtest,
            block_time: None,
            topology: Topology::Mesh,
            nodes: vec![DevnetNode {
                name: "node-0".into(),
                p2p_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, taken)),
                rpc_port: taken,
                datadir: PathBuf::from("/tmp/devnet/node-0"),
                pid: None,
                mining_threads: 0,
            }],
            txgen_pid: None,
        };
        let error = check_ports_free(&state).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("port {taken} (node-0 p2p) is already in use; pick another --base-port")
        );
    }
}
