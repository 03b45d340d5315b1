//! Miner: block templates and the nonce-search kernel.
//!
//! Owns assembling a block and searching nonces over one header. No threads here (the shell
//! runs workers), no clock (callers pass the time), and no validity decisions (consensus checks
//! every found block like any other).

pub mod kernel;
pub mod template;

pub use kernel::{HeaderMidstate, Kernel, SearchOutcome, SearchReport};
pub use template::{
    assemble_block, coinbase_transaction, set_extra_nonce, solve_block, BlockSpec, CoinbaseBranch,
};
