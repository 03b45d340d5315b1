//! A selfish mining pool (Eyal and Sirer, "Majority is not Enough", 2014): it mines on a private
//! branch and publishes only to waste the honest miners' work. Its blocks are real blocks; it
//! publishes them through one ordinary node, its gateway, which relays them as any node would.
//!
//! The strategy (their Algorithm 1), with Δ the private branch's lead before the event:
//! - the pool finds a block: it extends the private branch; if a race was on (Δ = 0 after a
//!   tie), it publishes and wins it;
//! - the others find a block: Δ = 0, the pool adopts the public chain; Δ = 1, it publishes its
//!   block and races (γ is the share of honest miners that mine on the pool's block then);
//!   Δ = 2, it publishes everything and wins by one; Δ > 2, it publishes its first unpublished
//!   block.
//!
//! Owns the pool's private branch, its strategy and the race bookkeeping. Must not touch any
//! node: the gateway's shard (`Shard::publish`) submits and announces what the pool publishes,
//! as the network would have brought it.

use super::Sim;
use crate::chain::BlockEntry;
use crate::miner::{assemble_block, BlockSpec};
use crate::types::{Hash256, HashedBlock};
use rand::Rng;
use std::collections::VecDeque;

/// The block the pool mines on.
#[derive(Clone, Copy, Debug)]
struct PrivateTip {
    hash: Hash256,
    height: u32,
    time: u32,
}

/// A race the pool started by publishing a block at the height of an honest one.
#[derive(Clone, Copy, Debug)]
struct Race {
    pool_block: Hash256,
    height: u32,
}

/// How the races went, for γ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RaceCounts {
    /// Races the pool started.
    pub started: u32,
    /// Races whose next block an honest miner found on the pool's block.
    pub honest_on_pool: u32,
    /// Races whose next block an honest miner found on the honest block.
    pub honest_on_honest: u32,
    /// Races whose next block the pool found.
    pub pool_next: u32,
}

impl RaceCounts {
    /// γ measured: of the races an honest miner's block decided, the share decided on the
    /// pool's block; `None` before any.
    pub fn gamma(&self) -> Option<f64> {
        let decided = self.honest_on_pool + self.honest_on_honest;
        (decided > 0).then(|| f64::from(self.honest_on_pool) / f64::from(decided))
    }
}

/// The selfish pool's state.
pub(super) struct Pool {
    /// The node that publishes for the pool (it mines nothing of its own).
    pub(super) gateway: usize,
    tip: PrivateTip,
    unpublished: VecDeque<HashedBlock>,
    /// The gateway's chain height when the pool last looked.
    public_height: u32,
    race: Option<Race>,
    /// A race whose next block has not been found yet.
    open_race: Option<Race>,
    pub(super) races: RaceCounts,
    /// Set when the gateway took an input: the pool looks at its chain after that input.
    pub(super) dirty: bool,
}

impl Pool {
    pub(super) fn new(gateway: usize, genesis: Hash256, genesis_time: u32) -> Pool {
        Pool {
            gateway,
            tip: PrivateTip {
                hash: genesis,
                height: 0,
                time: genesis_time,
            },
            unpublished: VecDeque::new(),
            public_height: 0,
            race: None,
            open_race: None,
            races: RaceCounts::default(),
            dirty: false,
        }
    }

    /// The gateway's chain now ends at `public`: the strategy's answer, as the number of
    /// unpublished blocks to publish, if any.
    pub(super) fn react(&mut self, public: &BlockEntry) -> Option<usize> {
        if public.height <= self.public_height {
            return None;
        }
        let lead = i64::from(self.tip.height) - i64::from(self.public_height);
        self.public_height = public.height;
        match lead {
            ..=0 => {
                self.tip = PrivateTip {
                    hash: public.hash,
                    height: public.height,
                    time: public.header.time,
                };
                self.unpublished.clear();
                self.race = None;
                None
            }
            1 => {
                let race = self.unpublished.back().map(|block| Race {
                    pool_block: block.hash(),
                    height: self.tip.height,
                });
                self.race = race;
                self.open_race = race;
                self.races.started += u32::from(race.is_some());
                Some(usize::MAX)
            }
            2 => Some(usize::MAX),
            _ => Some(1),
        }
    }

    /// The first `count` unpublished blocks, taken for publishing.
    pub(super) fn take_unpublished(&mut self, count: usize) -> Vec<HashedBlock> {
        let take = count.min(self.unpublished.len());
        self.unpublished.drain(..take).collect()
    }

