//! Chain data on disk: the append-only block log, the wallet file, the RPC cookie and the lock
//! that keeps two nodes out of one data directory.
//!
//! Owns every `std::fs` call for chain data and the on-disk formats (see `chain-data/README.md`).
//! Must not use tokio (the node task calls it directly, and decides when blocks are fsynced)
//! and must not validate consensus: it stores block bytes, and the chain re-validates every
//! block on replay.

mod block_log;
mod datadir;
mod record;

pub use block_log::{BlockLog, Replay, TornTail};
pub use datadir::{DataDir, DEFAULT_NODE_NAME, MAX_WALLET_BYTES};
pub use record::RECORD_HEADER_BYTES;

use crate::types::Hash256;
use std::path::PathBuf;

/// Why chain data could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: corrupt record at byte {offset}: {reason}", path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error(
        "data directory {} is in use by another node (its .lock file is held); stop that node \
         or choose another data directory",
        path.display()
    )]
    Locked { path: PathBuf },
    #[error("no RPC cookie at {}: is the node running?", path.display())]
    MissingCookie { path: PathBuf },
    #[error("{}: {len} bytes is over the limit of {max}", path.display())]
    TooLarge { path: PathBuf, len: u64, max: u64 },
    #[error(
        "{}: an earlier append failed and could not be undone; restart the node to recover the log",
        path.display()
    )]
    LogUnwritable { path: PathBuf },
    #[error(
        "data directory {} holds the chain of another network (id {found}), not this node's \
         (id {expected}); a devnet with another --block-time is another network, so give it \
         its own data directory",
        path.display()
    )]
    OtherNetwork {
        path: PathBuf,
        found: String,
        expected: Hash256,
    },
}

impl StoreError {
    /// A stable code for logs and RPC replies.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Io { .. } => "io",
            StoreError::Corrupt { .. } => "corrupt",
            StoreError::Locked { .. } => "locked",
            StoreError::MissingCookie { .. } => "missing-cookie",
            StoreError::TooLarge { .. } => "too-large",
            StoreError::LogUnwritable { .. } => "log-unwritable",
            StoreError::OtherNetwork { .. } => "other-network",
        }
    }

    fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }
}
