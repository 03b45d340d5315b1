//! A simulation replayed in a real browser: `nakachain sim --out DIR`, then `nakachain web --sim
//! DIR`, in headless Chromium over WebDriver. At the end of the run the page draws every block
//! and every node holding the newest; moved to the first block's mining, it draws one block and
//! only its miner holding it; a block later, two; a little later, the block spreading.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`, as `web_browser.rs` does: skipped with a
//! message without them, unless `NAKACHAIN_REQUIRE_BROWSER` is set (as `.ci/run` sets it).

#[path = "support/browser.rs"]
mod browser;

use browser::{browser_missing, count, free_port, text, Running, WebSession};
use fantoccini::{Client, Locator};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(30);
const NODES: usize = 20;

/// Waits until `check` holds, up to `PATIENCE`.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Moves the slider to `ms` as a user dragging it would.
async fn slide_to(client: &Client, ms: u64) {
    let script = "const slider = document.getElementById('time'); slider.value = arguments[0]; \
                  slider.dispatchEvent(new Event('input'));";
    client
        .execute(script, vec![Value::from(ms)])
        .await
        .expect("the slider moves");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_draws_the_tree_and_the_spread_at_the_moment_the_slider_picks() {
    if let Some(missing) = browser_missing() {
        assert!(
            std::env::var_os("NAKACHAIN_REQUIRE_BROWSER").is_none(),
            "browser tests required but {missing}"
        );
        eprintln!("skipping the replay browser test: {missing}");
        return;
    }
    let dir = tempfile::tempdir().expect("a directory for the run");
    let out = dir.path().join("run");
    let ran = Command::new(env!("CARGO_BIN_EXE_nakachain"))
        .args([
            "sim",
            "--nodes",
            "20",
            "--blocks",
            "12",
            "--block-time",
            "5",
        ])
        .args(["--seed", "4", "--out"])
        .arg(&out)
        .output()
        .expect("nakachain sim runs");
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let replay: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("replay.json")).expect("replay.json"),
    )
    .expect("JSON");
    let blocks = replay["blocks"].as_array().expect("blocks");
    assert_eq!(blocks.len(), 12);
    let first_ms = blocks[0]["mined_ms"].as_u64().expect("a time");
    let second_ms = blocks[1]["mined_ms"].as_u64().expect("a time");

    let port = free_port();
    let web = Running(
        Command::new(env!("CARGO_BIN_EXE_nakachain"))
            .args(["web", "--sim"])
            .arg(&out)
            .args(["--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nakachain web starts"),
    );
    let session = WebSession::beside(web, port, PATIENCE).await;
    let client = session.client.clone();
    client.goto(&session.url()).await.expect("the page loads");
    until("the replay never got ready", || async {
        client
            .find(Locator::Css("body[data-ready=yes]"))
            .await
            .is_ok()
    })
    .await;

    assert_eq!(
        count(&client, "#tree rect").await,
        12,
        "every block at the end"
    );
    assert_eq!(count(&client, "#network circle").await, NODES);
    let newest = text(&client, "#newest").await;
    assert!(
        newest.contains(&format!("{NODES} of {NODES} nodes have it")),
        "{newest}"
    );
    assert!(text(&client, "#summary")
        .await
        .contains("20 nodes, 12 blocks"));

    slide_to(&client, first_ms).await;
    assert_eq!(
        count(&client, "#tree rect").await,
        1,
        "only the first block yet"
    );
    assert_eq!(count(&client, "#network circle.miner").await, 1);
    assert_eq!(
        count(&client, "#network circle.got").await,
        0,
        "nobody else has it yet"
    );

    slide_to(&client, first_ms + 1_000).await;
    let spread = count(&client, "#network circle.got").await;
    assert!(spread > 0, "a second later the block has spread: {spread}");

    client
        .find(Locator::Css("#next"))
        .await
        .expect("a next button")
        .click()
        .await
        .expect("clicks");
    assert_eq!(count(&client, "#tree rect").await, 2, "the next block");
    let clock = text(&client, "#clock").await;
    assert!(clock.contains(&format!("({second_ms} ms)")), "{clock}");
    let _ = client.close().await;
}
