//! `nakachain web --sim DIR`: a simulation's replay in the browser. The page (embedded) loads the
//! run's `replay.json` and draws, at the moment a time slider picks, the block tree as it stood,
//! the network with the newest block spreading over it, the stale blocks, and the run's plots.
//!
//! Owns the replay's HTTP routes. Must not simulate: it serves what `nakachain sim --out` wrote,
//! read once at start (a run's files do not change).

use super::{bind_local, open_in_browser, web_runtime, DevnetError};
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// The replay page: HTML, CSS and JavaScript in one file.
const PAGE: &str = include_str!("replay.html");
/// The plots a run may have, served as they are.
const PLOTS: [&str; 2] = ["propagation.svg", "stale-rate.svg"];

struct Run {
    replay: String,
    plots: Vec<(&'static str, String)>,
}

/// Serves the replay of the run in `dir` on 127.0.0.1:`port` until Ctrl-C.
pub fn serve_replay(
    dir: &Path,
    port: u16,
    open: bool,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), DevnetError> {
    let replay_path = dir.join("replay.json");
    let replay = std::fs::read_to_string(&replay_path).map_err(|error| DevnetError::NoReplay {
        dir: dir.to_path_buf(),
        reason: format!("{}: {error}", replay_path.display()),
    })?;
    if let Err(error) = serde_json::from_str::<serde_json::Value>(&replay) {
        return Err(DevnetError::NoReplay {
            dir: dir.to_path_buf(),
            reason: format!("{} is not JSON: {error}", replay_path.display()),
        });
    }
    let plots = PLOTS
        .iter()
        .filter_map(|name| Some((*name, std::fs::read_to_string(dir.join(name)).ok()?)))
        .collect();
    let run = Arc::new(Run { replay, plots });
    web_runtime()?.block_on(async move {
        let (listener, addr) = bind_local(port).await?;
        on_ready(addr);
        if open {
            open_in_browser(&format!("http://{addr}/"));
        }
        let routes = Router::new()
            .route("/", get(page))
            .route("/api/replay", get(replay_json))
            .route("/plots/{name}", get(plot))
            .with_state(run);
        axum::serve(listener, routes)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(DevnetError::Web)
    })
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn replay_json(State(run): State<Arc<Run>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        run.replay.clone(),
    )
        .into_response()
}

async fn plot(State(run): State<Arc<Run>>, UrlPath(name): UrlPath<String>) -> Response {
    match run.plots.iter().find(|(plot, _)| *plot == name) {
        Some((_, svg)) => ([(header::CONTENT_TYPE, "image/svg+xml")], svg.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "no such plot in this run\n").into_response(),
    }
}
