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
    /// The node did not answer.
    NodeUnreachable {
        /// The node.
        node: String,
        /// Why.
        error: ClientError,
    },
    #[error(transparent)]
    /// An entry could not be read.
    Malformed(EventParseError),
    /// The node's bounded log forgot events before they were read.
    #[error("{node} forgot events {first_missed}..={last_missed} before they were read")]
    Missed {
        /// The node.
        node: String,
        /// The first event lost.
        first_missed: u64,
        /// The last event lost.
        last_missed: u64,
    },
    /// The node's sequence numbers went backwards: it restarted with a fresh log, which is
    /// read again from the start.
    #[error("{node} restarted (its log is at {now}, was read up to {was}); reading it afresh")]
    Restarted {
        /// The node.
        node: String,
        /// The last sequence number read before.
        was: u64,
        /// The node's newest sequence number now.
        now: u64,
    },
}

impl PollProblem {
    /// The stable code.
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
    /// New events of every node, in time order.
    pub events: Vec<NodeEvent>,
    /// What kept the poll from reading everything.
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
    /// A follower that has read nothing yet.
    pub fn new() -> EventFollower {
        EventFollower::default()
    }

    /// The last sequence number read from `node` (0 before the first read).
    pub fn last_seq(&self, node: &str) -> u64 {
        self.last_seq.get(node).copied().unwrap_or(0)
    }

    /// Moves `node`'s cursor to `keep_last` events before the end of its log: a view that shows
    /// only recent events does not read a long history first. False when the node did not say
    /// where its log ends (the cursor is left where it was).
    pub(crate) fn skip_history(&mut self, node: &str, client: &RpcClient, keep_last: u64) -> bool {
        // No events asked for: the answer only says where the log is.
        let Ok(answer) = client.call("getevents", vec![json!(u64::MAX), json!(0)]) else {
            return false;
        };
        let Some(last) = answer["last_seq"].as_u64() else {
            return false;
        };
        self.last_seq
            .insert(node.to_string(), last.saturating_sub(keep_last));
        true
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
        if let Some(first) = page.min_seq.filter(|&first| first > cursor + 1) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::Cookie;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener};

    fn mined(seq: u64) -> Value {
        json!({"seq": seq, "time_ms": 1_000 + seq, "type": "block_mined",
               "hash": format!("{seq:064x}"), "height": seq})
    }

    fn page(seqs: &[u64], last_seq: u64) -> Result<Value, ClientError> {
        let events: Vec<Value> = seqs.iter().map(|&seq| mined(seq)).collect();
        Ok(json!({"events": events, "last_seq": last_seq}))
    }

    fn seqs(events: &[NodeEvent]) -> Vec<u64> {
        events.iter().map(|event| event.seq).collect()
    }

    fn read(absorbed: Absorbed) -> Vec<NodeEvent> {
        match absorbed {
            Absorbed::Read(events) => events,
            Absorbed::Restarted => panic!("unexpected restart"),
        }
    }

    #[test]
    fn advances_the_cursor_per_node() {
        let mut follower = EventFollower::new();
        let mut problems = Vec::new();
        let events = read(follower.absorb("node-1", page(&[1, 2, 3], 3), &mut problems));
        assert_eq!(seqs(&events), vec![1, 2, 3]);
        assert_eq!(follower.last_seq("node-1"), 3);
        assert_eq!(follower.last_seq("node-2"), 0);
        read(follower.absorb("node-1", page(&[], 3), &mut problems));
        assert_eq!(follower.last_seq("node-1"), 3);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn a_full_page_moves_the_cursor_only_to_its_last_entry() {
        let mut follower = EventFollower::new();
        let mut problems = Vec::new();
        let all: Vec<u64> = (1..=EVENTS_PER_POLL).collect();
        read(follower.absorb("n", page(&all, 2_500), &mut problems));
        assert_eq!(follower.last_seq("n"), EVENTS_PER_POLL);
    }

    #[test]
    fn an_unreadable_event_is_reported_and_does_not_stall_the_cursor() {
        let mut follower = EventFollower::new();
        let mut problems = Vec::new();
        let reply = json!({"events": [mined(1), {"seq": 2, "time_ms": 5, "type": "reorg"}],
                           "last_seq": 2});
        let events = read(follower.absorb("n", Ok(reply), &mut problems));
        assert_eq!(seqs(&events), vec![1]);
        assert_eq!(follower.last_seq("n"), 2);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].code(), "event-bad-body");

