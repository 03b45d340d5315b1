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
    if chain.entry(&parent).is_none() && !download.is_requested(&parent) {
        return Err(HeadersProblem::DoNotConnect);
    }
    let mut expected_parent = parent;
    let mut checked = Vec::with_capacity(headers.headers().len());
    for (header, hash) in headers.iter() {
        if header.prev_hash != expected_parent {
            return Err(HeadersProblem::NotAChain);
        }
        check_header_hashed(header, &hash, chain.params()).map_err(HeadersProblem::Invalid)?;
        checked.push((hash, chain.entry(&hash).is_none()));
        expected_parent = hash;
    }
    Ok(checked)
}
