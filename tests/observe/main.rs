//! The observer's side of the event log: reading `getevents` answers, merging nodes' logs,
//! narrating them, and measuring convergence after a heal (src/observe).

mod convergence;
mod merge;
mod narrate;
mod parse;

use nakachain::observe::{NodeEvent, ObservedEvent};
use nakachain::types::Hash256;
use std::collections::HashMap;
use std::net::SocketAddr;

/// A hash whose display hex starts with `prefix` and continues with zeros.
fn hash(prefix: &str) -> Hash256 {
    format!("{prefix:0>64}")
        .parse()
        .expect("test prefixes are hex and at most 64 digits")
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("test addresses are valid")
}

fn event(node: &str, seq: u64, time_ms: u64, kind: impl Into<ObservedEvent>) -> NodeEvent {
    NodeEvent {
        node: node.to_string(),
        seq,
        time_ms,
        kind: kind.into(),
    }
}

/// P2P listen addresses of a three-node devnet.
fn names() -> HashMap<SocketAddr, String> {
    (1..=3)
        .map(|i| (addr(&format!("127.0.0.1:1844{i}")), format!("node-{i}")))
        .collect()
}
