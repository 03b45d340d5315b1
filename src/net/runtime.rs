//! The node task: starts a node (data directory, RPC server, peer listener, miner threads), then
//! owns its state and feeds it one event at a time — RPC calls, peer frames and connections,
//! blocks found by workers, `generate` steps, the one-second tick, turns of the protocol's
//! waiting blocks and Ctrl-C — until it is told to stop.
//!
//! Owns the event loop, the mining job hand-off and shutdown. Must not hold chain state behind
//! locks: everything that touches `Node` runs on this one task.

use super::height_waits::HeightWaits;
use super::methods;
use super::mining::MinerPool;
use super::network::Latencies;
use super::node::{os_random_bytes, BlockOrigin, Node, NodeError};
use super::peers::{Connections, PeerNotice};
use super::status::StatusLine;
use crate::params::Params;
use crate::protocol::{Input, PeerId, Protocol, ProtocolConfig};
use crate::rpc::{serve, Cookie, RpcCall, RpcError};
use crate::types::{Address, Block, Hash256};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};

/// Events after which a tip change is acted on even while more events wait: a peer that keeps
/// the queue full cannot keep the miners on a stale tip.
const TIP_CHECK_EVENTS: u32 = 256;
/// How often the node refreshes hashrate, the status line and stale templates.
const TICK: Duration = Duration::from_secs(1);
/// Workers get a fresh template this often even when the tip stays: it picks up new mempool
/// transactions and moves the header time on, so a block's time says when it was found (ASERT
/// reads solve times from block times).
const TEMPLATE_REFRESH: Duration = Duration::from_secs(5);

/// How to run a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub params: Params,
    pub datadir: PathBuf,
    pub rpc_port: u16,
    /// Worker threads to mine with from the start; `None` starts without mining.
    pub mine_threads: Option<usize>,
    /// Stop after this many blocks mined by this node's workers.
    pub stop_after_mined: Option<u64>,
    /// Show a live status line (height, hashrate, difficulty) on the terminal.
    pub status_line: bool,
    /// Where to accept peer connections; `None` accepts none.
    pub listen: Option<SocketAddr>,
    /// Peers to keep connected to.
    pub connect: Vec<SocketAddr>,
}

/// Most inbound peers.
const MAX_INBOUND_PEERS: usize = 32;
/// Most outbound peers found by address gossip (configured peers come on top).
const MAX_OUTBOUND_PEERS: usize = 8;

/// Messages to the node task from its helpers.
pub(super) enum Command {
    /// A worker solved a block.
    Found(Block),
    /// `generate` wants a template and the flag that says when it went stale.
    Template {
        payout: Option<Address>,
        reply: oneshot::Sender<Result<(Block, Arc<AtomicBool>), RpcError>>,
    },
    /// `generate` solved a block.
    SubmitGenerated {
        block: Block,
        reply: oneshot::Sender<Result<Hash256, RpcError>>,
    },
    /// The listener accepted a peer.
    Accepted { stream: TcpStream, addr: SocketAddr },
    /// An outbound dial finished.
    Dialed {
        addr: SocketAddr,
        result: Result<TcpStream, String>,
    },
    /// A connection's reader or writer has news.
    Peer { peer: PeerId, notice: PeerNotice },
    /// The timeout of the `waitforblockheight` call with this id ran out.
    HeightWaitExpired(u64),
}

/// The node task's state: the node plus what the shell keeps around it.
pub(super) struct NodeTask {
    pub(super) node: Node,
    pub(super) miner: Option<MinerPool>,
    pub(super) commands: mpsc::UnboundedSender<Command>,
    pub(super) hashes_per_sec: f64,
    pub(super) stop_requested: bool,
    /// Raised (and replaced) whenever the tip moves, so in-flight `generate` searches end.
    tip_stale: Arc<AtomicBool>,
    last_tip: Hash256,
    /// Events handled since the tip was last looked at (see `after_event`).
    events_since_tip_check: u32,
    template_built: Instant,
    mined: u64,
    stop_after_mined: Option<u64>,
    status: Option<StatusLine>,
    hash_sample: (Instant, u64),
    pub(super) protocol: Protocol,
    pub(super) connections: Connections,
    pub(super) latencies: Latencies,
    /// The protocol's clock: milliseconds since the node started.
    pub(super) started: Instant,
    pub(super) sync_progress: Option<indicatif::ProgressBar>,
    pub(super) height_waits: HeightWaits,
    /// The protocol has blocks left to validate (`Output::Resume`): the event loop resumes it
    /// in turns with the messages, calls and timers that come in, so a sync's next headers
    /// are not held up behind its queued blocks.
    pub(super) resume_due: bool,
}

