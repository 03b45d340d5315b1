//! `NodeTask`: the state the node task owns — the node, its protocol, connections, miner
//! threads, waiting calls and status line — and how it handles each kind of event the runtime's
//! loop hands it: an RPC call, a helper's command, a connection's notice, a tick, a turn of the
//! protocol's waiting blocks.
//!
//! Owns what happens after each event: a moved tip retires stale searches, answers waiting
//! calls and is announced. Must not own the loop or start-up (`runtime` does), and must not
//! hold chain state behind locks: everything that touches `Node` runs on this one task.

use super::command::{Command, PeerNotice};
use super::generate::generate;
use super::methods::{self, Handler, MethodFailure, MiningStatus, NodeControl};
use super::mining::{MinerOptions, MinerPool};
use super::network::{Latencies, PeerLinks, SyncProgress};
use super::peers::Connections;
use super::state::{BlockOrigin, Node, NodeError};
use super::status::{Hashing, StatusLine};
use super::tip_waits::TipWaits;
use crate::events::EventKind;
use crate::protocol::{drive, Host, Input, PeerId, PeerInfo, Protocol, ResumeWhen};
use crate::rpc::{RpcCall, RpcError};
use crate::types::Hash256;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Events after which a tip change is acted on even while more events wait: a peer that keeps
/// the queue full cannot keep the miners on a stale tip.
const TIP_CHECK_EVENTS: u32 = 256;
/// Workers get a fresh template this often even when the tip stays: it picks up new mempool
/// transactions and moves the header time on, so a block's time says when it was found (ASERT
/// reads solve times from block times).
const TEMPLATE_REFRESH: Duration = Duration::from_secs(5);

/// The node task's state: the node plus what the shell keeps around it.
pub(super) struct NodeTask {
    pub(super) node: Node,
    protocol: Protocol,
    connections: Connections,
    latencies: Latencies,
    sync_progress: SyncProgress,
    tip_waits: TipWaits,
    commands: mpsc::UnboundedSender<Command>,
    miner: Option<MinerPool>,
    miner_options: MinerOptions,
    /// `None` until a full second of hashing has been measured since the workers started.
    hashes_per_sec: Option<f64>,
    /// When the hash counter was last read, and what it said; `None` right after a start.
    hash_sample: Option<(Instant, u64)>,
    /// Raised (and replaced) whenever the tip moves, so in-flight `generate` searches end.
    tip_stale: Arc<AtomicBool>,
    last_tip: Hash256,
    /// Events handled since the tip was last looked at (see `after_events`).
    events_since_tip_check: u32,
    template_built: Instant,
    mined: u64,
    stop_after_mined: Option<u64>,
    status: Option<StatusLine>,
    /// The protocol's clock starts here: `now_ms` is milliseconds since.
    started: Instant,
    /// The protocol has blocks left to validate (`Output::Resume`): the event loop resumes it
    /// in turns with the messages, calls and timers that come in, so a sync's next headers
    /// are not held up behind its queued blocks.
    pub(super) resume_due: bool,
    pub(super) stop_requested: bool,
}

/// What a node task is made of, besides the node.
pub(super) struct TaskParts {
    pub(super) protocol: Protocol,
    pub(super) connections: Connections,
    pub(super) commands: mpsc::UnboundedSender<Command>,
    pub(super) stop_after_mined: Option<u64>,
    pub(super) status_line: bool,
    pub(super) miner: MinerOptions,
}

