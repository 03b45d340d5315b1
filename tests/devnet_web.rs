//! Real processes: `devnet web` over a 4-node regtest devnet, driven through its HTTP API as
//! the page drives it. The state lists every node; a partition leaving a node out answers the
//! CLI's error; a partition splits the tree into two labelled tips once both sides mine; a heal
//! brings one tip back and the timeline tells the reorg; a mined block's spread is recorded node
//! by node; the live stream sends the state; the page itself is served. A scenario played from
//! the page tells its story in the timeline while the other controls wait for it.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/devnet.rs"]
mod devnet;

use browser::free_port;
use devnet::{up_args, Devnet, PATIENCE};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// `devnet web` running in the devnet's directory, stopped when dropped.
struct Web {
    child: Child,
    port: u16,
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Web {
    fn start(devnet: &Devnet) -> Web {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_nakachain"))
            .current_dir(devnet.dir.path())
            .args(["--network", "regtest", "devnet", "web", "--port"])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start devnet web");
        let web = Web { child, port };
        let deadline = Instant::now() + PATIENCE;
        while web.try_request("GET", "/api/state", "").is_none() {
            assert!(Instant::now() < deadline, "devnet web did not come up");
            sleep(Duration::from_millis(50));
        }
        web
    }

    /// The status and body of one request, or `None` if the server is not there (yet).
    fn try_request(&self, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(PATIENCE)).ok()?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let status = response.get(9..12)?.parse().ok()?;
        let body = response.split_once("\r\n\r\n")?.1.to_string();
        Some((status, body))
    }

    fn state(&self) -> Value {
        let (status, body) = self.try_request("GET", "/api/state", "").expect("state");
        assert_eq!(status, 200);
        serde_json::from_str(&body).expect("JSON state")
    }

    fn control(&self, request: Value) -> Value {
        let (_, body) = self
            .try_request("POST", "/api/control", &request.to_string())
            .expect("control");
        serde_json::from_str(&body).expect("JSON answer")
    }

    /// Polls the state until `holds`; returns that state.
    fn state_when(&self, what: &str, holds: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let state = self.state();
            if holds(&state) {
                return state;
            }
            assert!(
                Instant::now() < deadline,
                "never: {what}; last state {state}"
            );
            sleep(Duration::from_millis(100));
        }
    }
}

