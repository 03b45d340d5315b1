//! Consensus: the rules every node must agree on, bit for bit.
//!
//! `compact` encodes targets as bits; `pow` holds the proof-of-work arithmetic (target, work,
//! ASERT); `rules` holds the checks behind every `RuleError`. Owns rule logic only; must not keep state, do I/O or
//! read the clock (the caller passes `now`).

pub(crate) mod compact;
mod error;
pub mod pow;
pub mod rules;

pub use error::RuleError;
pub use rules::{Coin, UtxoView};
