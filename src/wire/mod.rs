//! The wire protocol's vocabulary: the `Message` enum peers exchange, its size limits, and the
//! frames that carry it over a byte stream (`frame`).
//!
//! Owns the message shapes, their limits and the frame format
//! (`magic | payload length u32 LE | checksum | payload`). Must not decide what a message means
//! or which one to send (that is the protocol state machine's job), and must not touch sockets,
//! timers or the clock: the shell reads bytes and hands them to a `FrameDecoder`. Payloads are
//! encoded only through `crate::codec`.

mod block_frames;
mod frame;

pub use block_frames::{BlockFrames, KEEP_BLOCK_FRAMES_FROM};
pub use frame::{encode_frame, encode_frame_into, FrameDecoder, Frames};

use crate::codec::{self, CodecError};
use crate::types::{Block, BlockHeader, Hash256, Transaction};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The largest payload a frame may carry. The codec's decode ceiling must be at least this, or
/// a frame we accept could still fail to decode; they are the same number.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
const _: () = assert!(MAX_MESSAGE_BYTES == codec::DECODE_CEILING_BYTES);
// The length field is a u32.
const _: () = assert!(MAX_MESSAGE_BYTES <= u32::MAX as usize);

/// Magic, payload length and checksum.
pub const FRAME_HEADER_BYTES: usize = 12;
/// Items in one `Inv`, `GetData` or `NotFound`.
pub const MAX_INV_ITEMS: usize = 50_000;
/// Headers in one `Headers` reply.
pub const MAX_HEADERS: usize = 2_000;
/// Addresses in one `Addr`.
pub const MAX_ADDRS: usize = 1_000;
/// Hashes in a `GetHeaders` locator. As in Bitcoin: ten dense steps then doubling steps reach
/// back 2^90 blocks long before this, so a longer locator is not a real chain's.
pub const MAX_LOCATOR_HASHES: usize = 101;
/// Bytes of a `Version` user agent.
pub const MAX_USER_AGENT_BYTES: usize = 256;
/// The protocol version this build speaks, for `Version::protocol`.
pub const PROTOCOL_VERSION: u32 = 1;

/// What an inventory item names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum InvKind {
    /// A transaction.
    Tx,
    /// A block.
    Block,
}

/// A transaction or block named by its hash (txid or block hash).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct InvItem {
    /// What it names.
    pub kind: InvKind,
    /// Its hash.
    pub hash: Hash256,
}

impl InvItem {
    /// A transaction's item.
    pub fn tx(txid: Hash256) -> InvItem {
        InvItem {
            kind: InvKind::Tx,
            hash: txid,
        }
    }

    /// A block's item.
    pub fn block(hash: Hash256) -> InvItem {
        InvItem {
            kind: InvKind::Block,
            hash,
        }
    }
}

/// Where a peer listens. Not a `SocketAddr`, whose binary serde form silently drops an IPv6
/// address's flow info and scope id: this type round-trips exactly.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct PeerAddress {
    /// The IP.
    pub ip: IpAddr,
    /// The port.
    pub port: u16,
}

impl From<SocketAddr> for PeerAddress {
    fn from(addr: SocketAddr) -> PeerAddress {
        PeerAddress {
            ip: addr.ip(),
            port: addr.port(),
        }
    }
}

impl From<PeerAddress> for SocketAddr {
    fn from(addr: PeerAddress) -> SocketAddr {
        SocketAddr::new(addr.ip, addr.port)
    }
}

/// One message between peers: the payload of one frame.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Message {
    /// The first message each side sends.
    Version {
        /// The protocol version.
        protocol: u32,
        /// `Params::network_id()`: genesis and consensus parameters; another id is another
        /// network.
        network_id: Hash256,
        /// The sender's active height.
        best_height: u32,
        /// Random per node, so a node that reaches itself can tell.
        nonce: u64,
        /// What the sender runs.
        user_agent: String,
        /// Where this node accepts connections (0: it does not).
        listen_port: u16,
    },
    /// The Version was accepted.
    Verack,
    /// Are you there? (nonce)
    Ping(u64),
    /// Yes (the ping's nonce).
    Pong(u64),
    /// Announces blocks and transactions.
    Inv(Vec<InvItem>),
    /// Asks for blocks and transactions.
    GetData(Vec<InvItem>),
    /// The items asked for that are not served.
    NotFound(Vec<InvItem>),
    /// A transaction.
    Tx(Transaction),
    /// Shared rather than owned: a block served from the chain is queued without a copy.
    Block(Arc<Block>),
    /// Headers after the first locator hash on the receiver's best chain, up to `stop` (zero:
    /// as many as fit in one `Headers`).
    GetHeaders {
        /// Hashes from the sender's tip back to genesis, denser near the tip.
        locator: Vec<Hash256>,
        /// The last header wanted; zero for as many as fit.
        stop: Hash256,
    },
    /// Headers following the locator's fork point.
    Headers(Vec<BlockHeader>),
    /// Asks for addresses.
    GetAddr,
    /// Addresses of peers.
    Addr(Vec<PeerAddress>),
}

