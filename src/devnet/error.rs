//! Everything that can go wrong driving a devnet, each with a message that says what to do next
//! and a stable `code()` for scripts and tests.

use crate::observe::TreeError;
use crate::rpc::ClientError;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
/// What a devnet command can fail with; each has a stable `code()`.
pub enum DevnetError {
    #[error("no devnet is up in {} (run `nakachain devnet up`)", .root.display())]
    /// No devnet state file in `root`.
    NotUp {
        /// The devnet's directory.
        root: PathBuf,
    },
    #[error("the devnet state file {} is corrupt: {reason} (`nakachain devnet down` still stops its nodes)", .path.display())]
    /// The state file does not parse.
    CorruptState {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    #[error("a devnet is already up in {} ({nodes} nodes); `nakachain devnet down` first", .root.display())]
    /// `up` while a devnet runs.
    AlreadyUp {
        /// The devnet's directory.
        root: PathBuf,
        /// How many nodes it has.
        nodes: usize,
    },
    #[error("a devnet state file is left in {} but none of its {nodes} nodes is running; `nakachain devnet down` cleans it up", .root.display())]
    /// A state file whose nodes are all gone.
    StaleState {
        /// The devnet's directory.
        root: PathBuf,
        /// How many nodes it had.
        nodes: usize,
    },
    #[error("a devnet has 1 to {max} nodes, not {nodes}")]
    /// Too few or too many nodes.
    NodeCount {
        /// Nodes asked for.
        nodes: usize,
        /// The most allowed.
        max: usize,
    },
    #[error("ports {base} to {} do not fit below 65536; pick a lower --base-port", u32::from(*.base) + 2 * (*.nodes as u32) - 1)]
    /// The ports do not fit below 65536.
    PortRange {
        /// The first port.
        base: u16,
        /// How many nodes need two ports each.
        nodes: usize,
    },
    #[error("port {port} ({node} {role}) is already in use; pick another --base-port")]
    /// A port the devnet needs is taken.
    PortInUse {
        /// The port.
        port: u16,
        /// The node that needs it.
        node: String,
        /// What for: p2p or rpc.
        role: &'static str,
    },
    #[error("unknown node {name} (this devnet has {})", describe_names(.known))]
    /// No node of that name.
    UnknownNode {
        /// The name given.
        name: String,
        /// The names the devnet has.
        known: Vec<String>,
    },
    #[error("{0} is in no group: a partition must place every node")]
    /// A partition leaves this node out.
    NodeInNoGroup(String),
    #[error("{0} is in two groups: a node can only be on one side")]
    /// A partition names this node twice.
    NodeInTwoGroups(String),
    #[error(
        "a partition needs at least two groups separated by '/', e.g. node-0,node-1/node-2,node-3"
    )]
    /// A partition with fewer than two groups.
    TooFewGroups,
    #[error("a partition group is empty: write the groups like node-0,node-1/node-2")]
    /// A partition with an empty group.
    EmptyGroup,
    #[error("--between needs at least two node names, e.g. node-0,node-3")]
    /// `--between` with fewer than two nodes.
    BetweenTooFew,
    #[error("--block-time applies to devnet only (regtest blocks are instant)")]
    /// `--block-time` on regtest.
    BlockTimeOnRegtest,
    #[error("--tx-rate must be a positive number of transactions a second, not {0}")]
    /// `--tx-rate` that is not positive.
    TxRate(f64),
    #[error("could not start {node}: {source}")]
    /// A node process could not be started.
    Spawn {
        /// The node.
        node: String,
        /// Why.
        source: io::Error,
    },
    #[error("{node} exited while starting; see {}{}", .log.display(), describe_tail(.tail))]
    /// A node exited while starting.
    NodeExited {
        /// The node.
        node: String,
        /// Its log file.
        log: PathBuf,
        /// The log's last lines.
        tail: Vec<String>,
    },
    #[error("{node} was not ready within {} s: still waiting for {waiting_for}; see {}", .after.as_secs(), .log.display())]
    /// A node did not get ready in time.
    NotReady {
        /// The node.
        node: String,
        /// What it was waiting for.
        waiting_for: String,
        /// How long it was given.
        after: Duration,
        /// Its log file.
        log: PathBuf,
    },
    #[error("{node}: {source}")]
    /// An RPC call to a node failed.
    Rpc {
        /// The node.
        node: String,
        /// Why.
        source: ClientError,
    },
    #[error("{node}: cannot read its RPC cookie: {reason} (is it running? see `nakachain devnet status`)")]
    /// A node's cookie cannot be read.
    Cookie {
        /// The node.
        node: String,
        /// Why.
        reason: String,
    },
    #[error("{}: {source}", .path.display())]
    /// A file of the devnet cannot be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    #[error("could not signal process {pid}: {reason}")]
    /// A node process could not be signalled.
    Signal {
        /// Its process id.
        pid: u32,
        /// Why.
        reason: String,
    },
    #[error("scenario: {0}")]
    /// A scenario's story went wrong.
    Scenario(String),
    #[error("there is no scenario {0}; the scenarios are partition-heal and 51-percent")]
    /// A scenario name that is none of the scenarios.
    UnknownScenario(String),
    #[error("{scenario} plays on {needs} nodes and this devnet has {has}: start one with `nakachain devnet up --nodes {needs}`, or run `nakachain devnet scenario {scenario}` on a devnet of its own")]
    /// The devnet has another number of nodes than the scenario plays with.
    ScenarioNodes {
        /// The scenario.
        scenario: &'static str,
        /// The nodes it needs.
        needs: usize,
        /// The nodes the devnet has.
        has: usize,
    },
    #[error("{0} is playing; the controls wait for its report in the timeline")]
    /// A control while a scenario plays on the devnet.
    ScenarioPlaying(&'static str),
    #[error("no devnet node answered {method}{}", describe_notes(.notes))]
    /// Every node failed to answer a method.
    NoNodeAnswered {
        /// The method.
        method: &'static str,
        /// What each node answered instead.
        notes: Vec<String>,
    },
    #[error("the nodes' block trees do not fit together: {0}")]
    /// The nodes' block trees contradict each other.
    Tree(#[from] TreeError),
    #[error("the {nodes} nodes did not agree on one tip within {} s ({tips} different tips); wait longer with --wait, or look at `nakachain devnet tree`", .waited.as_secs())]
    /// The nodes did not agree on a tip in time.
    NotConverged {
        /// How many nodes.
        nodes: usize,
        /// How many tips they were on.
        tips: usize,
        /// How long it waited.
        waited: Duration,
    },
    #[error("mine 1 to {max} blocks at a time, not {blocks}")]
    /// A web control asked for too many or no blocks.
    MineCount {
        /// Blocks asked for.
        blocks: u64,
        /// The most one request may mine.
        max: u64,
    },
    #[error(
        "cannot serve the web view on {addr}: {source} (is the port taken? pick one with --port)"
    )]
    /// The web view's port could not be bound.
    WebBind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: io::Error,
    },
    #[error("the web view stopped: {0}")]
    /// The web view's runtime failed.
    Web(io::Error),
    #[error("no simulation to replay in {}: {reason} (write one with `nakachain sim --out DIR`)", .dir.display())]
    /// `web --sim DIR` found no readable `replay.json` there.
    NoReplay {
        /// The directory.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl DevnetError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            DevnetError::NotUp { .. } => "devnet-not-up",
            DevnetError::CorruptState { .. } => "devnet-corrupt-state",
            DevnetError::AlreadyUp { .. } => "devnet-already-up",
            DevnetError::StaleState { .. } => "devnet-stale-state",
            DevnetError::NodeCount { .. } => "devnet-node-count",
            DevnetError::PortRange { .. } => "devnet-port-range",
            DevnetError::PortInUse { .. } => "devnet-port-in-use",
            DevnetError::UnknownNode { .. } => "devnet-unknown-node",
            DevnetError::NodeInNoGroup(_) => "devnet-partition-missing-node",
            DevnetError::NodeInTwoGroups(_) => "devnet-partition-duplicate-node",
            DevnetError::TooFewGroups => "devnet-partition-one-group",
            DevnetError::EmptyGroup => "devnet-partition-empty-group",
            DevnetError::BetweenTooFew => "devnet-latency-between",
            DevnetError::BlockTimeOnRegtest => "devnet-block-time-regtest",
            DevnetError::TxRate(_) => "devnet-tx-rate",
            DevnetError::Spawn { .. } => "devnet-spawn",
            DevnetError::NodeExited { .. } => "devnet-node-exited",
            DevnetError::NotReady { .. } => "devnet-not-ready",
            DevnetError::Rpc { .. } => "devnet-rpc",
            DevnetError::Cookie { .. } => "devnet-cookie",
            DevnetError::Io { .. } => "devnet-io",
            DevnetError::Signal { .. } => "devnet-signal",
            DevnetError::Scenario(_) => "devnet-scenario-failed",
            DevnetError::UnknownScenario(_) => "devnet-unknown-scenario",
            DevnetError::ScenarioNodes { .. } => "devnet-scenario-nodes",
            DevnetError::ScenarioPlaying(_) => "devnet-scenario-playing",
            DevnetError::NoNodeAnswered { .. } => "devnet-no-answer",
            DevnetError::Tree(_) => "devnet-tree",
            DevnetError::NotConverged { .. } => "devnet-not-converged",
            DevnetError::MineCount { .. } => "devnet-mine-count",
            DevnetError::WebBind { .. } => "devnet-web-bind",
            DevnetError::Web(_) => "devnet-web",
            DevnetError::NoReplay { .. } => "web-no-replay",
        }
    }

    pub(super) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> DevnetError {
        let path = path.into();
        move |source| DevnetError::Io { path, source }
    }
}

