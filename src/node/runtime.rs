//! Starting and running a node: the data directory, the RPC server, the peer listener and the
//! miner threads come up, then one loop hands the node task one event at a time — RPC calls,
//! helpers' commands, connections' notices, the one-second tick, turns of the protocol's
//! waiting blocks, Ctrl-C and SIGTERM — until it is told to stop; then everything stops in order.
//!
//! Owns start-up, the event loop and the shutdown order. Must not handle events itself
//! (`task` does) nor hold chain state behind locks.

use super::command::{Command, FromPeer};
use super::mining::MinerOptions;
use super::peers::Connections;
use super::state::{os_random_bytes, Node, NodeError};
use super::task::{NodeTask, TaskParts};
use crate::params::Params;
use crate::protocol::{Protocol, ProtocolConfig, Timers, MAX_LEARNED_ADDRESSES};
use crate::rpc::{serve, Cookie, RestInterface, RpcCall};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How often the node refreshes hashrate, the status line and stale templates.
const TICK: Duration = Duration::from_secs(1);
/// Most inbound peers.
const MAX_INBOUND_PEERS: usize = 32;
/// Most outbound peers found by address gossip (configured peers come on top).
const MAX_OUTBOUND_PEERS: usize = 8;
/// RPC calls queued for the node task before the server waits.
const RPC_CALL_QUEUE: usize = 64;
/// Connections' notices queued for the node task before their readers wait (and so stop
/// reading their sockets): each holds the frames of one read of at most 64 KiB, so this bounds
/// what peers can make the node hold before it validates to about 16 MiB.
const PEER_NOTICE_QUEUE: usize = 256;

/// How to run a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The network and its consensus parameters.
    pub params: Params,
    /// Where the node keeps its blocks, wallet and cookie.
    pub datadir: PathBuf,
    /// The loopback port of the JSON-RPC server.
    pub rpc_port: u16,
    /// Worker threads to mine with from the start; `None` starts without mining.
    pub mine_threads: Option<usize>,
    /// The miner's kernel and priority, whenever it mines.
    pub miner: MinerOptions,
    /// Stop after this many blocks mined by this node's workers.
    pub stop_after_mined: Option<u64>,
    /// Show a live status line (height, hashrate, difficulty) on the terminal.
    pub status_line: bool,
    /// Where to accept peer connections; `None` accepts none.
    pub listen: Option<SocketAddr>,
    /// Peers to keep connected to.
    pub connect: Vec<SocketAddr>,
    /// Answer Bitcoin Core's read-only REST requests (`GET /rest/…`, no credentials) on the RPC
    /// port too, for tools that fetch headers that way.
    pub rest: bool,
    /// A failpoint for tests and the chaos scenario: abort once a reorg of at least this many
    /// blocks is chosen, before its blocks are stored (a kill at the worst moment).
    pub abort_in_reorg: Option<usize>,
}

/// Runs a node until Ctrl-C, SIGTERM, RPC `stop`, or the requested number of mined blocks.
pub fn run(config: NodeConfig) -> Result<(), NodeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(io_workers())
        .enable_all()
        .build()
        .map_err(NodeError::Runtime)?;
    runtime.block_on(run_async(config))
}

/// Threads for the connections' readers and writers and the RPC server: the node task runs on
/// the thread that calls `run`, and keeps a core to itself where there are few (on two cores a
/// second worker only made the node task wait its turn during a sync), up to two.
fn io_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |cores| cores.get().saturating_sub(1))
        .clamp(1, 2)
}

