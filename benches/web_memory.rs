//! The web view's memory over a long watch: a 4-node regtest devnet, `devnet web`, and a page
//! open in headless Chromium while blocks come one at a time, as an hour of 1 s blocks would
//! bring them. Samples the web server's resident memory as it goes. Target: flat once warm (what
//! the server keeps between looks is bounded: the timeline, the spreads, the tree's depth).
//!
//! `cargo bench --bench web_memory` mines 3,600 blocks 100 ms apart (six minutes: an hour of
//! blocks, a tenth of an hour of looks); `NAKACHAIN_BLOCK_MS=1000` makes it the real hour.
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`.

#[path = "../tests/support/browser.rs"]
mod browser;
#[path = "../tests/support/devnet.rs"]
mod devnet;

use browser::{rss_kib, wait_drawn, WebSession};
use devnet::{up_args, Devnet};
use serde_json::json;
use std::time::{Duration, Instant};

const BLOCKS: usize = 3_600;
const SAMPLES: usize = 12;
const PATIENCE: Duration = Duration::from_secs(120);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let block_ms: u64 = std::env::var("NAKACHAIN_BLOCK_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(100);
    let devnet = Devnet::new();
    devnet.ok(&up_args("4", "25300"));
    let nodes = devnet.state().nodes;

    let session = WebSession::start(devnet.dir.path(), PATIENCE).await;
    let client = &session.client;
    client.goto(&session.url()).await.expect("open the page");
    let web_pid = session.web.0.id();
    println!(
        "{BLOCKS} blocks {block_ms} ms apart, a page open; devnet web's memory at the start: {} KiB",
        rss_kib(web_pid)
    );
    println!("{:>8} {:>8} {:>10}", "blocks", "secs", "rss_kib");

    let started = Instant::now();
    let mut samples = Vec::new();
    let mut last_hash = String::new();
    for block in 1..=BLOCKS {
        let miner = &nodes[block % nodes.len()];
        let mined = miner
            .client()
            .expect("a node's client")
            .call("generate", vec![json!(1)])
            .expect("generate");
        last_hash = mined[0].as_str().expect("a block hash").to_string();
        if block % (BLOCKS / SAMPLES) == 0 {
            let rss = rss_kib(web_pid);
            println!(
                "{block:>8} {:>8.0} {rss:>10}",
                started.elapsed().as_secs_f64()
            );
            samples.push(rss);
        }
        tokio::time::sleep(Duration::from_millis(block_ms)).await;
    }
    // The page still follows: the last block is drawn.
    wait_drawn(client, &last_hash, PATIENCE).await;
    let _ = client.clone().close().await;
    devnet.ok(&["down"]);

    let warm = samples[SAMPLES / 4];
    let last = samples[SAMPLES - 1];
    let max = samples.iter().copied().max().unwrap_or(0);
    println!(
        "devnet web's memory: {warm} KiB after a quarter of the blocks, {last} KiB at the end, \
         {max} KiB at most ({:+.1} % from a quarter to the end)",
        (last as f64 - warm as f64) * 100.0 / warm as f64
    );
}
