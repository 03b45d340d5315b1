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
    BeforeVersion { command: &'static str },
    /// A message other than Verack followed the Version.
    #[error("{command} before verack")]
    BeforeVerack { command: &'static str },
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
    OversizedGetData { blocks: usize, max: usize },
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
    InvalidTransaction { txid: Txid, rule: RuleError },
    /// A block that breaks a consensus rule.
    #[error("block {hash}: {rule}")]
    InvalidBlock { hash: Hash256, rule: RuleError },
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
}

impl DisconnectReason {
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
        }
    }

    /// Whether the peer broke consensus: its address is then discouraged for a while
    /// (`DISCOURAGE_MS`) and a `peer_misbehaved` event recorded.
    pub fn discourages(&self) -> bool {
        matches!(
            self,
            DisconnectReason::InvalidTransaction { .. }
                | DisconnectReason::InvalidBlock { .. }
                | DisconnectReason::KnownInvalidBlock(_)
                | DisconnectReason::InvalidHeaders(_)
        )
    }
}
