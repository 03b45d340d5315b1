//! What the node task's helpers tell it: blocks found by miner threads, `generate` steps,
//! connections accepted and dialed, the news of a connection's reader and writer, and expired
//! `waitforblockheight` timers.
//!
//! Owns the message shapes only, so the helpers and the node task meet here rather than in each
//! other's code. Must not hold behaviour.

use crate::protocol::{PeerId, Received};
use crate::rpc::RpcError;
use crate::types::{Address, Block, Hash256};
use crate::wire::WireError;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// A template for `generate`, and the flag raised when the tip moves past it.
pub(super) type GenerateJob = (Block, Arc<AtomicBool>);

/// Messages to the node task from its helpers, but for connections' news (see `PeerNotice`).
pub(super) enum Command {
    /// A worker solved a block.
    Found(Block),
    /// `generate` wants a template and the flag that says when it went stale.
    Template {
        payout: Option<Address>,
        reply: oneshot::Sender<Result<GenerateJob, RpcError>>,
    },
    /// `generate` solved a block.
    SubmitGenerated {
        block: Block,
        reply: oneshot::Sender<Result<Hash256, RpcError>>,
    },
    /// The listener accepted a peer.
    Accepted { stream: TcpStream, addr: SocketAddr },
    /// An outbound dial finished.
    Dialed {
        addr: SocketAddr,
        result: Result<TcpStream, String>,
    },
    /// The timeout of the `waitforblockheight` call with this id ran out.
    HeightWaitExpired(u64),
}

/// What a connection's reader or writer tells the node task, on a bounded channel of its own:
/// a reader whose notices the node task has not taken yet stops reading its socket, so a peer
/// that sends faster than the node validates is slowed by TCP instead of filling memory.
#[derive(Debug)]
pub(super) enum PeerNotice {
    /// The frames decoded from one read, in order, each block or headers hashed on the
    /// connection's reader task; a frame error that ends the connection comes last. One notice
    /// per read, not per frame: a sync's small blocks arrive by the hundred.
    Frames(Vec<Result<Received, WireError>>),
    /// The connection ended: the peer closed it, or a read or write failed.
    Closed,
}

/// A notice with the connection it is from.
pub(super) type FromPeer = (PeerId, PeerNotice);
