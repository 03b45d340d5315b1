//! The node: the tokio shell around the core that `nakachain node` and `nakachain mine` run.
//! One task owns the node's state ([`Node`]: chain, mempool, wallet, event log, block log) and
//! feeds the core one event at a time; around it run the peer connections' reader and writer
//! tasks, the RPC server, the miner threads and the live status line.
//!
//! Layout, from the loop down:
//! - `runtime`: start-up, the event loop, the shutdown order
//! - `task`: what the node task does with each event; implements `methods::NodeControl`
//! - `methods`: the RPC methods' table and handlers, through the narrow `NodeControl`
//! - `tip_waits`: `waitforblockheight` and `waitfornewblock` calls waiting on the tip
//! - `generate`: `generate` calls, solved off the node task
//! - `network`: the protocol driver's links onto the connections, link latency, sync progress
//! - `peers`: TCP connections, one reader and one writer task each
//! - `command`: what helpers and connections tell the node task
//! - `state`: `Node`, the state and its consistency with the block log
//! - `mining`: the miner threads; `kernel_pick`: which kernel they hash with;
//!   `hash_bench`: `nakachain bench-hash` beside them
//! - `status`: the live line on a terminal
//!
//! Owns every thread, socket and clock read of a running node. Must not hold chain state behind
//! locks or implement consensus: it feeds the core events and executes what the core decides.

mod command;
mod generate;
pub mod hash_bench;
mod kernel_pick;
mod methods;
mod mining;
mod network;
mod peers;
mod runtime;
mod state;
mod status;
mod task;
mod tip_waits;

pub use kernel_pick::{KernelChoice, KernelNameError};
pub use mining::{MinerOptions, Priority};
pub use runtime::{run, NodeConfig};

/// What this node calls itself, to peers (in its Version) and in `getnetworkinfo`, in the form
/// Bitcoin's user agents take (`/Satoshi:28.0.0/`).
pub(crate) fn user_agent() -> String {
    format!("/nakachain:{}/", env!("CARGO_PKG_VERSION"))
}
pub use state::{BlockOrigin, ManualError, Node, NodeError};
