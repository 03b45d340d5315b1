//! `Address`: 20 bytes of SHA-256(ed25519 public key), shown with a checksum so a typo is an
//! error rather than a payment into the void.
//!
//! Text form: `nk` + hex(20-byte payload ‖ first 4 bytes of SHA-256d("nakachain-address" ‖ payload)).
//! The same form on every network. Must not know about keys beyond hashing a public key.

use super::hash::{sha256, sha256d_parts};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

const PREFIX: &str = "nk";
const CHECKSUM_DOMAIN: &[u8] = b"nakachain-address";

/// The hash of a public key that outputs pay to. Binary encodings carry the raw 20 bytes;
/// human-readable ones (JSON) carry the checksummed text form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(pub [u8; 20]);

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            crate::codec::raw_bytes::serialize(&self.0, serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            text.parse().map_err(D::Error::custom)
        } else {
            crate::codec::raw_bytes::deserialize(deserializer).map(Address)
        }
    }
}

impl Address {
    /// The address of an ed25519 public key: 20 bytes of its SHA-256.
    pub fn from_pubkey(pubkey: &[u8; 32]) -> Address {
        let digest = sha256(pubkey);
        let mut payload = [0u8; 20];
        payload.copy_from_slice(&digest[..20]);
        Address(payload)
    }

    fn checksum(payload: &[u8; 20]) -> [u8; 4] {
        let digest = sha256d_parts(&[CHECKSUM_DOMAIN, payload]);
        [digest.0[0], digest.0[1], digest.0[2], digest.0[3]]
    }
}

/// Why an address string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseAddressError {
    #[error("invalid address {0:?}: expected nk followed by 48 hex digits")]
    /// Not hex of the right length.
    Malformed(String),
    #[error("invalid address {0:?}: checksum mismatch (typo?)")]
    /// The checksum does not match (a typo).
    BadChecksum(String),
}

impl FromStr for Address {
    type Err = ParseAddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let body = s
            .strip_prefix(PREFIX)
            .ok_or_else(|| ParseAddressError::Malformed(s.to_string()))?;
        let mut raw = [0u8; 24];
        hex::decode_to_slice(body, &mut raw)
            .map_err(|_| ParseAddressError::Malformed(s.to_string()))?;
        let mut payload = [0u8; 20];
        payload.copy_from_slice(&raw[..20]);
        if raw[20..] != Address::checksum(&payload) {
            return Err(ParseAddressError::BadChecksum(s.to_string()));
        }
        Ok(Address(payload))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}{}{}",
            hex::encode(self.0),
            hex::encode(Address::checksum(&self.0))
        )
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_catches_typos() {
        let address = Address::from_pubkey(&[3; 32]);
        let text = address.to_string();
        assert_eq!(text.len(), 2 + 48);
        assert_eq!(text.parse::<Address>().unwrap(), address);

        let mut typo = text.into_bytes();
        typo[10] = if typo[10] == b'0' { b'1' } else { b'0' };
        let typo = String::from_utf8(typo).unwrap();
        assert!(matches!(
            typo.parse::<Address>(),
            Err(ParseAddressError::BadChecksum(_))
        ));
        assert!(matches!(
            "xx00".parse::<Address>(),
            Err(ParseAddressError::Malformed(_))
        ));
    }
}