/// Runs a node until Ctrl-C, RPC `stop`, or the requested number of mined blocks.
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

async fn run_async(config: NodeConfig) -> Result<(), NodeError> {
    let node = Node::open(config.params.clone(), &config.datadir)?;
    let rpc_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, config.rpc_port));
    let listener = tokio::net::TcpListener::bind(rpc_addr)
        .await
        .map_err(|source| NodeError::RpcBind {
            addr: rpc_addr,
            source,
        })?;
    let cookie = Cookie::from_secret(os_random_bytes()?);
    node.datadir().write_cookie(&cookie.file_contents())?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (calls_tx, mut calls) = mpsc::channel::<RpcCall>(64);
    let server = tokio::spawn(serve(listener, cookie, calls_tx, shutdown_rx));
    tracing::info!(network = %config.params.network, rpc = %rpc_addr, "node started");

    let (commands_tx, mut commands) = mpsc::unbounded_channel();
    let connections = Connections::new(config.params.magic, commands_tx.clone());
    let listener = match config.listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| NodeError::P2pBind { addr, source })?;
            tracing::info!(%addr, "listening for peers");
            Some(connections.listen(listener))
        }
        None => None,
    };
    let nonce = u64::from_le_bytes(os_random_bytes()?[..8].try_into().unwrap_or([0; 8]));
    let protocol = Protocol::new(
        ProtocolConfig {
            nonce,
            user_agent: format!("nakachain:{}", env!("CARGO_PKG_VERSION")),
            listen_port: config.listen.map_or(0, |addr| addr.port()),
            max_inbound: MAX_INBOUND_PEERS,
            max_outbound: MAX_OUTBOUND_PEERS,
            connect: config.connect.clone(),
        },
        config.params.network_id(),
        0,
    );
    let mut task = NodeTask {
        protocol,
        connections,
        latencies: Latencies::default(),
        started: Instant::now(),
        sync_progress: None,
        height_waits: HeightWaits::default(),
        resume_due: false,
        last_tip: node.chain.tip().hash,
        events_since_tip_check: 0,
        node,
        miner: None,
        commands: commands_tx,
        hashes_per_sec: 0.0,
        stop_requested: false,
        tip_stale: Arc::new(AtomicBool::new(false)),
        template_built: Instant::now(),
        mined: 0,
        stop_after_mined: config.stop_after_mined,
        status: config.status_line.then(StatusLine::new),
        hash_sample: (Instant::now(), 0),
    };
    if let Some(threads) = config.mine_threads {
        task.start_mining(threads)?;
    }
    let result = task.event_loop(&mut calls, &mut commands).await;

    task.shutdown();
    if let Some(listener) = listener {
        listener.abort();
    }
    let _ = shutdown_tx.send(true);
    let _ = server.await;
    task.node.datadir().remove_cookie();
    tracing::info!(height = task.node.chain.height(), "node stopped");
    result
}

impl NodeTask {
    async fn event_loop(
        &mut self,
        calls: &mut mpsc::Receiver<RpcCall>,
        commands: &mut mpsc::UnboundedReceiver<Command>,
    ) -> Result<(), NodeError> {
        let mut tick = tokio::time::interval(TICK);
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        // SIGTERM (what `kill` and process supervisors send) stops the node as cleanly as Ctrl-C.
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(NodeError::Runtime)?;
        while !self.stop_requested {
            let mut events = 1;
            tokio::select! {
                Some(call) = calls.recv() => self.handle_call(call)?,
                Some(command) = commands.recv() => events = self.handle_command(command)?,
                _ = tick.tick() => self.on_tick()?,
                _ = std::future::ready(()), if self.resume_due => events = self.resume(),
                _ = &mut ctrl_c => {
                    tracing::info!("Ctrl-C: shutting down");
                    break;
                }
                _ = terminate.recv() => {
                    tracing::info!("SIGTERM: shutting down");
                    break;
                }
            }
            self.after_events(events, commands.is_empty() && !self.resume_due)?;
        }
        Ok(())
    }

    /// Lets the protocol validate its next turn of waiting blocks; returns how many it took.
    fn resume(&mut self) -> u32 {
        let waiting = self.protocol.blocks_to_validate();
        self.input(Input::Resume);
        let validated = waiting.saturating_sub(self.protocol.blocks_to_validate());
        u32::try_from(validated).unwrap_or(u32::MAX).max(1)
    }

