//! The peer-to-peer protocol as a sans-I/O state machine: handshake, keep-alive, relay of blocks
//! and transactions, headers-first sync with parallel block download, address gossip,
//! reconnection and misbehaviour.
//!
//! It takes `Input`s (a peer connected, a message arrived, time passed) with the current time
//! as an argument, reads and feeds the node through `Host`, and returns `Output`s (send this,
//! connect there, disconnect that) for a shell to carry out. Owns peer state; must not touch
//! sockets, threads, files or the clock, so the simulator can run many nodes deterministically.

mod addrs;
mod deny;
mod download;
mod driver;
mod eviction;
mod io;
mod peer;
mod reason;
mod received;
mod relay;
mod sync;
mod timers;
mod tx_requests;

pub use addrs::MAX_LEARNED_ADDRESSES;
pub use driver::{drive, Links, ResumeWhen};
pub use io::{Host, Input, Output, PeerId, ProtocolConfig};
pub use peer::PeerInfo;
pub use reason::DisconnectReason;
use received::Kind;
pub use received::Received;
pub use timers::Timers;
pub use tx_requests::{MAX_PEER_TX_ANNOUNCEMENTS, TX_REQUEST_TIMEOUT_MS};

use crate::chain::Chain;
use crate::events::EventKind;
use crate::types::{Hash256, HashedBlock};
use crate::wire::{InvItem, InvKind, Message, PeerAddress, PROTOCOL_VERSION};
use addrs::AddressBook;
use download::BlockDownload;
use peer::{Peer, PeerPhase, Peers};
use std::collections::VecDeque;
use std::net::SocketAddr;
use tx_requests::TxRequests;

/// A peer that has not finished the handshake by then is dropped.
pub const HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
/// How often a quiet connection is pinged.
pub const PING_INTERVAL_MS: u64 = 30_000;
/// A ping not answered by then ends the connection.
pub const PING_TIMEOUT_MS: u64 = 20_000;
/// A requested block not delivered by then is asked of another peer, and the peer dropped.
pub const BLOCK_STALL_TIMEOUT_MS: u64 = 10_000;
/// Blocks asked of one peer at a time, at least: the window while blocks are large (or before
/// any arrived).
pub const MIN_BLOCKS_IN_FLIGHT_PER_PEER: usize = 16;
/// Blocks asked of one peer at a time, at most, however small they are.
pub const MAX_BLOCKS_IN_FLIGHT_PER_PEER: usize = 4_096;
/// Bytes of blocks asked of one peer at a time, at the size blocks have been arriving at:
/// small blocks need many in flight to cover a round trip, large ones few.
pub(crate) const BLOCK_BYTES_IN_FLIGHT_PER_PEER: usize = 16 * 1024 * 1024;
/// Blocks of a sync validated per `Input::Resume`: between turns the shell hands in what else
/// arrived, so a turn is short (a few hundred microseconds for small blocks).
const BLOCKS_PER_TURN: usize = 64;
/// Blocks one `getdata` may ask for; a peer asking more is dropped.
pub const MAX_BLOCKS_PER_GETDATA: usize = 128;
/// A peer that broke a consensus rule is not let back for this long.
pub(crate) const DISCOURAGE_MS: u64 = 10 * 60 * 1000;
/// How often each peer is asked for headers past our tip, so a lost announcement or a missed
/// reply never leaves a node behind for long.
pub(crate) const SYNC_INTERVAL_MS: u64 = 10_000;
/// Blocks wanted and not yet asked for, at most: more headers are asked for once the queue has
/// room again. A peer's headers cost memory only as their blocks are queued, so a flood of
/// headers it never means to serve (cheap at the minimum difficulty) stays bounded: about 15 MB
/// here, and given back when the peer is dropped for stalling. An honest chain still syncs,
/// this many blocks ahead of the download at a time.
pub const MAX_QUEUED_BLOCKS: usize = 100_000;
/// Headers that connect to nothing we know, tolerated per peer before it is dropped.
pub const MAX_UNCONNECTING_HEADERS: u32 = 8;

