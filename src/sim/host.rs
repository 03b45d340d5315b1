//! A simulated node's state: an in-memory chain and mempool that the protocol drives through
//! `Host`, the simulated clock, and the node's event log, which tells the same stories (blocks
//! connected, reorgs, peers) a real node's does.
//!
//! Owns one node's state. Must not reach other nodes: the simulator's network carries messages.

use super::record::Note;
use crate::chain::{BlockError, BlockOutcome, Chain};
use crate::events::{explain_invalid_blocks, explain_tip_change, EventKind, EventLog};
use crate::mempool::{Mempool, MempoolError};
use crate::params::Params;
use crate::protocol::Host;
use crate::types::{HashedBlock, Transaction, Txid};

/// Mempool bound of a simulated node.
const SIM_MEMPOOL_BYTES: usize = 4 * 1024 * 1024;
/// Events a simulated node keeps, as a real node does.
const SIM_EVENT_CAPACITY: usize = crate::events::DEFAULT_EVENT_CAPACITY;

/// A simulated node's chain, mempool, clock and event log.
pub struct SimHost {
    /// The node's block tree and active chain.
    pub chain: Chain,
    /// The node's mempool.
    pub mempool: Mempool,
    /// What happened at this node, stamped with the simulated clock.
    pub events: EventLog,
    clock_ms: u64,
    /// Transactions a reorg put back into the mempool, to announce (as the node does).
    returned: Vec<Txid>,
    /// Whether events are recorded (a node that only measures skips telling its stories).
    event_logs: bool,
    /// What this node saw since the simulator last asked.
    notes: Vec<Note>,
}

impl SimHost {
    /// A node on `params` with only the genesis block, its clock at zero; keeping an event
    /// log if `event_logs`.
    pub fn new(params: Params, event_logs: bool) -> SimHost {
        SimHost {
            chain: Chain::new(params),
            mempool: Mempool::new(SIM_MEMPOOL_BYTES, 1),
            events: EventLog::new(if event_logs { SIM_EVENT_CAPACITY } else { 1 }),
            clock_ms: 0,
            returned: Vec::new(),
            event_logs,
            notes: Vec::new(),
        }
    }

    /// What the node saw since the last call.
    pub(super) fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    /// Sets the clock blocks are judged against (time-too-new) and events are stamped with, in
    /// Unix milliseconds.
    pub fn set_clock_ms(&mut self, unix_ms: u64) {
        self.clock_ms = unix_ms;
    }

    /// Submits a block the node mined itself; whether it entered the tree.
    pub(super) fn submit_mined(&mut self, block: HashedBlock) -> bool {
        let hash = block.hash();
        let accepted = self
            .submit_block(block)
            .is_ok_and(|outcome| outcome.accepted.contains(&hash));
        let mined_height = accepted
            .then(|| self.chain.entry(&hash).map(|entry| entry.height))
            .flatten();
        if let Some(height) = mined_height {
            self.record(EventKind::BlockMined { hash, height });
        }
        accepted
    }
}

impl Host for SimHost {
    fn chain(&self) -> &Chain {
        &self.chain
    }

    fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    fn submit_block(&mut self, block: HashedBlock) -> Result<BlockOutcome, BlockError> {
        let outcome = self
            .chain
            .process_hashed_block(block, self.clock_ms / 1_000)?;
        self.notes
            .extend(outcome.accepted.iter().copied().map(Note::Accepted));
        if self.event_logs {
            for event in explain_invalid_blocks(&outcome.invalid) {
                self.record(event);
            }
        }
        if let Some(change) = &outcome.tip_changed {
            if change.is_reorg() {
                self.notes.push(Note::Reorg {
                    depth: change.disconnected.len(),
                });
            }
            let update = self.mempool.follow_chain(change, &self.chain);
            if self.event_logs {
                for event in explain_tip_change(&self.chain, change, &update) {
                    self.record(event);
                }
            }
            self.returned.extend(update.returned);
        }
        Ok(outcome)
    }

    fn submit_transaction(&mut self, tx: Transaction) -> Result<Txid, MempoolError> {
        self.mempool
            .accept_on_tip(tx, &self.chain)
            .map(|accepted| accepted.txid)
    }

    fn record(&mut self, event: EventKind) {
        if self.event_logs {
            self.events.push(self.clock_ms, event);
        }
    }

    fn take_txs_to_announce(&mut self) -> Vec<Txid> {
        std::mem::take(&mut self.returned)
    }
}
