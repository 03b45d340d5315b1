//! The block-log record format and the scan that tells a torn tail from corruption.
//!
//! A record is `magic [4] | length u32 LE | crc32c u32 LE (of the body) | body`, where the body is
//! `codec::encode(&block)`. This file is pure: it works on bytes already read, never on files, so
//! every recovery decision can be reasoned about (and tested) without I/O.

use crate::codec;
use crate::params::MAX_BLOCK_BYTES;
use crate::types::Block;

/// Bytes before a record's body: magic, length and crc.
pub const RECORD_HEADER_BYTES: usize = 12;

/// Appends the record holding `block` to `out`, encoding the body in place. A body over
/// `MAX_BLOCK_BYTES` is refused with its length, leaving `out` as it was.
pub(super) fn append_record(magic: [u8; 4], block: &Block, out: &mut Vec<u8>) -> Result<(), usize> {
    let start = out.len();
    let body_start = start + RECORD_HEADER_BYTES;
    out.extend_from_slice(&magic);
    // The length and crc, filled in once the body is there.
    out.extend_from_slice(&[0; RECORD_HEADER_BYTES - 4]);
    codec::encode_append(block, out);
    let len = out.len() - body_start;
    if len > MAX_BLOCK_BYTES {
        out.truncate(start);
        return Err(len);
    }
    let crc = crc32c::crc32c(&out[body_start..]);
    // Cannot truncate: len <= MAX_BLOCK_BYTES, which fits in a u32.
    out[start + 4..start + 8].copy_from_slice(&(len as u32).to_le_bytes());
    out[start + 8..body_start].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// What a clean scan found: every block, and where the good records end.
#[derive(Debug)]
pub(crate) struct Scan {
    pub blocks: Vec<Block>,
    /// Bytes holding complete, valid records; anything after is a torn tail to drop.
    pub valid_len: usize,
}

/// A record that is damaged while good data may follow it, so it must not be dropped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Corruption {
    pub offset: usize,
    pub reason: String,
}

struct Header {
    magic: [u8; 4],
    len: usize,
    crc: u32,
}

fn read_header(bytes: &[u8], at: usize) -> Option<Header> {
    let raw = bytes.get(at..at.checked_add(RECORD_HEADER_BYTES)?)?;
    let field = |i: usize| [raw[i], raw[i + 1], raw[i + 2], raw[i + 3]];
    Some(Header {
        magic: field(0),
        len: u32::from_le_bytes(field(4)) as usize,
        crc: u32::from_le_bytes(field(8)),
    })
}

/// Whether a complete record with our magic, a sane length and a matching crc starts at `at`.
fn valid_record_at(bytes: &[u8], at: usize, magic: [u8; 4]) -> bool {
    let Some(header) = read_header(bytes, at) else {
        return false;
    };
    let start = at + RECORD_HEADER_BYTES;
    header.magic == magic
        && header.len <= MAX_BLOCK_BYTES
        && bytes
            .get(start..start + header.len)
            .is_some_and(|body| crc32c::crc32c(body) == header.crc)
}

/// The first offset at or after `from` where a valid record starts, if any.
fn next_valid_record(bytes: &[u8], from: usize, magic: [u8; 4]) -> Option<usize> {
    let tail = bytes.get(from..)?;
    tail.windows(magic.len())
        .enumerate()
        .filter(|(_, window)| *window == magic)
        .map(|(i, _)| from + i)
        .find(|&at| valid_record_at(bytes, at, magic))
}

/// Scans a whole log. A damaged final record is a torn tail (reported through `valid_len`) only
/// when no valid record starts after its header: otherwise the damage is in the middle and
/// truncating would drop good blocks.
pub(crate) fn scan(bytes: &[u8], magic: [u8; 4]) -> Result<Scan, Corruption> {
    let mut blocks = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let Some(header) = read_header(bytes, at) else {
            // An incomplete header can only be the last thing in the file.
            break;
        };
        let corrupt = |reason: String| Corruption { offset: at, reason };
        if header.magic != magic {
            // Some filesystems leave a file extended with zeros after a crash mid-append;
            // zeros are not a record, so nothing is lost by dropping them.
            if bytes[at..].iter().all(|&b| b == 0) {
                break;
            }
            return Err(corrupt(format!(
                "bad magic {} (expected {})",
                hex::encode(header.magic),
                hex::encode(magic)
            )));
        }
        if header.len > MAX_BLOCK_BYTES {
            return Err(corrupt(format!(
                "length {} is over the block limit of {MAX_BLOCK_BYTES} bytes",
                header.len
            )));
        }
        let body_start = at + RECORD_HEADER_BYTES;
        let end = body_start + header.len;
        let is_last = end >= bytes.len();
        let damage = if end > bytes.len() {
            Some(format!(
                "length {} runs {} bytes past the end of the file",
                header.len,
                end - bytes.len()
            ))
        } else if crc32c::crc32c(&bytes[body_start..end]) != header.crc {
            Some("crc mismatch".to_string())
        } else {
            None
        };
        if let Some(reason) = damage {
            if !is_last {
                return Err(corrupt(reason));
            }
            if let Some(next) = next_valid_record(bytes, body_start, magic) {
                return Err(corrupt(format!(
                    "{reason}, but a valid record follows at byte {next}"
                )));
            }
            break;
        }
        // A record whose crc matches was written whole, so a crash cannot explain a body that
        // does not decode: refuse rather than drop it.
        let block = codec::decode::<Block>(&bytes[body_start..end], MAX_BLOCK_BYTES)
            .map_err(|e| corrupt(format!("block does not decode: {e}")))?;
        blocks.push(block);
        at = end;
    }
    Ok(Scan {
        blocks,
        valid_len: at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAGIC: [u8; 4] = *b"test";

    #[test]
    fn a_crc_valid_record_that_does_not_decode_is_corruption_even_at_the_end() {
        let body = [1, 2, 3];
        let mut bytes = Vec::from(MAGIC);
        bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        bytes.extend_from_slice(&body);
        let err = scan(&bytes, MAGIC).unwrap_err();
        assert_eq!(err.offset, 0);
        assert!(err.reason.contains("does not decode"), "{}", err.reason);
    }

    #[test]
    fn a_zero_filled_tail_is_dropped() {
        let scan = scan(&[0; 40], MAGIC).unwrap();
        assert!(scan.blocks.is_empty());
        assert_eq!(scan.valid_len, 0);
    }

    #[test]
    fn a_complete_header_with_bad_magic_is_corruption() {
        let err = scan(&[9; 40], MAGIC).unwrap_err();
        assert_eq!(err.offset, 0);
        assert!(err.reason.contains("bad magic"), "{}", err.reason);
    }

    proptest! {
        // Arbitrary bytes, with or without a valid-looking header in front, never panic and
        // never claim more valid bytes than there are.
        #[test]
        fn scanning_garbage_never_panics(
            garbage in proptest::collection::vec(any::<u8>(), 0..200),
            claimed_len in any::<u32>(),
            with_header in any::<bool>(),
        ) {
            let mut bytes = Vec::new();
            if with_header {
                bytes.extend_from_slice(&MAGIC);
                bytes.extend_from_slice(&claimed_len.to_le_bytes());
                bytes.extend_from_slice(&crc32c::crc32c(&garbage).to_le_bytes());
            }
            bytes.extend_from_slice(&garbage);
            if let Ok(scan) = scan(&bytes, MAGIC) {
                prop_assert!(scan.valid_len <= bytes.len());
            }
        }
    }
}