/// One node's side of the protocol.
pub struct Protocol {
    config: ProtocolConfig,
    network_id: Hash256,
    /// By id: iterating in id order keeps the outputs deterministic.
    peers: Peers,
    /// No peer's timer (handshake, ping, headers request, held headers) falls due before this:
    /// lowered wherever one is set, made exact by each tick (`timers`).
    peers_wake_ms: u64,
    addresses: AddressBook,
    download: BlockDownload,
    tx_requests: TxRequests,
    /// Transactions moved on to their next announcer (a request timed out, was not found, or
    /// its peer left), asked for at the end of the input.
    txs_to_ask: Vec<(PeerId, Hash256)>,
    network_active: bool,
    outputs: Vec<Output>,
    /// A block announced on arrival, to be validated on `Input::Resume`.
    early_block: Option<relay::EarlyBlock>,
    /// The tip moved while more blocks were on their way: it is announced once none are (the
    /// last of them may arrive as a duplicate, or not at all).
    tip_unannounced: bool,
    /// Blocks of a sync that arrived (solicited) and wait to be validated on `Input::Resume`,
    /// in arrival order, with the peer that delivered each. Bounded by the download window:
    /// they stay in flight until validated.
    blocks_to_validate: VecDeque<(PeerId, HashedBlock)>,
}

/// What handling a message came to: fine, or the peer is dropped for this reason.
type Handled = Result<(), DisconnectReason>;

impl Protocol {
    /// A protocol for a node on the network `network_id` (`Params::network_id`).
    pub fn new(config: ProtocolConfig, network_id: Hash256, now_ms: u64) -> Protocol {
        let addresses = AddressBook::new(
            &config.connect,
            &config.known,
            config.nonce,
            config.max_learned_addresses,
            now_ms,
        );
        Protocol {
            config,
            network_id,
            peers: Peers::default(),
            peers_wake_ms: u64::MAX,
            addresses,
            download: BlockDownload::default(),
            tx_requests: TxRequests::default(),
            txs_to_ask: Vec::new(),
            network_active: true,
            outputs: Vec::new(),
            early_block: None,
            tip_unannounced: false,
            blocks_to_validate: VecDeque::new(),
        }
    }

    /// Takes one input and returns what to do about it.
    pub fn handle(&mut self, now_ms: u64, input: Input<'_>, host: &mut impl Host) -> Vec<Output> {
        if !matches!(input, Input::Resume) {
            // A shell that went on without resuming still gets the paused block validated,
            // before anything else happens.
            self.submit_early_block(now_ms, host);
        }
        match input {
            Input::Connected {
                peer,
                addr,
                inbound,
            } => self.on_connected(now_ms, peer, addr, inbound),
            Input::ConnectFailed { addr } => self.addresses.connect_failed(addr, now_ms),
            Input::Received { peer, message } => {
                if let Some(state) = self.peers.get_mut(&peer) {
                    state.last_heard_ms = now_ms;
                }
                if let Err(misbehaviour) = self.on_message(now_ms, peer, message, host) {
                    self.drop_peer(now_ms, peer, misbehaviour);
                }
            }
            Input::BadFrame { peer, error } => {
                if error.disconnects() {
                    self.drop_peer(now_ms, peer, DisconnectReason::BadFrame(error.clone()));
                }
            }
            Input::Disconnected { peer } => {
                self.forget_peer(now_ms, peer, &DisconnectReason::ConnectionClosed);
            }
            Input::Tick => {
                self.on_tick(now_ms, host.chain());
                let next = self.tx_requests.expired(now_ms);
                self.txs_to_ask.extend(next);
            }
            Input::NewLocalBlock => self.announce_tip(host.chain(), None),
            Input::AnnounceBlock(hash) => {
                if host.chain().contains(&hash) {
                    self.announce(InvItem::block(hash), None);
                }
            }
            Input::AnnounceTx(txid) => self.announce(InvItem::tx(txid), None),
            Input::AddPeer(addr) => self.addresses.add_configured(addr, now_ms),
            Input::DisconnectPeer(peer) => {
                self.drop_peer(now_ms, peer, DisconnectReason::DisconnectNode);
            }
            Input::SetNetworkActive(active) => {
                self.network_active = active;
                if !active {
                    let ids = self.peers.ids();
                    for peer in ids {
                        self.drop_peer(now_ms, peer, DisconnectReason::NetworkDisabled);
                    }
                }
            }
            Input::SetDenied(denied) => self.set_denied(now_ms, denied),
            Input::Resume => {
                self.submit_early_block(now_ms, host);
                self.validate_waiting_blocks(now_ms, host);
            }
        }
        self.ask_for_txs(host);
        self.schedule(now_ms, host);
        let settled = self.early_block.is_none() && self.blocks_to_validate.is_empty();
        if self.tip_unannounced && settled && !self.download.is_fetching() {
            self.tip_unannounced = false;
            self.announce_tip(host.chain(), None);
        }
        if self.early_block.is_some() || !self.blocks_to_validate.is_empty() {
            self.outputs.push(Output::Resume);
        }
        std::mem::take(&mut self.outputs)
    }

