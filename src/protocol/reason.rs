//! Why a peer is dropped: every reason the protocol (and the shell, for a peer too slow to keep)
//! ends a connection for, each with a stable code that logs, events and tests use, and whether
//! it broke consensus (and so discourages the peer's address).
//!
//! Owns the reasons and their codes. Must not decide when a peer is dropped; the protocol does.

use crate::consensus::RuleError;
use crate::types::{Hash256, Txid};
use crate::wire::WireError;

/// Why a connection ends. `code()` is stable; `Display` adds the detail for a reader.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DisconnectReason {
    /// `setnetworkactive false`, or a connection while it is off.
    #[error("network disabled")]
    NetworkDisabled,
    /// The address broke consensus a while ago and is not let back yet.
    #[error("discouraged")]
    Discouraged,
    /// The address is on the deny-list (`setdeniedpeers`).
    #[error("denied")]
    Denied,
    /// Every inbound slot is taken.
    #[error("too many inbound peers")]
    InboundFull,
    /// A message other than Version opened the handshake.
    #[error("{command} before version")]
    BeforeVersion {
        /// The message that came.
        command: &'static str,
    },
    /// A message other than Verack followed the Version.
    #[error("{command} before verack")]
    BeforeVerack {
        /// The message that came.
        command: &'static str,
    },
    /// Version or Verack after the handshake.
    #[error("second handshake")]
    SecondHandshake,
    /// The Version carried our own nonce: we dialed ourselves.
    #[error("connected to ourselves")]
    SelfConnection,
    /// The peer runs another network (another genesis or other parameters).
    #[error("other network {0}")]
    OtherNetwork(Hash256),
    /// The second of two connections to one node.
    #[error("a second connection to the same node")]
    DuplicateConnection,
    /// The handshake did not finish in time.
    #[error("handshake timeout")]
    HandshakeTimeout,
    /// A ping went unanswered.
    #[error("ping timeout")]
    PingTimeout,
    /// Requested blocks did not come in time.
    #[error("block download stalled")]
    BlockDownloadStalled,
    /// `disconnectnode`.
    #[error("disconnectnode")]
    DisconnectNode,
    /// The framing layer refused a frame in a way that ends the connection.
    #[error("{0}")]
    BadFrame(WireError),
    /// A `getdata` asked for more blocks than one request may.
    #[error("getdata for {blocks} blocks (at most {max} at once)")]
    OversizedGetData {
        /// Blocks asked for.
        blocks: usize,
        /// The most one request may ask.
        max: usize,
    },
    /// A block nobody asked this peer for.
    #[error("unsolicited block {0}")]
    UnsolicitedBlock(Hash256),
    /// Headers that do not link one to the next.
    #[error("headers that are not a chain")]
    HeadersNotAChain,
    /// Too many header lists that connect to nothing we know.
    #[error("headers that do not connect")]
    UnconnectingHeaders,
    /// A transaction that breaks a consensus rule.
    #[error("transaction {txid}: {rule}")]
    InvalidTransaction {
        /// The transaction.
        txid: Txid,
        /// The rule it broke.
        rule: RuleError,
    },
    /// A block that breaks a consensus rule.
    #[error("block {hash}: {rule}")]
    InvalidBlock {
        /// The block.
        hash: Hash256,
        /// The rule it broke.
        rule: RuleError,
    },
    /// A block already known to break a rule, sent again.
    #[error("block {0} is known invalid")]
    KnownInvalidBlock(Hash256),
    /// A header that breaks a consensus rule.
    #[error("headers: {0}")]
    InvalidHeaders(RuleError),
    /// The connection closed (either side); the shell reports it.
    #[error("connection closed")]
    ConnectionClosed,
    /// The peer's send queue is full: it does not read what it asked for (the shell's reason).
    #[error("send queue full: too slow to keep up")]
    SendQueueFull,
    /// Every inbound slot was taken and this peer, not protected by useful behaviour, made room
    /// for a newcomer.
    #[error("evicted to make room for a new inbound peer")]
    Evicted,
}

