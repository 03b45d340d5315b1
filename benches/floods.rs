//! What hostile peers and clients cost a node: the release binary on regtest, flooded over real
//! loopback TCP, one flood per fresh node, with its resident memory sampled every 10 ms. Prints,
//! per flood, the peak above the node's idle memory and what is left once the flood is over.
//! Target (issue 16): every flood stays below 64 MB above idle.
//!
//! `cargo bench --bench floods` (about a minute).

#[path = "../tests/support/browser.rs"]
mod browser;
#[path = "../tests/support/process.rs"]
mod process;

use browser::rss_kib;
use nakachain::consensus::rules::check_header;
use nakachain::params::Params;
use nakachain::types::{BlockHeader, Hash256};
use nakachain::wire::{encode_frame, FrameDecoder, InvItem, Message, MAX_HEADERS, MAX_INV_ITEMS};
use process::{free_port, NodeProcess};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{sleep, JoinHandle};
use std::time::Duration;

const INV_FLOOD_TXIDS: usize = 2_000_000;
const HEADER_FLOOD: usize = 2_000_000;
const CONNECTIONS: usize = 300;
const RPC_BODIES: usize = 64;
const RPC_BODY_BYTES: usize = 4 * 1024 * 1024 - 1024;

/// The highest resident memory of `pid` since the last `take`, sampled every 10 ms.
struct PeakSampler {
    peak_kib: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PeakSampler {
    fn start(pid: u32) -> PeakSampler {
        let peak_kib = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (peak_kib, stop) = (Arc::clone(&peak_kib), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak_kib.fetch_max(rss_kib(pid), Ordering::Relaxed);
                    sleep(Duration::from_millis(10));
                }
            })
        };
        PeakSampler {
            peak_kib,
            stop,
            thread: Some(thread),
        }
    }

    fn take(&self) -> u64 {
        self.peak_kib.swap(0, Ordering::Relaxed)
    }
}

impl Drop for PeakSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A raw peer: connected, through the handshake, with a thread reading (and discarding) what the
/// node sends so its send queue never fills.
struct Peer {
    stream: TcpStream,
    reader: Option<JoinHandle<()>>,
}

impl Peer {
    fn connect(p2p_port: u16, params: &Params, nonce: u64) -> Peer {
        let mut stream = TcpStream::connect(("127.0.0.1", p2p_port)).expect("connect to the node");
        let version = Message::Version {
            protocol: nakachain::wire::PROTOCOL_VERSION,
            network_id: params.network_id(),
            best_height: 0,
            nonce,
            user_agent: "flood".to_string(),
            listen_port: 0,
        };
        stream
            .write_all(&encode_frame(params.magic, &version).expect("a version frame"))
            .expect("send version");
        // The node's version and verack come first; then ours completes the handshake.
        let mut decoder = FrameDecoder::new(params.magic);
        let mut chunk = [0u8; 4096];
        let mut seen_verack = false;
        while !seen_verack {
            let read = stream.read(&mut chunk).expect("read the handshake");
            assert!(
                read > 0,
                "the node closed the connection during the handshake"
            );
            for frame in decoder.feed(&chunk[..read]) {
                seen_verack |= matches!(frame, Ok(Message::Verack));
            }
        }
        stream
            .write_all(&encode_frame(params.magic, &Message::Verack).expect("a verack frame"))
            .expect("send verack");
        let mut drain = stream.try_clone().expect("clone the stream");
        let reader = std::thread::spawn(move || {
            let mut chunk = vec![0u8; 64 * 1024];
            while matches!(drain.read(&mut chunk), Ok(read) if read > 0) {}
        });
        Peer {
            stream,
            reader: Some(reader),
        }
    }