    /// Blocks wanted and not yet asked of anyone.
    pub fn blocks_queued(&self) -> usize {
        self.download.queued_len()
    }

    /// Blocks of a sync that arrived and wait to be validated.
    pub fn blocks_to_validate(&self) -> usize {
        self.blocks_to_validate.len()
    }

    /// Every connected peer, for `getpeerinfo`.
    pub fn peers(&self) -> Vec<PeerInfo> {
        let mut infos: Vec<PeerInfo> = self.peers.values().map(Peer::info).collect();
        infos.sort_by_key(|info| info.id);
        infos
    }

    /// Whether the node makes and keeps connections (`setnetworkactive`).
    pub(crate) fn network_active(&self) -> bool {
        self.network_active
    }

    fn send(&mut self, peer: PeerId, message: Message) {
        self.outputs.push(Output::Send { peer, message });
    }

    fn on_connected(&mut self, now_ms: u64, id: PeerId, addr: SocketAddr, inbound: bool) {
        let discouraged = self.addresses.is_discouraged(addr.ip(), now_ms);
        let full = inbound && self.count(true) >= self.config.max_inbound;
        let refuse = if !self.network_active {
            Some(DisconnectReason::NetworkDisabled)
        } else if self.addresses.is_denied(addr) {
            Some(DisconnectReason::Denied)
        } else if discouraged && (!inbound || full) {
            // A discouraged address is let in while there is room, never at anyone's cost.
            Some(DisconnectReason::Discouraged)
        } else if full && !self.evict_for_newcomer(now_ms) {
            Some(DisconnectReason::InboundFull)
        } else {
            None
        };
        if let Some(reason) = refuse {
            self.outputs.push(Output::Disconnect { peer: id, reason });
            if !inbound {
                self.addresses.connect_failed(addr, now_ms);
            }
            return;
        }
        if !inbound {
            self.addresses.connected(addr);
        }
        let mut peer = Peer::new(id, addr, inbound, now_ms);
        peer.discouraged = discouraged;
        self.peers.insert(peer);
        self.peers_wake_ms = self.peers_wake_ms.min(now_ms + HANDSHAKE_TIMEOUT_MS + 1);
        if !inbound {
            self.send_version(id, 0);
        }
    }

    /// Makes room for a new inbound peer by evicting one not protected by useful behaviour;
    /// false when every one is protected.
    fn evict_for_newcomer(&mut self, now_ms: u64) -> bool {
        let candidates = self
            .peers
            .values()
            .filter(|peer| peer.inbound)
            .map(|peer| eviction::Candidate {
                id: peer.id,
                ip: peer.addr.ip(),
                connected_ms: peer.connected_ms,
                ping_ms: peer.ping_rtt_ms,
                last_tx_ms: peer.last_tx_ms,
                last_block_ms: peer.last_block_ms,
                discouraged: peer.discouraged,
            })
            .collect();
        let Some(victim) = eviction::choose(candidates, self.config.nonce) else {
            return false;
        };
        self.drop_peer(now_ms, victim, DisconnectReason::Evicted);
        true
    }

