//! Hand-made block trees for the tree drawing tests: hashes named by a small number, blocks and
//! straight runs of blocks. Shared through `#[path]`.
#![allow(dead_code)] // each test file uses a different part of it

use nakachain::observe::tree::TreeBlock;
use nakachain::types::Hash256;
use primitive_types::U256;

/// A hash whose short form ends in the hex digits of `id` (`0000…000000id`).
pub fn h(id: u16) -> Hash256 {
    let mut bytes = [0; 32];
    bytes[..2].copy_from_slice(&id.to_le_bytes());
    Hash256(bytes)
}

pub fn block(id: u16, parent: u16, height: u32, work: u64) -> TreeBlock {
    TreeBlock {
        hash: h(id),
        prev: h(parent),
        height,
        chainwork: U256::from(work),
        invalid: false,
        reorged: false,
    }
}

/// Blocks `first..=last` in a line on block `parent`; a block's id is its height and its
/// chainwork twice that.
pub fn line(first: u16, last: u16, parent: u16) -> Vec<TreeBlock> {
    (first..=last)
        .map(|id| {
            let prev = if id == first { parent } else { id - 1 };
            block(id, prev, u32::from(id), 2 * u64::from(id))
        })
        .collect()
}