impl DisconnectReason {
    /// Every code, in the order the variants are declared.
    pub const CODES: [&'static str; 26] = [
        "network-disabled",
        "discouraged",
        "denied",
        "inbound-full",
        "before-version",
        "before-verack",
        "second-handshake",
        "self-connection",
        "other-network",
        "duplicate-connection",
        "handshake-timeout",
        "ping-timeout",
        "block-download-stalled",
        "disconnectnode",
        "bad-frame",
        "oversized-getdata",
        "unsolicited-block",
        "headers-not-a-chain",
        "unconnecting-headers",
        "invalid-transaction",
        "invalid-block",
        "known-invalid-block",
        "invalid-headers",
        "connection-closed",
        "send-queue-full",
        "evicted",
    ];

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            DisconnectReason::NetworkDisabled => "network-disabled",
            DisconnectReason::Discouraged => "discouraged",
            DisconnectReason::Denied => "denied",
            DisconnectReason::InboundFull => "inbound-full",
            DisconnectReason::BeforeVersion { .. } => "before-version",
            DisconnectReason::BeforeVerack { .. } => "before-verack",
            DisconnectReason::SecondHandshake => "second-handshake",
            DisconnectReason::SelfConnection => "self-connection",
            DisconnectReason::OtherNetwork(_) => "other-network",
            DisconnectReason::DuplicateConnection => "duplicate-connection",
            DisconnectReason::HandshakeTimeout => "handshake-timeout",
            DisconnectReason::PingTimeout => "ping-timeout",
            DisconnectReason::BlockDownloadStalled => "block-download-stalled",
            DisconnectReason::DisconnectNode => "disconnectnode",
            DisconnectReason::BadFrame(_) => "bad-frame",
            DisconnectReason::OversizedGetData { .. } => "oversized-getdata",
            DisconnectReason::UnsolicitedBlock(_) => "unsolicited-block",
            DisconnectReason::HeadersNotAChain => "headers-not-a-chain",
            DisconnectReason::UnconnectingHeaders => "unconnecting-headers",
            DisconnectReason::InvalidTransaction { .. } => "invalid-transaction",
            DisconnectReason::InvalidBlock { .. } => "invalid-block",
            DisconnectReason::KnownInvalidBlock(_) => "known-invalid-block",
            DisconnectReason::InvalidHeaders(_) => "invalid-headers",
            DisconnectReason::ConnectionClosed => "connection-closed",
            DisconnectReason::SendQueueFull => "send-queue-full",
            DisconnectReason::Evicted => "evicted",
        }
    }

    /// Whether the peer broke consensus: its address is then discouraged for a while
    /// (`DISCOURAGE_MS`) and a `peer_misbehaved` event recorded.
    pub(crate) fn discourages(&self) -> bool {
        matches!(
            self,
            DisconnectReason::InvalidTransaction { .. }
                | DisconnectReason::InvalidBlock { .. }
                | DisconnectReason::KnownInvalidBlock(_)
                | DisconnectReason::InvalidHeaders(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Where each variant's code stands in `CODES`. A new variant does not compile until it is
    /// given a place, and the test below fails until `CODES` holds its code there.
    fn position(reason: &DisconnectReason) -> usize {
        match reason {
            DisconnectReason::NetworkDisabled => 0,
            DisconnectReason::Discouraged => 1,
            DisconnectReason::Denied => 2,
            DisconnectReason::InboundFull => 3,
            DisconnectReason::BeforeVersion { .. } => 4,
            DisconnectReason::BeforeVerack { .. } => 5,
            DisconnectReason::SecondHandshake => 6,
            DisconnectReason::SelfConnection => 7,
            DisconnectReason::OtherNetwork(_) => 8,
            DisconnectReason::DuplicateConnection => 9,
            DisconnectReason::HandshakeTimeout => 10,
            DisconnectReason::PingTimeout => 11,
            DisconnectReason::BlockDownloadStalled => 12,
            DisconnectReason::DisconnectNode => 13,
            DisconnectReason::BadFrame(_) => 14,
            DisconnectReason::OversizedGetData { .. } => 15,
            DisconnectReason::UnsolicitedBlock(_) => 16,
            DisconnectReason::HeadersNotAChain => 17,
            DisconnectReason::UnconnectingHeaders => 18,
            DisconnectReason::InvalidTransaction { .. } => 19,
            DisconnectReason::InvalidBlock { .. } => 20,
            DisconnectReason::KnownInvalidBlock(_) => 21,
            DisconnectReason::InvalidHeaders(_) => 22,
            DisconnectReason::ConnectionClosed => 23,
            DisconnectReason::SendQueueFull => 24,
            DisconnectReason::Evicted => 25,
        }
    }

    #[test]
    fn every_variant_has_its_code_in_codes_once() {
        let hash = Hash256([1; 32]);
        let rule = RuleError::HighHash;
        let reasons = [
            DisconnectReason::NetworkDisabled,
            DisconnectReason::Discouraged,
            DisconnectReason::Denied,
            DisconnectReason::InboundFull,
            DisconnectReason::BeforeVersion { command: "ping" },
            DisconnectReason::BeforeVerack { command: "ping" },
            DisconnectReason::SecondHandshake,
            DisconnectReason::SelfConnection,
            DisconnectReason::OtherNetwork(hash),
            DisconnectReason::DuplicateConnection,
            DisconnectReason::HandshakeTimeout,
            DisconnectReason::PingTimeout,
            DisconnectReason::BlockDownloadStalled,
            DisconnectReason::DisconnectNode,
            DisconnectReason::BadFrame(WireError::TrailingBytes { extra: 1 }),
            DisconnectReason::OversizedGetData { blocks: 2, max: 1 },
            DisconnectReason::UnsolicitedBlock(hash),
            DisconnectReason::HeadersNotAChain,
            DisconnectReason::UnconnectingHeaders,
            DisconnectReason::InvalidTransaction { txid: hash, rule },
            DisconnectReason::InvalidBlock { hash, rule },
            DisconnectReason::KnownInvalidBlock(hash),
            DisconnectReason::InvalidHeaders(rule),
            DisconnectReason::ConnectionClosed,
            DisconnectReason::SendQueueFull,
            DisconnectReason::Evicted,
        ];
        assert_eq!(reasons.len(), DisconnectReason::CODES.len());
        for reason in &reasons {
            assert_eq!(reason.code(), DisconnectReason::CODES[position(reason)]);
        }
        let codes: HashSet<&str> = DisconnectReason::CODES.into_iter().collect();
        assert_eq!(
            codes.len(),
            DisconnectReason::CODES.len(),
            "codes are unique"
        );
    }

    #[test]
    fn only_consensus_violations_discourage() {
        let hash = Hash256([1; 32]);
        let rule = RuleError::HighHash;
        assert!(DisconnectReason::InvalidBlock { hash, rule }.discourages());
        assert!(DisconnectReason::InvalidHeaders(rule).discourages());
        assert!(!DisconnectReason::Denied.discourages());
        assert!(!DisconnectReason::UnsolicitedBlock(hash).discourages());
    }
}
