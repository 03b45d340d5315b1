//! A simulated node's state: an in-memory chain and mempool that the protocol drives through
//! `Host`, with the simulated clock.

use crate::chain::{BlockError, BlockOutcome, Chain};
use crate::mempool::{Mempool, MempoolError};
use crate::params::Params;
use crate::protocol::Host;
use crate::types::{Block, HashedBlock, Transaction, Txid};

/// Mempool bound of a simulated node.
const SIM_MEMPOOL_BYTES: usize = 4 * 1024 * 1024;

pub struct SimHost {
    pub chain: Chain,
    pub mempool: Mempool,
    clock_secs: u64,
    /// Transactions a reorg put back into the mempool, to announce (as the node does).
    returned: Vec<Txid>,
}

impl SimHost {
    pub fn new(params: Params) -> SimHost {
        SimHost {
            chain: Chain::new(params),
            mempool: Mempool::new(SIM_MEMPOOL_BYTES, 1),
            clock_secs: 0,
            returned: Vec::new(),
        }
    }

    /// Sets the clock blocks are judged against (time-too-new), in Unix seconds.
    pub fn set_clock(&mut self, secs: u64) {
        self.clock_secs = secs;
    }

    /// Transactions a reorg put back into the mempool since the last call.
    pub(super) fn take_returned(&mut self) -> Vec<Txid> {
        std::mem::take(&mut self.returned)
    }

    /// Submits a block the node mined itself; whether it entered the tree.
    pub(super) fn submit_at(&mut self, block: Block, now_secs: u64) -> bool {
        self.clock_secs = now_secs;
        self.submit_block(HashedBlock::new(block))
            .is_ok_and(|outcome| !outcome.accepted.is_empty())
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
        let outcome = self.chain.process_hashed_block(block, self.clock_secs)?;
        if let Some(change) = &outcome.tip_changed {
            let update = self.mempool.follow_chain(change, &self.chain);
            self.returned.extend(update.returned);
        }
        Ok(outcome)
    }

    fn submit_transaction(&mut self, tx: Transaction) -> Result<Txid, MempoolError> {
        self.mempool
            .accept_on_tip(tx, &self.chain)
            .map(|accepted| accepted.txid)
    }
}