    /// Sends `message`; false once the node has dropped us.
    fn send(&mut self, params: &Params, message: &Message) -> bool {
        let frame = encode_frame(params.magic, message).expect("a frame within the limits");
        self.stream.write_all(&frame).is_ok()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn txid(index: usize) -> Hash256 {
    let mut bytes = [0x5a; 32];
    bytes[..8].copy_from_slice(&(index as u64).to_le_bytes());
    Hash256(bytes)
}

/// Two peers one after the other, each announcing `INV_FLOOD_TXIDS` transactions it never
/// delivers: what the first made the node hold must not add to what the second does.
fn inv_flood(p2p_port: u16, params: &Params) -> String {
    let mut sent = 0;
    for nonce in [1, 2] {
        let mut peer = Peer::connect(p2p_port, params, nonce);
        let first = sent;
        while sent < first + INV_FLOOD_TXIDS {
            let items = (sent..sent + MAX_INV_ITEMS)
                .map(|index| InvItem::tx(txid(index)))
                .collect();
            if !peer.send(params, &Message::Inv(items)) {
                break;
            }
            sent += MAX_INV_ITEMS;
        }
    }
    format!("{sent} inv tx from two peers in turn, never delivered")
}

fn header_flood(p2p_port: u16, params: &Params) -> String {
    let mut peer = Peer::connect(p2p_port, params, 2);
    let mut prev = params.genesis.hash();
    let mut sent = 0;
    while sent < HEADER_FLOOD {
        let headers: Vec<BlockHeader> = (0..MAX_HEADERS)
            .map(|_| {
                let mut header = BlockHeader {
                    version: 1,
                    prev_hash: prev,
                    merkle_root: Hash256([3; 32]),
                    time: params.genesis.header.time + 1,
                    bits: params.genesis.header.bits,
                    nonce: 0,
                };
                while check_header(&header, params).is_err() {
                    header.nonce += 1;
                }
                prev = header.hash();
                header
            })
            .collect();
        if !peer.send(params, &Message::Headers(headers)) {
            break;
        }
        sent += MAX_HEADERS;
    }
    format!("{sent} headers from genesis at the minimum difficulty, no blocks")
}

fn connection_flood(p2p_port: u16, params: &Params) -> String {
    let peers: Vec<Peer> = (0..CONNECTIONS)
        .filter_map(|index| {
            std::panic::catch_unwind(|| Peer::connect(p2p_port, params, 1_000 + index as u64)).ok()
        })
        .collect();
    let held = peers.len();
    sleep(Duration::from_millis(500));
    drop(peers);
    format!("{CONNECTIONS} handshaken connections at once ({held} got through the handshake)")
}

fn rpc_bodies(node: &NodeProcess) -> String {
    let authorization = node.client_cookie_header();
    let mut body = b"[0".to_vec();
    while body.len() < RPC_BODY_BYTES {
        body.extend_from_slice(b",0");
    }
    body.push(b']');
    let body = Arc::new(body);
    let port = node.port;
    let clients: Vec<JoinHandle<()>> = (0..RPC_BODIES)
        .map(|_| {
            let (body, authorization) = (Arc::clone(&body), authorization.clone());
            std::thread::spawn(move || {
                let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
                    return;
                };
                let head = format!(
                    "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: {authorization}\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer);
            })
        })
        .collect();
    for client in clients {
        let _ = client.join();
    }
    format!(
        "{RPC_BODIES} authenticated {} MiB bodies of [0,0,…] at once",
        RPC_BODY_BYTES >> 20
    )
}

/// One flood against a node listening for peers on the port given; says what it sent.
type Flood<'a> = dyn Fn(u16, &NodeProcess) -> String + 'a;

/// A fresh node listening for peers on `p2p_port`, in `dir`.
fn fresh_node(dir: &std::path::Path, p2p_port: u16) -> NodeProcess {
    let listen = format!("127.0.0.1:{p2p_port}");
    let node = NodeProcess::start_with(dir, free_port(), &["--listen", &listen]);
    sleep(Duration::from_secs(1));
    node
}

/// 200 connections dripping a request head a byte at a time (reopened as the node drops them)
/// while an honest client calls; reports how long its calls took.
fn slowloris(node: &NodeProcess) -> String {
    let stop = Arc::new(AtomicBool::new(false));
    let port = node.port;
    let dripping = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut streams: Vec<TcpStream> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                streams.retain_mut(|stream| stream.write_all(b"a").is_ok());
                while streams.len() < 200 {
                    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
                        break;
                    };
                    let _ = stream.write_all(b"POST / HTTP/1.1\r\nX-Slow: ");
                    streams.push(stream);
                }
                sleep(Duration::from_millis(50));
            }
        })
    };
    sleep(Duration::from_millis(500));
    let client = node.client();
    let mut call_ms: Vec<f64> = (0..50)
        .filter_map(|_| {
            let started = std::time::Instant::now();
            let answered = client.call("getblockcount", vec![]).is_ok();
            let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
            sleep(Duration::from_millis(50));
            answered.then_some(elapsed_ms)
        })
        .collect();
    stop.store(true, Ordering::Relaxed);
    let _ = dripping.join();
    call_ms.sort_by(f64::total_cmp);
    let answered = call_ms.len();
    let (p50, max) = match (call_ms.get(answered / 2), call_ms.last()) {
        (Some(p50), Some(max)) => (*p50, *max),
        _ => (f64::NAN, f64::NAN),
    };
    format!("200 slowloris RPC connections: {answered}/50 calls answered, p50 {p50:.1} ms, max {max:.1} ms")
}

fn main() {
    let params = Params::regtest();
    println!(
        "{:<86} {:>8} {:>16} {:>18}",
        "flood (each on a fresh node)", "idle", "peak above idle", "after, above idle"
    );
    let floods: [&Flood; 5] = [
        &|port, _| inv_flood(port, &params),
        &|port, _| header_flood(port, &params),
        &|port, _| connection_flood(port, &params),
        &|_, node| rpc_bodies(node),
        &|_, node| slowloris(node),
    ];
    for (index, flood) in floods.iter().enumerate() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let p2p_port = free_port();
        let node = fresh_node(&dir.path().join(format!("node-{index}")), p2p_port);
        let pid = node.child.id();
        let idle_kib = rss_kib(pid);
        let sampler = PeakSampler::start(pid);
        let what = flood(p2p_port, &node);
        // The node has what it was sent; give it a moment to finish with it.
        sleep(Duration::from_secs(2));
        let peak_kib = sampler.take();
        let after_kib = rss_kib(pid);
        println!(
            "{what:<86} {:>5} MB {:>13} MB {:>15} MB",
            idle_kib / 1024,
            peak_kib.saturating_sub(idle_kib) / 1024,
            after_kib.saturating_sub(idle_kib) / 1024
        );
        assert_eq!(
            node.call("getblockcount", vec![]),
            serde_json::json!(0),
            "the node still answers"
        );
        drop(sampler);
        node.stop();
    }
}