impl Message {
    /// The message's name for logs and events, as Bitcoin names it.
    pub fn command(&self) -> &'static str {
        match self {
            Message::Version { .. } => "version",
            Message::Verack => "verack",
            Message::Ping(_) => "ping",
            Message::Pong(_) => "pong",
            Message::Inv(_) => "inv",
            Message::GetData(_) => "getdata",
            Message::NotFound(_) => "notfound",
            Message::Tx(_) => "tx",
            Message::Block(_) => "block",
            Message::GetHeaders { .. } => "getheaders",
            Message::Headers(_) => "headers",
            Message::GetAddr => "getaddr",
            Message::Addr(_) => "addr",
        }
    }

    /// The protocol's limits on lists and strings. The 4 MB frame limit already bounds what a
    /// decode can allocate; these bound what a peer may ask of us. Blocks and transactions are
    /// left to the consensus rules (`MAX_BLOCK_BYTES`), which judge them whole.
    pub(crate) fn check_limits(&self) -> Result<(), WireError> {
        let list = |list: &'static str, len: usize, max: usize| {
            if len > max {
                Err(WireError::OversizedList { list, len, max })
            } else {
                Ok(())
            }
        };
        match self {
            Message::Version { user_agent, .. } => {
                if user_agent.len() > MAX_USER_AGENT_BYTES {
                    return Err(WireError::OversizedUserAgent {
                        len: user_agent.len(),
                    });
                }
                Ok(())
            }
            Message::Inv(items) => list("inv", items.len(), MAX_INV_ITEMS),
            Message::GetData(items) => list("getdata", items.len(), MAX_INV_ITEMS),
            Message::NotFound(items) => list("notfound", items.len(), MAX_INV_ITEMS),
            Message::GetHeaders { locator, .. } => {
                list("locator", locator.len(), MAX_LOCATOR_HASHES)
            }
            Message::Headers(headers) => list("headers", headers.len(), MAX_HEADERS),
            Message::Addr(addrs) => list("addr", addrs.len(), MAX_ADDRS),
            Message::Verack
            | Message::Ping(_)
            | Message::Pong(_)
            | Message::Tx(_)
            | Message::Block(_)
            | Message::GetAddr => Ok(()),
        }
    }

    /// Decodes one frame payload: exactly one message, within the limits.
    pub fn decode_payload(payload: &[u8]) -> Result<Message, WireError> {
        let message: Message = codec::decode(payload, MAX_MESSAGE_BYTES).map_err(|e| match e {
            CodecError::TooLarge { len, max } => WireError::OversizedFrame { len, max },
            CodecError::Malformed(reason) => WireError::Undecodable(reason),
            CodecError::TrailingBytes { extra } => WireError::TrailingBytes { extra },
        })?;
        message.check_limits()?;
        Ok(message)
    }
}

/// Why bytes from a peer were refused. Every case but a bad checksum means the peer broke the
/// protocol and is disconnected (`disconnects`); a bad checksum drops only that frame, since
/// the stream is still in step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("frame magic {got:02x?} is not this network's {expected:02x?}")]
    /// The frame is of another network.
    BadMagic {
        /// Our magic.
        expected: [u8; 4],
        /// The frame's.
        got: [u8; 4],
    },
    #[error("frame payload of {len} bytes is over the limit of {max}")]
    /// The payload length is over `MAX_MESSAGE_BYTES`.
    OversizedFrame {
        /// The length given.
        len: usize,
        /// The limit.
        max: usize,
    },
    #[error("frame checksum {got:02x?} does not match its payload's {expected:02x?}")]
    /// The checksum does not match the payload.
    BadChecksum {
        /// The payload's checksum.
        expected: [u8; 4],
        /// The frame's.
        got: [u8; 4],
    },
    #[error("undecodable payload: {0}")]
    /// The payload does not decode.
    Undecodable(String),
    #[error("{extra} trailing bytes after the message")]
    /// Bytes follow the message.
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    #[error("{list} list of {len} items is over the limit of {max}")]
    /// A list is over its limit.
    OversizedList {
        /// Which list.
        list: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    #[error("user agent of {len} bytes is over the limit of {MAX_USER_AGENT_BYTES}")]
    /// The user agent is over its limit.
    OversizedUserAgent {
        /// Its length in bytes.
        len: usize,
    },
}

impl WireError {
    /// A stable code for logs, events and tests.
    pub fn code(&self) -> &'static str {
        match self {
            WireError::BadMagic { .. } => "bad-magic",
            WireError::OversizedFrame { .. } => "oversized-frame",
            WireError::BadChecksum { .. } => "bad-checksum",
            WireError::Undecodable(_) => "undecodable",
            WireError::TrailingBytes { .. } => "trailing-bytes",
            WireError::OversizedList { .. } => "oversized-list",
            WireError::OversizedUserAgent { .. } => "oversized-user-agent",
        }
    }

    /// Whether the peer must be disconnected; otherwise only the offending frame is dropped.
    pub fn disconnects(&self) -> bool {
        !matches!(self, WireError::BadChecksum { .. })
    }
}

#[cfg(test)]
mod tests;
