//! The sans-I/O boundary: what the protocol takes in (`Input`, with the node it runs in behind
//! `Host`) and what it hands back for a shell to carry out (`Output`), and how a node's protocol
//! is configured.
//!
//! Owns these shapes only. Must not hold behaviour: the protocol decides, the driver and the
//! shells carry out.

use super::{DisconnectReason, Received, Timers};
use crate::chain::{BlockError, BlockOutcome, Chain};
use crate::events::EventKind;
use crate::mempool::{Mempool, MempoolError};
use crate::types::{Hash256, HashedBlock, Transaction, Txid};
use crate::wire::{Message, WireError};
use std::net::SocketAddr;

/// A connection's number, unique for the life of a node.
pub type PeerId = u64;

/// What the protocol needs from the node it runs in.
pub trait Host {
    /// The node's chain.
    fn chain(&self) -> &Chain;
    /// The node's mempool.
    fn mempool(&self) -> &Mempool;
    /// Validates, stores and applies a block (the mempool and event log follow).
    fn submit_block(&mut self, block: HashedBlock) -> Result<BlockOutcome, BlockError>;
    /// Admits a transaction to the mempool.
    fn submit_transaction(&mut self, tx: Transaction) -> Result<Txid, MempoolError>;
    /// Records a peer event in the node's event log.
    fn record(&mut self, event: EventKind);
    /// Transactions to announce since the last call: admitted from the node's own RPC, or put
    /// back into the mempool by a reorg (peers on the winning branch may never have seen them).
    fn take_txs_to_announce(&mut self) -> Vec<Txid>;
    /// Makes every accepted block durable before peers are told of it; false if that failed
    /// (then nothing is told). A host without a disk has nothing to do.
    fn make_durable(&mut self) -> bool {
        true
    }
}

/// Limits and identity of one node's protocol.
#[derive(Clone, Debug)]
pub struct ProtocolConfig {
    /// Random per node start: a Version carrying our own nonce is a connection to ourselves.
    pub nonce: u64,
    /// What Version tells peers we run.
    pub user_agent: String,
    /// The port we accept connections on, told to peers so they can gossip it.
    pub listen_port: u16,
    /// Most inbound peers.
    pub max_inbound: usize,
    /// Most outbound peers found by gossip (configured peers come on top).
    pub max_outbound: usize,
    /// Peers to keep connected to, reconnecting with backoff.
    pub connect: Vec<SocketAddr>,
    /// Addresses known from the start (as from a peers file or seeds), dialed while there is
    /// outbound room as learned ones are.
    pub known: Vec<SocketAddr>,
    /// Addresses learned from gossip remembered, at most (`MAX_LEARNED_ADDRESSES` for a node).
    pub max_learned_addresses: usize,
    /// How often ready peers are pinged and asked for headers.
    pub timers: Timers,
}

/// Something that happened to the node.
#[derive(Debug)]
pub enum Input<'a> {
    /// A connection is up (the shell dialed out, or accepted one).
    Connected {
        /// The connection's id.
        peer: PeerId,
        /// The remote address.
        addr: SocketAddr,
        /// Whether the peer dialed us.
        inbound: bool,
    },
    /// Dialing `addr` failed.
    ConnectFailed {
        /// The address dialed.
        addr: SocketAddr,
    },
    /// A message from `peer`, hashed where it was decoded (`Received::from`).
    Received {
        /// The connection.
        peer: PeerId,
        /// The message.
        message: Received,
    },
    /// The framing layer refused a frame from `peer`.
    BadFrame {
        /// The connection.
        peer: PeerId,
        /// Why the frame was refused.
        error: &'a WireError,
    },
    /// The connection ended (either side closed it).
    Disconnected {
        /// The connection.
        peer: PeerId,
    },
    /// Time passed: timeouts, pings, stalls and reconnections are looked at.
    Tick,
    /// The node itself accepted a block (mined, or submitted by RPC): announce its new tip.
    NewLocalBlock,
    /// Announce this block, in the tree, to every peer not known to have it, whether or not it
    /// is the tip: what a selfish miner does when it publishes a block to race one it saw
    /// (the simulator's pool).
    AnnounceBlock(Hash256),
    /// A transaction in the node's mempool to announce: accepted from its own RPC, or put back
    /// by a reorg (peers on the winning branch may never have seen it).
    AnnounceTx(Txid),
    /// `addnode`: connect to this peer and keep reconnecting to it.
    AddPeer(SocketAddr),
    /// `disconnectnode`.
    DisconnectPeer(PeerId),
    /// `setnetworkactive`: off drops every peer and makes no connections until on again.
    SetNetworkActive(bool),
    /// `setdeniedpeers`: replaces the deny-list (P2P listen addresses); empty clears it.
    SetDenied(&'a [SocketAddr]),
    /// Carry on after an `Output::Resume`: validate the block announced on arrival, then the
    /// next blocks waiting their turn.
    Resume,
}

/// Something for the shell to do, or to record.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Queue a message for a peer.
    Send {
        /// The connection.
        peer: PeerId,
        /// The message.
        message: Message,
    },
    /// Dial an address.
    Connect {
        /// The address.
        addr: SocketAddr,
    },
    /// Close a connection.
    Disconnect {
        /// The connection.
        peer: PeerId,
        /// Why.
        reason: DisconnectReason,
    },
    /// A peer fact for the node's event log.
    Event(EventKind),
    /// The protocol has blocks left to validate: one announced on arrival (so the round trip
    /// of the announcement overlaps its validation), or blocks of a sync waiting their turn.
    /// Carry out the outputs, then hand it `Input::Resume`: at once, or once the messages
    /// already received are in (any other input first validates an announced block).
    Resume,
}
