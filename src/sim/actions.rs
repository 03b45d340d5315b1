//! What tests and runs do to a simulation from outside: a node finds a block, a wallet pays, the
//! network splits and heals.
//!
//! Owns these actions. Must not decide when they happen: the caller (a test, or `run`'s mining
//! process) does.

use super::Sim;
use crate::miner::{assemble_block, pad_block, solve_block, BlockSpec};
use crate::params::MAX_BLOCK_BYTES;
use crate::protocol::{Host, Input};
use crate::types::{Address, Amount, Block, Hash256, HashedBlock, Transaction, Txid};
use crate::wallet::WalletError;
use rand::Rng;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

impl Sim {
    /// Splits the network: nodes in different groups cannot reach each other, and their
    /// connections drop. Nodes in no group are isolated.
    pub fn partition(&mut self, groups: &[&[usize]]) {
        self.wires.set_groups(groups);
        for index in 0..self.node_count() {
            let home = self.wires.home(index);
            let cut = self.shards[home.shard].nodes[home.slot]
                .net
                .cut(&self.wires);
            for peer in cut {
                self.input(index, Input::Disconnected { peer });
            }
        }
    }

    /// Splits the network without closing connections: nothing crosses between groups (messages
    /// are lost, dials fail) until `heal`, after which the same connections carry on.
    pub fn blackhole(&mut self, groups: &[&[usize]]) {
        self.wires.set_groups(groups);
    }

    /// Cuts one node off from every other.
    pub fn isolate(&mut self, node: usize) {
        let others: Vec<usize> = (0..self.node_count()).filter(|i| *i != node).collect();
        self.partition(&[&[node], &others]);
    }

    /// Lets every node reach every other again; they reconnect by themselves.
    pub fn heal(&mut self) {
        self.wires.heal();
    }

    /// Node `index` finds the next block on its tip, with its mempool's transactions.
    pub fn mine(&mut self, index: usize) -> Hash256 {
        let node = self.node(index);
        let chain = &node.host.chain;
        let next = chain.next_block();
        let selected = node.host.mempool.select_for_block(MAX_BLOCK_BYTES / 2);
        let fees = selected.iter().fold(Amount::ZERO, |sum, (_, fee)| {
            sum.checked_add(*fee).unwrap_or(sum)
        });
        let subsidy = self.params.subsidy(next.height);
        let spec = BlockSpec {
            prev_hash: next.prev_hash,
            height: next.height,
            bits: next.bits,
            time: next.min_time.max(self.clock_secs()),
            payout: node.payout,
            coinbase_value: subsidy.checked_add(fees).unwrap_or(subsidy),
            extra_nonce: self.rng.random(),
        };
        let block = assemble_block(&spec, selected.into_iter().map(|(tx, _)| tx).collect());
        let hashed = self.seal(block, index);
        let hash = hashed.hash();
        if let Some(pool) = self.pool_mut() {
            pool.block_mined(false, next.prev_hash, next.height);
        }
        self.in_shard(index, |shard, shared| {
            let clock_ms = shard.clock_ms(shared);
            let host = &mut shard.node_mut(shared, index).host;
            host.set_clock_ms(clock_ms);
            if host.submit_mined(hashed) {
                shard.take_notes(shared, index);
                shard.input(shared, index, Input::NewLocalBlock);
            }
        });
        hash
    }

    /// Makes an assembled block a real one mined by node `miner`: padded to the run's block
    /// size, solved, hashed once for every node that will get it, and recorded.
    pub(super) fn seal(&mut self, mut block: Block, miner: usize) -> HashedBlock {
        if let Some(bytes) = self.block_bytes {
            pad_block(&mut block, bytes);
        }
        let (parent, height) = (block.header.prev_hash, block_height(&block));
        // Regtest's target is met by about every other hash: the mining process decides who
        // finds a block, the hashing is only to make it a real one.
        solve_block(&mut block, &AtomicBool::new(false));
        let hashed = HashedBlock::new(block);
        self.hashed
            .insert(Arc::as_ptr(hashed.block()) as usize, hashed.clone());
        self.records
            .mined(hashed.hash(), parent, height, miner, self.now_us);
        hashed
    }

    /// A payment from node `from`'s wallet, admitted to its mempool and announced.
    pub fn pay(&mut self, from: usize, to: Address, amount: Amount) -> Result<Txid, WalletError> {
        let tx = self.build_payment(from, to, amount)?;
        Ok(self.submit_transaction(from, tx))
    }

    /// A signed payment from node `from`'s wallet, not yet sent anywhere.
    pub fn build_payment(
        &mut self,
        from: usize,
        to: Address,
        amount: Amount,
    ) -> Result<Transaction, WalletError> {
        let home = self.wires.home(from);
        let node = &mut self.shards[home.shard].nodes[home.slot];
        let next_height = node.host.chain.height() + 1;
        let spendable = node.wallet.spendable_coins(
            node.host.chain.utxos().iter(),
            next_height,
            &self.params,
            |outpoint| node.host.mempool.spender_of(outpoint).is_some(),
        );
        Ok(node.wallet.create_payment(to, amount, 1, &spendable)?.tx)
    }

    /// Gives node `index` a transaction as if it came from its RPC; returns its txid.
    pub fn submit_transaction(&mut self, index: usize, tx: Transaction) -> Txid {
        let txid = tx.txid();
        self.in_shard(index, |shard, shared| {
            if shard
                .node_mut(shared, index)
                .host
                .submit_transaction(tx)
                .is_ok()
            {
                shard.input(shared, index, Input::AnnounceTx(txid));
            }
        });
        txid
    }

    /// Where node `index` mines to.
    pub fn payout(&self, index: usize) -> Address {
        self.node(index).payout
    }
}

/// The height a block's coinbase claims (0 for a block without one).
fn block_height(block: &Block) -> u32 {
    block
        .transactions
        .first()
        .and_then(|coinbase| coinbase.coinbase.as_ref())
        .map_or(0, |data| data.height)
}