    fn send_version(&mut self, peer: PeerId, best_height: u32) {
        let message = Message::Version {
            protocol: PROTOCOL_VERSION,
            network_id: self.network_id,
            best_height,
            nonce: self.config.nonce,
            user_agent: self.config.user_agent.clone(),
            listen_port: self.config.listen_port,
        };
        self.send(peer, message);
    }

    fn count(&self, inbound: bool) -> usize {
        self.peers.count(inbound)
    }

    fn on_message(
        &mut self,
        now_ms: u64,
        id: PeerId,
        received: Received,
        host: &mut impl Host,
    ) -> Handled {
        let Some(peer) = self.peers.get(&id) else {
            return Ok(());
        };
        let command = received.command();
        match (peer.phase, received.0) {
            (PeerPhase::AwaitingVersion, Kind::Other(message @ Message::Version { .. })) => {
                self.on_version(now_ms, id, &message, host.chain())
            }
            (PeerPhase::AwaitingVersion, _) => Err(DisconnectReason::BeforeVersion { command }),
            (PeerPhase::AwaitingVerack, Kind::Other(Message::Verack)) => {
                self.on_ready(now_ms, id, host.chain());
                Ok(())
            }
            (PeerPhase::AwaitingVerack, _) => Err(DisconnectReason::BeforeVerack { command }),
            (PeerPhase::Ready, Kind::Other(Message::Version { .. } | Message::Verack)) => {
                Err(DisconnectReason::SecondHandshake)
            }
            (PeerPhase::Ready, Kind::Block(block)) => self.on_block(id, block, host),
            (PeerPhase::Ready, Kind::Headers(headers)) => {
                self.on_headers(id, &headers, host.chain())
            }
            (PeerPhase::Ready, Kind::Other(message)) => {
                self.on_ready_message(now_ms, id, &message, host)
            }
        }
    }

    fn on_version(&mut self, now_ms: u64, id: PeerId, message: &Message, chain: &Chain) -> Handled {
        let Message::Version {
            network_id,
            nonce,
            listen_port,
            user_agent,
            best_height,
            ..
        } = message
        else {
            return Ok(());
        };
        if *nonce == self.config.nonce {
            if let Some(peer) = self.peers.get(&id).filter(|peer| !peer.inbound) {
                // The address we dialed is our own: never dial it again.
                self.addresses.forget(peer.addr);
            }
            return Err(DisconnectReason::SelfConnection);
        }
        if *network_id != self.network_id {
            return Err(DisconnectReason::OtherNetwork(*network_id));
        }
        let Some(peer) = self.peers.get(&id) else {
            return Ok(());
        };
        // Port 0 says the peer accepts no connections: nothing to gossip or dial.
        let listen_addr =
            (*listen_port != 0).then(|| SocketAddr::new(peer.addr.ip(), *listen_port));
        if self.addresses.denies(peer.addr, listen_addr) {
            return Err(DisconnectReason::Denied);
        }
        self.drop_duplicate_connection(now_ms, id, *nonce)?;
        let Some(peer) = self.peers.get_mut(&id) else {
            return Ok(());
        };
        peer.nonce = Some(*nonce);
        peer.user_agent = user_agent.clone();
        peer.best_height = *best_height;
        peer.listen_addr = listen_addr;
        peer.phase = PeerPhase::AwaitingVerack;
        let inbound = peer.inbound;
        if inbound {
            self.send_version(id, chain.height());
        }
        self.send(id, Message::Verack);
        Ok(())
    }