impl NodeTask {
    pub(super) fn new(node: Node, parts: TaskParts) -> NodeTask {
        NodeTask {
            last_tip: node.chain.tip().hash,
            node,
            protocol: parts.protocol,
            connections: parts.connections,
            latencies: Latencies::default(),
            sync_progress: SyncProgress::default(),
            tip_waits: TipWaits::default(),
            commands: parts.commands,
            miner: None,
            miner_options: parts.miner,
            hashes_per_sec: None,
            hash_sample: None,
            tip_stale: Arc::new(AtomicBool::new(false)),
            events_since_tip_check: 0,
            template_built: Instant::now(),
            mined: 0,
            stop_after_mined: parts.stop_after_mined,
            status: parts.status_line.then(StatusLine::new),
            started: Instant::now(),
            resume_due: false,
            stop_requested: false,
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Feeds the protocol one input and carries out what it asks for (the shared driver).
    fn input(&mut self, input: Input<'_>) {
        let now_ms = self.now_ms();
        let mut links = PeerLinks {
            connections: &mut self.connections,
            latencies: &self.latencies,
        };
        self.resume_due = drive(
            &mut self.protocol,
            &mut self.node,
            &mut links,
            now_ms,
            input,
            ResumeWhen::Later,
        );
    }

    /// Lets the protocol validate its next turn of waiting blocks; returns how many it took.
    pub(super) fn resume(&mut self) -> u32 {
        let waiting = self.protocol.blocks_to_validate();
        self.input(Input::Resume);
        let validated = waiting.saturating_sub(self.protocol.blocks_to_validate());
        u32::try_from(validated).unwrap_or(u32::MAX).max(1)
    }

    pub(super) fn handle_call(&mut self, call: RpcCall) -> Result<(), NodeError> {
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
        let method = match methods::find(&call.method) {
            Ok(method) => method,
            Err(error) => {
                let _ = call.reply.send(Err(error));
                return Ok(());
            }
        };
        let run = match method.handler {
            Handler::Now(run) => run,
            Handler::Generate => {
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
            Handler::WaitOnTip => {
                self.tip_waits.wait(call, &mut self.node, &self.commands);
                return Ok(());
            }
        };
        match run(self, &call.params) {
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

    pub(super) fn handle_command(&mut self, command: Command) -> Result<(), NodeError> {
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
                let peer = self.connections.adopt(stream, self.latencies.default_ms());
                self.input(Input::Connected {
                    peer,
                    addr,
                    inbound: true,
                });
            }
            Command::Dialed { addr, result } => match result {
                Ok(stream) => {
                    let peer = self.connections.adopt(stream, self.latencies.default_ms());
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
            Command::HeightWaitExpired(id) => self.tip_waits.answer_expired(&mut self.node, id),
        }
        Ok(())
    }

    /// News from a connection's tasks; returns how many inputs it made. Notices from a
    /// connection already closed are stale, and so are the frames after one that closed it.
    pub(super) fn on_peer_notice(&mut self, peer: PeerId, notice: PeerNotice) -> u32 {
        let mut inputs = 0;
        match notice {
            PeerNotice::Frames(frames) => {
                for frame in frames {
                    if !self.connections.is_open(peer) {
                        break;
                    }
                    inputs += 1;
                    match frame {
                        Ok(message) => self.input(Input::Received { peer, message }),
                        Err(error) => self.input(Input::BadFrame {
                            peer,
                            error: &error,
                        }),
                    }
                }
            }
            PeerNotice::Closed if self.connections.is_open(peer) => {
                inputs += 1;
                self.connections.close(peer);
                self.input(Input::Disconnected { peer });
            }
            PeerNotice::Closed => {}
        }
        inputs
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

    pub(super) fn on_tick(&mut self) -> Result<(), NodeError> {
        if let Some(pool) = &self.miner {
            let now = Instant::now();
            let hashes = pool.hashes();
            if let Some((then, hashes_then)) = self.hash_sample {
                let elapsed_secs = now.duration_since(then).as_secs_f64();
                if elapsed_secs > 0.0 {
                    self.hashes_per_sec =
                        Some(hashes.saturating_sub(hashes_then) as f64 / elapsed_secs);
                }
            }
            self.hash_sample = Some((now, hashes));
            if self.template_built.elapsed() >= TEMPLATE_REFRESH {
                self.publish_job(now)?;
            }
        }
        // Blocks from peers are fsynced when the node tells a peer of them (the driver asks
        // the node), and at least once a second: one fsync per block would cap a sync at the
        // disk's fsync rate.
        self.node.sync_store();
        self.input(Input::Tick);
        let best_height = self.protocol.peers().iter().map(|p| p.best_height).max();
        self.sync_progress
            .show(self.node.chain.height(), best_height.unwrap_or(0));
        if let Some(status) = &self.status {
            let hashing = self.miner.as_ref().map(|pool| Hashing {
                kernel: pool.kernel().name(),
                threads: pool.threads(),
                hashes_per_sec: self.hashes_per_sec,
            });
            status.update(&self.node, hashing);
        }
        Ok(())
    }

    /// After every event loop turn (`events` events): stop on a failed store write; announce
    /// transactions from RPC. Once a burst of events is handled (`drained`), or every
    /// `TIP_CHECK_EVENTS` events during a long one: if the tip moved, retire every search on the
    /// old tip, answer the calls waiting for it and announce it. Blocks arriving by the
    /// thousand during a sync are not each re-announced and re-mined on.
    pub(super) fn after_events(&mut self, events: u32, drained: bool) -> Result<(), NodeError> {
        if let Some(error) = self.node.take_store_failure() {
            return Err(error.into());
        }
        // The driver announces what the node has to announce after every input; an RPC call
        // is not an input, so what it admitted goes out here.
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
        self.tip_waits.answer_reached(&mut self.node);
        self.input(Input::NewLocalBlock);
        self.tip_stale.store(true, Ordering::Relaxed);
        self.tip_stale = Arc::new(AtomicBool::new(false));
        if self.miner.is_some() {
            self.publish_job(Instant::now())?;
        }
        Ok(())
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

    /// Stops the node's parts in order: what peers sent is on disk first, then every waiting
    /// call is answered with the tip as it is, the connections close (each writer sending what
    /// was queued, within its bound), and the miner threads are joined last, after every
    /// search was told its tip is stale.
    pub(super) async fn shutdown(&mut self) {
        self.node.sync_store();
        self.tip_waits.answer_all(&mut self.node);
        self.connections.close_all().await;
        self.sync_progress.clear();
        self.tip_stale.store(true, Ordering::Relaxed);
        self.stop_mining();
        if let Some(status) = self.status.take() {
            status.finish();
        }
    }
}

impl NodeControl for NodeTask {
    fn node(&self) -> &Node {
        &self.node
    }

    fn node_mut(&mut self) -> &mut Node {
        &mut self.node
    }

    fn protocol_input(&mut self, input: Input<'_>) {
        self.input(input);
    }

    fn peers(&self) -> Vec<PeerInfo> {
        self.protocol.peers()
    }

    fn network_active(&self) -> bool {
        self.protocol.network_active()
    }

    fn denied(&self) -> Vec<SocketAddr> {
        self.protocol.denied().to_vec()
    }

    fn peer_latency_ms(&self, peer: PeerId) -> Option<u64> {
        self.connections.latency(peer)
    }

    fn default_latency_ms(&self) -> u64 {
        self.latencies.default_ms()
    }

    fn set_latency(&mut self, ms: u64, listen_addrs: &[SocketAddr]) {
        self.latencies.set(ms, listen_addrs);
        self.latencies
            .apply(&self.protocol.peers(), &mut self.connections);
        tracing::info!(ms, peers = ?listen_addrs, "link latency set");
        self.node.events.push(
            crate::clock::unix_now_ms(),
            EventKind::LatencySet {
                ms,
                peers: listen_addrs.to_vec(),
            },
        );
    }

    fn mining(&self) -> MiningStatus {
        MiningStatus {
            threads: self.miner.as_ref().map(MinerPool::threads),
            kernel: self.miner.as_ref().map_or_else(
                || self.miner_options.kernel.known_or_expected(),
                MinerPool::kernel,
            ),
            hashes_per_sec: self.hashes_per_sec,
            last_restart: self.miner.as_ref().and_then(MinerPool::last_restart),
        }
    }

    fn start_mining(&mut self, threads: usize) -> Result<(), NodeError> {
        self.stop_mining();
        let commands = self.commands.clone();
        let MinerOptions { kernel, priority } = self.miner_options;
        let kernel = kernel.resolve();
        self.miner = Some(MinerPool::start(threads, kernel, priority, move |block| {
            let _ = commands.send(Command::Found(block));
        }));
        self.hash_sample = None;
        tracing::info!(threads, kernel = kernel.name(), ?priority, "mining started");
        self.publish_job(Instant::now())
    }

    fn stop_mining(&mut self) {
        if let Some(pool) = self.miner.take() {
            pool.stop();
            self.hashes_per_sec = None;
            tracing::info!("mining stopped");
        }
    }

    fn request_stop(&mut self) {
        self.stop_requested = true;
    }
}
