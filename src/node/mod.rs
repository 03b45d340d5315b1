//! The node: the tokio shell around the core that `nakachain node` and `nakachain mine` run.
//! One task owns the node's state ([`Node`]: chain, mempool, wallet, event log, block log) and
//! feeds the core one event at a time; around it run the peer connections' reader and writer
//! tasks, the RPC server, the miner threads and the live status line.
//!
//! Layout, from the loop down:
//! - `runtime`: start-up, the event loop, the shutdown order
//! - `task`: what the node task does with each event; implements `methods::NodeControl`
//! - `methods`: the RPC methods' table and handlers, through the narrow `NodeControl`
//! - `height_waits`: `waitforblockheight` calls waiting for the chain
//! - `generate`: `generate` calls, solved off the node task
//! - `network`: the protocol driver's links onto the connections, link latency, sync progress
//! - `peers`: TCP connections, one reader and one writer task each
//! - `command`: what helpers and connections tell the node task
//! - `state`: `Node`, the state and its consistency with the block log
//! - `mining`: the miner threads; `hash_bench`: `nakachain bench-hash` beside them
//! - `status`: the live line on a terminal
//!
//! Owns every thread, socket and clock read of a running node. Must not hold chain state behind
//! locks or implement consensus: it feeds the core events and executes what the core decides.

mod command;
mod generate;
pub mod hash_bench;
mod height_waits;
mod methods;
mod mining;
mod network;
mod peers;
mod runtime;
mod state;
mod status;
mod task;

pub use runtime::{run, NodeConfig};
pub use state::{BlockOrigin, ManualError, Node, NodeError};
