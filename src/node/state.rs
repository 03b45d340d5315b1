//! `Node`: the state one node task owns — chain, mempool, wallet, event log and the block log —
//! and the steps that keep them consistent: a block is appended to the log before anything
//! reacts to it, then the mempool follows the tip, then the events are recorded. Blocks this
//! node makes are fsynced at once; blocks from peers are fsynced together by `sync_store`,
//! which the runtime calls before the node tells a peer of them, and written to the OS by
//! `flush_store` before it answers an RPC call (see `runtime`).
//!
//! Owns the ordering between the core modules and the store. Must not block on the network or
//! spawn threads (the runtime does); reads the wall clock only through `crate::clock`.

use crate::chain::{BlockError, BlockOutcome, BlockStatus, Chain, TipChanged};
use crate::clock::{unix_now_ms, unix_now_secs};
use crate::events::{
    explain_invalid_blocks, explain_tip_change, EventKind, EventLog, DEFAULT_EVENT_CAPACITY,
};
use crate::mempool::{Mempool, MempoolError};
use crate::miner::{assemble_block, BlockSpec};
use crate::params::{Params, MAX_BLOCK_BYTES};
use crate::protocol::Host;
use crate::store::{BlockLog, DataDir, StoreError};
use crate::types::{Address, Amount, Block, Hash256, HashedBlock, Transaction, Txid};
use crate::wallet::{Wallet, WalletError};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;

/// Mempool byte bound.
pub(crate) const MEMPOOL_MAX_BYTES: usize = 64 * 1024 * 1024;
/// Minimum relay fee rate, base units per encoded byte; also the wallet's fee rate.
pub(crate) const MIN_FEE_RATE: u64 = 1;
/// Bytes of a block kept free for the coinbase when filling a template.
const COINBASE_RESERVE_BYTES: usize = 1_000;

/// What stops a node from starting or keeps it from going on.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    /// The data directory failed.
    Store(#[from] StoreError),
    #[error("wallet: {0}")]
    /// The wallet file failed.
    Wallet(#[from] WalletError),
    #[error("cannot listen for RPC on {addr}: {source} (is another node using this port? pick one with --rpc-port)")]
    /// The RPC port is taken.
    RpcBind {
        /// The RPC address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    #[error("cannot listen for peers on {addr}: {source} (is another node using this port? pick one with --listen)")]
    /// The P2P port is taken.
    P2pBind {
        /// The P2P address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    #[error("cannot read OS randomness: {0}")]
    /// The OS generator failed.
    Randomness(String),
    #[error("cannot start the async runtime or its signal handlers: {0}")]
    /// Tokio or its signal handlers could not start.
    Runtime(std::io::Error),
}

impl NodeError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            NodeError::Store(error) => error.code(),
            NodeError::Wallet(error) => error.code(),
            NodeError::RpcBind { .. } => "rpc-bind",
            NodeError::P2pBind { .. } => "p2p-bind",
            NodeError::Randomness(_) => "randomness",
            NodeError::Runtime(_) => "runtime",
        }
    }
}

/// Who handed the node a block.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BlockOrigin {
    /// Found by this node's miner threads or `generate`.
    Mined,
    /// Given by RPC `submitblock`.
    Submitted,
    /// Received from a peer.
    Peer,
}

/// 32 bytes from the operating system's generator.
pub(super) fn os_random_bytes() -> Result<[u8; 32], NodeError> {
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|error| NodeError::Randomness(error.to_string()))?;
    Ok(bytes)
}

/// The state of one node.
pub struct Node {
    /// Every block, the active chain and the UTXO set.
    pub chain: Chain,
    /// Unconfirmed transactions.
    pub mempool: Mempool,
    /// Keys and addresses.
    pub wallet: Wallet,
    /// What happened, for `getevents`.
    pub events: EventLog,
    datadir: DataDir,
    block_log: BlockLog,
    /// Blocks marked invalid by hand, kept in the data directory so a restart keeps them so.
    invalidated: Vec<Hash256>,
    /// A block-log write that failed: the node can no longer promise durability and stops.
    store_failure: Option<StoreError>,
    /// Transactions to announce to peers: admitted from this node's own RPC, or returned to the
    /// mempool by a reorg.
    txs_to_announce: Vec<Txid>,
    /// The failpoint `NodeConfig::abort_in_reorg`.
    pub(crate) abort_in_reorg: Option<usize>,
}

