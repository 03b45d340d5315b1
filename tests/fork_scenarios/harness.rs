//! The scenario harness: named blocks built with the miner on named parents, steps with
//! builder-style expectations, and the runner that checks each step against the chain.

use ed25519_dalek::{Signer, SigningKey};
use nakachain::chain::{BlockOutcome, Chain, TipChanged};
use nakachain::mempool::Mempool;
use nakachain::miner::{assemble_block, solve_block, BlockSpec};
use nakachain::params::Params;
use nakachain::types::{
    Address, Amount, Block, Hash256, OutPoint, SignatureBytes, Transaction, TxIn, TxOut, Txid,
};
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

/// Spacing between a block and its parent unless a step says otherwise.
const BLOCK_SPACING_SECS: u32 = 60;
/// The clock every step uses unless it says otherwise: well after every block built here.
pub fn default_now() -> u64 {
    u64::from(params().genesis.header.time) + 100_000
}

fn params() -> Params {
    Params {
        coinbase_maturity: 1,
        ..Params::regtest()
    }
}

/// How a step builds its block's time.
#[derive(Clone, Copy, Debug)]
pub enum BlockTime {
    AfterParent,
    SameAs(&'static str),
    /// One second past what the default clock allows.
    TooNew,
}

#[derive(Clone, Debug)]
enum Action {
    /// Build `name` on `parent`; submit it unless `hold`.
    Mine {
        name: &'static str,
        parent: &'static str,
        hold: bool,
    },
    Submit(&'static str),
    /// Submit `name` with a different body under the same header.
    SubmitMutatedBody(&'static str),
    Invalidate(&'static str),
    Reconsider(&'static str),
}

#[derive(Clone, Debug)]
enum Outcome {
    Accepted,
    Orphaned,
    Error(&'static str),
}

#[derive(Clone, Debug)]
enum TipMove {
    Unchecked,
    Unchanged,
    Moved {
        disconnected: Vec<&'static str>,
        connected: Vec<&'static str>,
    },
}

/// One step and what must hold after it.
#[derive(Clone, Debug)]
pub struct Step {
    action: Action,
    // How to build a mined block.
    spends: Vec<(&'static str, &'static str, u64)>,
    overpay: bool,
    time: BlockTime,
    bits: Option<u32>,
    now: u64,
    // What to expect.
    outcome: Outcome,
    tip: Option<&'static str>,
    accepted: Option<Vec<&'static str>>,
    invalid: Vec<&'static str>,
    refused: Vec<&'static str>,
    tip_move: TipMove,
    statuses: Vec<(&'static str, &'static str)>,
    tips: Option<Vec<(&'static str, u32, &'static str)>>,
    disconnected_txs: Vec<&'static str>,
    orphans: Option<usize>,
    mempool: Option<Vec<&'static str>>,
    dropped: Option<Vec<(&'static str, &'static str)>>,
}

impl Step {
    fn new(action: Action) -> Step {
        Step {
            action,
            spends: Vec::new(),
            overpay: false,
            time: BlockTime::AfterParent,
            bits: None,
            now: default_now(),
            outcome: Outcome::Accepted,
            tip: None,
            accepted: None,
            invalid: Vec::new(),
            refused: Vec::new(),
            tip_move: TipMove::Unchecked,
            statuses: Vec::new(),
            tips: None,
            disconnected_txs: Vec::new(),
            orphans: None,
            mempool: None,
            dropped: None,
        }
    }

    pub fn mine(name: &'static str, parent: &'static str) -> Step {
        Step::new(Action::Mine {
            name,
            parent,
            hold: false,
        })
    }

    /// Build the block now, submit it in a later step.
    pub fn build(name: &'static str, parent: &'static str) -> Step {
        Step::new(Action::Mine {
            name,
            parent,
            hold: true,
        })
    }

    pub fn submit(name: &'static str) -> Step {
        Step::new(Action::Submit(name))
    }

    pub fn submit_mutated_body(name: &'static str) -> Step {
        Step::new(Action::SubmitMutatedBody(name))
    }

    pub fn invalidate(name: &'static str) -> Step {
        Step::new(Action::Invalidate(name))
    }

    pub fn reconsider(name: &'static str) -> Step {
        Step::new(Action::Reconsider(name))
    }

    /// Include transaction `tx` spending the coinbase of block `coin`, paying back `coins`.
    pub fn spend(mut self, tx: &'static str, coin: &'static str, coins: u64) -> Step {
        self.spends.push((tx, coin, coins));
        self
    }

    /// The coinbase claims one base unit more than the subsidy.
    pub fn overpay(mut self) -> Step {
        self.overpay = true;
        self
    }

    pub fn time(mut self, time: BlockTime) -> Step {
        self.time = time;
        self
    }

    pub fn bits(mut self, bits: u32) -> Step {
        self.bits = Some(bits);
        self
    }

    pub fn now(mut self, now: u64) -> Step {
        self.now = now;
        self
    }

    pub fn err(mut self, code: &'static str) -> Step {
        self.outcome = Outcome::Error(code);
        self
    }

    pub fn orphaned(mut self) -> Step {
        self.outcome = Outcome::Orphaned;
        self
    }

    pub fn tip(mut self, name: &'static str) -> Step {
        self.tip = Some(name);
        self
    }

    pub fn accepted(mut self, names: &[&'static str]) -> Step {
        self.accepted = Some(names.to_vec());
        self
    }

    pub fn invalid(mut self, names: &[&'static str]) -> Step {
        self.invalid = names.to_vec();
        self
    }

    /// Released orphans that were refused.
    pub fn refused(mut self, names: &[&'static str]) -> Step {
        self.refused = names.to_vec();
        self
    }

    pub fn unchanged(mut self) -> Step {
        self.tip_move = TipMove::Unchanged;
        self
    }

    pub fn moved(mut self, disconnected: &[&'static str], connected: &[&'static str]) -> Step {
        self.tip_move = TipMove::Moved {
            disconnected: disconnected.to_vec(),
            connected: connected.to_vec(),
        };
        self
    }

    pub fn status(mut self, name: &'static str, status: &'static str) -> Step {
        self.statuses.push((name, status));
        self
    }

    pub fn tips(mut self, tips: &[(&'static str, u32, &'static str)]) -> Step {
        self.tips = Some(tips.to_vec());
        self
    }

    pub fn disconnected_txs(mut self, txs: &[&'static str]) -> Step {
        self.disconnected_txs = txs.to_vec();
        self
    }

    pub fn orphans(mut self, count: usize) -> Step {
        self.orphans = Some(count);
        self
    }

    /// The mempool (which follows every tip move) holds exactly these transactions.
    pub fn mempool(mut self, txs: &[&'static str]) -> Step {
        self.mempool = Some(txs.to_vec());
        self
    }

    /// This step's tip move dropped exactly these transactions, with these error codes.
    pub fn dropped(mut self, txs: &[(&'static str, &'static str)]) -> Step {
        self.dropped = Some(txs.to_vec());
        self
    }
}

/// What a step's action returned, in one shape for blocks and manual commands.
struct Observed {
    error: Option<String>,
    outcome: BlockOutcome,
}

pub struct Harness {
    pub chain: Chain,
    /// Follows every tip move, as the node's mempool does.
    mempool: Mempool,
    /// What the last tip move dropped from the mempool: txid and error code.
    last_dropped: Vec<(Txid, &'static str)>,
    key: SigningKey,
    blocks: HashMap<&'static str, Block>,
    heights: HashMap<&'static str, u32>,
    txs: HashMap<&'static str, Transaction>,
    next_extra_nonce: u64,
    diagram: &'static str,
}

impl Harness {
    fn new(diagram: &'static str) -> Harness {
        let params = params();
        let mut blocks = HashMap::new();
        blocks.insert("genesis", params.genesis.clone());
        Harness {
            chain: Chain::new(params),
            mempool: Mempool::new(1 << 20, 0),
            last_dropped: Vec::new(),
            key: SigningKey::from_bytes(&[1; 32]),
            blocks,
            heights: HashMap::from([("genesis", 0)]),
            txs: HashMap::new(),
            next_extra_nonce: 0,
            diagram,
        }
    }

    pub fn txid(&self, name: &str) -> Txid {
        self.txs
            .get(name)
            .unwrap_or_else(|| panic!("no transaction named {name}"))
            .txid()
    }

    fn hash(&self, name: &str) -> Hash256 {
        self.blocks
            .get(name)
            .unwrap_or_else(|| panic!("no block named {name}"))
            .hash()
    }

    fn name_of(&self, hash: &Hash256) -> String {
        self.blocks
            .iter()
            .find(|(_, block)| block.hash() == *hash)
            .map_or_else(|| hash.to_string(), |(name, _)| name.to_string())
    }

    fn names(&self, hashes: impl IntoIterator<Item = Hash256>) -> Vec<String> {
        hashes.into_iter().map(|hash| self.name_of(&hash)).collect()
    }

    fn address(&self) -> Address {
        Address::from_pubkey(&self.key.verifying_key().to_bytes())
    }

    fn spend_tx(&self, coin_block: &str, coins: u64) -> Transaction {
        let pubkey = self.key.verifying_key().to_bytes();
        let mut tx = Transaction {
            version: Transaction::VERSION,
            coinbase: None,
            inputs: vec![TxIn {
                prevout: OutPoint {
                    txid: self.blocks[coin_block].transactions[0].txid(),
                    vout: 0,
                },
                pubkey,
                signature: SignatureBytes([0; 64]),
            }],
            outputs: vec![TxOut {
                amount: Amount::from_coins(coins),
                address: self.address(),
            }],
        };
        tx.inputs[0].signature = SignatureBytes(self.key.sign(tx.sighash().as_bytes()).to_bytes());
        tx
    }

    fn build(&mut self, name: &'static str, parent: &'static str, step: &Step) -> Block {
        let params = self.chain.params().clone();
        let height = self.heights[parent] + 1;
        let parent_time = self.blocks[parent].header.time;
        let time = match step.time {
            BlockTime::AfterParent => parent_time + BLOCK_SPACING_SECS,
            BlockTime::SameAs(other) => self.blocks[other].header.time,
            BlockTime::TooNew => (default_now() + u64::from(params.max_future_block_secs) + 1)
                .try_into()
                .expect("test times fit in u32"),
        };
        let mut transactions = Vec::new();
        for (tx_name, coin_block, coins) in &step.spends {
            let tx = self.spend_tx(coin_block, *coins);
            self.txs.insert(tx_name, tx.clone());
            transactions.push(tx);
        }
        let subsidy = params.subsidy(height);
        let spec = BlockSpec {
            prev_hash: self.hash(parent),
            height,
            bits: step.bits.unwrap_or(params.pow_limit_bits),
            time,
            payout: self.address(),
            coinbase_value: Amount(subsidy.0 + u64::from(step.overpay)),
            extra_nonce: self.next_extra_nonce,
        };
        self.next_extra_nonce += 1;
        let mut block = assemble_block(&spec, transactions);
        assert!(solve_block(&mut block, &AtomicBool::new(false)));
        self.blocks.insert(name, block.clone());
        self.heights.insert(name, height);
        block
    }

    /// Lets the mempool follow a tip move and remembers what it dropped.
    fn follow(&mut self, change: Option<&TipChanged>) {
        self.last_dropped.clear();
        if let Some(change) = change {
            let update = self.mempool.follow_chain(change, &self.chain);
            self.last_dropped = update
                .dropped
                .iter()
                .map(|(txid, error)| (*txid, error.code()))
                .collect();
        }
    }

    fn tx_name(&self, txid: &Txid) -> String {
        self.txs
            .iter()
            .find(|(_, tx)| tx.txid() == *txid)
            .map_or_else(|| txid.to_string(), |(name, _)| name.to_string())
    }

    fn submit(&mut self, block: Block, now: u64) -> Observed {
        match self.chain.process_block(block, now) {
            Ok(outcome) => Observed {
                error: None,
                outcome,
            },
            Err(err) => Observed {
                error: Some(err.code().to_string()),
                outcome: BlockOutcome::default(),
            },
        }
    }

    fn manual(&self, result: Result<Option<TipChanged>, String>) -> Observed {
        match result {
            Ok(tip_changed) => Observed {
                error: None,
                outcome: BlockOutcome {
                    tip_changed,
                    ..BlockOutcome::default()
                },
            },
            Err(code) => Observed {
                error: Some(code),
                outcome: BlockOutcome::default(),
            },
        }
    }

    fn run(&mut self, step: &Step) -> Option<Observed> {
        let observed = self.act(step);
        let change = observed
            .as_ref()
            .and_then(|observed| observed.outcome.tip_changed.clone());
        self.follow(change.as_ref());
        observed
    }

    fn act(&mut self, step: &Step) -> Option<Observed> {
        match step.action {
            Action::Mine { name, parent, hold } => {
                let block = self.build(name, parent, step);
                (!hold).then(|| self.submit(block, step.now))
            }
            Action::Submit(name) => Some(self.submit(self.blocks[name].clone(), step.now)),
            Action::SubmitMutatedBody(name) => {
                let mut block = self.blocks[name].clone();
                let coinbase = &mut block.transactions[0];
                if let Some(data) = coinbase.coinbase.as_mut() {
                    data.extra_nonce ^= 1;
                }
                Some(self.submit(block, step.now))
            }
            Action::Invalidate(name) => {
                let hash = self.blocks.get(name).map_or(Hash256([9; 32]), Block::hash);
                let result = self.chain.invalidate_block(&hash);
                Some(self.manual(result.map_err(|err| err.code().to_string())))
            }
            Action::Reconsider(name) => {
                let hash = self.blocks.get(name).map_or(Hash256([9; 32]), Block::hash);
                let result = self.chain.reconsider_block(&hash);
                Some(self.manual(result.map_err(|err| err.code().to_string())))
            }
        }
    }

    fn check(&self, index: usize, step: &Step, observed: Option<Observed>) {
        let at = format!("step {index}: {:?}\n{}", step.action, self.diagram);
        if let Some(observed) = observed {
            self.check_observed(&at, step, &observed);
        }
        if let Some(tip) = step.tip {
            assert_eq!(self.name_of(&self.chain.tip().hash), tip, "tip after {at}");
        }
        for (name, status) in &step.statuses {
            let entry = self
                .chain
                .entry(&self.hash(name))
                .unwrap_or_else(|| panic!("{name} is not in the tree after {at}"));
            assert_eq!(
                entry.status.as_str(),
                *status,
                "status of {name} after {at}"
            );
        }
        if let Some(expected) = &step.tips {
            let tips: Vec<(String, u32, &str)> = self
                .chain
                .tips()
                .iter()
                .map(|tip| (self.name_of(&tip.hash), tip.branch_len, tip.status.as_str()))
                .collect();
            let expected: Vec<(String, u32, &str)> = expected
                .iter()
                .map(|(name, len, status)| (name.to_string(), *len, *status))
                .collect();
            assert_eq!(tips, expected, "tips after {at}");
        }
        if let Some(count) = step.orphans {
            assert_eq!(self.chain.orphan_count(), count, "orphans after {at}");
        }
        if let Some(expected) = &step.mempool {
            let mut pool: Vec<String> = self
                .mempool
                .entries()
                .map(|entry| self.tx_name(&entry.txid))
                .collect();
            pool.sort();
            let mut expected: Vec<String> = expected.iter().map(|tx| tx.to_string()).collect();
            expected.sort();
            assert_eq!(pool, expected, "mempool after {at}");
        }
        if let Some(expected) = &step.dropped {
            let dropped: Vec<(String, &str)> = self
                .last_dropped
                .iter()
                .map(|(txid, code)| (self.tx_name(txid), *code))
                .collect();
            let expected: Vec<(String, &str)> = expected
                .iter()
                .map(|(tx, code)| (tx.to_string(), *code))
                .collect();
            assert_eq!(dropped, expected, "dropped from the mempool after {at}");
        }
    }

    fn check_observed(&self, at: &str, step: &Step, observed: &Observed) {
        let outcome = &observed.outcome;
        match (&step.outcome, &observed.error) {
            (Outcome::Error(code), error) => {
                assert_eq!(error.as_deref(), Some(*code), "result of {at}");
            }
            (_, Some(error)) => panic!("unexpected error {error} at {at}"),
            (Outcome::Orphaned, None) => {
                assert!(outcome.orphaned, "expected an orphan at {at}");
                assert!(outcome.accepted.is_empty(), "orphan accepted at {at}");
            }
            (Outcome::Accepted, None) => {
                assert!(!outcome.orphaned, "unexpected orphan at {at}");
            }
        }
        if let Some(accepted) = &step.accepted {
            assert_eq!(
                self.names(outcome.accepted.iter().copied()),
                *accepted,
                "accepted at {at}"
            );
        }
        assert_eq!(
            self.names(outcome.invalid.iter().map(|(hash, _)| *hash)),
            step.invalid,
            "invalid at {at}"
        );
        assert_eq!(
            self.names(outcome.refused_orphans.iter().map(|(hash, _)| *hash)),
            step.refused,
            "refused orphans at {at}"
        );
        match (&step.tip_move, &outcome.tip_changed) {
            (TipMove::Unchecked, _) => {}
            (TipMove::Unchanged, None) => {}
            (TipMove::Unchanged, Some(change)) => {
                panic!("tip moved to {} at {at}", self.name_of(&change.new_tip))
            }
            (TipMove::Moved { .. }, None) => panic!("tip did not move at {at}"),
            (
                TipMove::Moved {
                    disconnected,
                    connected,
                },
                Some(change),
            ) => {
                let hashes = |blocks: &[std::sync::Arc<Block>]| {
                    self.names(blocks.iter().map(|block| block.hash()))
                };
                assert_eq!(hashes(&change.disconnected), *disconnected, "out at {at}");
                assert_eq!(hashes(&change.connected), *connected, "in at {at}");
                assert_eq!(change.new_tip, self.chain.tip().hash, "new tip at {at}");
            }
        }
        for tx in &step.disconnected_txs {
            let txid = self.txs[tx].txid();
            let found = outcome.tip_changed.as_ref().is_some_and(|change| {
                change
                    .disconnected
                    .iter()
                    .any(|block| block.transactions.iter().any(|t| t.txid() == txid))
            });
            assert!(found, "{tx} not among disconnected transactions at {at}");
        }
    }
}

pub fn run(diagram: &'static str, steps: &[Step]) -> Harness {
    let mut harness = Harness::new(diagram);
    for (index, step) in steps.iter().enumerate() {
        let observed = harness.run(step);
        harness.check(index, step, observed);
    }
    harness
}
