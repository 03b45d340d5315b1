//! Reopening a node whose chain-data holds a 100,000-block regtest chain: read the block log,
//! re-validate every block, rebuild the tree and UTXO set, load the wallet. Target: ≤ 2 s.
//!
//! Run with `cargo bench --bench reopen`; divan reports the time and blocks/s, beside the time
//! to read and decode the same log without validating it.

#[path = "support/allocator.rs"]
mod allocator;

#[path = "support/chain.rs"]
mod chain_support;

use chain_support::regtest_chain;
use divan::counter::ItemsCount;
use divan::Bencher;
use nakachain::node::Node;
use nakachain::params::Params;
use nakachain::store::BlockLog;
use std::path::Path;
use std::sync::OnceLock;
use tempfile::TempDir;

const CHAIN_BLOCKS: u32 = 100_000;

fn main() {
    divan::main();
}

/// A data directory holding the chain, written once per bench run.
fn chain_data() -> &'static Path {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = TempDir::new().expect("temp dir");
        let params = Params::regtest();
        let (mut log, _) =
            BlockLog::open(&dir.path().join("blocks.log"), params.magic).expect("open log");
        log.append_all(&regtest_chain(&params, CHAIN_BLOCKS, 0))
            .expect("write log");
        dir
    })
    .path()
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn reopen_100k_block_chain(bencher: Bencher) {
    let root = chain_data();
    bencher.counter(ItemsCount::new(CHAIN_BLOCKS)).bench(|| {
        let node = Node::open(Params::regtest(), root).expect("node opens");
        assert_eq!(node.chain.height(), CHAIN_BLOCKS);
        node
    });
}

/// Baseline in the same run: only reading and decoding the log, no validation.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn read_log_alone(bencher: Bencher) {
    let path = chain_data().join("blocks.log");
    bencher.counter(ItemsCount::new(CHAIN_BLOCKS)).bench(|| {
        let (_, replay) = BlockLog::open(&path, Params::regtest().magic).expect("log opens");
        assert_eq!(replay.blocks.len(), CHAIN_BLOCKS as usize);
        replay
    });
}