    fn handle_call(&mut self, call: RpcCall) -> Result<(), NodeError> {
        // What an answer reports must survive the node being killed: blocks from peers reach
        // the OS first. They reach the disk by the next tick; an fsync per call would let an
        // RPC client polling during a sync stall the node on the disk at its polling rate.
        if !self.node.flush_store() {
            let _ = call.reply.send(Err(RpcError::misc("cannot store blocks")));
            return self
                .node
                .take_store_failure()
                .map_or(Ok(()), |e| Err(e.into()));
        }
        if matches!(call.method.as_str(), "generate" | "generatetoaddress") {
            let commands = self.commands.clone();
            let request = methods::parse_generate(&call.method, &call.params);
            tokio::spawn(async move {
                let result = match request {
                    Ok((count, payout)) => generate(commands, count, payout).await,
                    Err(error) => Err(error),
                };
                let _ = call.reply.send(result);
            });
            return Ok(());
        }
        if call.method == "waitforblockheight" {
            self.wait_for_height(call);
            return Ok(());
        }
        match methods::dispatch(self, &call.method, &call.params) {
            Ok(value) => {
                let _ = call.reply.send(Ok(value));
                Ok(())
            }
            Err(MethodFailure::Rpc(error)) => {
                let _ = call.reply.send(Err(error));
                Ok(())
            }
            Err(MethodFailure::Fatal(error)) => {
                let _ = call.reply.send(Err(RpcError::misc(error.to_string())));
                Err(error)
            }
        }
    }

    /// Handles one command; returns how many events it held (a peer's notice carries the
    /// frames of one read).
    fn handle_command(&mut self, command: Command) -> Result<u32, NodeError> {
        match command {
            Command::Found(block) => {
                let hash = block.hash();
                match self.node.submit_block(block, BlockOrigin::Mined) {
                    Ok(outcome) if outcome.accepted.contains(&hash) => self.count_mined(hash),
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(block = %hash, reason = error.code(), "mined block refused");
                    }
                }
            }
            Command::Template { payout, reply } => {
                let payout = match payout {
                    Some(address) => address,
                    None => self.node.mining_address()?,
                };
                let template = self.node.block_template(payout, 0);
                let _ = reply.send(Ok((template, Arc::clone(&self.tip_stale))));
            }
            Command::SubmitGenerated { block, reply } => {
                let hash = block.hash();
                let result = self
                    .node
                    .submit_block(block, BlockOrigin::Mined)
                    .map(|_| hash)
                    .map_err(|error| RpcError::verify_error(error.to_string()));
                let _ = reply.send(result);
            }
            Command::Accepted { stream, addr } => {
                let peer = self.connections.adopt(stream, self.latencies.default_ms);
                self.input(Input::Connected {
                    peer,
                    addr,
                    inbound: true,
                });
            }
            Command::Dialed { addr, result } => match result {
                Ok(stream) => {
                    let peer = self.connections.adopt(stream, self.latencies.default_ms);
                    self.input(Input::Connected {
                        peer,
                        addr,
                        inbound: false,
                    });
                }
                Err(reason) => {
                    tracing::debug!(%addr, %reason, "dial failed");
                    self.input(Input::ConnectFailed { addr });
                }
            },
            Command::Peer { peer, notice } => return Ok(self.on_peer_notice(peer, notice)),
            Command::HeightWaitExpired(id) => self.answer_expired_wait(id),
        }
        Ok(1)
    }

    fn count_mined(&mut self, hash: Hash256) {
        self.mined += 1;
        if let Some(status) = &self.status {
            let height = self.node.chain.entry(&hash).map_or(0, |entry| entry.height);
            status.println(&format!("mined block {height} {hash}"));
        }
        if self
            .stop_after_mined
            .is_some_and(|limit| self.mined >= limit)
        {
            tracing::info!(mined = self.mined, "mined the requested number of blocks");
            self.stop_requested = true;
        }
    }

    fn on_tick(&mut self) -> Result<(), NodeError> {
        let (then, hashes_then) = self.hash_sample;
        let hashes_now = self.miner.as_ref().map_or(0, MinerPool::hashes);
        let elapsed = then.elapsed().as_secs_f64();
        if elapsed > 0.0 {
            self.hashes_per_sec = hashes_now.saturating_sub(hashes_then) as f64 / elapsed;
        }
        self.hash_sample = (Instant::now(), hashes_now);
        if self.miner.is_some() && self.template_built.elapsed() >= TEMPLATE_REFRESH {
            self.publish_job(Instant::now())?;
        }
        // Blocks from peers are fsynced when the node tells a peer of them (see `input`), and
        // at least once a second: one fsync per block would cap a sync at the disk's fsync
        // rate.
        self.node.sync_store();
        self.input(Input::Tick);
        self.show_sync_progress();
        if let Some(status) = &self.status {
            let mining = self
                .miner
                .as_ref()
                .map(|pool| (pool.kernel().name(), pool.threads()));
            status.update(&self.node, self.hashes_per_sec, mining);
        }
        Ok(())
    }

    /// After every command (`events` events): stop on a failed store write; announce
    /// transactions from RPC. Once a burst of events is handled (`drained`), or every
    /// `TIP_CHECK_EVENTS` events during a long one: if the tip moved, retire every search on the
    /// old tip and announce the new one. Blocks arriving by the thousand during a sync are not
    /// each re-announced and re-mined on.
    fn after_events(&mut self, events: u32, drained: bool) -> Result<(), NodeError> {
        if let Some(error) = self.node.take_store_failure() {
            return Err(error.into());
        }
        for txid in self.node.take_txs_to_announce() {
            self.input(Input::AnnounceTx(txid));
        }
        self.events_since_tip_check += events;
        if !drained && self.events_since_tip_check < TIP_CHECK_EVENTS {
            return Ok(());
        }
        self.events_since_tip_check = 0;
        let tip = self.node.chain.tip().hash;
        if tip == self.last_tip {
            return Ok(());
        }
        self.last_tip = tip;
        self.answer_reached_heights();
        self.input(Input::NewLocalBlock);
        self.tip_stale.store(true, Ordering::Relaxed);
        self.tip_stale = Arc::new(AtomicBool::new(false));
        if self.miner.is_some() {
            self.publish_job(Instant::now())?;
        }
        Ok(())
    }

    pub(super) fn miner_threads(&self) -> usize {
        self.miner.as_ref().map_or(0, MinerPool::threads)
    }

    /// Starts `threads` workers (replacing any running ones) on a fresh template.
    pub(super) fn start_mining(&mut self, threads: usize) -> Result<(), NodeError> {
        self.stop_mining();
        let commands = self.commands.clone();
        let kernel = crate::miner::Kernel::detect();
        self.miner = Some(MinerPool::start(threads, kernel, move |block| {
            let _ = commands.send(Command::Found(block));
        }));
        tracing::info!(threads, kernel = kernel.name(), "mining started");
        self.publish_job(Instant::now())
    }

    pub(super) fn stop_mining(&mut self) {
        if let Some(pool) = self.miner.take() {
            pool.stop();
            self.hashes_per_sec = 0.0;
            tracing::info!("mining stopped");
        }
    }

    /// Hands the workers a fresh template; `since` is when the reason for it happened.
    fn publish_job(&mut self, since: Instant) -> Result<(), NodeError> {
        let payout = self.node.mining_address()?;
        let template = self.node.block_template(payout, 0);
        self.template_built = Instant::now();
        if let Some(pool) = self.miner.as_mut() {
            pool.set_job(template, since);
        }
        Ok(())
    }

    fn shutdown(&mut self) {
        self.node.sync_store();
        self.answer_all_waits();
        self.connections.close_all();
        if let Some(progress) = self.sync_progress.take() {
            progress.finish_and_clear();
        }
        self.tip_stale.store(true, Ordering::Relaxed);
        self.stop_mining();
        if let Some(status) = self.status.take() {
            status.finish();
        }
    }
}

