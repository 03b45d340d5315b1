//! The one module that knows bincode.
//!
//! Encoding is bincode 2 with fixed-width little-endian integers, so a header encodes to its exact
//! 80-byte layout. Decoding is always bounded: the input length is checked against the caller's
//! limit before anything is decoded, container lengths are checked against a hard ceiling before
//! anything is allocated, and trailing bytes are an error. Must not know what it encodes.

use bincode::config::{self, Config};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// No value this crate decodes may claim more than this many bytes for its containers; it is
/// the largest frame the wire protocol accepts.
pub const DECODE_CEILING_BYTES: usize = 4 * 1024 * 1024;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("encoded value is {len} bytes, over the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("malformed encoding: {0}")]
    Malformed(String),
    #[error("{extra} trailing bytes after the encoded value")]
    TrailingBytes { extra: usize },
}

impl CodecError {
    /// A stable code for logs and RPC replies.
    pub fn code(&self) -> &'static str {
        match self {
            CodecError::TooLarge { .. } => "decode-too-large",
            CodecError::Malformed(_) => "decode-malformed",
            CodecError::TrailingBytes { .. } => "decode-trailing-bytes",
        }
    }
}

fn encode_config() -> impl Config {
    config::standard()
        .with_little_endian()
        .with_fixed_int_encoding()
}

fn decode_config() -> impl Config {
    config::standard()
        .with_little_endian()
        .with_fixed_int_encoding()
        .with_limit::<DECODE_CEILING_BYTES>()
}

/// Encodes `value`.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Cannot fail: every type of this crate has a known-length encoding, none has a fallible
    // Serialize impl, and writing into a Vec cannot run out of room.
    bincode::serde::encode_to_vec(value, encode_config())
        .expect("encoding into a Vec is infallible")
}

/// The number of bytes `encode(value)` would produce, without allocating them.
pub fn encoded_len<T: Serialize + ?Sized>(value: &T) -> usize {
    let mut size = bincode::enc::write::SizeWriter::default();
    // Cannot fail, for the same reasons as `encode`; SizeWriter only counts.
    bincode::serde::encode_into_writer(value, &mut size, encode_config())
        .expect("size counting is infallible");
    size.bytes_written
}

/// Decodes exactly one `T` from `bytes`, refusing inputs over `max_len` bytes and trailing bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], max_len: usize) -> Result<T, CodecError> {
    let max = max_len.min(DECODE_CEILING_BYTES);
    if bytes.len() > max {
        return Err(CodecError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    let (value, read) = bincode::serde::decode_from_slice(bytes, decode_config())
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if read != bytes.len() {
        return Err(CodecError::TrailingBytes {
            extra: bytes.len() - read,
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_length() {
        let value: (u32, Vec<u16>) = (7, vec![1, 2, 3]);
        let bytes = encode(&value);
        assert_eq!(bytes.len(), encoded_len(&value));
        assert_eq!(decode::<(u32, Vec<u16>)>(&bytes, 100).unwrap(), value);
    }

    #[test]
    fn refuses_trailing_bytes_and_oversize_input() {
        let mut bytes = encode(&5u32);
        bytes.push(0);
        assert_eq!(
            decode::<u32>(&bytes, 100),
            Err(CodecError::TrailingBytes { extra: 1 })
        );
        assert!(matches!(
            decode::<u32>(&bytes, 4),
            Err(CodecError::TooLarge { len: 5, max: 4 })
        ));
    }

    #[test]
    fn huge_claimed_length_fails_without_allocating() {
        // A Vec<u64> claiming u64::MAX / 2 elements in 8 bytes of input.
        let bytes = (u64::MAX / 2).to_le_bytes();
        assert!(matches!(
            decode::<Vec<u64>>(&bytes, 100),
            Err(CodecError::Malformed(_))
        ));
    }
}
