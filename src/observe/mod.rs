//! Observe: pure presentation of what nodes report over RPC — the block tree drawn like
//! `git log --graph`, the merged event stream of several nodes, and whether they converged.
//!
//! Owns turning RPC answers (plain `serde_json::Value`s) into text and summaries. Must not call
//! nodes, read files or the clock, or print: callers fetch the answers and show the result.

pub mod tree;
