//! Mempool behaviour with real signed transactions over a hand-filled UTXO set: admission and
//! every refusal code, chained spends, first-seen conflicts, eviction under a byte bound, block
//! selection, the reaction to plain extensions and reorgs, and random admissions against the
//! pool's invariants.

mod admission;
mod random;
mod support;
mod tip;
