//! `nakachain devnet web`: the devnet in a browser. An HTTP server on 127.0.0.1 serves one page
//! (embedded in the binary) that draws the merged block tree, the network with its partition and
//! each block spreading from node to node, the table of nodes and the event timeline, updated
//! live over server-sent events, with controls that do what the CLI does.
//!
//! Owns the HTTP routes and the live feed. One thread looks at the nodes over RPC (`snapshot`)
//! and publishes the latest look; every open page gets each new one. Controls run the devnet's
//! own calls (`controls`). Must not read data directories: the nodes' RPC is the only source.

mod controls;
mod replay;
mod snapshot;

pub use replay::serve_replay;

use super::scenario::ScenarioName;
use super::{DevnetError, DevnetState};
use crate::clock::unix_now_ms;
use crate::observe::narrate::timeline_line;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use snapshot::Watcher;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The page: HTML, CSS and JavaScript in one file, served as is.
const PAGE: &str = include_str!("page.html");
/// How often the nodes are asked what the page shows.
const LOOK_EVERY: Duration = Duration::from_millis(200);
/// The port `devnet web` listens on unless told otherwise.
pub const DEFAULT_WEB_PORT: u16 = 8_350;
/// Live streams served at once (open pages); one more is answered 503, so no client can make
/// the server hold an unbounded number of them.
const MAX_STREAMS: usize = 32;

/// What the routes share.
struct Shared {
    devnet: DevnetState,
    /// The latest look at the devnet, as JSON text.
    latest: watch::Receiver<Arc<str>>,
    /// What a control did, for the timeline.
    done: std::sync::mpsc::Sender<String>,
    /// One control at a time, in the order they came: a partition, then blocks on each side.
    controls: Arc<tokio::sync::Semaphore>,
    /// The scenario playing on the devnet, if one is: controls are refused until it ends.
    playing: std::sync::Mutex<Option<&'static str>>,
    /// Room for live streams; each open stream holds a permit.
    streams: Arc<tokio::sync::Semaphore>,
}

/// Serves the web view of `devnet` on 127.0.0.1:`port` until Ctrl-C; with `open`, asks the
/// desktop to open it in a browser. `on_ready` gets the address once the port is bound.
pub fn serve(
    devnet: DevnetState,
    port: u16,
    open: bool,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), DevnetError> {
    web_runtime()?.block_on(async move {
        let (listener, addr) = bind_local(port).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let (done, told) = std::sync::mpsc::channel();
        let latest = start_watching(Watcher::new(devnet.clone(), told), Arc::clone(&stop));
        let shared = Arc::new(Shared {
            devnet,
            latest,
            done,
            controls: Arc::new(tokio::sync::Semaphore::new(1)),
            playing: std::sync::Mutex::new(None),
            streams: Arc::new(tokio::sync::Semaphore::new(MAX_STREAMS)),
        });
        on_ready(addr);
        if open {
            open_in_browser(&format!("http://{addr}/"));
        }
        // On Ctrl-C the looking thread stops and drops its end of the feed: every open page's
        // stream then ends, which the graceful shutdown waits for.
        let stopping = Arc::clone(&stop);
        let served = axum::serve(listener, routes(shared))
            .with_graceful_shutdown(async move {
                let _ = tokio::signal::ctrl_c().await;
                stopping.store(true, Ordering::Relaxed);
            })
            .await;
        stop.store(true, Ordering::Relaxed);
        served.map_err(DevnetError::Web)
    })
}

/// The runtime a web page's server runs on: two workers, as the machine has.
fn web_runtime() -> Result<tokio::runtime::Runtime, DevnetError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(DevnetError::Web)
}

/// Listens on 127.0.0.1:`port` (0: any free port); returns the listener and its address.
async fn bind_local(port: u16) -> Result<(tokio::net::TcpListener, SocketAddr), DevnetError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| DevnetError::WebBind { addr, source })?;
    let addr = listener.local_addr().map_err(DevnetError::Web)?;
    Ok((listener, addr))
}

fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/state", get(state))
        .route("/api/stream", get(stream))
        .route("/api/control", post(control))
        .with_state(shared)
}

/// Lets `watcher` look at the devnet every `LOOK_EVERY` on a thread of its own (RPC calls
/// block) and publishes each look that differs from the last; stops once `stop` is set.
fn start_watching(mut watcher: Watcher, stop: Arc<AtomicBool>) -> watch::Receiver<Arc<str>> {
    let first: Arc<str> = watcher.look().to_string().into();
    let (publish, latest) = watch::channel(first);
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) && !publish.is_closed() {
            std::thread::sleep(LOOK_EVERY);
            let look: Arc<str> = watcher.look().to_string().into();
            publish.send_if_modified(|shown| {
                let changed = *shown != look;
                if changed {
                    *shown = look;
                }
                changed
            });
        }
    });
    latest
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn state(State(shared): State<Arc<Shared>>) -> Response {
    let latest = shared.latest.borrow().clone();
    (
        [(header::CONTENT_TYPE, "application/json")],
        latest.to_string(),
    )
        .into_response()
}

