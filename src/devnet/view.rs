//! The devnet's observation commands glued to `observe`: the merged block tree of every node,
//! the merged event stream (once, followed, or as the live view's panel), and a heal measured
//! until the nodes agree.
//!
//! Owns choosing which nodes to ask, tolerating the ones that do not answer, and the wording of
//! the heal's headline. Must not parse, merge, narrate, draw or measure: `observe` does all that
//! from the answers this module fetches.

use super::up::is_node_running;
use super::{control, watch, DevnetError, DevnetState};
use crate::clock::unix_now_ms;
use crate::observe::{narrate_all, Convergence, EventFollower, NodeEvent, NodeTip, TreeView};
use crate::observe::{PollBatch, Verbosity};
use crate::rpc::RpcClient;
use serde_json::{json, Value};
use std::collections::{HashSet, VecDeque};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How long `heal` waits for the nodes to agree unless told otherwise.
pub(crate) const DEFAULT_PATIENCE: Duration = Duration::from_secs(30);
/// How often a heal asks the nodes for their tips while waiting for them to agree.
const TIP_POLL: Duration = Duration::from_millis(50);
/// How often `events --follow` asks for new events.
const FOLLOW_POLL: Duration = Duration::from_millis(200);
/// Each poll reads at most a page per node; reading a whole log stops after this many pages
/// so a node logging faster than it is read cannot keep the reader forever.
const MAX_PAGES: usize = 64;
/// How many narrated events the live view keeps below the status table.
pub(crate) const RECENT_EVENTS: usize = 12;

/// The clients of the nodes whose process runs, and a note for each node left out.
pub(crate) fn running_clients(state: &DevnetState) -> (Vec<(String, RpcClient)>, Vec<String>) {
    let mut clients = Vec::new();
    let mut notes = Vec::new();
    for node in &state.nodes {
        if !node.pid.is_some_and(|pid| is_node_running(node, pid)) {
            notes.push(format!("{} is not running", node.name));
            continue;
        }
        match node.observer() {
            Ok(client) => clients.push((node.name.clone(), client)),
            Err(error) => notes.push(error.to_string()),
        }
    }
    (clients, notes)
}

/// A note line on stderr, dim on a terminal, so stdout stays the command's answer.
pub(crate) fn note(text: &str) {
    let line = if std::io::stderr().is_terminal() {
        format!("\x1b[2mnote: {text}\x1b[0m")
    } else {
        format!("note: {text}")
    };
    eprintln!("{line}");
}

/// Asks every running node for `method`; a node that fails is left out with a note (on
/// stderr), and it is an error only when no node answers.
fn ask_all(
    clients: &[(String, RpcClient)],
    mut notes: Vec<String>,
    method: &'static str,
    params: &[Value],
) -> Result<Vec<(String, Value)>, DevnetError> {
    let mut answers = Vec::new();
    for (name, client) in clients {
        match client.call(method, params.to_vec()) {
            Ok(answer) => answers.push((name.clone(), answer)),
            Err(error) => notes.push(format!("{name} did not answer {method}: {error}")),
        }
    }
    if answers.is_empty() {
        return Err(DevnetError::NoNodeAnswered { method, notes });
    }
    notes.iter().for_each(|text| note(text));
    Ok(answers)
}

/// The block tree of every running node merged, each tip labelled with its nodes. Nodes that
/// do not answer are skipped with a note.
pub(crate) fn fetch_tree(state: &DevnetState, depth: u32) -> Result<TreeView, DevnetError> {
    let (clients, notes) = running_clients(state);
    let answers = ask_all(&clients, notes, "getblocktree", &[json!(depth)])?;
    Ok(TreeView::from_nodes(&answers)?)
}

/// New narrated lines and new notes from one look at the nodes' event logs.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct FeedBatch {
    /// Narrated event lines.
    pub lines: Vec<String>,
    /// Notes about the reading itself (a node that did not answer, events missed).
    pub notes: Vec<String>,
}

/// Follows every running node's event log and tells it line by line. A problem is noted when
/// it appears, not again on every poll while it lasts.
#[derive(Debug)]
pub(crate) struct EventFeed {
    follower: EventFollower,
    verbosity: Verbosity,
    /// The latest poll's notes, in order.
    current: Vec<String>,
}

impl EventFeed {
    /// A feed showing events at `verbosity`.
    pub fn new(verbosity: Verbosity) -> EventFeed {
        EventFeed {
            follower: EventFollower::new(),
            verbosity,
            current: Vec::new(),
        }
    }

    /// Everything new since the last call, each log read to its end.
    pub fn poll(&mut self, state: &DevnetState) -> FeedBatch {
        let (clients, mut notes) = running_clients(state);
        let batch = drain(&mut self.follower, &clients);
        notes.extend(batch.problems.iter().map(ToString::to_string));
        let lines = narrate_all(&batch.events, &state.names_by_addr(), self.verbosity);
        let current = distinct(notes);
        let notes = fresh(&self.current, &current);
        self.current = current;
        FeedBatch { lines, notes }
    }
}

