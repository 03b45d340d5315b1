//! Following several nodes' event logs: remembers how far each node's log has been read, asks
//! each node for what is new, and hands back one merged batch plus whatever went wrong.
//!
//! Owns the per-node read cursors and how a `getevents` answer moves them. Must not format
//! events (`narrate`), and must not stop at one bad node: a node that is down or answers
//! nonsense is reported and the others are still read.

use super::events::{merge, EventParseError, EventsPage, NodeEvent};
use crate::rpc::{ClientError, RpcClient};
use serde_json::{json, Value};
use std::collections::HashMap;

/// How many events one `getevents` call asks for; a busier log is read over several polls.
pub const EVENTS_PER_POLL: u64 = 1_000;

/// Something that kept a poll from reading a node's log completely.
#[derive(Debug, thiserror::Error)]
pub enum PollProblem {
    #[error("{node} did not answer getevents: {error}")]
    NodeUnreachable { node: String, error: ClientError },
    #[error(transparent)]
    Malformed(EventParseError),
    /// The node's bounded log forgot events before they were read.
    #[error("{node} forgot events {first_missed}..={last_missed} before they were read")]
    Missed {
        node: String,
        first_missed: u64,
        last_missed: u64,
    },
    /// The node's sequence numbers went backwards: it restarted with a fresh log, which is
    /// read again from the start.
    #[error("{node} restarted (its log is at {now}, was read up to {was}); reading it afresh")]
    Restarted { node: String, was: u64, now: u64 },
}

impl PollProblem {
    pub fn code(&self) -> &'static str {
        match self {
            PollProblem::NodeUnreachable { .. } => "node-unreachable",
            PollProblem::Malformed(error) => error.code(),
            PollProblem::Missed { .. } => "events-missed",
            PollProblem::Restarted { .. } => "node-restarted",
        }
    }
}

/// One poll's result: the new events of all nodes merged in time order, and the problems.
#[derive(Debug, Default)]
pub struct PollBatch {
    pub events: Vec<NodeEvent>,
    pub problems: Vec<PollProblem>,
}

/// What one answer did to a node's cursor.
enum Absorbed {
    Read(Vec<NodeEvent>),
    /// The cursor was reset to 0; the node should be asked again.
    Restarted,
}

/// Reads nodes' event logs incrementally, one cursor per node name.
#[derive(Debug, Default)]
pub struct EventFollower {
    last_seq: HashMap<String, u64>,
}

impl EventFollower {
    pub fn new() -> EventFollower {
        EventFollower::default()
    }

    /// The last sequence number read from `node` (0 before the first read).
    pub fn last_seq(&self, node: &str) -> u64 {
        self.last_seq.get(node).copied().unwrap_or(0)
    }

    /// Starts `node` at `seq` instead of 0, e.g. to follow only what happens from now on.
    pub fn skip_to(&mut self, node: &str, seq: u64) {
        self.last_seq.insert(node.to_string(), seq);
    }

    /// Asks every node for the events after its cursor (at most [`EVENTS_PER_POLL`] each).
    pub fn poll(&mut self, clients: &[(String, RpcClient)]) -> PollBatch {
        let mut streams = Vec::with_capacity(clients.len());
        let mut problems = Vec::new();
        for (node, client) in clients {
            let ask =
                |after: u64| client.call("getevents", vec![json!(after), json!(EVENTS_PER_POLL)]);
            match self.absorb(node, ask(self.last_seq(node)), &mut problems) {
                Absorbed::Read(events) => streams.push(events),
                // Asked from 0, a node cannot look restarted again.
                Absorbed::Restarted => {
                    if let Absorbed::Read(events) = self.absorb(node, ask(0), &mut problems) {
                        streams.push(events);
                    }
                }
            }
        }
        PollBatch {
            events: merge(streams),
            problems,
        }
    }

    /// Takes one `getevents` answer (or the failure to get one) from `node`, moves its cursor
    /// and returns its new events, adding what went wrong to `problems`.
    fn absorb(
        &mut self,
        node: &str,
        reply: Result<Value, ClientError>,
        problems: &mut Vec<PollProblem>,
    ) -> Absorbed {
        let reply = match reply {
            Ok(reply) => reply,
            Err(error) => {
                problems.push(PollProblem::NodeUnreachable {
                    node: node.to_string(),
                    error,
                });
                return Absorbed::Read(Vec::new());
            }
        };
        let page = match EventsPage::from_json(node, &reply) {
            Ok(page) => page,
            Err(error) => {
                problems.push(PollProblem::Malformed(error));
                return Absorbed::Read(Vec::new());
            }
        };
        let cursor = self.last_seq(node);
        problems.extend(page.malformed.into_iter().map(PollProblem::Malformed));
        if page.last_seq < cursor {
            problems.push(PollProblem::Restarted {
                node: node.to_string(),
                was: cursor,
                now: page.last_seq,
            });
            // Its sequence numbers stop at `last_seq`, below the cursor: the page is empty.
            self.last_seq.insert(node.to_string(), 0);
            return Absorbed::Restarted;
        }
        let first = page.events.iter().map(|event| event.seq).min();
        if let Some(first) = first.filter(|&first| first > cursor + 1) {
            problems.push(PollProblem::Missed {
                node: node.to_string(),
                first_missed: cursor + 1,
                last_missed: first - 1,
            });
        }
        // A short page holds everything up to `last_seq`; a full one only up to its highest
        // entry (counting unreadable entries, so one bad event cannot stall the cursor).
        let read_to = if (page.entries as u64) < EVENTS_PER_POLL {
            page.last_seq
        } else {
            page.max_seq.unwrap_or(cursor)
        };
        self.last_seq.insert(node.to_string(), read_to.max(cursor));
        Absorbed::Read(page.events)
    }
}
