//! Peer-to-peer benchmarks over real loopback TCP, each against a baseline measured in the same
//! run:
//! - header sync: 100,000 headers from one node to another (target ≤ 1 s);
//! - initial block download of the same chain from one peer, against replaying and validating
//!   it locally (target ≥ 70 % of the replay rate);
//! - block relay per hop: from a node receiving a block to its next peer having it (target
//!   p50 ≤ 1 ms, blocks ≤ 100 KB).
//!
//! Nodes here are `sim::SimHost` (chain and mempool in memory, no block log) driven by the real
//! `protocol` and `wire` code over real sockets, one thread per node. Run with
//! `cargo bench --bench p2p`; it prints its own table.

#[path = "support/allocator.rs"]
mod allocator;

#[path = "support/chain.rs"]
mod chain_support;
#[path = "support/rounds.rs"]
mod rounds;

use chain_support::regtest_chain;
use nakachain::chain::Chain;
use nakachain::params::Params;
use nakachain::protocol::{
    Input, Output, PeerId, Protocol, ProtocolConfig, Received, Timers, MAX_LEARNED_ADDRESSES,
};
use nakachain::sim::{sim_params, SimHost};
use nakachain::types::{Block, Hash256};
use nakachain::wire::{BlockFrames, Message};
use rounds::print_download_against_replay;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

const CHAIN_BLOCKS: u32 = 100_000;
const RELAY_SAMPLES: usize = 50;
/// Replays and downloads of the chain, alternating.
const ROUNDS: usize = 5;

/// Past every block time built here, so nothing is "too new".
const CLOCK_SECS: u64 = u32::MAX as u64;

/// A fresh simulated node state with the bench clock.
fn empty_host() -> SimHost {
    let mut host = SimHost::new(sim_params(), true);
    host.set_clock_ms(CLOCK_SECS * 1_000);
    host
}

fn host_with(blocks: &[Block]) -> SimHost {
    let mut host = empty_host();
    for block in blocks {
        host.chain
            .process_block(block.clone(), CLOCK_SECS)
            .expect("a valid chain");
    }
    host
}

/// What a node thread reports when its `until` first holds.
enum Report {
    Done(Instant),
}

/// One node on its own thread: the protocol, its host, and its sockets. `watch` sees every
/// message as its reader decodes it (before hashing it, as the node's reader task does) and
/// says whether `until` is checked once the message, and any blocks left waiting to be
/// validated, are handled; `keep` may drop outgoing messages (to isolate one phase).
struct MiniNode {
    protocol: Protocol,
    host: SimHost,
    started: Instant,
    streams: Vec<(PeerId, TcpStream)>,
    /// Large blocks' frames as they arrived, relayed without encoding them again (as the node).
    block_frames: BlockFrames,
    magic: [u8; 4],
}

fn config(nonce: u64) -> ProtocolConfig {
    ProtocolConfig {
        nonce,
        user_agent: "bench".into(),
        listen_port: 0,
        max_inbound: 8,
        max_outbound: 8,
        connect: Vec::new(),
        known: Vec::new(),
        max_learned_addresses: MAX_LEARNED_ADDRESSES,
        timers: Timers::default(),
    }
}

