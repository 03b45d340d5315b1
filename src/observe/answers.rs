//! The answers a node gives about its chain and its events, as `getblocktree` and `getevents`
//! return them: built here from a chain and an event log, so the node's RPC and the simulator's
//! `--out` write the same shapes, and `tree` reads both back.
//!
//! Owns these two shapes. Must not read a node's state beyond the chain and log it is given.

use crate::chain::{BlockStatus, Chain};
use crate::events::EventLog;
use serde_json::{json, Value};

/// The `getblocktree` answer: the tip, its height, and every block (every branch) from
/// `depth` heights below the tip up.
pub fn block_tree(chain: &Chain, depth: u32) -> Value {
    let tip = chain.tip();
    let blocks: Vec<Value> = chain
        .entries_from_height(tip.height.saturating_sub(depth))
        .map(|entry| {
            let active = chain.is_active(&entry.hash);
            let status = if active {
                "active"
            } else if entry.status.is_invalid() {
                "invalid"
            } else if entry.status == BlockStatus::Connected {
                "valid-fork"
            } else {
                "valid-headers"
            };
            json!({
                "hash": entry.hash,
                "prev": entry.header.prev_hash,
                "height": entry.height,
                "chainwork": format!("{:064x}", entry.chainwork),
                "status": status,
                "reorged": entry.reorged && !active,
            })
        })
        .collect();
    json!({"tip": tip.hash, "height": tip.height, "blocks": blocks})
}

/// The `getevents` answer: up to `limit` events after sequence number `after`, and the last
/// sequence number the log has given.
pub fn events_page(events: &EventLog, after: u64, limit: usize) -> Value {
    json!({
        "events": events.since(after, limit),
        "last_seq": events.last_seq(),
    })
}
