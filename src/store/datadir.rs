//! One node's data directory, `chain-data/<network>/<node>/` by default: its lock, the paths of
//! its files, the RPC cookie, the wallet file and the list of blocks invalidated by hand.
//!
//! Owns the directory layout and the small private files. The block log's format belongs to
//! `block_log`; what the wallet bytes mean belongs to `wallet`.

use super::block_log::sync_parent_dir;
use super::StoreError;
use crate::params::Network;
use crate::types::Hash256;
use std::ffi::OsString;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The node name used when none is given: `chain-data/<network>/default/`.
pub const DEFAULT_NODE_NAME: &str = "default";
/// The largest wallet file read or written; a wallet is a seed and a counter, so anything
/// bigger is not ours.
pub const MAX_WALLET_BYTES: u64 = 1024 * 1024;
/// A cookie is one short line; refusing more keeps a stray file from being read into memory.
const MAX_COOKIE_BYTES: u64 = 4096;
/// Room for about 15,000 hand-invalidated block hashes.
const MAX_INVALIDATED_BYTES: u64 = 1024 * 1024;
/// The network file is one hash on one line.
const MAX_NETWORK_FILE_BYTES: u64 = 256;
/// Only the owner may read keys and RPC credentials.
const PRIVATE_MODE: u32 = 0o600;

/// An open data directory. Holds an exclusive lock on `.lock` until dropped, so two nodes cannot
/// write the same block log.
#[derive(Debug)]
pub struct DataDir {
    root: PathBuf,
    _lock: File,
}

impl DataDir {
    /// `chain-data/<network>/<node>`, relative to the working directory.
    pub fn default_root(network: Network, node: &str) -> PathBuf {
        Path::new("chain-data").join(network.name()).join(node)
    }

