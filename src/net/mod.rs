//! The tokio shell around the core: the node task that owns a node's state, its miner threads,
//! the RPC methods it answers, and the terminal status line.
//!
//! Owns every thread, socket and clock read of a running node. Must not hold chain state behind
//! locks or implement consensus: it feeds the core events and executes what the core decides.

pub mod hash_bench;
mod height_waits;
mod methods;
mod mining;
mod network;
pub mod node;
mod peers;
mod runtime;
mod status;

pub use methods::METHODS;
pub use node::{Node, NodeError};
pub use runtime::{run, NodeConfig};
pub use status::format_hashrate;
