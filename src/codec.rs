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
pub(crate) const DECODE_CEILING_BYTES: usize = 4 * 1024 * 1024;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("encoded value is {len} bytes, over the limit of {max}")]
    /// The encoding is longer than the caller's limit.
    TooLarge {
        /// Bytes given.
        len: usize,
        /// The limit.
        max: usize,
    },
    #[error("malformed encoding: {0}")]
    /// The bytes do not decode as the type.
    Malformed(String),
    #[error("{extra} trailing bytes after the encoded value")]
    /// Bytes are left over after the value.
    TrailingBytes {
        /// How many.
        extra: usize,
    },
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
    let mut bytes = Vec::new();
    encode_append(value, &mut bytes);
    bytes
}

/// Appends what `encode(value)` returns to `out`, so a frame can be built in place.
#[allow(
    clippy::expect_used,
    reason = "encoding into a Vec cannot fail (see the comment)"
)]
pub(crate) fn encode_append<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // Cannot fail: every type of this crate has a known-length encoding, none has a fallible
    // Serialize impl, and appending to a Vec cannot run out of room.
    bincode::serde::encode_into_writer(value, Append(out), encode_config())
        .expect("encoding into a Vec is infallible");
}

/// A bincode writer that appends to a Vec.
struct Append<'a>(&'a mut Vec<u8>);

impl bincode::enc::write::Writer for Append<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// The number of bytes `encode(value)` would produce, without allocating them.
#[allow(
    clippy::expect_used,
    reason = "counting bytes cannot fail (see the comment)"
)]
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

/// Serde for fixed-size byte arrays (hashes, addresses, keys, signatures).
///
/// Binary encodings carry the raw bytes as a tuple of little-endian words: with this codec's
/// fixed-width little-endian integers that is byte for byte the same as one `u8` per element,
/// in a few serde calls instead of one per byte (decoding a 100 KB block spent most of its time
/// there). Human-readable encodings get the plain array of numbers. `N` must be a multiple of 4.
pub(crate) mod raw_bytes {
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::ser::SerializeTuple;
    use serde::{Deserializer, Serializer};
    use std::fmt;

    const fn word_count(n: usize) -> usize {
        n / 8 + (n % 8) / 4
    }

    /// Writes the array as a tuple of `N` elements.
    pub(crate) fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        const { assert!(N.is_multiple_of(4), "raw_bytes needs a multiple of 4 bytes") };
        if serializer.is_human_readable() {
            let mut tuple = serializer.serialize_tuple(N)?;
            for byte in bytes {
                tuple.serialize_element(byte)?;
            }
            return tuple.end();
        }
        let mut tuple = serializer.serialize_tuple(word_count(N))?;
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(word);
            tuple.serialize_element(&u64::from_le_bytes(buf))?;
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 4];
            buf.copy_from_slice(rest);
            tuple.serialize_element(&u32::from_le_bytes(buf))?;
        }
        tuple.end()
    }

    /// Reads a tuple of `N` elements into an array.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        deserializer: D,
    ) -> Result<[u8; N], D::Error> {
        const { assert!(N.is_multiple_of(4), "raw_bytes needs a multiple of 4 bytes") };
        struct ArrayVisitor<const N: usize> {
            words: bool,
        }
        impl<'de, const N: usize> Visitor<'de> for ArrayVisitor<N> {
            type Value = [u8; N];
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{N} bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
                let mut bytes = [0u8; N];
                let missing = |at: usize| A::Error::invalid_length(at, &self);
                if !self.words {
                    for (at, slot) in bytes.iter_mut().enumerate() {
                        *slot = seq.next_element()?.ok_or_else(|| missing(at))?;
                    }
                    return Ok(bytes);
                }
                let mut words = bytes.chunks_exact_mut(8);
                for (at, word) in (&mut words).enumerate() {
                    let value: u64 = seq.next_element()?.ok_or_else(|| missing(at))?;
                    word.copy_from_slice(&value.to_le_bytes());
                }
                let rest = words.into_remainder();
                if !rest.is_empty() {
                    let value: u32 = seq.next_element()?.ok_or_else(|| missing(N / 8))?;
                    rest.copy_from_slice(&value.to_le_bytes());
                }
                Ok(bytes)
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_tuple(N, ArrayVisitor::<N> { words: false })
        } else {
            deserializer.deserialize_tuple(word_count(N), ArrayVisitor::<N> { words: true })
        }
    }
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

    #[test]
    fn raw_bytes_encode_exactly_the_bytes() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Both {
            #[serde(with = "raw_bytes")]
            twenty: [u8; 20],
            #[serde(with = "raw_bytes")]
            thirty_two: [u8; 32],
        }
        let value = Both {
            twenty: std::array::from_fn(|i| i as u8 + 1),
            thirty_two: std::array::from_fn(|i| 200 - i as u8),
        };
        let bytes = encode(&value);
        let expected: Vec<u8> = value
            .twenty
            .iter()
            .chain(&value.thirty_two)
            .copied()
            .collect();
        assert_eq!(bytes, expected);
        assert_eq!(encoded_len(&value), 52);
        assert_eq!(decode::<Both>(&bytes, 100).unwrap(), value);
        assert!(matches!(
            decode::<Both>(&bytes[..51], 100),
            Err(CodecError::Malformed(_))
        ));
        let json = serde_json::to_value(&value).unwrap();
        assert_eq!(json["twenty"][0], 1);
        assert_eq!(serde_json::from_value::<Both>(json).unwrap(), value);
    }
}