/// Starts the parts in order (the data directory first, so a node that cannot open its chain
/// binds nothing), runs the event loop, then stops the parts in reverse:
///
/// 1. the node task's own shutdown (`NodeTask::shutdown`): blocks fsynced, waiting calls
///    answered, connections closed with their writers awaited, miner threads joined;
/// 2. the peer listener, so no connection is accepted into a node that is gone;
/// 3. the RPC server, told to stop and awaited: it accepts no more, and the calls in flight
///    (the `stop` that ended the loop among them) get a short grace to be answered;
/// 4. the cookie file, removed last, so a client never finds a cookie without a server.
async fn run_async(config: NodeConfig) -> Result<(), NodeError> {
    let mut node = Node::open(config.params.clone(), &config.datadir)?;
    node.abort_in_reorg = config.abort_in_reorg;
    let rpc_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, config.rpc_port));
    let rpc_listener = tokio::net::TcpListener::bind(rpc_addr)
        .await
        .map_err(|source| NodeError::RpcBind {
            addr: rpc_addr,
            source,
        })?;
    let cookie = Cookie::from_secret(os_random_bytes()?);
    node.datadir().write_cookie(&cookie.file_contents())?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (calls_tx, mut calls) = mpsc::channel::<RpcCall>(RPC_CALL_QUEUE);
    let rest = if config.rest {
        RestInterface::On
    } else {
        RestInterface::Off
    };
    let server = tokio::spawn(serve(rpc_listener, cookie, calls_tx, shutdown_rx, rest));
    tracing::info!(network = %config.params.network, rpc = %rpc_addr, "node started");

    let (commands_tx, mut commands) = mpsc::unbounded_channel();
    let (notices_tx, mut notices) = mpsc::channel::<FromPeer>(PEER_NOTICE_QUEUE);
    let connections = Connections::new(config.params.magic, commands_tx.clone(), notices_tx);
    let peer_listener = match config.listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| NodeError::P2pBind { addr, source })?;
            tracing::info!(%addr, "listening for peers");
            Some(connections.listen(listener))
        }
        None => None,
    };
    let nonce_bytes = os_random_bytes()?;
    let mut nonce = [0u8; 8];
    nonce.copy_from_slice(&nonce_bytes[..8]);
    let protocol = Protocol::new(
        ProtocolConfig {
            nonce: u64::from_le_bytes(nonce),
            user_agent: super::user_agent(),
            listen_port: config.listen.map_or(0, |addr| addr.port()),
            max_inbound: MAX_INBOUND_PEERS,
            max_outbound: MAX_OUTBOUND_PEERS,
            connect: config.connect.clone(),
            known: Vec::new(),
            max_learned_addresses: MAX_LEARNED_ADDRESSES,
            timers: Timers::default(),
        },
        config.params.network_id(),
        0,
    );
    let mut task = NodeTask::new(
        node,
        TaskParts {
            protocol,
            connections,
            commands: commands_tx,
            stop_after_mined: config.stop_after_mined,
            status_line: config.status_line,
            miner: config.miner,
        },
    );
    let result = match config.mine_threads {
        Some(threads) => super::methods::NodeControl::start_mining(&mut task, threads),
        None => Ok(()),
    };
    let result = match result {
        Ok(()) => event_loop(&mut task, &mut calls, &mut commands, &mut notices).await,
        Err(error) => Err(error),
    };

    task.shutdown().await;
    if let Some(listener) = peer_listener {
        listener.abort();
    }
    let _ = shutdown_tx.send(true);
    let _ = server.await;
    task.node.datadir().remove_cookie();
    tracing::info!(height = task.node.chain.height(), "node stopped");
    result
}

/// Hands the node task one event at a time until it asks to stop, a signal comes, or handling
/// an event fails (a block that cannot be stored).
async fn event_loop(
    task: &mut NodeTask,
    calls: &mut mpsc::Receiver<RpcCall>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    notices: &mut mpsc::Receiver<FromPeer>,
) -> Result<(), NodeError> {
    let mut tick = tokio::time::interval(TICK);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    // SIGTERM (what `kill` and process supervisors send) stops the node as cleanly as Ctrl-C.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(NodeError::Runtime)?;
    while !task.stop_requested {
        let mut events = 1;
        tokio::select! {
            Some(call) = calls.recv() => task.handle_call(call)?,
            Some(command) = commands.recv() => task.handle_command(command)?,
            // A notice carries the frames of one read: each is an event.
            Some((peer, notice)) = notices.recv() => events = task.on_peer_notice(peer, notice),
            _ = tick.tick() => task.on_tick()?,
            _ = std::future::ready(()), if task.resume_due => events = task.resume(),
            _ = &mut ctrl_c => {
                tracing::info!("Ctrl-C: shutting down");
                break;
            }
            _ = terminate.recv() => {
                tracing::info!("SIGTERM: shutting down");
                break;
            }
        }
        let drained = commands.is_empty() && notices.is_empty() && !task.resume_due;
        task.after_events(events, drained)?;
    }
    Ok(())
}
