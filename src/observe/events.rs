//! Events as an observer reads them back from `getevents`: typed, tagged with the node that
//! reported them, and merged across nodes into one time-ordered story.
//!
//! Owns telling a known event type from an unknown one (the shapes themselves are
//! `crate::events::EventKind`, read with the serde attributes they are written with) and the
//! merge order. Must not talk to nodes (`poll` does) nor format anything for people (`narrate`
//! does).
//! Input comes from other processes, so every shape mismatch is a typed error, never a panic.

use crate::events::{EventKind, EVENT_TYPES};
use serde::Deserialize;
use serde_json::Value;

/// What happened, as the node's `getevents` tagged it with `type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObservedEvent {
    /// A `type` this build knows, read into the same shape the node wrote it from.
    Known(EventKind),
    /// A `type` this build does not know (a newer node): kept so it is shown, not lost.
    Other(String),
}

impl ObservedEvent {
    /// The event's shape when its `type` is one this build knows.
    pub fn known(&self) -> Option<&EventKind> {
        match self {
            ObservedEvent::Known(kind) => Some(kind),
            ObservedEvent::Other(_) => None,
        }
    }
}

impl From<EventKind> for ObservedEvent {
    fn from(kind: EventKind) -> ObservedEvent {
        ObservedEvent::Known(kind)
    }
}

/// One event from one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEvent {
    /// The name the observer knows the node by (not something the node reports).
    pub node: String,
    /// The node's sequence number: unique and increasing per node, meaningless across nodes.
    pub seq: u64,
    /// Unix milliseconds by the node's clock.
    pub time_ms: u64,
    /// What happened.
    pub kind: ObservedEvent,
}

/// Why an event or a `getevents` answer could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventParseError {
    #[error("an event from {node} is not a JSON object")]
    /// An entry is not a JSON object.
    NotAnObject {
        /// The node.
        node: String,
    },
    #[error("an event from {node} has a bad `{field}` field: {detail}")]
    /// A field of the entry is missing or malformed.
    BadField {
        /// The node.
        node: String,
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    #[error("event {seq} from {node} ({kind}) is malformed: {detail}")]
    /// The body of a known event type is malformed.
    BadBody {
        /// The node.
        node: String,
        /// The entry's sequence number.
        seq: u64,
        /// Its type.
        kind: String,
        /// What is wrong.
        detail: String,
    },
    #[error("the getevents answer from {node} is malformed: {detail}")]
    /// The answer is not a `getevents` reply.
    BadReply {
        /// The node.
        node: String,
        /// What is wrong.
        detail: String,
    },
}

impl EventParseError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            EventParseError::NotAnObject { .. } => "event-not-object",
            EventParseError::BadField { .. } => "event-bad-field",
            EventParseError::BadBody { .. } => "event-bad-body",
            EventParseError::BadReply { .. } => "events-bad-reply",
        }
    }

    /// The node whose answer this was.
    pub fn node(&self) -> &str {
        match self {
            EventParseError::NotAnObject { node }
            | EventParseError::BadField { node, .. }
            | EventParseError::BadBody { node, .. }
            | EventParseError::BadReply { node, .. } => node,
        }
    }
}

impl NodeEvent {
    /// Reads one event object as `getevents` returns it. The time is `time_ms`; a node from
    /// before millisecond timestamps sends `time` in seconds, which is scaled.
    pub fn from_json(node: &str, value: &Value) -> Result<NodeEvent, EventParseError> {
        let object = value
            .as_object()
            .ok_or_else(|| EventParseError::NotAnObject {
                node: node.to_string(),
            })?;
        let bad = |field: &'static str, detail: &str| EventParseError::BadField {
            node: node.to_string(),
            field,
            detail: detail.to_string(),
        };
        let seq = match object.get("seq") {
            None => return Err(bad("seq", "missing")),
            Some(seq) => seq
                .as_u64()
                .ok_or_else(|| bad("seq", "not an unsigned integer"))?,
        };
        let time_ms = match (object.get("time_ms"), object.get("time")) {
            (Some(ms), _) => ms
                .as_u64()
                .ok_or_else(|| bad("time_ms", "not an unsigned integer"))?,
            (None, Some(secs)) => secs
                .as_u64()
                .and_then(|secs| secs.checked_mul(1_000))
                .ok_or_else(|| bad("time", "not an unsigned integer of seconds"))?,
            (None, None) => return Err(bad("time_ms", "missing (and no `time` either)")),
        };
        let kind_name = match object.get("type") {
            None => return Err(bad("type", "missing")),
            Some(kind) => kind.as_str().ok_or_else(|| bad("type", "not a string"))?,
        };
        let kind = if EVENT_TYPES.contains(&kind_name) {
            ObservedEvent::Known(EventKind::deserialize(value).map_err(|error| {
                EventParseError::BadBody {
                    node: node.to_string(),
                    seq,
                    kind: kind_name.to_string(),
                    detail: error.to_string(),
                }
            })?)
        } else {
            ObservedEvent::Other(kind_name.to_string())
        };
        Ok(NodeEvent {
            node: node.to_string(),
            seq,
            time_ms,
            kind,
        })
    }
}

/// One `getevents` answer, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsPage {
    /// The events that could be read, in the node's order.
    pub events: Vec<NodeEvent>,
    /// One error per event that could not be read; the others are still returned.
    pub malformed: Vec<EventParseError>,
    /// How many entries the answer held, readable or not.
    pub entries: usize,
    /// The lowest and highest `seq` of any entry, even one whose body was malformed.
    pub min_seq: Option<u64>,
    /// The highest sequence number of any entry.
    pub max_seq: Option<u64>,
    /// The node's newest sequence number when it answered.
    pub last_seq: u64,
}

impl EventsPage {
    /// Reads `{"events": [...], "last_seq": N}`. A bad envelope is an error; a bad event is
    /// collected in `malformed` so one odd entry does not hide the rest.
    pub fn from_json(node: &str, reply: &Value) -> Result<EventsPage, EventParseError> {
        let bad_reply = |detail: &str| EventParseError::BadReply {
            node: node.to_string(),
            detail: detail.to_string(),
        };
        let entries = reply
            .get("events")
            .and_then(Value::as_array)
            .ok_or_else(|| bad_reply("no `events` array"))?;
        let last_seq = reply
            .get("last_seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad_reply("no unsigned `last_seq`"))?;
        let seqs = || {
            entries
                .iter()
                .filter_map(|entry| entry.get("seq").and_then(Value::as_u64))
        };
        let mut page = EventsPage {
            events: Vec::with_capacity(entries.len()),
            malformed: Vec::new(),
            entries: entries.len(),
            min_seq: seqs().min(),
            max_seq: seqs().max(),
            last_seq,
        };
        for entry in entries {
            match NodeEvent::from_json(node, entry) {
                Ok(event) => page.events.push(event),
                Err(error) => page.malformed.push(error),
            }
        }
        Ok(page)
    }
}

/// All streams in one list ordered by time; events at the same millisecond are ordered by node
/// name, then by the node's sequence number, so the result does not depend on input order and
/// each node's own events stay in its order when its clock does not go backwards.
pub fn merge<S>(streams: impl IntoIterator<Item = S>) -> Vec<NodeEvent>
where
    S: IntoIterator<Item = NodeEvent>,
{
    let mut merged: Vec<NodeEvent> = streams.into_iter().flatten().collect();
    merged.sort_by(|a, b| (a.time_ms, &a.node, a.seq).cmp(&(b.time_ms, &b.node, b.seq)));
    merged
}