        // An unreadable first entry was delivered, not forgotten: no `Missed`.
        let mut problems = Vec::new();
        let reply = json!({"events": [{"seq": 3, "time_ms": 5, "type": "reorg"}, mined(4)],
                           "last_seq": 4});
        read(follower.absorb("n", Ok(reply), &mut problems));
        let codes: Vec<&str> = problems.iter().map(PollProblem::code).collect();
        assert_eq!(codes, vec!["event-bad-body"]);
    }

    #[test]
    fn a_bad_envelope_leaves_the_cursor() {
        let mut follower = EventFollower::new();
        follower.last_seq.insert("n".to_string(), 4);
        let mut problems = Vec::new();
        read(follower.absorb("n", Ok(json!({"events": 3})), &mut problems));
        assert_eq!(follower.last_seq("n"), 4);
        assert_eq!(problems[0].code(), "events-bad-reply");
    }

    #[test]
    fn reports_events_the_log_forgot() {
        let mut follower = EventFollower::new();
        follower.last_seq.insert("n".to_string(), 2);
        let mut problems = Vec::new();
        read(follower.absorb("n", page(&[7, 8], 8), &mut problems));
        match &problems[..] {
            [PollProblem::Missed {
                first_missed: 3,
                last_missed: 6,
                ..
            }] => {}
            other => panic!("expected events 3..=6 missed, got {other:?}"),
        }
    }

    #[test]
    fn a_restarted_node_is_read_from_the_start() {
        let mut follower = EventFollower::new();
        follower.last_seq.insert("n".to_string(), 50);
        let mut problems = Vec::new();
        let absorbed = follower.absorb("n", page(&[], 4), &mut problems);
        assert!(matches!(absorbed, Absorbed::Restarted));
        assert_eq!(follower.last_seq("n"), 0);
        assert_eq!(problems[0].code(), "node-restarted");
    }

    /// Serves one HTTP request on loopback with `result` as the JSON-RPC answer to id 1 (a
    /// fresh client's first id).
    fn answer_once(result: Value) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut request = Vec::new();
            let mut chunk = [0u8; 4096];
            // The request's body is its JSON object: read until it closes.
            while !request.ends_with(b"}") {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&chunk[..n]),
                }
            }
            let body =
                json!({"jsonrpc": "2.0", "result": result, "error": null, "id": 1}).to_string();
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        });
        addr
    }

    #[test]
    fn an_unreachable_node_is_reported_and_the_others_still_polled() {
        // A port that was just free: connecting to it is refused at once.
        let closed: SocketAddr = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("binding an ephemeral loopback port");
        let answering = answer_once(json!({"events": [mined(1), mined(2)], "last_seq": 2}));
        let cookie = Cookie::from_secret([1; 32]);
        let clients = vec![
            ("node-9".to_string(), RpcClient::new(closed, cookie.clone())),
            ("node-1".to_string(), RpcClient::new(answering, cookie)),
        ];
        let mut follower = EventFollower::new();
        let batch = follower.poll(&clients);
        assert_eq!(seqs(&batch.events), vec![1, 2]);
        assert!(batch.events.iter().all(|event| event.node == "node-1"));
        match &batch.problems[..] {
            [problem @ PollProblem::NodeUnreachable { node, .. }] => {
                assert_eq!(node, "node-9");
                assert_eq!(problem.code(), "node-unreachable");
            }
            other => panic!("expected one unreachable node, got {other:?}"),
        }
        assert_eq!(follower.last_seq("node-9"), 0);
        assert_eq!(follower.last_seq("node-1"), 2);
    }

    #[test]
    fn skipping_history_keeps_only_the_last_events() {
        let cookie = Cookie::from_secret([1; 32]);
        let answering = answer_once(json!({"events": [], "last_seq": 100}));
        let mut follower = EventFollower::new();
        let client = RpcClient::new(answering, cookie.clone());
        assert!(follower.skip_history("node-1", &client, 40));
        assert_eq!(follower.last_seq("node-1"), 60);

        let closed: SocketAddr = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("binding an ephemeral loopback port");
        let silent = RpcClient::new(closed, cookie);
        assert!(!follower.skip_history("node-1", &silent, 0));
        assert_eq!(follower.last_seq("node-1"), 60);
    }
}