/// The node names labelled on tips in the tree picture, one entry per tip.
fn tip_labels(state: &Value) -> Vec<String> {
    let svg = state["tree_svg"].as_str().unwrap_or_default();
    svg.split("data-nodes=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|names| !names.is_empty())
        .map(str::to_string)
        .collect()
}

fn heights(state: &Value) -> Vec<u64> {
    state["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|node| node["height"].as_u64().unwrap_or(0))
        .collect()
}

#[test]
fn split_mine_heal_and_watch_it_through_the_web_api() {
    let devnet = Devnet::new();
    devnet.ok(&up_args("4", "24700"));
    let web = Web::start(&devnet);

    let (status, page) = web.try_request("GET", "/", "").expect("the page");
    assert_eq!(status, 200);
    assert!(page.contains("<svg id=\"network\"") && page.contains("EventSource"));

    let state = web.state_when("every node listed and peered", |state| {
        state["nodes"].as_array().map(Vec::len) == Some(4)
            && state["links"].as_array().map(Vec::len) == Some(6)
    });
    assert!(state["groups"].is_null());

    let refused = web.control(json!({"action": "partition", "groups": "node-0,node-1/node-2"}));
    assert_eq!(refused["ok"], json!(false));
    assert_eq!(
        refused["error"],
        json!("node-3 is in no group: a partition must place every node")
    );
    let split =
        web.control(json!({"action": "partition", "groups": "node-0,node-1/node-2,node-3"}));
    assert_eq!(split["ok"], json!(true), "{split}");
    web.state_when("two sides", |state| {
        state["groups"] == json!([["node-0", "node-1"], ["node-2", "node-3"]])
    });

    let mined = web.control(json!({"action": "mine", "node": "node-0", "blocks": 2}));
    assert_eq!(mined["ok"], json!(true), "{mined}");
    web.control(json!({"action": "mine", "node": "node-2", "blocks": 1}));
    let forked = web.state_when("two labelled tips", |state| {
        heights(state) == vec![2, 2, 1, 1] && tip_labels(state).len() == 2
    });
    let mut labels = tip_labels(&forked);
    labels.sort();
    assert_eq!(labels, vec!["node-0,node-1", "node-2,node-3"]);
    // The block node-0 mined spread to node-1, which connected it after node-0 mined it.
    let spread = forked["spreads"]
        .as_array()
        .and_then(|spreads| {
            spreads
                .iter()
                .find(|spread| spread["height"] == json!(2))
                .cloned()
        })
        .expect("the spread of block 2");
    let order: Vec<&str> = spread["arrivals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|arrival| arrival["node"].as_str())
        .collect();
    assert_eq!(order, vec!["node-0", "node-1"], "{spread}");

    let healed = web.control(json!({"action": "heal"}));
    assert_eq!(healed["ok"], json!(true), "{healed}");
    // As `devnet heal` answers: the nodes agree, and how long that took.
    let headline = healed["message"].as_str().unwrap_or_default().to_string();
    assert!(
        headline.starts_with("healed: all 4 nodes agree on"),
        "{headline}"
    );
    assert!(headline.contains(" ms"), "{headline}");
    let joined = web.state_when("one tip again", |state| {
        heights(state) == vec![2, 2, 2, 2] && tip_labels(state).len() == 1
    });
    assert!(joined["groups"].is_null());
    web.state_when("the heal's measure in the timeline", |state| {
        state["timeline"].as_array().is_some_and(|lines| {
            lines.iter().any(|line| {
                line.as_str()
                    .is_some_and(|l| l.contains(&format!("devnet  {headline}")))
            })
        })
    });
    let timeline = web.state_when("the reorg told", |state| {
        state["timeline"].as_array().is_some_and(|lines| {
            lines
                .iter()
                .any(|line| line.as_str().is_some_and(|l| l.contains("REORG depth 1")))
        })
    });
    assert!(timeline["timeline"]
        .as_array()
        .is_some_and(|lines| !lines.is_empty()));

    let (status, stream) = {
        let mut stream = TcpStream::connect(("127.0.0.1", web.port)).expect("connect");
        stream
            .set_read_timeout(Some(PATIENCE))
            .expect("a read timeout");
        write!(
            stream,
            "GET /api/stream HTTP/1.1\r\nHost: localhost\r\n\r\n"
        )
        .expect("write");
        let mut seen = Vec::new();
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains("\"nodes\"") {
            let read = stream.read(&mut chunk).expect("read the stream");
            assert!(read > 0, "the stream ended");
            seen.extend_from_slice(&chunk[..read]);
        }
        let text = String::from_utf8_lossy(&seen).into_owned();
        (text[9..12].to_string(), text)
    };
    assert_eq!(status, "200");
    assert!(stream.contains("text/event-stream") && stream.contains("data: {"));
    drop(web);
}

fn timeline_has(state: &Value, text: &str) -> bool {
    state["timeline"].as_array().is_some_and(|lines| {
        lines
            .iter()
            .any(|line| line.as_str().is_some_and(|l| l.contains(text)))
    })
}

#[test]
fn a_scenario_plays_on_the_watched_devnet_and_tells_its_story_in_the_timeline() {
    let devnet = Devnet::new();
    devnet.ok(&up_args("4", "24760"));
    let web = Web::start(&devnet);
    web.state_when("every node listed", |state| {
        state["nodes"].as_array().map(Vec::len) == Some(4)
    });

    let unknown = web.control(json!({"action": "scenario", "name": "selfish-mining"}));
    assert_eq!(
        unknown["code"],
        json!("devnet-unknown-scenario"),
        "{unknown}"
    );

    let started = web.control(json!({"action": "scenario", "name": "partition-heal"}));
    assert_eq!(started["ok"], json!(true), "{started}");
    assert_eq!(
        started["message"],
        json!("partition-heal started: its story comes in the timeline")
    );
    // While it plays the other controls are refused, not queued behind it.
    let refused = web.control(json!({"action": "mine", "node": "node-0", "blocks": 1}));
    assert_eq!(
        refused["code"],
        json!("devnet-scenario-playing"),
        "{refused}"
    );

    let told = web.state_when("the scenario's verdict", |state| {
        timeline_has(state, "PASSED")
    });
    assert!(
        timeline_has(&told, "partition-heal [3] The network splits"),
        "{told}"
    );
    assert!(timeline_has(&told, "REORG depth"), "{told}");
    assert!(
        timeline_has(&told, "partition-heal PASSED: every node converged"),
        "{told}"
    );
    // The devnet is still up, healed, and the controls answer again.
    let mined = web.control(json!({"action": "mine", "node": "node-0", "blocks": 1}));
    assert_eq!(mined["ok"], json!(true), "{mined}");
    drop(web);
}
