//! Chain data on disk: the append-only block log, the wallet file, the RPC cookie and the lock
//! that keeps two nodes out of one data directory.
//!
//! Owns every `std::fs` call for chain data and the on-disk formats (see `chain-data/README.md`).
//! Must not use tokio (the node task calls it directly, and decides when blocks are fsynced)
//! and must not validate consensus: it stores block bytes, and the chain re-validates every
//! block on replay.

mod block_log;
mod datadir;
pub(crate) mod record;

pub use block_log::{BlockLog, Replay, TornTail};
pub use datadir::{DataDir, DEFAULT_NODE_NAME, MAX_WALLET_BYTES};
pub use record::RECORD_HEADER_BYTES;

use crate::types::Hash256;
use std::path::PathBuf;

/// Why chain data could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    /// A file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    #[error("{}: corrupt record at byte {offset}: {reason}", path.display())]
    /// A record in the middle of the block log is corrupt.
    Corrupt {
        /// The log.
        path: PathBuf,
        /// Where the record starts.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    #[error(
        "data directory {} is in use by another node (its .lock file is held); stop that node \
         or choose another data directory",
        path.display()
    )]
    /// Another node holds the data directory.
    Locked {
        /// The directory.
        path: PathBuf,
    },
    #[error("no RPC cookie at {}: is the node running?", path.display())]
    /// No cookie file: the node is not running.
    MissingCookie {
        /// Where it should be.
        path: PathBuf,
    },
    #[error("{}: {len} bytes is over the limit of {max}", path.display())]
    /// A file is larger than it may be.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        len: u64,
        /// The limit.
        max: u64,
    },
    #[error(
        "{}: an earlier append failed and could not be undone; restart the node to recover the log",
        path.display()
    )]
    /// An append failed and could not be undone.
    LogUnwritable {
        /// The log.
        path: PathBuf,
    },
    #[error(
        "data directory {} holds the chain of another network (id {found}), not this node's \
         (id {expected}); a devnet with another --block-time is another network, so give it \
         its own data directory",
        path.display()
    )]
    /// The data directory belongs to another network.
    OtherNetwork {
        /// The directory.
        path: PathBuf,
        /// The network id it holds.
        found: String,
        /// This node's network id.
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
