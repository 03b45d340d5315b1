//! The transaction generator behind `devnet up --tx-rate R`: a detached process that R times a
//! second has a node with mature coins pay a small random amount to a fresh address of another
//! node, so blocks carry payments. Its output is `chain-data/<network>/txgen.log`.
//!
//! Owns choosing payer, payee and amount. Seeded from the clock, and the seed is logged, so a run
//! can be replayed. Must not start or stop nodes; it exits by itself once the state file is gone.

use super::state::{self, DevnetState};
use super::DevnetError;
use crate::types::Amount;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A payer needs at least this many confirmed coins (in base units): payments plus fees.
const MIN_PAYER_BALANCE_UNITS: u64 = 10_000_000;
/// Payments are 0.00001 to 0.01 coins.
const PAYMENT_UNITS: std::ops::RangeInclusive<u64> = 1_000..=1_000_000;
/// The fastest the generator goes, whatever rate it is given.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Runs until the devnet's state file disappears.
pub fn run(state_file: &Path, rate: f64) -> Result<(), DevnetError> {
    if !(rate.is_finite() && rate > 0.0) {
        return Err(DevnetError::TxRate(rate));
    }
    let root = state_file.parent().unwrap_or(Path::new("."));
    let state = state::load(root)?;
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64);
    println!(
        "txgen: seed {seed}, {rate} payments a second over {} nodes",
        state.nodes.len()
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let interval = Duration::from_secs_f64(1.0 / rate).max(MIN_INTERVAL);
    let mut next = Instant::now();
    let mut last_problem = String::new();
    while state_file.exists() {
        match pay_once(&state, &mut rng) {
            Ok(Some(line)) => {
                println!("txgen: {line}");
                last_problem.clear();
            }
            Ok(None) => {}
            // The same failure every tick (a node restarting) is logged once.
            Err(error) => {
                let problem = error.to_string();
                if problem != last_problem {
                    println!("txgen: {problem}");
                    last_problem = problem;
                }
            }
        }
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
    println!("txgen: the devnet is down; exiting");
    Ok(())
}

/// One payment from a random node that can pay; `None` while nobody has mature coins.
fn pay_once(state: &DevnetState, rng: &mut StdRng) -> Result<Option<String>, DevnetError> {
    let mut payers: Vec<usize> = (0..state.nodes.len()).collect();
    payers.shuffle(rng);
    for payer in payers {
        let balances = state.nodes[payer].ask("getbalances", vec![])?;
        if confirmed_units(&balances) < MIN_PAYER_BALANCE_UNITS {
            continue;
        }
        let payee = pick_payee(payer, state.nodes.len(), rng);
        let address = state.nodes[payee].ask("getnewaddress", vec![])?;
        let amount = Amount(rng.random_range(PAYMENT_UNITS));
        let txid =
            state.nodes[payer].ask("sendtoaddress", vec![address, json!(amount.to_string())])?;
        return Ok(Some(format!(
            "{} paid {amount} to {}: {}",
            state.nodes[payer].name,
            state.nodes[payee].name,
            txid.as_str().unwrap_or("?")
        )));
    }
    Ok(None)
}

fn confirmed_units(balances: &Value) -> u64 {
    balances["mine"]["trusted"]
        .as_f64()
        .map_or(0, |coins| (coins * 1e8) as u64)
}

/// Any node but the payer; the payer itself on a one-node devnet.
fn pick_payee(payer: usize, nodes: usize, rng: &mut StdRng) -> usize {
    if nodes < 2 {
        return payer;
    }
    let other = rng.random_range(0..nodes - 1);
    if other >= payer {
        other + 1
    } else {
        other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payee_is_never_the_payer() {
        let mut rng = StdRng::seed_from_u64(7);
        for payer in 0..4 {
            for _ in 0..50 {
                let payee = pick_payee(payer, 4, &mut rng);
                assert!(payee < 4 && payee != payer);
            }
        }
        assert_eq!(pick_payee(0, 1, &mut rng), 0);
    }

    #[test]
    fn confirmed_balance_reads_base_units() {
        assert_eq!(
            confirmed_units(&json!({"mine": {"trusted": 0.5}})),
            50_000_000
        );
        assert_eq!(confirmed_units(&json!({})), 0);
    }
}
