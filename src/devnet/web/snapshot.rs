//! What the web view shows, gathered from the nodes' RPC: the table of nodes, their peer links
//! and the partition they are in, the merged block tree as SVG, the event timeline, and how each
//! recent block spread from node to node (when each node connected it, by its own events).
//!
//! Owns one look at the devnet and what is kept between looks (the timeline and the spreads,
//! both bounded). Must not serve anything (`web` does) nor read data directories.

use super::super::status::{self, NodeHealth, NodeStatus};
use super::super::view::{drain, running_clients};
use super::super::DevnetState;
use crate::events::EventKind;
use crate::miner::format_hashrate;
use crate::observe::{narrate_all, EventFollower, NodeEvent, RenderOptions, TreeView, Verbosity};
use crate::rpc::RpcClient;
use crate::types::Hash256;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::mpsc;

/// Narrated events the timeline keeps.
const TIMELINE_EVENTS: usize = 200;
/// Events of each node's past read when the view starts: a long-running devnet's history is
/// not read whole (50 nodes × 10,000 blocks would be half a million events).
const HISTORY_EVENTS: u64 = 40;
/// The `HH:MM:SS.mmm` a timeline line starts with.
const CLOCK_CHARS: usize = 12;
/// Blocks whose spread the view keeps.
const SPREADS: usize = 12;
/// Heights below the highest tip the tree shows.
const TREE_DEPTH_BLOCKS: u32 = 30;
/// A trunk of more plain blocks than this is folded in the tree.
const TREE_FOLD_AFTER_BLOCKS: usize = 4;

/// One block's way through the network: when each node connected it.
struct Spread {
    hash: Hash256,
    height: u32,
    /// `(node, Unix ms)` in the order the nodes connected it.
    arrivals: Vec<(String, u64)>,
}

/// Looks at a devnet over and over, keeping what the view shows across looks.
pub(super) struct Watcher {
    state: DevnetState,
    follower: EventFollower,
    timeline: VecDeque<String>,
    spreads: VecDeque<Spread>,
    /// Timeline lines of what the page's controls did (a heal with its measured convergence,
    /// a partition, a scenario's story), told beside the nodes' own events.
    told: mpsc::Receiver<String>,
    /// Nodes whose event log the follower was moved near the end of.
    positioned: HashSet<String>,
}

impl Watcher {
    pub(super) fn new(state: DevnetState, told: mpsc::Receiver<String>) -> Watcher {
        Watcher {
            state,
            follower: EventFollower::new(),
            timeline: VecDeque::new(),
            spreads: VecDeque::new(),
            told,
            positioned: HashSet::new(),
        }
    }

    /// Moves the follower to the last `HISTORY_EVENTS` of each node it has not read yet.
    fn position(&mut self, clients: &[(String, RpcClient)]) {
        for (name, client) in clients {
            if !self.positioned.contains(name)
                && self.follower.skip_history(name, client, HISTORY_EVENTS)
            {
                self.positioned.insert(name.clone());
            }
        }
    }

    /// Asks every node what the view shows and returns it as one JSON object.
    pub(super) fn look(&mut self) -> Value {
        let (clients, mut notes) = running_clients(&self.state);
        self.position(&clients);
        let batch = drain(&mut self.follower, &clients);
        notes.extend(batch.problems.iter().map(ToString::to_string));
        let names = self.state.names_by_addr();
        let mut lines = narrate_all(&batch.events, &names, Verbosity::Concise);
        lines.extend(self.told.try_iter());
        // Every line starts with its own time: the nodes' events and what the controls and a
        // scenario told interleave as they happened, not as they were read.
        lines.sort_by(|a, b| a.get(..CLOCK_CHARS).cmp(&b.get(..CLOCK_CHARS)));
        for line in lines {
            push_bounded(&mut self.timeline, line, TIMELINE_EVENTS);
        }
        self.follow_spreads(&batch.events);

        let statuses = status::gather(&self.state);
        // The peer links, from the peers each node's status already listed.
        let mut links = Vec::new();
        for row in &statuses {
            if let NodeHealth::Answered(info) = &row.health {
                let peers = info.peer_listen_addrs.iter();
                links.extend(
                    peers
                        .filter_map(|addr| names.get(addr))
                        .map(|other| (row.name.clone(), other.clone())),
                );
            }
        }
        let mut trees = Vec::new();
        let mut denied: HashMap<String, Vec<String>> = HashMap::new();
        for (name, client) in &clients {
            match client.call("getblocktree", vec![json!(TREE_DEPTH_BLOCKS)]) {
                Ok(answer) => trees.push((name.clone(), answer)),
                Err(error) => notes.push(format!("{name} did not answer getblocktree: {error}")),
            }
            if let Ok(info) = client.call("getnetworkinfo", vec![]) {
                let listed = info["denied"].as_array().into_iter().flatten();
                let refused = listed
                    .filter_map(Value::as_str)
                    .filter_map(|text| text.parse::<SocketAddr>().ok())
                    .filter_map(|addr| names.get(&addr).cloned())
                    .collect();
                denied.insert(name.clone(), refused);
            }
        }
        let tree_svg = match TreeView::from_nodes(&trees) {
            Ok(tree) => tree.render_svg(&RenderOptions {
                color: false,
                collapse_linear_after: Some(TREE_FOLD_AFTER_BLOCKS),
            }),
            Err(error) => {
                notes.push(error.to_string());
                String::new()
            }
        };
        let groups = sides(&self.state.names(), &denied);
        json!({
            "nodes": node_rows(statuses, &groups),
            "links": links_json(links),
            "groups": if groups.len() > 1 { json!(groups) } else { Value::Null },
            "tree_svg": tree_svg,
            "timeline": self.timeline,
            "spreads": self.spreads_json(),
            "notes": notes,
        })
    }