/// The notes of `now` that were not already there `before`: a problem that lasts is told
/// once, and again if it goes away and comes back.
fn fresh(before: &[String], now: &[String]) -> Vec<String> {
    now.iter()
        .filter(|text| !before.contains(text))
        .cloned()
        .collect()
}

/// Each text once, in first-seen order.
fn distinct(texts: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    texts
        .into_iter()
        .filter(|text| seen.insert(text.clone()))
        .collect()
}

/// Polls until every node's log has been read to its end (or `MAX_PAGES` pages), merged into
/// one time order; a problem repeated on later pages is kept once.
pub(crate) fn drain(follower: &mut EventFollower, clients: &[(String, RpcClient)]) -> PollBatch {
    let mut streams: Vec<Vec<NodeEvent>> = Vec::new();
    let mut problems = Vec::new();
    let mut told = HashSet::new();
    for _ in 0..MAX_PAGES {
        let batch = follower.poll(clients);
        let done = batch.events.is_empty();
        streams.push(batch.events);
        problems.extend(
            batch
                .problems
                .into_iter()
                .filter(|problem| told.insert(problem.to_string())),
        );
        if done {
            break;
        }
    }
    PollBatch {
        events: crate::observe::merge(streams),
        problems,
    }
}

/// `devnet events`: every running node's events merged and narrated on stdout, notes on
/// stderr; with `follow`, new ones every 200 ms until Ctrl-C.
pub(crate) fn follow_events(
    state: &DevnetState,
    verbosity: Verbosity,
    follow: bool,
) -> Result<(), DevnetError> {
    let mut feed = EventFeed::new(verbosity);
    let mut show = || -> Result<(), DevnetError> {
        let batch = feed.poll(state);
        batch.notes.iter().for_each(|text| note(text));
        let mut out = std::io::stdout().lock();
        batch
            .lines
            .iter()
            .try_for_each(|line| writeln!(out, "{line}"))
            .and_then(|()| out.flush())
            .map_err(DevnetError::io("stdout"))
    };
    if follow {
        watch::every(FOLLOW_POLL, show)
    } else {
        show()
    }
}

/// The live view's event panel: the last [`RECENT_EVENTS`] narrated events, kept across
/// frames, and the problems of the latest poll.
#[derive(Debug)]
pub(crate) struct RecentEvents {
    feed: EventFeed,
    lines: VecDeque<String>,
}

impl Default for RecentEvents {
    fn default() -> RecentEvents {
        RecentEvents {
            feed: EventFeed::new(Verbosity::Concise),
            lines: VecDeque::new(),
        }
    }
}

impl RecentEvents {
    /// Reads what is new and returns the panel's text.
    pub fn update(&mut self, state: &DevnetState) -> String {
        let batch = self.feed.poll(state);
        keep_last(&mut self.lines, batch.lines, RECENT_EVENTS);
        let mut panel = String::from("\nrecent events:\n");
        if self.lines.is_empty() {
            panel.push_str("  (none yet)\n");
        }
        for line in &self.lines {
            panel.push_str(&format!("  {line}\n"));
        }
        // The feed tells a lasting problem once; the panel shows it while it lasts.
        for text in &self.feed.current {
            panel.push_str(&format!("  \x1b[2mnote: {text}\x1b[0m\n"));
        }
        panel
    }
}

/// Appends `new` to `kept`, keeping only the last `cap` lines.
fn keep_last(kept: &mut VecDeque<String>, new: Vec<String>, cap: usize) {
    kept.extend(new);
    while kept.len() > cap {
        kept.pop_front();
    }
}

/// Every running node's tip; a node that does not answer or answers nonsense gets a note.
fn tips(clients: &[(String, RpcClient)]) -> (Vec<NodeTip>, Vec<String>) {
    let mut tips = Vec::new();
    let mut notes = Vec::new();
    for (name, client) in clients {
        let tip = client
            .call("getblockchaininfo", vec![])
            .map_err(|error| format!("{name} did not answer getblockchaininfo: {error}"))
            .and_then(|info| {
                NodeTip::from_blockchain_info(name, &info).map_err(|error| error.to_string())
            });
        match tip {
            Ok(tip) => tips.push(tip),
            Err(text) => notes.push(text),
        }
    }
    (tips, notes)
}