    /// The gateway published and its chain now ends at `public_height`.
    pub(super) fn published(&mut self, public_height: u32) {
        self.public_height = public_height;
        self.dirty = false;
    }

    /// A block was mined at `height` on `parent`, by the pool or not: settles an open race.
    pub(super) fn block_mined(&mut self, by_pool: bool, parent: Hash256, height: u32) {
        let Some(race) = self.open_race else {
            return;
        };
        if height != race.height + 1 {
            return;
        }
        match (by_pool, parent == race.pool_block) {
            (true, _) => self.races.pool_next += 1,
            (false, true) => self.races.honest_on_pool += 1,
            (false, false) => self.races.honest_on_honest += 1,
        }
        self.open_race = None;
    }
}

impl Sim {
    /// The selfish pool, if there is one.
    pub(super) fn pool_mut(&mut self) -> Option<&mut Pool> {
        self.shards.iter_mut().find_map(|shard| shard.pool.as_mut())
    }

    fn pool(&self) -> Option<&Pool> {
        self.shards.iter().find_map(|shard| shard.pool.as_ref())
    }

    /// The pool finds a block on its private branch.
    pub fn pool_mine(&mut self) -> Option<Hash256> {
        let pool = self.pool()?;
        let gateway = pool.gateway;
        let parent = pool.tip;
        let node = self.node(gateway);
        let height = parent.height + 1;
        let subsidy = self.params.subsidy(height);
        let spec = BlockSpec {
            prev_hash: parent.hash,
            height,
            bits: node.host.chain.next_bits(),
            time: (parent.time + 1).max(self.clock_secs()),
            payout: node.payout,
            coinbase_value: subsidy,
            extra_nonce: self.rng.random(),
        };
        let hashed = self.seal(assemble_block(&spec, Vec::new()), gateway);
        let hash = hashed.hash();
        let pool = self.pool_mut()?;
        pool.block_mined(true, parent.hash, height);
        pool.tip = PrivateTip {
            hash,
            height,
            time: spec.time,
        };
        pool.unpublished.push_back(hashed);
        if pool.race.take().is_some() {
            // The race was on (Δ = 0 with the pool's block out): this block wins it.
            self.in_shard(gateway, |shard, shared| shard.publish(shared, usize::MAX));
        }
        Some(hash)
    }

    /// How the pool's races went, if there is a pool.
    pub fn races(&self) -> Option<RaceCounts> {
        self.pool().map(|pool| pool.races)
    }

    /// The node that publishes for the selfish pool, if there is one.
    pub fn pool_gateway(&self) -> Option<usize> {
        self.pool().map(|pool| pool.gateway)
    }
}

/// Eyal and Sirer's closed form for the selfish pool's share of the chain's blocks, with
/// hashrate share `alpha` and `gamma` the share of honest miners that mine on its block in a
/// race.
pub fn eyal_sirer_share(alpha: f64, gamma: f64) -> f64 {
    let a = alpha;
    let numerator = a * (1.0 - a).powi(2) * (4.0 * a + gamma * (1.0 - 2.0 * a)) - a.powi(3);
    let denominator = 1.0 - a * (1.0 + (2.0 - a) * a);
    numerator / denominator
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closed_form_matches_the_papers_figures() {
        // With γ = 0 the pool gains from a third of the hashrate; with γ = 1 from any share.
        assert!((eyal_sirer_share(1.0 / 3.0, 0.0) - 1.0 / 3.0).abs() < 1e-9);
        assert!(eyal_sirer_share(0.25, 0.0) < 0.25);
        assert!(eyal_sirer_share(0.1, 1.0) > 0.1);
        // γ = 1/2: the threshold is a quarter.
        assert!((eyal_sirer_share(0.25, 0.5) - 0.25).abs() < 1e-9);
    }

    #[test]
    fn gamma_counts_only_races_an_honest_block_decided() {
        let mut pool = Pool::new(0, Hash256::ZERO, 0);
        assert_eq!(pool.races.gamma(), None);
        let race = Race {
            pool_block: Hash256([1; 32]),
            height: 5,
        };
        for (by_pool, parent) in [
            (false, race.pool_block),
            (false, Hash256([2; 32])),
            (true, race.pool_block),
        ] {
            pool.open_race = Some(race);
            pool.block_mined(false, Hash256([9; 32]), 9);
            assert!(
                pool.open_race.is_some(),
                "another height leaves the race open"
            );
            pool.block_mined(by_pool, parent, 6);
            assert!(pool.open_race.is_none());
        }
        assert_eq!(pool.races.gamma(), Some(0.5));
        assert_eq!(pool.races.pool_next, 1);
    }
}
