//! nakachain: a small but real proof-of-work blockchain node.
//!
//! Mine on a laptop, run a devnet of nodes on one machine, and watch forks and reorgs happen.
//! A deterministic, sans-I/O core (no tokio, files, clock or unseeded randomness) sits inside a
//! thin tokio shell.
//!
//! # Layout
//!
//! Core (time and randomness are arguments):
//! - [`types`]: hashes, the 80-byte header, blocks, transactions, amounts, addresses, merkle root
//! - [`codec`]: the one module that knows bincode; bounded decode, no trailing bytes
//! - [`params`]: network parameters (regtest, devnet) and the network identity
//! - [`consensus`]: proof-of-work arithmetic and ASERT; every rule as a `RuleError`
//! - [`chain`]: block tree, most-work selection, reorgs with undo data, UTXO set, orphans
//! - [`mempool`]: admission, conflicts, eviction; reaction to tip changes
//! - [`wallet`]: keys, addresses, balance, coin selection, signing
//! - [`miner`]: block templates and the nonce-search kernel (no threads)
//! - [`events`]: the bounded, sequence-numbered log of what happened, and the story of a tip
//!   change (`events::explain_tip_change`) that the node and the simulator both tell
//! - [`wire`]: the peer-to-peer messages, their size limits, and framing on a byte stream
//! - [`protocol`]: the peer protocol as a sans-I/O state machine (handshake, relay, sync,
//!   misbehaviour), driven by inputs and answering with outputs; `protocol::drive` carries
//!   the outputs out for every shell
//! - [`sim`]: many protocol nodes in one process over a seeded simulated network
//!
//! Shell (I/O):
//! - [`store`]: chain-data on disk (block log, wallet file, cookie); the only module that
//!   touches `std::fs` for chain data
//! - [`rpc`]: JSON-RPC over HTTP on loopback with cookie auth, server and client
//! - [`clock`]: the wall clock the shell reads
//! - [`node`]: the tokio node task: owns the state, runs miner threads and peer connections,
//!   answers RPC calls
//! - [`observe`]: what nodes report, presented: the block tree, merged event stories,
//!   convergence figures
//! - [`devnet`]: N node processes on one machine: start, wire, watch, partition, stop
//!
//! [`fuzz`] holds the entry points the fuzz targets (`fuzz/`) and their corpus replay share.
//!
//! `docs/DESIGN.md` describes the design: the sans-I/O boundary, consensus rules, wire
//! protocol, storage format, events, and how a block travels from a socket to the chain.

// The only unsafe code is the SHA-NI kernel (`miner::kernel::sha_ni`), which allows it for itself.
#![deny(unsafe_code)]
#![warn(missing_docs)]
// Outside tests a panic on bad input is a bug: the few `expect`s that cannot fail are allowed
// one by one, each with the proof beside it.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod chain;
pub mod clock;
pub mod codec;
pub mod consensus;
pub mod devnet;
pub mod events;
pub mod fuzz;
pub mod mempool;
pub mod miner;
pub mod node;
pub mod observe;
pub mod params;
pub mod protocol;
pub mod rpc;
pub mod sim;
pub mod store;
pub mod types;
pub mod wallet;
pub mod wire;