/// "node-0 … node-3" for long lists, every name for short ones.
fn describe_names(names: &[String]) -> String {
    match names {
        [] => "no nodes".to_string(),
        [first, .., last] if names.len() > 3 => format!("{first} … {last}"),
        _ => names.join(", "),
    }
}

fn describe_tail(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("; it ended with:\n  {}", tail.join("\n  "))
    }
}

fn describe_notes(notes: &[String]) -> String {
    if notes.is_empty() {
        String::new()
    } else {
        format!(":\n  {}", notes.join("\n  "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_node_lists_the_range() {
        let known: Vec<String> = (0..4).map(|i| format!("node-{i}")).collect();
        let error = DevnetError::UnknownNode {
            name: "node-9".into(),
            known,
        };
        assert_eq!(
            error.to_string(),
            "unknown node node-9 (this devnet has node-0 … node-3)"
        );
        assert_eq!(error.code(), "devnet-unknown-node");
    }

    #[test]
    fn port_in_use_names_the_node() {
        let error = DevnetError::PortInUse {
            port: 19004,
            node: "node-2".into(),
            role: "p2p",
        };
        assert_eq!(
            error.to_string(),
            "port 19004 (node-2 p2p) is already in use; pick another --base-port"
        );
    }

    #[test]
    fn no_answer_lists_why() {
        let error = DevnetError::NoNodeAnswered {
            method: "getblocktree",
            notes: vec![
                "node-0 is not running".into(),
                "node-1 is not running".into(),
            ],
        };
        assert_eq!(
            error.to_string(),
            "no devnet node answered getblocktree:\n  node-0 is not running\n  node-1 is not running"
        );
        assert_eq!(error.code(), "devnet-no-answer");
    }

    #[test]
    fn not_converged_says_what_to_do() {
        let error = DevnetError::NotConverged {
            nodes: 4,
            tips: 2,
            waited: Duration::from_secs(30),
        };
        assert_eq!(
            error.to_string(),
            "the 4 nodes did not agree on one tip within 30 s (2 different tips); wait longer \
             with --wait, or look at `nakachain devnet tree`"
        );
        assert_eq!(error.code(), "devnet-not-converged");
    }
}
