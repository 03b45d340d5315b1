//! observe/ holds the presentation of what nodes report: the block tree drawn like
//! `git log --graph`, several nodes' events merged into one time-ordered story, and the figures
//! a partition heal is judged by.
//!
//! Owns the shapes of the answers `getblocktree` and `getevents` give (`answers`, built from a
//! chain and an event log), reading RPC answers (`getblocktree`, `getevents`,
//! `getblockchaininfo`) back into types,
//! merging, telling the story line by line, following event logs incrementally, and measuring
//! convergence. Must not depend on how the nodes were started (no `devnet`): callers pass
//! `(name, RpcClient)` pairs and a P2P listen address → name map. Apart from `poll`, which calls
//! the nodes, nothing here does I/O, prints or reads the clock.

pub mod answers;
pub mod convergence;
pub mod events;
pub mod narrate;
pub mod poll;
pub mod tree;

pub use convergence::{Convergence, NodeTip, ReorgSummary, TipParseError, TxFate, UndoneTx};
pub use events::{merge, EventParseError, EventsPage, NodeEvent, ObservedEvent};
pub use narrate::{narrate, narrate_all, Verbosity};
pub use poll::{EventFollower, PollBatch, PollProblem, EVENTS_PER_POLL};
pub use tree::{RenderOptions, TreeBlock, TreeError, TreeView};