impl Node {
    /// Opens the data directory, replays the block log and loads (or creates) the wallet.
    pub fn open(params: Params, root: &Path) -> Result<Node, NodeError> {
        let datadir = DataDir::open(root)?;
        datadir.claim_network(params.network_id())?;
        let (block_log, replay) = BlockLog::open(&datadir.block_log_path(), params.magic)?;
        let mut chain = Chain::new(params);
        replay_blocks(&mut chain, replay.blocks);
        let invalidated = datadir.load_invalidated()?;
        for hash in &invalidated {
            if let Err(error) = chain.invalidate_block(hash) {
                tracing::warn!(block = %hash, reason = error.code(), "cannot re-apply invalidateblock");
            }
        }
        let wallet = load_or_create_wallet(&datadir)?;
        let mut events = EventLog::new(DEFAULT_EVENT_CAPACITY);
        events.push(
            unix_now_ms(),
            EventKind::NodeStarted {
                network: chain.params().network.name().to_string(),
                height: chain.height(),
                tip: chain.tip().hash,
            },
        );
        tracing::info!(
            height = chain.height(),
            tip = %chain.tip().hash,
            datadir = %root.display(),
            "chain loaded"
        );
        Ok(Node {
            chain,
            mempool: Mempool::new(MEMPOOL_MAX_BYTES, MIN_FEE_RATE),
            wallet,
            events,
            datadir,
            block_log,
            invalidated,
            store_failure: None,
            txs_to_announce: Vec::new(),
            abort_in_reorg: None,
        })
    }

    /// The network parameters.
    pub fn params(&self) -> &Params {
        self.chain.params()
    }

    /// The data directory.
    pub fn datadir(&self) -> &DataDir {
        &self.datadir
    }

    /// Bytes in the block log.
    pub(crate) fn block_log_bytes(&self) -> u64 {
        self.block_log.len_bytes()
    }

    /// Validates a block, stores (and fsyncs) every block it adds to the tree, then lets the
    /// mempool and the event log follow. A failed store write is kept for `take_store_failure`:
    /// the node can no longer promise durability, and the runtime stops it.
    pub fn submit_block(
        &mut self,
        block: Block,
        origin: BlockOrigin,
    ) -> Result<BlockOutcome, BlockError> {
        self.submit_hashed_block(HashedBlock::new(block), origin)
    }

    /// `submit_block` for a block hashed already.
    fn submit_hashed_block(
        &mut self,
        block: HashedBlock,
        origin: BlockOrigin,
    ) -> Result<BlockOutcome, BlockError> {
        let hash = block.hash();
        let now_ms = unix_now_ms();
        let outcome = self.chain.process_hashed_block(block, now_ms / 1000)?;
        if let (Some(depth), Some(change)) = (self.abort_in_reorg, &outcome.tip_changed) {
            if change.disconnected.len() >= depth {
                tracing::error!(
                    depth = change.disconnected.len(),
                    "failpoint abort-in-reorg: aborting before the reorg's blocks are stored"
                );
                std::process::abort();
            }
        }
        let accepted: Vec<_> = outcome
            .accepted
            .iter()
            .filter_map(|hash| self.chain.block(hash))
            .collect();
        let blocks = accepted.iter().map(|block| &**block);
        // A burst of blocks from peers shares one fsync (`sync_store`); a block this node made
        // is durable before it is handed to anyone.
        let stored = match origin {
            BlockOrigin::Peer => self.block_log.append_unsynced(blocks),
            BlockOrigin::Mined | BlockOrigin::Submitted => self.block_log.append_all(blocks),
        };
        if let Err(error) = stored {
            tracing::error!(%error, "cannot store accepted blocks");
            self.store_failure.get_or_insert(error);
        }
        for (invalid, error) in &outcome.invalid {
            tracing::warn!(block = %invalid, reason = error.code(), "block failed to connect");
        }
        for event in explain_invalid_blocks(&outcome.invalid) {
            self.events.push(now_ms, event);
        }
        if origin == BlockOrigin::Mined && outcome.accepted.contains(&hash) {
            if let Some(entry) = self.chain.entry(&hash) {
                tracing::info!(block = %hash, height = entry.height, "mined a block");
                let height = entry.height;
                self.events
                    .push(now_ms, EventKind::BlockMined { hash, height });
            }
        }
        if let Some(change) = &outcome.tip_changed {
            self.follow_tip(change, now_ms);
        }
        Ok(outcome)
    }

