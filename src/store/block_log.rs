//! The append-only block log: open and recover, append, and fsync (at once, or for a burst of
//! appends together).
//!
//! Owns the log file's I/O. The record format and the torn-tail-versus-corruption decision live
//! in `record`; this file only reads, truncates and appends.

use super::record::{append_record, scan};
use super::StoreError;
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
    /// How many bytes were dropped.
    pub bytes_dropped: u64,
}

/// What opening the log found.
#[derive(Debug)]
pub struct Replay {
    /// Every stored block, in the order it was appended.
    pub blocks: Vec<Block>,
    /// The incomplete record dropped at the end, if any.
    pub torn_tail: Option<TornTail>,
}

/// An open block log. A block is durable once `append` or `append_all` returns `Ok`, or once
/// `sync` does after `append_unsynced`. `flush` hands buffered records to the OS without an
/// fsync: they then survive the process being killed, though not the machine crashing. Records
/// still buffered when the log is dropped are lost, as in a crash.
#[derive(Debug)]
pub struct BlockLog {
    path: PathBuf,
    file: File,
    magic: [u8; 4],
    len: u64,
    /// Set when a failed append left bytes that could not be truncated away: appending after
    /// them would turn a torn tail into corruption in the middle.
    unwritable: bool,
    /// Records appended and not yet written to the file.
    pending: Vec<u8>,
    /// Records written since the last fsync.
    unsynced: bool,
}

/// Buffered records written to the file (not fsynced) once they reach this size, so a long
/// burst does not hold them all in memory.
const MAX_PENDING_BYTES: usize = 4 * 1024 * 1024;

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
            pending: Vec::new(),
            unsynced: false,
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
        self.append_unsynced(blocks)?;
        self.sync()
    }

    /// Appends one record per block, in order, without waiting for the disk: the records are
    /// buffered, and a crash may lose them (recovery drops a torn tail) until `sync` returns
    /// `Ok`. For a burst of blocks from peers, which one write and one fsync can cover.
    pub fn append_unsynced<'a>(
        &mut self,
        blocks: impl IntoIterator<Item = &'a Block>,
    ) -> Result<(), StoreError> {
        if self.unwritable {
            return Err(StoreError::LogUnwritable {
                path: self.path.clone(),
            });
        }
        let start = self.pending.len();
        for block in blocks {
            if let Err(len) = append_record(self.magic, block, &mut self.pending) {
                self.pending.truncate(start);
                // Scanning treats longer records as corruption, so writing one would brick
                // the log.
                return Err(StoreError::TooLarge {
                    path: self.path.clone(),
                    len: len as u64,
                    max: MAX_BLOCK_BYTES as u64,
                });
            }
        }
        self.len += (self.pending.len() - start) as u64;
        if self.pending.len() >= MAX_PENDING_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes and fsyncs what was appended since the last fsync, if anything. After a failed
    /// fsync the kernel may have dropped the pages, so what is on disk is unknown: the log
    /// refuses further appends, and only a reopen (which recovers what the disk holds) makes it
    /// usable again.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        if !self.unsynced {
            return Ok(());
        }
        if let Err(source) = self.file.sync_data() {
            self.unwritable = true;
            return Err(StoreError::Io {
                path: self.path.clone(),
                source,
            });
        }
        self.unsynced = false;
        Ok(())
    }

    /// Hands the buffered records to the file (without fsync). On failure the records are
    /// dropped, as if never appended.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let start = self.len - self.pending.len() as u64;
        let written = self.file.write_all(&self.pending);
        self.pending.clear();
        if let Err(source) = written {
            self.len = start;
            // Undo the partial records so the next append does not land after garbage. If even
            // that fails the file's end is unknown, and only a reopen (which recovers the torn
            // tail) can make the log safe to append to again.
            if self.file.set_len(start).is_err() {
                self.unwritable = true;
            }
            return Err(StoreError::Io {
                path: self.path.clone(),
                source,
            });
        }
        self.unsynced = true;
        Ok(())
    }

    /// The log file.
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
