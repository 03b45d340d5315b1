//! Headers-first sync: checking the headers a peer sends, and answering `getheaders` from the
//! active chain. Which blocks are then fetched from whom is `download`'s.

use super::download::BlockDownload;
use crate::chain::Chain;
use crate::consensus::rules::check_header_hashed;
use crate::consensus::RuleError;
use crate::types::{BlockHeader, Hash256, HashedHeaders};
use crate::wire::MAX_HEADERS;

/// Headers the active chain has after the locator's fork point, up to `stop` or the limit.
pub(super) fn headers_after(
    chain: &Chain,
    locator: &[Hash256],
    stop: &Hash256,
) -> Vec<BlockHeader> {
    let fork = chain.locator_fork_height(locator);
    let mut headers = Vec::new();
    let mut height = fork + 1;
    while headers.len() < MAX_HEADERS {
        let Some(entry) = chain.active_entry_at(height) else {
            break;
        };
        headers.push(entry.header);
        if entry.hash == *stop {
            break;
        }
        height += 1;
    }
    headers
}

/// Why a `headers` message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HeadersProblem {
    /// The first header's parent is unknown to us.
    DoNotConnect,
    /// The headers are not a chain, each on the one before.
    NotAChain,
    Invalid(RuleError),
}

/// Checks a `headers` message: a chain of headers with valid proof of work whose first parent we
/// know (a block, or a header already queued). Returns each header's hash (in order), and
/// whether we have no block for it.
pub(super) fn check_headers(
    chain: &Chain,
    headers: &HashedHeaders,
    download: &BlockDownload,
) -> Result<Vec<(Hash256, bool)>, HeadersProblem> {
    let Some(first) = headers.headers().first() else {
        return Ok(Vec::new());
    };
    let parent = first.prev_hash;
    // Every block in the tree has its parent there: below the first header we have no block
    // for, we have none for any, and the rest need no lookup.
    let mut in_tree = chain.contains(&parent);
    if !in_tree && !download.is_requested(&parent) {
        return Err(HeadersProblem::DoNotConnect);
    }
    let mut expected_parent = parent;
    let mut checked = Vec::with_capacity(headers.headers().len());
    for (header, hash) in headers.iter() {
        if header.prev_hash != expected_parent {
            return Err(HeadersProblem::NotAChain);
        }
        check_header_hashed(header, &hash, chain.params()).map_err(HeadersProblem::Invalid)?;
        in_tree = in_tree && chain.contains(&hash);
        checked.push((hash, !in_tree));
        expected_parent = hash;
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::next_test_block;
    use crate::params::Params;
    use crate::types::Block;

    const NOW: u64 = u32::MAX as u64;

    /// `count` blocks extending `chain`'s tip, each one second after the previous one.
    fn blocks_on(chain: &Chain, count: u32) -> Vec<Block> {
        let mut scratch = chain.clone();
        (0..count)
            .map(|_| {
                let block = next_test_block(&scratch);
                scratch
                    .process_block(block.clone(), NOW)
                    .expect("a valid block");
                block
            })
            .collect()
    }

    #[test]
    fn headers_are_new_from_the_first_one_the_tree_lacks() {
        let mut chain = Chain::new(Params::regtest());
        let blocks = blocks_on(&chain, 5);
        for block in &blocks[..3] {
            chain
                .process_block(block.clone(), NOW)
                .expect("a valid block");
        }
        let headers = HashedHeaders::new(blocks.iter().map(|block| block.header).collect());
        let checked =
            check_headers(&chain, &headers, &BlockDownload::default()).expect("a chain of headers");
        let expected: Vec<(Hash256, bool)> = blocks
            .iter()
            .enumerate()
            .map(|(height, block)| (block.hash(), height >= 3))
            .collect();
        assert_eq!(checked, expected);

        let detached = HashedHeaders::new(vec![blocks[4].header]);
        let empty = Chain::new(Params::regtest());
        assert!(matches!(
            check_headers(&empty, &detached, &BlockDownload::default()),
            Err(HeadersProblem::DoNotConnect)
        ));
    }
}