    /// Records when each node connected each new block (mined counts as connected at once).
    fn follow_spreads(&mut self, events: &[NodeEvent]) {
        for event in events {
            let (hash, height) = match event.kind.known() {
                Some(
                    EventKind::BlockConnected { hash, height, .. }
                    | EventKind::BlockMined { hash, height },
                ) => (*hash, *height),
                _ => continue,
            };
            let spread = match self.spreads.iter_mut().find(|spread| spread.hash == hash) {
                Some(spread) => spread,
                None => {
                    let spread = Spread {
                        hash,
                        height,
                        arrivals: Vec::new(),
                    };
                    push_bounded(&mut self.spreads, spread, SPREADS);
                    match self.spreads.back_mut() {
                        Some(spread) => spread,
                        None => continue,
                    }
                }
            };
            if !spread.arrivals.iter().any(|(node, _)| *node == event.node) {
                spread.arrivals.push((event.node.clone(), event.time_ms));
            }
        }
    }

    fn spreads_json(&self) -> Vec<Value> {
        self.spreads
            .iter()
            .map(|spread| {
                let first = spread.arrivals.iter().map(|(_, ms)| *ms).min().unwrap_or(0);
                let arrivals: Vec<Value> = spread
                    .arrivals
                    .iter()
                    .map(|(node, ms)| json!({"node": node, "after_ms": ms - first}))
                    .collect();
                json!({"hash": spread.hash, "height": spread.height, "arrivals": arrivals})
            })
            .collect()
    }
}

/// The table's rows, each node with the side of the partition it is on.
fn node_rows(statuses: Vec<NodeStatus>, groups: &[Vec<String>]) -> Vec<Value> {
    statuses
        .into_iter()
        .map(|row| {
            let side = groups.iter().position(|group| group.contains(&row.name));
            let side = (groups.len() > 1).then_some(side).flatten();
            match row.health {
                NodeHealth::Answered(info) => json!({
                    "name": row.name,
                    "state": "up",
                    "height": info.height,
                    "tip": info.tip,
                    "peers": info.peers,
                    "hashrate": format_hashrate(info.hashes_per_sec),
                    "mempool": info.mempool_txs,
                    "side": side,
                }),
                NodeHealth::NoAnswer(reason) => json!({
                    "name": row.name, "state": "no answer", "note": reason, "side": side,
                }),
                NodeHealth::NotRunning => json!({
                    "name": row.name, "state": "down", "side": side,
                }),
            }
        })
        .collect()
}

fn push_bounded<T>(queue: &mut VecDeque<T>, item: T, bound: usize) {
    if queue.len() == bound {
        queue.pop_front();
    }
    queue.push_back(item);
}

/// Each link once, as `[a, b]` with `a < b`.
fn links_json(mut links: Vec<(String, String)>) -> Vec<Value> {
    for link in &mut links {
        if link.1 < link.0 {
            std::mem::swap(&mut link.0, &mut link.1);
        }
    }
    links.sort();
    links.dedup();
    links.into_iter().map(|(a, b)| json!([a, b])).collect()
}

/// The sides of a partition: nodes are on one side when neither denies the other, directly or
/// through others on that side. One side means the network is whole.
fn sides(names: &[String], denied: &HashMap<String, Vec<String>>) -> Vec<Vec<String>> {
    let refuses = |a: &String, b: &String| denied.get(a).is_some_and(|list| list.contains(b));
    let mut side_of: Vec<usize> = (0..names.len()).collect();
    fn root(side_of: &mut [usize], mut at: usize) -> usize {
        while side_of[at] != at {
            side_of[at] = side_of[side_of[at]];
            at = side_of[at];
        }
        at
    }
    for a in 0..names.len() {
        for b in a + 1..names.len() {
            if !refuses(&names[a], &names[b]) && !refuses(&names[b], &names[a]) {
                let (ra, rb) = (root(&mut side_of, a), root(&mut side_of, b));
                side_of[ra.max(rb)] = ra.min(rb);
            }
        }
    }
    let mut groups: Vec<(usize, Vec<String>)> = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let side = root(&mut side_of, index);
        match groups.iter_mut().find(|(root, _)| *root == side) {
            Some((_, group)) => group.push(name.clone()),
            None => groups.push((side, vec![name.clone()])),
        }
    }
    groups.into_iter().map(|(_, group)| group).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn sides_follow_the_deny_lists() {
        let nodes = names(&["a", "b", "c", "d"]);
        let mut denied = HashMap::new();
        assert_eq!(sides(&nodes, &denied), vec![nodes.clone()], "whole");
        denied.insert("a".to_string(), names(&["c", "d"]));
        denied.insert("b".to_string(), names(&["c", "d"]));
        denied.insert("c".to_string(), names(&["a", "b"]));
        denied.insert("d".to_string(), names(&["a", "b"]));
        assert_eq!(
            sides(&nodes, &denied),
            vec![names(&["a", "b"]), names(&["c", "d"])]
        );
        // A line topology's lists keep ends apart but the middle joins them: still one side.
        let mut line = HashMap::new();
        line.insert("a".to_string(), names(&["c"]));
        line.insert("c".to_string(), names(&["a"]));
        assert_eq!(sides(&names(&["a", "b", "c"]), &line).len(), 1);
    }

    #[test]
    fn links_are_listed_once() {
        let links = links_json(vec![
            ("b".into(), "a".into()),
            ("a".into(), "b".into()),
            ("a".into(), "c".into()),
        ]);
        assert_eq!(links, vec![json!(["a", "b"]), json!(["a", "c"])]);
    }
}
