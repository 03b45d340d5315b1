//! observe/ holds pure presentation of what nodes report: the block tree, merged events,
//! convergence figures.
//!
//! Owns reading `getevents` answers back into types, merging several nodes' events into one
//! time-ordered story, telling it line by line, following logs incrementally, and the figures
//! a partition heal is judged by. Must not depend on how the nodes were started (no `devnet`):
//! callers pass `(name, RpcClient)` pairs and a P2P listen address → name map. Apart from
//! `poll`, which calls the nodes, nothing here does I/O or reads the clock.

pub mod convergence;
pub mod events;
pub mod narrate;
pub mod poll;

pub use convergence::{Convergence, NodeTip, ReorgSummary, TipParseError, TxFate, UndoneTx};
pub use events::{merge, EventParseError, EventsPage, NodeEvent, ObservedEvent, TxDrop};
pub use narrate::{narrate, narrate_all, Verbosity};
pub use poll::{EventFollower, PollBatch, PollProblem, EVENTS_PER_POLL};
