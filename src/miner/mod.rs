//! Miner: block templates and the nonce-search kernel.
//!
//! Owns assembling a block and searching nonces over one header. No threads here (the shell
//! runs workers), no clock (callers pass the time), and no validity decisions (consensus checks
//! every found block like any other).

pub mod kernel;
pub mod template;

pub use kernel::{HeaderMidstate, Kernel, SearchOutcome, SearchReport};
pub use template::{
    assemble_block, coinbase_transaction, pad_block, set_extra_nonce, solve_block, BlockSpec,
    CoinbaseBranch,
};

/// Hashes per second in human units (`8.12 MH/s`), for the live line and the devnet's views.
pub fn format_hashrate(hashes_per_sec: f64) -> String {
    const UNITS: [&str; 5] = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s"];
    let mut value = hashes_per_sec;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashrates_read_in_human_units() {
        assert_eq!(format_hashrate(950.0), "950.00 H/s");
        assert_eq!(format_hashrate(8_123_000.0), "8.12 MH/s");
    }
}