/// Why an RPC method failed: an answer for the caller, or a failure that must stop the node
/// (after the caller is told).
pub(super) enum MethodFailure {
    Rpc(RpcError),
    Fatal(NodeError),
}

impl From<RpcError> for MethodFailure {
    fn from(error: RpcError) -> Self {
        MethodFailure::Rpc(error)
    }
}

impl From<NodeError> for MethodFailure {
    fn from(error: NodeError) -> Self {
        MethodFailure::Fatal(error)
    }
}

/// Mines `count` blocks on the node's tip, one at a time, without blocking the node task: each
/// template is solved on a blocking thread and retried on a fresh template if the tip moves.
async fn generate(
    commands: mpsc::UnboundedSender<Command>,
    count: u64,
    payout: Option<Address>,
) -> Result<serde_json::Value, RpcError> {
    let gone = || RpcError::misc("the node is shutting down");
    let mut hashes = Vec::new();
    while (hashes.len() as u64) < count {
        let (reply, answer) = oneshot::channel();
        commands
            .send(Command::Template { payout, reply })
            .map_err(|_| gone())?;
        let (mut block, stale) = answer.await.map_err(|_| gone())??;
        let solved = tokio::task::spawn_blocking(move || {
            crate::miner::solve_block(&mut block, &stale).then_some(block)
        })
        .await
        .map_err(|_| RpcError::misc("the solving thread panicked"))?;
        // No block means the tip moved (or the node is stopping): the next request tells which.
        let Some(block) = solved else {
            continue;
        };
        let (reply, answer) = oneshot::channel();
        commands
            .send(Command::SubmitGenerated { block, reply })
            .map_err(|_| gone())?;
        hashes.push(answer.await.map_err(|_| gone())??);
    }
    Ok(serde_json::json!(hashes))
}