    /// Two connections to one node (both dialed it at once, as after a heal): both ends keep
    /// the one dialed by the node with the smaller nonce, so they agree without a word; between
    /// two dialed by the same end, the older stays. Fails if connection `id` is the one to go.
    /// An address we dialed and dropped this way reaches the kept peer: it is not dialed again
    /// while that peer stays, even if the peer names another listen address.
    fn drop_duplicate_connection(&mut self, now_ms: u64, id: PeerId, nonce: u64) -> Handled {
        let Some((inbound, addr)) = self.peers.get(&id).map(|peer| (peer.inbound, peer.addr))
        else {
            return Ok(());
        };
        let Some((other, other_inbound, other_addr)) = self
            .peers
            .values()
            .find(|peer| peer.id != id && peer.nonce == Some(nonce))
            .map(|peer| (peer.id, peer.inbound, peer.addr))
        else {
            return Ok(());
        };
        let dialer = |inbound: bool| if inbound { nonce } else { self.config.nonce };
        let (kept, dropped, dropped_dialed_by_us, dropped_addr) =
            if dialer(inbound) < dialer(other_inbound) {
                (id, other, !other_inbound, other_addr)
            } else {
                (other, id, !inbound, addr)
            };
        if dropped_dialed_by_us {
            if let Some(peer) = self.peers.get_mut(&kept) {
                if !peer.also_reached_at.contains(&dropped_addr) {
                    peer.also_reached_at.push(dropped_addr);
                }
            }
        }
        if dropped == id {
            return Err(DisconnectReason::DuplicateConnection);
        }
        self.drop_peer(now_ms, dropped, DisconnectReason::DuplicateConnection);
        Ok(())
    }

