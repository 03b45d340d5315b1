//! devnet: N real node processes on this machine, started, wired, watched, split and stopped
//! from one command, their state in `chain-data/<network>/devnet.json` (or another directory,
//! `--dir`).
//!
//! Owns node processes, their ports and wiring, the state file, and the runtime network
//! controls (which are RPC calls, so they work on nodes anywhere). Must not reach into a node's
//! internals: everything goes through the node's command line and its RPC.
//!
//! - `plan`: names, ports, topology, miner threads (pure)
//! - [`node`]: one node and its RPC client
//! - [`state`]: the state file
//! - [`process`]: spawning, liveness and signals by pid
//! - [`up`] / [`down`]: the start-up and shutdown sequences
//! - `control`: partition, isolate, heal, latency
//! - [`status`]: the status table
//! - `txgen`: the payment generator process
//! - [`view`]: the merged block tree, event stream and heal figures
//! - [`watch`]: the live view and log following
//! - [`web`]: the live view in a browser (`devnet web`)
//! - [`cli`]: the `nakachain devnet` subcommands

pub mod cli;
pub(crate) mod control;
pub mod down;
mod error;
pub mod node;
pub(crate) mod plan;
pub mod process;
pub mod scenario;
pub mod state;
pub mod status;
pub(crate) mod txgen;
pub mod up;
pub mod view;
pub mod watch;
pub mod web;

pub use cli::DevnetCommand;
pub use error::DevnetError;
pub use node::DevnetNode;
pub use state::DevnetState;
