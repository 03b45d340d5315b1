//! Everything that can go wrong driving a devnet, each with a message that says what to do next
//! and a stable `code()` for scripts and tests.

use crate::observe::TreeError;
use crate::rpc::ClientError;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    #[error("no devnet is up in {} (run `nakachain devnet up`)", .root.display())]
    NotUp { root: PathBuf },
    #[error("the devnet state file {} is corrupt: {reason} (`nakachain devnet down` still stops its nodes)", .path.display())]
    CorruptState { path: PathBuf, reason: String },
    #[error("a devnet is already up in {} ({nodes} nodes); `nakachain devnet down` first", .root.display())]
    AlreadyUp { root: PathBuf, nodes: usize },
    #[error("a devnet state file is left in {} but none of its {nodes} nodes is running; `nakachain devnet down` cleans it up", .root.display())]
    StaleState { root: PathBuf, nodes: usize },
    #[error("a devnet has 1 to {max} nodes, not {nodes}")]
    NodeCount { nodes: usize, max: usize },
    #[error("ports {base} to {} do not fit below 65536; pick a lower --base-port", u32::from(*.base) + 2 * (*.nodes as u32) - 1)]
    PortRange { base: u16, nodes: usize },
    #[error("port {port} ({node} {role}) is already in use; pick another --base-port")]
    PortInUse {
        port: u16,
        node: String,
        role: &'static str,
    },
    #[error("unknown node {name} (this devnet has {})", describe_names(.known))]
    UnknownNode { name: String, known: Vec<String> },
    #[error("{0} is in no group: a partition must place every node")]
    NodeInNoGroup(String),
    #[error("{0} is in two groups: a node can only be on one side")]
    NodeInTwoGroups(String),
    #[error(
        "a partition needs at least two groups separated by '/', e.g. node-0,node-1/node-2,node-3"
    )]
    TooFewGroups,
    #[error("a partition group is empty: write the groups like node-0,node-1/node-2")]
    EmptyGroup,
    #[error("--between needs at least two node names, e.g. node-0,node-3")]
    BetweenTooFew,
    #[error("--block-time applies to devnet only (regtest blocks are instant)")]
    BlockTimeOnRegtest,
    #[error("--tx-rate must be a positive number of transactions a second, not {0}")]
    TxRate(f64),
    #[error("could not start {node}: {source}")]
    Spawn { node: String, source: io::Error },
    #[error("{node} exited while starting; see {}{}", .log.display(), describe_tail(.tail))]
    NodeExited {
        node: String,
        log: PathBuf,
        tail: Vec<String>,
    },
    #[error("{node} was not ready within {} s: still waiting for {waiting_for}; see {}", .after.as_secs(), .log.display())]
    NotReady {
        node: String,
        waiting_for: String,
        after: Duration,
        log: PathBuf,
    },
    #[error("{node}: {source}")]
    Rpc { node: String, source: ClientError },
    #[error("{node}: cannot read its RPC cookie: {reason} (is it running? see `nakachain devnet status`)")]
    Cookie { node: String, reason: String },
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("could not signal process {pid}: {reason}")]
    Signal { pid: u32, reason: String },
    #[error("{} holds an earlier devnet's chain; a scenario starts from genesis: `nakachain devnet down --purge` clears it", .path.display())]
    LeftoverChain { path: PathBuf },
    #[error("scenario: {0}")]
    Scenario(String),
    #[error("no devnet node answered {method}{}", describe_notes(.notes))]
    NoNodeAnswered {
        method: &'static str,
        notes: Vec<String>,
    },
    #[error("the nodes' block trees do not fit together: {0}")]
    Tree(#[from] TreeError),
    #[error("the {nodes} nodes did not agree on one tip within {} s ({tips} different tips); wait longer with --wait, or look at `nakachain devnet tree`", .waited.as_secs())]
    NotConverged {
        nodes: usize,
        tips: usize,
        waited: Duration,
    },
}

impl DevnetError {
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
            DevnetError::LeftoverChain { .. } => "devnet-leftover-chain",
            DevnetError::Scenario(_) => "devnet-scenario-failed",
            DevnetError::NoNodeAnswered { .. } => "devnet-no-answer",
            DevnetError::Tree(_) => "devnet-tree",
            DevnetError::NotConverged { .. } => "devnet-not-converged",
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