/// Heals the devnet and waits up to `patience` for every running node to report the same
/// tip, then measures what the heal did. Not agreeing in time is no error: the figures come
/// back with `converged == false`.
pub(crate) fn heal_and_measure(
    state: &DevnetState,
    patience: Duration,
) -> Result<Convergence, DevnetError> {
    let (clients, notes) = running_clients(state);
    let (earlier_tips, tip_notes) = tips(&clients);
    if earlier_tips.is_empty() {
        let notes = notes.into_iter().chain(tip_notes).collect();
        return Err(DevnetError::NoNodeAnswered {
            method: "getblockchaininfo",
            notes,
        });
    }
    notes.iter().for_each(|text| note(text));
    let mut follower = EventFollower::new();
    // Only what the heal causes is measured; the logs so far are read past, not kept.
    drain(&mut follower, &clients);

    let heal_ms = unix_now_ms();
    control::heal(state)?;
    let deadline = Instant::now() + patience;
    let (final_tips, tip_notes) = loop {
        let (now, tip_notes) = tips(&clients);
        let agreed = tip_notes.is_empty() && now.windows(2).all(|pair| pair[0].tip == pair[1].tip);
        if agreed || Instant::now() >= deadline {
            break (now, tip_notes);
        }
        std::thread::sleep(TIP_POLL);
    };
    tip_notes.iter().for_each(|text| note(text));
    let batch = drain(&mut follower, &clients);
    batch
        .problems
        .iter()
        .for_each(|problem| note(&problem.to_string()));
    Ok(Convergence::measure(
        heal_ms,
        &batch.events,
        &final_tips,
        &earlier_tips,
    ))
}

/// The heal's headline, e.g. "healed: all 4 nodes agree on 0000abcd… at height 27 after
/// 184 ms; 2 blocks orphaned; deepest reorg 2 on node-1".
pub(crate) fn heal_headline(figures: &Convergence) -> String {
    let nodes = figures.final_tips.len();
    let (Some(tip), Some(ms)) = (figures.agreed_tip, figures.time_to_agree_ms) else {
        let distinct: HashSet<_> = figures.final_tips.iter().map(|t| t.tip).collect();
        return format!(
            "healed, but the {nodes} nodes do not agree: they are on {} different tips",
            distinct.len()
        );
    };
    let height = figures.final_tips.first().map_or(0, |t| t.height);
    let orphaned = match figures.blocks_orphaned {
        1 => "1 block orphaned".to_string(),
        n => format!("{n} blocks orphaned"),
    };
    let deepest = figures
        .deepest_reorg
        .as_ref()
        .map_or("no reorgs".to_string(), |(node, depth)| {
            format!("deepest reorg {depth} on {node}")
        });
    let work = if figures.most_work {
        ""
    } else {
        "; NOT the most-work tip seen"
    };
    format!(
        "healed: all {nodes} nodes agree on {} at height {height} after {ms} ms; {orphaned}; {deepest}{work}",
        tip.short()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Hash256;
    use primitive_types::U256;

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn notes_are_kept_once_in_first_seen_order() {
        let notes = distinct(strings(&["b down", "a down", "b down"]));
        assert_eq!(notes, strings(&["b down", "a down"]));
    }

    #[test]
    fn a_lasting_note_is_told_once_and_again_when_it_returns() {
        let first = strings(&["a down", "b down"]);
        assert_eq!(fresh(&[], &first), first);
        let second = strings(&["b down", "c down"]);
        assert_eq!(fresh(&first, &second), strings(&["c down"]));
        let third = strings(&["a down", "c down"]);
        assert_eq!(fresh(&second, &third), strings(&["a down"]));
    }

    #[test]
    fn the_panel_keeps_the_last_lines() {
        let mut kept = VecDeque::new();
        keep_last(&mut kept, strings(&["1", "2"]), 3);
        keep_last(&mut kept, strings(&["3", "4", "5"]), 3);
        assert_eq!(Vec::from(kept), strings(&["3", "4", "5"]));
    }

    fn tip(node: &str, byte: u8, height: u32) -> NodeTip {
        NodeTip {
            node: node.into(),
            tip: Hash256([byte; 32]),
            height,
            chainwork: U256::from(height),
        }
    }

    #[test]
    fn the_headline_gives_the_figures() {
        let mut figures = Convergence::measure(
            1_000,
            &[],
            &[tip("node-0", 7, 27), tip("node-1", 7, 27)],
            &[tip("node-1", 8, 26)],
        );
        figures.time_to_agree_ms = Some(184);
        figures.blocks_orphaned = 2;
        figures.deepest_reorg = Some(("node-1".into(), 2));
        assert_eq!(
            heal_headline(&figures),
            "healed: all 2 nodes agree on 0707…07070707 at height 27 after 184 ms; \
             2 blocks orphaned; deepest reorg 2 on node-1"
        );
        figures.blocks_orphaned = 1;
        figures.deepest_reorg = None;
        figures.most_work = false;
        assert_eq!(
            heal_headline(&figures),
            "healed: all 2 nodes agree on 0707…07070707 at height 27 after 184 ms; \
             1 block orphaned; no reorgs; NOT the most-work tip seen"
        );
    }

    #[test]
    fn the_headline_says_when_the_nodes_disagree() {
        let figures = Convergence::measure(
            1_000,
            &[],
            &[
                tip("node-0", 7, 27),
                tip("node-1", 8, 28),
                tip("node-2", 8, 28),
            ],
            &[],
        );
        assert_eq!(
            heal_headline(&figures),
            "healed, but the 3 nodes do not agree: they are on 2 different tips"
        );
    }
}