    /// Creates `root` if missing and locks it for this process.
    pub fn open(root: &Path) -> Result<DataDir, StoreError> {
        std::fs::create_dir_all(root).map_err(StoreError::io(root))?;
        let lock_path = root.join(".lock");
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(StoreError::io(&lock_path))?;
        let locked = lock.try_lock();
        match locked {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: root.to_path_buf(),
                })
            }
            Err(TryLockError::Error(source)) => {
                return Err(StoreError::Io {
                    path: lock_path,
                    source,
                })
            }
        }
        Ok(DataDir {
            root: root.to_path_buf(),
            _lock: lock,
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the block log is.
    pub fn block_log_path(&self) -> PathBuf {
        self.root.join("blocks.log")
    }

    /// Where a node keeps its cookie; the RPC client finds it without opening the directory.
    pub fn cookie_path(root: &Path) -> PathBuf {
        root.join(".cookie")
    }

    fn wallet_path(&self) -> PathBuf {
        self.root.join("wallet.dat")
    }

    /// Writes the RPC cookie (mode 0600), replacing any old one.
    pub fn write_cookie(&self, contents: &str) -> Result<(), StoreError> {
        write_private_atomic(&DataDir::cookie_path(&self.root), contents.as_bytes())
    }

    /// Removes the cookie on a clean shutdown. Best effort: a stale cookie is replaced on the
    /// next start, so a failure here is only logged.
    pub fn remove_cookie(&self) {
        let path = DataDir::cookie_path(&self.root);
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != ErrorKind::NotFound {
                tracing::warn!(file = %path.display(), error = %e, "could not remove the RPC cookie");
            }
        }
    }

    /// Reads the cookie of the node whose data directory is `root`, without its trailing
    /// whitespace.
    pub fn read_cookie(root: &Path) -> Result<String, StoreError> {
        let path = DataDir::cookie_path(root);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(StoreError::MissingCookie { path })
            }
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        let mut contents = String::new();
        let read = file
            .take(MAX_COOKIE_BYTES + 1)
            .read_to_string(&mut contents)
            .map_err(StoreError::io(&path))?;
        if read as u64 > MAX_COOKIE_BYTES {
            return Err(StoreError::TooLarge {
                path,
                len: read as u64,
                max: MAX_COOKIE_BYTES,
            });
        }
        Ok(contents.trim_end().to_string())
    }

    /// Checks that the directory belongs to the network `id`, and marks a directory that names
    /// none (a new one, or one from before the mark) as belonging to it. A directory of another
    /// network is refused rather than opened: its blocks would not replay, and the node would
    /// start a second chain in the same log.
    pub fn claim_network(&self, id: Hash256) -> Result<(), StoreError> {
        let path = self.root.join("network");
        match read_bounded(&path, MAX_NETWORK_FILE_BYTES)? {
            None => write_private_atomic(&path, format!("{id}\n").as_bytes()),
            Some(bytes) => {
                let found = String::from_utf8_lossy(&bytes).trim().to_string();
                if found == id.to_string() {
                    Ok(())
                } else {
                    Err(StoreError::OtherNetwork {
                        path: self.root.clone(),
                        found,
                        expected: id,
                    })
                }
            }
        }
    }

    /// The wallet file's bytes, or `None` if there is no wallet yet.
    pub fn load_wallet(&self) -> Result<Option<Vec<u8>>, StoreError> {
        read_bounded(&self.wallet_path(), MAX_WALLET_BYTES)
    }

    fn invalidated_path(&self) -> PathBuf {
        self.root.join("invalidated.txt")
    }

    /// Blocks marked invalid by hand (`invalidateblock`), one display hash per line; empty if
    /// none were. A line that is not a hash is corruption, named by its byte offset.
    pub fn load_invalidated(&self) -> Result<Vec<Hash256>, StoreError> {
        let path = self.invalidated_path();
        let Some(bytes) = read_bounded(&path, MAX_INVALIDATED_BYTES)? else {
            return Ok(Vec::new());
        };
        let corrupt = |offset: usize, reason: String| StoreError::Corrupt {
            path: path.clone(),
            offset: offset as u64,
            reason,
        };
        let text = String::from_utf8(bytes)
            .map_err(|e| corrupt(e.utf8_error().valid_up_to(), "not UTF-8 text".into()))?;
        let mut hashes = Vec::new();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let trimmed = line.trim();
            if !trimmed.is_empty() {
                hashes.push(
                    trimmed.parse().map_err(|e: crate::types::ParseHashError| {
                        corrupt(offset, e.to_string())
                    })?,
                );
            }
            offset += line.len();
        }
        Ok(hashes)
    }

    /// Replaces the list of blocks marked invalid by hand, atomically.
    pub fn save_invalidated(&self, hashes: &[Hash256]) -> Result<(), StoreError> {
        let text: String = hashes.iter().map(|hash| format!("{hash}\n")).collect();
        write_private_atomic(&self.invalidated_path(), text.as_bytes())
    }

    /// Replaces the wallet file atomically: a crash leaves either the old wallet or the new one,
    /// never half of either.
    pub fn save_wallet(&self, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.wallet_path();
        if bytes.len() as u64 > MAX_WALLET_BYTES {
            return Err(StoreError::TooLarge {
                path,
                len: bytes.len() as u64,
                max: MAX_WALLET_BYTES,
            });
        }
        write_private_atomic(&path, bytes)
    }
}

/// The bytes of `path`, refusing more than `max`; `None` if the file does not exist.
fn read_bounded(path: &Path, max: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let too_large = |len| StoreError::TooLarge {
        path: path.to_path_buf(),
        len,
        max,
    };
    let claimed = file.metadata().map_err(StoreError::io(path))?.len();
    if claimed > max {
        return Err(too_large(claimed));
    }
    // The length is checked again while reading, in case the file grew since.
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(StoreError::io(path))?;
    if bytes.len() as u64 > max {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(Some(bytes))
}

/// Writes `bytes` to a fresh mode-0600 temporary file beside `path`, fsyncs it, renames it over
/// `path` and fsyncs the directory. A fresh file is what makes the mode hold: opening an
/// existing file keeps whatever mode it had.
fn write_private_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut name = path.file_name().map(OsString::from).unwrap_or_default();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    // A crash during an earlier save can leave a temporary file; the lock means it is not in use.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            return Err(StoreError::Io {
                path: tmp,
                source: e,
            })
        }
        _ => {}
    }
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_MODE)
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(source) = written {
        // Best effort: the temporary file holds nothing the old file does not make redundant.
        let _ = std::fs::remove_file(&tmp);
        return Err(StoreError::Io { path: tmp, source });
    }
    sync_parent_dir(path)
}