impl MiniNode {
    fn new(host: SimHost, nonce: u64) -> MiniNode {
        MiniNode {
            protocol: Protocol::new(config(nonce), sim_params().network_id(), 0),
            host,
            started: Instant::now(),
            streams: Vec::new(),
            block_frames: BlockFrames::default(),
            magic: sim_params().magic,
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Handles one input and writes what it sends, one write per peer (as the node's writer
    /// task coalesces queued frames); returns whether the protocol asks to be resumed.
    fn handle(&mut self, input: Input<'_>, keep: &impl Fn(&Message) -> bool) -> bool {
        let now = self.now_ms();
        let mut pending: Vec<(PeerId, Vec<u8>)> = Vec::new();
        let mut resume = false;
        for output in self.protocol.handle(now, input, &mut self.host) {
            resume |= output == Output::Resume;
            if let Output::Send { peer, message } = output {
                if !keep(&message) {
                    continue;
                }
                let at = match pending.iter().position(|(id, _)| *id == peer) {
                    Some(at) => at,
                    None => {
                        pending.push((peer, Vec::new()));
                        pending.len() - 1
                    }
                };
                self.block_frames
                    .encode_into(self.magic, &message, &mut pending[at].1)
                    .expect("frame");
            }
        }
        for (peer, bytes) in pending {
            if let Some((_, stream)) = self.streams.iter_mut().find(|(id, _)| *id == peer) {
                stream.write_all(&bytes).expect("write");
            }
        }
        resume
    }

    /// Runs the node until `until` holds, then reports; keeps serving until the channel from
    /// its readers closes.
    fn run(
        mut self,
        connections: Vec<(PeerId, TcpStream, SocketAddr, bool)>,
        keep: impl Fn(&Message) -> bool + Send + 'static,
        watch: impl Fn(&Message) -> bool + Send + Sync + 'static,
        until: impl Fn(&SimHost) -> bool + Send + 'static,
        report: mpsc::Sender<Report>,
    ) -> thread::JoinHandle<()> {
        let watch = Arc::new(watch);
        thread::spawn(move || {
            let (frames_tx, frames) = mpsc::channel::<(PeerId, Received, bool)>();
            for (peer, stream, addr, inbound) in connections {
                let frames_tx = frames_tx.clone();
                let watch = Arc::clone(&watch);
                spawn_reader(&stream, &self.block_frames, move |message| {
                    let watched = watch(&message);
                    frames_tx
                        .send((peer, Received::from(message), watched))
                        .is_ok()
                });
                stream.set_nodelay(true).expect("nodelay");
                self.streams.push((peer, stream));
                self.handle(
                    Input::Connected {
                        peer,
                        addr,
                        inbound,
                    },
                    &keep,
                );
            }
            drop(frames_tx);
            let mut reported = false;
            let mut watching = false;
            let mut resume_due = false;
            loop {
                // As the node's event loop: the protocol is resumed in turns with the messages
                // that arrive, here once those already received are in.
                let next = if resume_due {
                    match frames.try_recv() {
                        Ok(received) => Some(received),
                        Err(mpsc::TryRecvError::Empty) => None,
                        Err(mpsc::TryRecvError::Disconnected) => break,
                    }
                } else {
                    match frames.recv_timeout(Duration::from_secs(30)) {
                        Ok(received) => Some(received),
                        Err(_) => break,
                    }
                };
                resume_due = match next {
                    Some((peer, message, watched)) => {
                        watching |= watched;
                        self.handle(Input::Received { peer, message }, &keep)
                    }
                    None => self.handle(Input::Resume, &keep),
                };
                // Once a watched message and the blocks waiting with it are handled.
                if watching && !resume_due {
                    watching = false;
                    if !reported && until(&self.host) {
                        reported = true;
                        let _ = report.send(Report::Done(Instant::now()));
                    }
                }
            }
        })
    }
}

/// Reads frames from `stream` on a thread of its own, keeping large blocks' frames in
/// `block_frames` and handing each message to `deliver` (which hashes it, as the node's reader
/// task does) until it returns false or the stream ends.
fn spawn_reader(
    stream: &TcpStream,
    block_frames: &BlockFrames,
    deliver: impl Fn(Message) -> bool + Send + 'static,
) {
    let mut reader = stream.try_clone().expect("clone stream");
    let block_frames = block_frames.clone();
    thread::spawn(move || {
        let mut decoder = block_frames.decoder(sim_params().magic);
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(read) = reader.read(&mut buffer) {
            if read == 0 {
                return;
            }
            let mut frames = decoder.feed(&buffer[..read]);
            while let Some(frame) = frames.next() {
                let Ok(message) = frame else { return };
                block_frames.keep(&message, frames.take_kept_frame());
                if !deliver(message) {
                    return;
                }
            }
        }
    });
}

/// A connected loopback socket pair.
fn socket_pair() -> (TcpStream, TcpStream, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let dialer = TcpStream::connect(addr).expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    (dialer, accepted, addr)
}

/// Server `server` (holding a chain) and an empty client over one connection; returns when the
/// client's `until` holds, with the elapsed time.
fn two_nodes(
    server: SimHost,
    client_keep: impl Fn(&Message) -> bool + Send + 'static,
    client_watch: impl Fn(&Message) -> bool + Send + Sync + 'static,
    until: impl Fn(&SimHost) -> bool + Send + 'static,
) -> Duration {
    let (dialer, accepted, addr) = socket_pair();
    let closer = dialer.try_clone().expect("clone stream");
    let (report_tx, report) = mpsc::channel();
    let (ignore_tx, _ignored) = mpsc::channel();
    let server_node = MiniNode::new(server, 1);
    let client_node = MiniNode::new(empty_host(), 2);
    let started = Instant::now();
    let server_thread = server_node.run(
        vec![(1, accepted, addr, true)],
        |_| true,
        |_| false,
        |_| false,
        ignore_tx,
    );
    let client_thread = client_node.run(
        vec![(1, dialer, addr, false)],
        client_keep,
        client_watch,
        until,
        report_tx,
    );
    let Ok(Report::Done(at)) = report.recv_timeout(Duration::from_secs(120)) else {
        panic!("the client never finished");
    };
    drop(report);
    // Closing the connection ends both readers, then both nodes, so the next round starts
    // without two chains' worth of heap still held by this one's threads.
    let _ = closer.shutdown(Shutdown::Both);
    for thread in [server_thread, client_thread] {
        thread.join().expect("a node thread ends");
    }
    at - started
}

fn main() {
    let params = sim_params();
    // Relay first, while the process is fresh: the rounds below leave a large heap behind.
    let relay = relay_per_hop(&params);
    println!("building a {CHAIN_BLOCKS}-block regtest chain…");
    let blocks = regtest_chain(&params, CHAIN_BLOCKS, 0);
    let tip = blocks.last().map(Block::hash).unwrap_or(Hash256::ZERO);

    // Replay and download alternate, ROUNDS times each: on a shared machine a slow spell then
    // hits both, and the best round of each is the least disturbed.
    let mut replays = Vec::new();
    let mut ibds = Vec::new();
    for _ in 0..ROUNDS {
        let replay_started = Instant::now();
        let mut replayed = Chain::new(params.clone());
        // Each block is copied into the chain, as a node's replay decodes each from its log.
        for block in &blocks {
            replayed
                .process_block(block.clone(), CLOCK_SECS)
                .expect("valid");
        }
        replays.push(replay_started.elapsed());
        drop(replayed);
        ibds.push(two_nodes(
            host_with(&blocks),
            |_| true,
            |_| true,
            move |host| host.chain.tip().hash == tip,
        ));
    }

    let headers = two_nodes(
        host_with(&blocks),
        |message| !matches!(message, Message::GetData(_)),
        move |message| matches!(message, Message::Headers(list) if list.last().map(|h| h.hash()) == Some(tip)),
        |_| true,
    );

    println!(
        "header sync, {CHAIN_BLOCKS} headers: {:.1} ms",
        headers.as_secs_f64() * 1e3
    );
    print_download_against_replay(CHAIN_BLOCKS, "replay and validate", replays, ibds);
    println!(
        "block relay per hop ({} KB blocks): p50 {:.3} ms, p90 {:.3} ms to the next peer having it",
        relay.block_kb, relay.to_next.0, relay.to_next.1
    );
    println!(
        "block relay per hop ({RELAY_SAMPLES} blocks): p50 {:.3} ms, p90 {:.3} ms to it having it connected",
        relay.to_next_connected.0, relay.to_next_connected.1
    );
}

/// A → B → C in a line; A's blocks (about 100 KB) are relayed by B. Measures, per block, from B
/// receiving it to C receiving it, and to C having it connected.
fn relay_per_hop(params: &Params) -> Relay {
    let blocks = regtest_chain(params, RELAY_SAMPLES as u32, 3_500);
    let size = blocks[0].encoded_len() / 1024;
    let (a_side, b_from_a, a_addr) = socket_pair();
    let (b_side, c_from_b, b_addr) = socket_pair();
    let (received_tx, received) = mpsc::channel();
    let (arrived_tx, arrived) = mpsc::channel();
    let (connected_tx, connected) = mpsc::channel();
    let (ignore_tx, _ignored) = mpsc::channel();
    // A serves the blocks: it has them all and announces each in turn.
    let mut a = MiniNode::new(empty_host(), 1);
    let b = MiniNode::new(empty_host(), 2);
    let c = MiniNode::new(empty_host(), 3);
    let b_thread = b.run(
        vec![(1, b_from_a, a_addr, false), (2, b_side, b_addr, true)],
        |_| true,
        move |message| {
            if matches!(message, Message::Block(_)) {
                let _ = received_tx.send(Instant::now());
            }
            false
        },
        |_| false,
        ignore_tx.clone(),
    );
    let c_thread = c.run(
        vec![(1, c_from_b, b_addr, false)],
        |_| true,
        move |message| {
            let block = matches!(message, Message::Block(_));
            if block {
                let _ = arrived_tx.send(Instant::now());
            }
            block
        },
        move |_| {
            // Checked after the block is handled: C has it connected.
            let _ = connected_tx.send(Instant::now());
            false
        },
        ignore_tx,
    );
    // A runs inline: handshake with B, then one block at a time.
    let (frames_tx, frames) = mpsc::channel::<Received>();
    spawn_reader(&a_side, &a.block_frames, move |message| {
        frames_tx.send(Received::from(message)).is_ok()
    });
    a.streams.push((1, a_side));
    let keep_all = |_: &Message| true;
    a.handle(
        Input::Connected {
            peer: 1,
            addr: a_addr,
            inbound: true,
        },
        &keep_all,
    );
    let mut samples = Vec::new();
    let mut connected_samples = Vec::new();
    let pump = |a: &mut MiniNode, wait: Duration| {
        while let Ok(message) = frames.recv_timeout(wait) {
            a.handle(Input::Received { peer: 1, message }, &keep_all);
        }
    };
    pump(&mut a, Duration::from_millis(200));
    for block in blocks {
        a.host
            .chain
            .process_block(block, CLOCK_SECS)
            .expect("valid");
        a.handle(Input::NewLocalBlock, &keep_all);
        pump(&mut a, Duration::from_millis(30));
        let (Ok(at_b), Ok(at_c), Ok(connected_c)) = (
            received.recv_timeout(Duration::from_secs(10)),
            arrived.recv_timeout(Duration::from_secs(10)),
            connected.recv_timeout(Duration::from_secs(10)),
        ) else {
            panic!("a block was not relayed");
        };
        samples.push((at_c - at_b).as_secs_f64() * 1e3);
        connected_samples.push((connected_c - at_b).as_secs_f64() * 1e3);
    }
    drop((b_thread, c_thread));
    let percentiles = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        (values[values.len() / 2], values[values.len() * 9 / 10])
    };
    Relay {
        block_kb: size,
        to_next: percentiles(samples),
        to_next_connected: percentiles(connected_samples),
    }
}

/// Relay timings in milliseconds, (p50, p90).
struct Relay {
    block_kb: usize,
    /// From B receiving a block to C receiving it (B validates it before announcing it).
    to_next: (f64, f64),
    /// From B receiving a block to C having validated and connected it too.
    to_next_connected: (f64, f64),
}