    /// Admits a transaction from this node's own RPC to the mempool, to be announced to peers.
    pub(crate) fn accept_transaction(&mut self, tx: Transaction) -> Result<Txid, MempoolError> {
        let txid = self.admit(tx)?;
        self.txs_to_announce.push(txid);
        Ok(txid)
    }

    fn admit(&mut self, tx: Transaction) -> Result<Txid, MempoolError> {
        Ok(self.mempool.accept_on_tip(tx, &self.chain)?.txid)
    }

    /// Fsyncs blocks from peers appended since the last fsync. Returns false if that failed (the
    /// failure is kept for `take_store_failure`).
    pub(crate) fn sync_store(&mut self) -> bool {
        let synced = self.block_log.sync();
        self.keep_store_failure(synced, "cannot fsync accepted blocks")
    }

    /// Hands blocks from peers still buffered to the OS, without an fsync: they survive the
    /// node being killed from then on. Returns false if the write failed (the failure is kept
    /// for `take_store_failure`).
    pub(crate) fn flush_store(&mut self) -> bool {
        let written = self.block_log.flush();
        self.keep_store_failure(written, "cannot write accepted blocks")
    }

    /// Whether a store write went through; a failure is logged and kept (the first one) for
    /// `take_store_failure`.
    fn keep_store_failure(&mut self, result: Result<(), StoreError>, what_failed: &str) -> bool {
        let Err(error) = result else {
            return true;
        };
        tracing::error!(%error, "{what_failed}");
        self.store_failure.get_or_insert(error);
        false
    }

    /// The failed block-log write, if one happened since the last call.
    pub(crate) fn take_store_failure(&mut self) -> Option<StoreError> {
        self.store_failure.take()
    }

    /// Lets the mempool and the event log follow a move of the active chain; events are stamped
    /// `now_ms` (Unix milliseconds).
    fn follow_tip(&mut self, change: &TipChanged, now_ms: u64) {
        let update = self.mempool.follow_chain(change, &self.chain);
        self.txs_to_announce.extend(update.returned.iter().copied());
        if change.is_reorg() {
            tracing::warn!(
                depth = change.disconnected.len(),
                fork_point = %change.fork_point,
                old_tip = %change.old_tip,
                new_tip = %change.new_tip,
                returned = update.returned.len(),
                dropped = update.dropped.len(),
                "reorg"
            );
        }
        for event in explain_tip_change(&self.chain, change, &update) {
            self.events.push(now_ms, event);
        }
    }

    /// A block template on the current tip paying subsidy plus fees to `payout`.
    pub(crate) fn block_template(&self, payout: Address, extra_nonce: u64) -> Block {
        let next = self.chain.next_block();
        let selected = self
            .mempool
            .select_for_block(MAX_BLOCK_BYTES - COINBASE_RESERVE_BYTES);
        let fees = selected.iter().fold(Amount::ZERO, |sum, (_, fee)| {
            sum.checked_add(*fee).unwrap_or(sum)
        });
        let subsidy = self.chain.params().subsidy(next.height);
        let spec = BlockSpec {
            prev_hash: next.prev_hash,
            height: next.height,
            bits: next.bits,
            time: next
                .min_time
                .max(u32::try_from(unix_now_secs()).unwrap_or(u32::MAX)),
            payout,
            coinbase_value: subsidy.checked_add(fees).unwrap_or(subsidy),
            extra_nonce,
        };
        assemble_block(&spec, selected.into_iter().map(|(tx, _)| tx).collect())
    }

    /// The address mined coins go to: the wallet's first address.
    pub(crate) fn mining_address(&mut self) -> Result<Address, NodeError> {
        if let Some(address) = self.wallet.addresses().next() {
            return Ok(address);
        }
        self.new_address()
    }

