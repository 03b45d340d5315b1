//! The append-only block log: open and recover, append and fsync.
//!
//! Owns the log file's I/O. The record format and the torn-tail-versus-corruption decision live
//! in `record`; this file only reads, truncates and appends.

use super::record::{encode_record, scan};
use super::StoreError;
use crate::codec;
use crate::params::MAX_BLOCK_BYTES;
use crate::types::Block;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The incomplete last record dropped when the log was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// Where the dropped bytes started; the log now ends here.
    pub offset: u64,
    pub bytes_dropped: u64,
}

/// What opening the log found.
#[derive(Debug)]
pub struct Replay {
    /// Every stored block, in the order it was appended.
    pub blocks: Vec<Block>,
    pub torn_tail: Option<TornTail>,
}

/// An open block log. A block counts as accepted once `append` returns `Ok`.
#[derive(Debug)]
pub struct BlockLog {
    path: PathBuf,
    file: File,
    magic: [u8; 4],
    len: u64,
    /// Set when a failed append left bytes that could not be truncated away: appending after
    /// them would turn a torn tail into corruption in the middle.
    unwritable: bool,
}

impl BlockLog {
    /// Opens (creating if missing) the log at `path`, recovers a torn tail, returns every stored
    /// block in order.
    pub fn open(path: &Path, magic: [u8; 4]) -> Result<(BlockLog, Replay), StoreError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(StoreError::io(path))?;
        sync_parent_dir(path)?;
        // The whole log is read at once: replay holds every decoded block in memory anyway, and
        // telling a torn tail from corruption needs to look past the damaged record.
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(StoreError::io(path))?;
        let scanned = scan(&bytes, magic).map_err(|c| StoreError::Corrupt {
            path: path.to_path_buf(),
            offset: c.offset as u64,
            reason: c.reason,
        })?;
        let valid_len = scanned.valid_len as u64;
        let torn_tail = if scanned.valid_len < bytes.len() {
            let torn = TornTail {
                offset: valid_len,
                bytes_dropped: (bytes.len() - scanned.valid_len) as u64,
            };
            tracing::warn!(
                file = %path.display(),
                offset = torn.offset,
                bytes_dropped = torn.bytes_dropped,
                "block log ends in a torn record (a crash mid-write); truncating it"
            );
            file.set_len(valid_len)
                .and_then(|()| file.sync_data())
                .map_err(StoreError::io(path))?;
            Some(torn)
        } else {
            None
        };
        let log = BlockLog {
            path: path.to_path_buf(),
            file,
            magic,
            len: valid_len,
            unwritable: false,
        };
        let replay = Replay {
            blocks: scanned.blocks,
            torn_tail,
        };
        Ok((log, replay))
    }

    /// Appends one record and fsyncs it.
    pub fn append(&mut self, block: &Block) -> Result<(), StoreError> {
        self.append_all([block])
    }

    /// Appends one record per block, in order, with a single fsync at the end: every block counts
    /// as accepted once this returns `Ok`, none of them before.
    pub fn append_all<'a>(
        &mut self,
        blocks: impl IntoIterator<Item = &'a Block>,
    ) -> Result<(), StoreError> {
        if self.unwritable {
            return Err(StoreError::LogUnwritable {
                path: self.path.clone(),
            });
        }
        let mut records = Vec::new();
        for block in blocks {
            let body = codec::encode(block);
            // Scanning treats longer records as corruption, so writing one would brick the log.
            if body.len() > MAX_BLOCK_BYTES {
                return Err(StoreError::TooLarge {
                    path: self.path.clone(),
                    len: body.len() as u64,
                    max: MAX_BLOCK_BYTES as u64,
                });
            }
            records.extend_from_slice(&encode_record(self.magic, &body));
        }
        let written = self
            .file
            .write_all(&records)
            .and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            // Undo the partial records so the next append does not land after garbage. If even
            // that fails the file's end is unknown, and only a reopen (which recovers the torn
            // tail) can make the log safe to append to again.
            let undone = self
                .file
                .set_len(self.len)
                .and_then(|()| self.file.sync_data());
            if undone.is_err() {
                self.unwritable = true;
            }
            return Err(StoreError::Io {
                path: self.path.clone(),
                source,
            });
        }
        self.len += records.len() as u64;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The log's length in bytes: every accepted record, nothing torn.
    pub fn len_bytes(&self) -> u64 {
        self.len
    }
}

/// Fsyncs the directory holding `path`, so a newly created or renamed file's entry survives a
/// crash along with its contents.
pub(super) fn sync_parent_dir(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io(dir))
}
