//! The web view at scale, in a real browser: a 50-node regtest devnet (a ring, since a mesh of 50
//! is more inbound connections than a node takes) holding 10,000 blocks, `devnet web`, and
//! headless Chromium over WebDriver. Times how long the page takes to apply each update (the
//! page's own measure, layout included) while blocks keep coming, and reads the web server's
//! memory before and after. Target: every update under 50 ms.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`. Run with
//! `cargo bench --bench web_page`; it prints its own table. Takes a few minutes.

use fantoccini::Locator;
#[path = "../tests/support/browser.rs"]
mod browser;
#[path = "../tests/support/devnet.rs"]
mod devnet;

use browser::{rss_kib, wait_drawn, WebSession};
use devnet::{up_args, Devnet};
use serde_json::json;
use std::time::{Duration, Instant};

const NODES: &str = "50";
const BLOCKS: u64 = 10_000;
const UPDATES: usize = 20;
const PATIENCE: Duration = Duration::from_secs(600);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let devnet = Devnet::new();
    let mut up = up_args(NODES, "25000");
    up.extend(["--topology", "ring"]);
    devnet.ok(&up);
    let devnet_state = devnet.state();
    let miner = devnet_state.nodes[0].client().expect("node-0's client");
    let started = Instant::now();
    for _ in 0..BLOCKS / 1_000 {
        miner
            .call("generate", vec![json!(1_000)])
            .expect("generate");
    }
    let tip = miner.call("getbestblockhash", vec![]).expect("tip");
    for node in &devnet_state.nodes {
        let deadline = Instant::now() + PATIENCE;
        while node.call("getbestblockhash", vec![]).ok().as_ref() != Some(&tip) {
            assert!(Instant::now() < deadline, "{} never synced", node.name);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    println!(
        "{NODES} nodes hold {BLOCKS} blocks ({:.0} s to mine and spread)",
        started.elapsed().as_secs_f64()
    );

    let session = WebSession::start(devnet.dir.path(), PATIENCE).await;
    let client = &session.client;
    client.goto(&session.url()).await.expect("open the page");
    let deadline = Instant::now() + PATIENCE;
    while client
        .find_all(Locator::Css("#nodes tr"))
        .await
        .map_or(0, |rows| rows.len())
        < 50
    {
        assert!(Instant::now() < deadline, "the page never listed the nodes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let web_pid = session.web.0.id();
    let rss_before = rss_kib(web_pid);

    let body = client.find(Locator::Css("body")).await.expect("body");
    let mut update_ms = Vec::new();
    for _ in 0..UPDATES {
        let mined = miner.call("generate", vec![json!(1)]).expect("generate");
        let hash = mined[0].as_str().expect("hash").to_string();
        wait_drawn(client, &hash, PATIENCE).await;
        let ms: f64 = body
            .attr("data-render-ms")
            .await
            .ok()
            .flatten()
            .and_then(|text| text.parse().ok())
            .expect("the page's measure");
        update_ms.push(ms);
    }
    let rss_after = rss_kib(web_pid);
    let _ = client.clone().close().await;
    devnet.ok(&["down"]);

    update_ms.sort_by(f64::total_cmp);
    println!(
        "page updates with {NODES} nodes and {BLOCKS}+ blocks, {UPDATES} blocks: p50 {:.1} ms, max {:.1} ms (target < 50 ms)",
        update_ms[update_ms.len() / 2],
        update_ms[update_ms.len() - 1]
    );
    println!("devnet web's memory: {rss_before} KiB with the page open, {rss_after} KiB after {UPDATES} more blocks");
}