    /// Derives a new wallet address and saves the wallet before handing it out.
    pub fn new_address(&mut self) -> Result<Address, NodeError> {
        let address = self.wallet.new_address();
        self.datadir.save_wallet(&self.wallet.encode())?;
        Ok(address)
    }

    /// Saves the wallet (after a payment derived a change address).
    pub fn save_wallet(&self) -> Result<(), NodeError> {
        self.datadir.save_wallet(&self.wallet.encode())?;
        Ok(())
    }

    /// Marks a block invalid by hand, remembers that across restarts, and follows the move.
    pub fn invalidate(&mut self, hash: &Hash256) -> Result<(), ManualError> {
        let change = self.chain.invalidate_block(hash)?;
        if !self.invalidated.contains(hash) {
            self.invalidated.push(*hash);
        }
        self.datadir.save_invalidated(&self.invalidated)?;
        if let Some(change) = change {
            self.follow_tip(&change, unix_now_ms());
        }
        Ok(())
    }

    /// Clears invalid marks on a block, its ancestors and descendants, forgets the hand-made
    /// marks that cleared, and follows the move.
    pub fn reconsider(&mut self, hash: &Hash256) -> Result<(), ManualError> {
        let change = self.chain.reconsider_block(hash)?;
        let chain = &self.chain;
        self.invalidated.retain(|marked| {
            chain
                .entry(marked)
                .is_some_and(|entry| entry.status == BlockStatus::Invalidated)
        });
        self.datadir.save_invalidated(&self.invalidated)?;
        if let Some(change) = change {
            self.follow_tip(&change, unix_now_ms());
        }
        Ok(())
    }
}

/// Why `invalidateblock` or `reconsiderblock` failed.
#[derive(Debug, thiserror::Error)]
pub enum ManualError {
    #[error(transparent)]
    /// The chain refused it.
    Chain(#[from] crate::chain::ChainError),
    #[error("cannot save the list of invalidated blocks: {0}")]
    /// The list could not be saved.
    Store(#[from] StoreError),
}

impl Host for Node {
    fn chain(&self) -> &Chain {
        &self.chain
    }

    fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    fn submit_block(&mut self, block: HashedBlock) -> Result<BlockOutcome, BlockError> {
        self.submit_hashed_block(block, BlockOrigin::Peer)
    }

    fn submit_transaction(&mut self, tx: Transaction) -> Result<Txid, MempoolError> {
        self.admit(tx)
    }

    fn record(&mut self, event: EventKind) {
        self.events.push(unix_now_ms(), event);
    }

    fn take_txs_to_announce(&mut self) -> Vec<Txid> {
        std::mem::take(&mut self.txs_to_announce)
    }

    /// Blocks from peers are fsynced when the node tells a peer of them, and at least once a
    /// second (the runtime's tick): one fsync per block would cap a sync at the disk's rate.
    fn make_durable(&mut self) -> bool {
        self.sync_store()
    }
}

/// Re-validates every stored block in log order, with a progress bar when there are many.
fn replay_blocks(chain: &mut Chain, blocks: Vec<Block>) {
    // Blocks in the log passed the future-time rule when they arrived; a clock that has since
    // gone backwards must not drop them, so replay judges time against the latest possible
    // header time.
    let replay_now = u64::from(u32::MAX);
    let progress = if blocks.len() >= 10_000 {
        ProgressBar::new(blocks.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(
        ProgressStyle::with_template(
            "replaying blocks.log {bar:40} {pos}/{len} blocks ({per_sec})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    for block in blocks {
        let hash = block.hash();
        if let Err(error) = chain.process_block(block, replay_now) {
            tracing::warn!(block = %hash, reason = error.code(), "stored block refused on replay");
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
}

fn load_or_create_wallet(datadir: &DataDir) -> Result<Wallet, NodeError> {
    if let Some(bytes) = datadir.load_wallet()? {
        return Ok(Wallet::decode(&bytes)?);
    }
    let mut wallet = Wallet::from_seed(os_random_bytes()?);
    wallet.new_address();
    datadir.save_wallet(&wallet.encode())?;
    tracing::info!(path = %datadir.root().display(), "created a new wallet");
    Ok(wallet)
}
