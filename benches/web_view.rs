//! How soon a mined block appears in the web view: a 4-node regtest devnet of real node processes
//! and `devnet web`, its live stream read as a page reads it. Each round mines a block on node-0
//! and times, from the moment `generate` returns, (a) a `waitfornewblock` already waiting on
//! another node answering with the block (the network itself: the baseline, in the same run) and
//! (b) the page's stream first carrying the block. Target: (b) at most 200 ms at the median.
//!
//! Run with `cargo bench --bench web_view`; it prints its own table.

#[path = "../tests/support/browser.rs"]
mod browser;
#[path = "../tests/support/devnet.rs"]
mod devnet;

use browser::{devnet_web, free_port};
use devnet::{up_args, Devnet};
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const ROUNDS: usize = 30;
const PATIENCE: Duration = Duration::from_secs(30);

/// Reads the page's event stream on a thread of its own; each `data:` line arrives on the
/// channel with the moment it was read.
fn follow_stream(port: u16) -> mpsc::Receiver<(Instant, String)> {
    let deadline = Instant::now() + PATIENCE;
    let mut stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => break stream,
            Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            Err(error) => panic!("devnet web never listened: {error}"),
        }
    };
    write!(
        stream,
        "GET /api/stream HTTP/1.1\r\nHost: localhost\r\n\r\n"
    )
    .expect("request");
    let (lines, received) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if let Some(data) = line.strip_prefix("data: ") {
                if lines.send((Instant::now(), data.to_string())).is_err() {
                    return;
                }
            }
        }
    });
    received
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(mut values: Vec<f64>, share: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let at = ((values.len() as f64 - 1.0) * share).round() as usize;
    values[at]
}

fn main() {
    let devnet = Devnet::new();
    devnet.ok(&up_args("4", "24760"));
    let devnet_state = devnet.state();
    let web_port = free_port();
    let _web = devnet_web(devnet.dir.path(), web_port);
    let looks = follow_stream(web_port);
    let miner = devnet_state.nodes[0].client().expect("node-0's client");
    let watcher = devnet_state.nodes[3].clone();

    let mut network_ms = Vec::new();
    let mut page_ms = Vec::new();
    for round in 0..ROUNDS {
        // A long poll on node-3 waits for the next block before it is mined.
        let (answered, answer) = mpsc::channel();
        let waiter = watcher.client().expect("node-3's client");
        thread::spawn(move || {
            let _ = waiter.call("waitfornewblock", vec![json!(30_000)]);
            let _ = answered.send(Instant::now());
        });
        // Spread the blocks over the web view's look cycle (every 200 ms), so the rounds do not
        // all fall at one phase of it.
        thread::sleep(Duration::from_millis(300 + (round as u64 * 67) % 200));
        while looks.try_recv().is_ok() {}
        let mined = miner.call("generate", vec![json!(1)]).expect("generate");
        let mined_at = Instant::now();
        let hash = mined[0].as_str().expect("a hash").to_string();
        let seen_at = loop {
            let (at, look) = looks.recv_timeout(PATIENCE).expect("a look with the block");
            if look.contains(&hash) {
                break at;
            }
        };
        let reached_at = answer.recv_timeout(PATIENCE).expect("node-3 saw the block");
        page_ms.push(seen_at.saturating_duration_since(mined_at).as_secs_f64() * 1e3);
        network_ms.push(reached_at.saturating_duration_since(mined_at).as_secs_f64() * 1e3);
    }
    devnet.ok(&["down"]);

    println!("a block mined on node-0, {ROUNDS} rounds, from generate returning:");
    println!(
        "  node-3's waitfornewblock answers (the network): p50 {:.1} ms, p90 {:.1} ms",
        median(network_ms.clone()),
        percentile(network_ms, 0.9)
    );
    println!(
        "  the web view's stream carries it:                p50 {:.1} ms, p90 {:.1} ms (target p50 ≤ 200 ms)",
        median(page_ms.clone()),
        percentile(page_ms, 0.9)
    );
}
