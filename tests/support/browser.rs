//! Helpers for driving real processes and a real browser from tests and benches: a child that is
//! killed when dropped, free loopback ports, and a headless Chromium session over WebDriver
//! (`chromedriver`) with the flags this closed network needs. Shared through `#[path]`.
#![allow(dead_code)] // each user takes a different part of it

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A child process killed when dropped, so a failing test leaves nothing running.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// The resident memory of process `pid` in KiB (0 if it cannot be read).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// What of Chromium and chromedriver is missing, said as a reason to skip, if anything is.
pub fn browser_missing() -> Option<String> {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "{} missing (apt-get install -y chromium chromium-driver)",
            missing.join(" and ")
        )
    })
}

/// `devnet web` serving the devnet in a directory, and a headless Chromium session to look at it;
/// both processes stop when this is dropped.
pub struct WebSession {
    /// The `devnet web` process.
    pub web: Running,
    /// The port the page is served on.
    pub port: u16,
    /// The browser, not yet on the page.
    pub client: Client,
    _driver: Running,
    _profile: tempfile::TempDir,
}

impl WebSession {
    /// Starts `devnet web` in `dir` and a browser session, each given up to `patience`.
    pub async fn start(dir: &Path, patience: Duration) -> WebSession {
        let port = free_port();
        let web = devnet_web(dir, port);
        WebSession::beside(web, port, patience).await
    }

    /// A browser session beside `web`, a server started on `port` (waited for up to
    /// `patience`).
    pub async fn beside(web: Running, port: u16, patience: Duration) -> WebSession {
        let driver_port = free_port();
        let driver = chromedriver(driver_port);
        wait_for_port(port, patience);
        wait_for_port(driver_port, patience);
        let profile = tempfile::tempdir().expect("a browser profile");
        let client = connect_browser(driver_port, profile.path(), patience).await;
        WebSession {
            web,
            port,
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    /// The page's address.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

/// Waits up to `patience` until the page's block tree draws block `hash`.
pub async fn wait_drawn(client: &Client, hash: &str, patience: Duration) {
    let deadline = Instant::now() + patience;
    loop {
        let tree = match client.find(fantoccini::Locator::Css("#tree")).await {
            Ok(tree) => tree.html(true).await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if tree.contains(hash) {
            return;
        }
        assert!(Instant::now() < deadline, "block {hash} was never drawn");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits up to `patience` until something listens on `port`.
pub fn wait_for_port(port: u16, patience: Duration) {
    let deadline = Instant::now() + patience;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `nakachain --network regtest devnet web --port <port>` in `dir`.
pub fn devnet_web(dir: &Path, port: u16) -> Running {
    Running(
        Command::new(env!("CARGO_BIN_EXE_nakachain"))
            .current_dir(dir)
            .args(["--network", "regtest", "devnet", "web", "--port"])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start devnet web"),
    )
}

/// `chromedriver` on `port`.
pub fn chromedriver(port: u16) -> Running {
    Running(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    )
}

/// A headless Chromium session through the chromedriver on `driver_port`, with its profile in
/// `profile`; retried until `patience` runs out while the driver starts.
pub async fn connect_browser(driver_port: u16, profile: &Path, patience: Duration) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_string(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1400,1100",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let deadline = Instant::now() + patience;
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let session = ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await;
        match session {
            Ok(client) => return client,
            Err(error) => {
                assert!(Instant::now() < deadline, "no WebDriver session: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// How many elements match `css` (0 when the lookup fails).
pub async fn count(client: &Client, css: &str) -> usize {
    client
        .find_all(Locator::Css(css))
        .await
        .map_or(0, |found| found.len())
}

/// The text of the first element matching `css` (empty when there is none).
pub async fn text(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}
