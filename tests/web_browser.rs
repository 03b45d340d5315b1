//! The web view in a real browser: headless Chromium driven over WebDriver (chromedriver) against
//! `devnet web` over a 4-node regtest devnet. The page shows every node; a partition leaving a
//! node out shows the CLI's error; a partition and blocks on both sides split the tree into two
//! labelled tips; a mined block's spread lights the network graph node by node; a heal brings
//! one tip back with the reorg in the timeline. A failing step saves a screenshot under
//! `target/screenshots/`; with `NAKACHAIN_SCREENSHOTS=DIR` the partitioned and healed pages are
//! saved there too (the README's pictures come from this test).
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's `chromium` and
//! `chromium-driver`): `.ci/run` installs them and sets `NAKACHAIN_REQUIRE_BROWSER=1`, which makes
//! their absence a failure; elsewhere the test is skipped with a message saying what is missing.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/devnet.rs"]
mod devnet;

use browser::WebSession;
use browser::{browser_missing, count, text};
use devnet::{up_args, Devnet, PATIENCE};
use fantoccini::{Client, Locator};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The page as the test sees it, with the screenshots it takes.
struct Page {
    client: Client,
    shots: PathBuf,
}

type Step = Result<(), String>;

impl Page {
    /// Polls `probe` until it gives `true`; an error names `what`.
    async fn wait_for<F, Fut>(&self, what: &str, probe: F) -> Step
    where
        F: Fn(Client) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + PATIENCE;
        while !probe(self.client.clone()).await {
            if Instant::now() >= deadline {
                return Err(format!("the page never showed {what}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    async fn fill(&self, css: &str, value: &str) -> Step {
        let field = self.find(css).await?;
        field
            .clear()
            .await
            .map_err(|e| format!("clear {css}: {e}"))?;
        field
            .send_keys(value)
            .await
            .map_err(|e| format!("type into {css}: {e}"))
    }

    async fn choose(&self, css: &str, value: &str) -> Step {
        self.find(css)
            .await?
            .select_by_value(value)
            .await
            .map_err(|e| format!("choose {value} in {css}: {e}"))
    }

    async fn click(&self, css: &str) -> Step {
        self.find(css)
            .await?
            .click()
            .await
            .map_err(|e| format!("click {css}: {e}"))
    }

    async fn find(&self, css: &str) -> Result<fantoccini::elements::Element, String> {
        self.client
            .find(Locator::Css(css))
            .await
            .map_err(|e| format!("find {css}: {e}"))
    }

    /// The `data-nodes` of every labelled tip in the tree, sorted.
    async fn tip_labels(client: &Client) -> Vec<String> {
        let mut labels = Vec::new();
        for tip in client
            .find_all(Locator::Css("#tree g.block.tip"))
            .await
            .unwrap_or_default()
        {
            if let Ok(Some(nodes)) = tip.attr("data-nodes").await {
                labels.push(nodes);
            }
        }
        labels.sort();
        labels
    }

    /// Waits for the control's answer and returns it.
    async fn result(&self, class: &str) -> Result<String, String> {
        let css = format!("#result.{class}");
        self.wait_for(&format!("a result of class {class}"), |client| {
            let css = css.clone();
            async move { count(&client, &css).await == 1 }
        })
        .await?;
        Ok(text(&self.client, "#result").await)
    }

    async fn screenshot(&self, name: &str) {
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::create_dir_all(&self.shots);
            let _ = std::fs::write(self.shots.join(name), png);
        }
    }
}

async fn split_mine_and_heal(page: &Page, web_port: u16) -> Step {
    let client = &page.client;
    client
        .goto(&format!("http://127.0.0.1:{web_port}/"))
        .await
        .map_err(|e| format!("open the page: {e}"))?;
    page.wait_for("four nodes in the table", |client| async move {
        count(&client, "#nodes tr").await == 4
    })
    .await?;
    page.wait_for("four nodes in the network graph", |client| async move {
        count(&client, "#network circle").await == 4
    })
    .await?;

    page.fill(
        "[data-action=partition] [name=groups]",
        "node-0,node-1/node-2",
    )
    .await?;
    page.click("[data-action=partition] button").await?;
    let error = page.result("error").await?;
    if !error.contains("node-3 is in no group") {
        return Err(format!("the CLI's error, not {error:?}"));
    }

    page.fill(
        "[data-action=partition] [name=groups]",
        "node-0,node-1/node-2,node-3",
    )
    .await?;
    page.click("[data-action=partition] button").await?;
    page.result("ok").await?;
    page.wait_for("the cut drawn", |client| async move {
        count(&client, "#network line.cut").await == 4
    })
    .await?;

    for (node, blocks) in [("node-0", "2"), ("node-2", "1")] {
        page.choose("[data-action=mine] [name=node]", node).await?;
        page.fill("[data-action=mine] [name=blocks]", blocks)
            .await?;
        page.click("[data-action=mine] button").await?;
        page.result("ok").await?;
    }
    page.wait_for("two labelled tips", |client| async move {
        Page::tip_labels(&client).await == ["node-0,node-1", "node-2,node-3"]
    })
    .await?;
    // The last block (node-2's) lit node-2, then node-3, in the network graph.
    page.wait_for("the spread drawn", |client| async move {
        let hash = match client.find(Locator::Css("#spread")).await {
            Ok(spread) => spread.attr("data-hash").await.ok().flatten(),
            Err(_) => None,
        };
        match hash {
            Some(hash) => {
                let css = format!("#network circle[data-got=\"{hash}\"]");
                count(&client, &css).await == 2
            }
            None => false,
        }
    })
    .await?;
    page.screenshot("partitioned.png").await;

    page.click("[data-action=heal] button").await?;
    page.result("ok").await?;
    page.wait_for("one tip again", |client| async move {
        Page::tip_labels(&client).await == ["node-0,node-1,node-2,node-3"]
    })
    .await?;
    page.wait_for("the reorg in the timeline", |client| async move {
        text(&client, "#timeline li.reorg")
            .await
            .contains("REORG depth 1")
    })
    .await?;
    page.screenshot("healed.png").await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_and_heal_from_the_browser() {
    if let Some(missing) = browser_missing() {
        assert!(
            std::env::var_os("NAKACHAIN_REQUIRE_BROWSER").is_none(),
            "browser tests required but {missing}"
        );
        eprintln!("skipping the browser test: {missing}");
        return;
    }
    let devnet = Devnet::new();
    devnet.ok(&up_args("4", "24720"));
    let session = WebSession::start(devnet.dir.path(), PATIENCE).await;
    let (client, web_port) = (session.client.clone(), session.port);
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    let shots = std::env::var_os("NAKACHAIN_SCREENSHOTS").map_or(target.clone(), PathBuf::from);
    let page = Page { client, shots };
    let outcome = split_mine_and_heal(&page, web_port).await;
    if let Err(failure) = &outcome {
        let failed = Page {
            client: page.client.clone(),
            shots: target,
        };
        failed.screenshot("partition_and_heal_failure.png").await;
        let _ = page.client.clone().close().await;
        panic!("{failure} (screenshot in target/screenshots/)");
    }
    let _ = page.client.close().await;
}