/// Every look from now on, the current one first, as server-sent events; 503 once
/// `MAX_STREAMS` pages are open.
async fn stream(State(shared): State<Arc<Shared>>) -> Response {
    let Ok(permit) = Arc::clone(&shared.streams).try_acquire_owned() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many open pages\n").into_response();
    };
    let looks = shared.latest.clone();
    // The permit lives in the stream's state: it is given back when the page goes away.
    let state = (looks, true, permit);
    let events = futures_util::stream::unfold(state, |(mut looks, first, permit)| async move {
        if !first && looks.changed().await.is_err() {
            return None;
        }
        let look = looks.borrow_and_update().clone();
        let event: Result<Event, Infallible> = Ok(Event::default().data(look.as_ref()));
        Some((event, (looks, false, permit)))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Carries out a control and answers with what happened or the CLI's error. A scenario is
/// answered as soon as it starts: its story and report come in the timeline.
async fn control(State(shared): State<Arc<Shared>>, body: String) -> Response {
    let request: controls::Control = match serde_json::from_str(&body) {
        Ok(request) => request,
        Err(error) => {
            let answer = json!({"ok": false, "error": format!("bad control request: {error}")});
            return (StatusCode::BAD_REQUEST, Json(answer)).into_response();
        }
    };
    let scenario = match admit(&shared, &request) {
        Ok(scenario) => scenario,
        Err(error) => return Json(failure(&error)).into_response(),
    };
    // From here the scenario is marked as playing until this guard goes, wherever that is: in
    // the task that plays it, or here if the page hangs up while waiting for its turn.
    let playing = scenario.map(|_| Playing(Arc::clone(&shared)));
    let Ok(turn) = Arc::clone(&shared.controls).acquire_owned().await else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the web view is stopping\n",
        )
            .into_response();
    };
    let background = Arc::clone(&shared);
    let done = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let _playing = playing;
        let shared = background;
        let outcome = controls::apply(&shared.devnet, request, shared.done.clone());
        // A scenario's report already ends its story; only its failure to play is news.
        let told = match (&outcome, scenario) {
            (Ok(message), None) => message.clone(),
            (Err(error), Some(name)) => format!("{name} stopped: {error}"),
            _ => return outcome,
        };
        let _ = shared
            .done
            .send(timeline_line(unix_now_ms(), "devnet", &told));
        outcome
    });
    if let Some(name) = scenario {
        let message = format!("{name} started: its story comes in the timeline");
        return Json(json!({"ok": true, "message": message})).into_response();
    }
    let answer: Value = match done.await {
        Ok(Ok(message)) => json!({"ok": true, "message": message}),
        Ok(Err(error)) => failure(&error),
        Err(_) => json!({"ok": false, "error": "the control failed unexpectedly"}),
    };
    Json(answer).into_response()
}

/// Refuses every control while a scenario plays; a scenario that can play on this devnet is
/// marked as playing, and its name returned.
fn admit(
    shared: &Shared,
    request: &controls::Control,
) -> Result<Option<&'static str>, DevnetError> {
    let mut playing = lock(&shared.playing);
    if let Some(name) = *playing {
        return Err(DevnetError::ScenarioPlaying(name));
    }
    let controls::Control::Scenario { name } = request else {
        return Ok(None);
    };
    let scenario = ScenarioName::parse(name)?;
    super::scenario::fits(scenario, &shared.devnet)?;
    *playing = Some(scenario.name());
    Ok(Some(scenario.name()))
}

/// Marks the scenario as over when dropped, however it ended.
struct Playing(Arc<Shared>);

impl Drop for Playing {
    fn drop(&mut self) {
        *lock(&self.0.playing) = None;
    }
}

fn failure(error: &DevnetError) -> Value {
    json!({"ok": false, "error": error.to_string(), "code": error.code()})
}

/// The lock, even if a control panicked while holding it: what it guards is one name.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Best effort: `xdg-open` (Linux) or `open` (macOS); the address is printed either way.
/// Asks the desktop to open `url` (nothing happens where there is no desktop).
fn open_in_browser(url: &str) {
    for opener in ["xdg-open", "open"] {
        let started = std::process::Command::new(opener)
            .arg(url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if started.is_ok() {
            return;
        }
    }
}