    fn on_ready(&mut self, now_ms: u64, id: PeerId, chain: &Chain) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.phase = PeerPhase::Ready;
        peer.last_ping_sent_ms = now_ms;
        peer.last_sync_ms = now_ms;
        let timers = self.config.timers;
        self.peers_wake_ms = self
            .peers_wake_ms
            .min(now_ms + timers.sync_interval_ms.min(timers.ping_interval_ms + 1));
        let (addr, inbound, listen) = (peer.addr, peer.inbound, peer.listen_addr);
        if let Some(listen) = listen {
            self.addresses.learn(listen);
        }
        self.outputs.push(Output::Event(EventKind::PeerConnected {
            peer: id,
            addr,
            inbound,
            listen_addr: listen,
        }));
        self.send(id, Message::GetAddr);
        self.request_headers(id, chain, Hash256::ZERO);
    }

    fn request_headers(&mut self, id: PeerId, chain: &Chain, stop: Hash256) {
        let locator = chain.locator();
        self.send(id, Message::GetHeaders { locator, stop });
    }

    fn on_ready_message(
        &mut self,
        now_ms: u64,
        id: PeerId,
        message: &Message,
        host: &mut impl Host,
    ) -> Handled {
        match message {
            Message::Ping(nonce) => {
                self.send(id, Message::Pong(*nonce));
                Ok(())
            }
            Message::Pong(nonce) => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    if peer.ping_nonce == Some(*nonce) {
                        peer.ping_nonce = None;
                        peer.ping_rtt_ms = Some(now_ms.saturating_sub(peer.last_ping_sent_ms));
                    }
                }
                Ok(())
            }
            Message::Inv(items) => {
                self.on_inv(now_ms, id, items, host);
                Ok(())
            }
            Message::GetData(items) => self.on_getdata(id, items, host),
            Message::NotFound(items) => {
                let mut next = Vec::new();
                for item in items {
                    match item.kind {
                        InvKind::Block => self.download.not_found(id, &item.hash),
                        InvKind::Tx => next.extend(
                            self.tx_requests
                                .not_found(&item.hash, id, now_ms)
                                .map(|to| (to, item.hash)),
                        ),
                    }
                }
                self.txs_to_ask.extend(next);
                Ok(())
            }
            Message::Tx(tx) => self.on_tx(id, tx, host),
            Message::GetHeaders { locator, stop } => {
                let headers = sync::headers_after(host.chain(), locator, stop);
                self.send(id, Message::Headers(headers));
                Ok(())
            }
            // `Received::from` gives these kinds of their own, hashed.
            Message::Block(_) | Message::Headers(_) => Ok(()),
            Message::GetAddr => {
                let addrs = self
                    .addresses
                    .known()
                    .into_iter()
                    .map(PeerAddress::from)
                    .collect();
                self.send(id, Message::Addr(addrs));
                Ok(())
            }
            Message::Addr(addrs) => {
                for addr in addrs {
                    self.addresses.learn(SocketAddr::from(*addr));
                }
                Ok(())
            }
            Message::Version { .. } | Message::Verack => Ok(()),
        }
    }

    /// Asks ready peers for wanted blocks, up to each one's in-flight window.
    fn schedule(&mut self, now_ms: u64, host: &impl Host) {
        if self.download.queued_len() == 0 {
            return;
        }
        for peer in self.peers.values() {
            if self.download.queued_len() == 0 {
                break;
            }
            if peer.phase != PeerPhase::Ready {
                continue;
            }
            let requests = self
                .download
                .assign(peer.id, now_ms, |hash| host.chain().contains(hash));
            for batch in requests.chunks(MAX_BLOCKS_PER_GETDATA) {
                let items = batch.iter().copied().map(InvItem::block).collect();
                self.outputs.push(Output::Send {
                    peer: peer.id,
                    message: Message::GetData(items),
                });
            }
        }
    }

    /// Asks for the transactions moved on to another announcer, one `getdata` per peer, unless
    /// they reached the mempool meanwhile.
    fn ask_for_txs(&mut self, host: &impl Host) {
        let mut asks = std::mem::take(&mut self.txs_to_ask);
        asks.sort_unstable();
        for batch in asks.chunk_by(|a, b| a.0 == b.0) {
            let peer = batch[0].0;
            let mut items = Vec::new();
            for (_, txid) in batch {
                if host.mempool().contains(txid) {
                    self.tx_requests.forget(txid);
                } else {
                    items.push(InvItem::tx(*txid));
                }
            }
            if !items.is_empty() {
                self.send(peer, Message::GetData(items));
            }
        }
    }

    fn drop_peer(&mut self, now_ms: u64, id: PeerId, reason: DisconnectReason) {
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        let addr = peer.addr;
        if reason.discourages() {
            // Every process on this machine shares a loopback address (a devnet's nodes all
            // do): discouraging it would shut out the innocent with the offender, who is
            // disconnected all the same.
            if !addr.ip().is_loopback() {
                self.addresses.discourage(addr.ip(), now_ms + DISCOURAGE_MS);
            }
            self.outputs.push(Output::Event(EventKind::PeerMisbehaved {
                peer: id,
                addr,
                code: reason.code().to_string(),
                reason: reason.to_string(),
            }));
        }
        self.outputs.push(Output::Disconnect {
            peer: id,
            reason: reason.clone(),
        });
        self.forget_peer(now_ms, id, &reason);
    }

    fn forget_peer(&mut self, now_ms: u64, id: PeerId, reason: &DisconnectReason) {
        let Some(peer) = self.peers.remove(&id) else {
            return;
        };
        // Its blocks not validated yet go back to the queue with those it did not deliver.
        self.blocks_to_validate.retain(|(from, _)| *from != id);
        self.download.peer_gone(id);
        let next = self.tx_requests.peer_gone(id, now_ms);
        self.txs_to_ask.extend(next);
        if !peer.inbound {
            self.addresses.disconnected(peer.addr, now_ms);
        }
        // Its addresses are free to dial again, and there may be room for a dial.
        self.addresses.recheck(now_ms);
        if peer.phase == PeerPhase::Ready {
            self.outputs
                .push(Output::Event(EventKind::PeerDisconnected {
                    peer: id,
                    addr: peer.addr,
                    code: reason.code().to_string(),
                    reason: reason.to_string(),
                    listen_addr: peer.listen_addr,
                }));
        }
    }
}
