//! Relay: answering and making announcements (inv, getdata, notfound), receiving blocks and
//! transactions from peers, and headers for sync.

use super::peer::PeerPhase;
use super::{
    sync, DisconnectReason, Handled, Host, PeerId, Protocol, BLOCKS_PER_TURN,
    MAX_BLOCKS_PER_GETDATA, MAX_QUEUED_BLOCKS, MAX_UNCONNECTING_HEADERS,
};
use crate::chain::{BlockError, Chain};
use crate::consensus::rules::check_header_hashed;
use crate::consensus::RuleError;
use crate::mempool::MempoolError;
use crate::types::{Block, Hash256, HashedBlock, HashedHeaders, Transaction};
use crate::wire::{InvItem, InvKind, Message};
use foldhash::HashSet;

impl Protocol {
    pub(super) fn on_inv(&mut self, now_ms: u64, id: PeerId, items: &[InvItem], host: &impl Host) {
        let preferred = self.peers.get(&id).is_some_and(|peer| !peer.inbound);
        let mut wanted = Vec::new();
        for item in items {
            if let Some(peer) = self.peers.get_mut(&id) {
                peer.knows(item);
                if item.kind == InvKind::Block {
                    peer.told_of_blocks();
                }
            }
            match item.kind {
                InvKind::Block => {
                    // Even if already requested from someone else: this peer is a source to
                    // fall back on if that one stalls or sends a bad body.
                    if !host.chain().contains(&item.hash) {
                        self.download.want(item.hash, id);
                    }
                }
                InvKind::Tx => {
                    // Every announcer is remembered (within its bound): if the one asked
                    // withholds it, the next is asked.
                    if !host.mempool().contains(&item.hash)
                        && self.tx_requests.announced(item.hash, id, preferred, now_ms)
                    {
                        wanted.push(*item);
                    }
                }
            }
        }
        if !wanted.is_empty() {
            self.send(id, Message::GetData(wanted));
        }
    }

    pub(super) fn on_getdata(
        &mut self,
        id: PeerId,
        items: &[InvItem],
        host: &impl Host,
    ) -> Handled {
        let blocks = items
            .iter()
            .filter(|item| item.kind == InvKind::Block)
            .count();
        if blocks > MAX_BLOCKS_PER_GETDATA {
            // Each block served is a copy in the send queue: a list as long as the wire allows
            // could ask for gigabytes at once. Our own requests stay far below this.
            return Err(DisconnectReason::OversizedGetData {
                blocks,
                max: MAX_BLOCKS_PER_GETDATA,
            });
        }
        let mut missing = Vec::new();
        // Each item is served once however often it is listed, so what one getdata can make
        // us queue is bounded by the blocks above and the mempool's byte bound.
        let mut seen = HashSet::with_capacity_and_hasher(blocks, Default::default());
        let mut next_height = 0;
        let mut last_block = None;
        for item in items.iter().filter(|item| seen.insert(**item)) {
            let message = match item.kind {
                // Never a block we found invalid: the peer would rightly drop us for it.
                InvKind::Block => {
                    let served = host.chain().servable_block(&item.hash, next_height);
                    served.map(|(block, height)| {
                        next_height = height + 1;
                        Message::Block(block)
                    })
                }
                InvKind::Tx => host
                    .mempool()
                    .get(&item.hash)
                    .map(|entry| Message::Tx(entry.tx.clone())),
            };
            match message {
                Some(Message::Block(block)) => {
                    last_block = Some(item.hash);
                    self.send(id, Message::Block(block));
                }
                Some(message) => {
                    if let Some(peer) = self.peers.get_mut(&id) {
                        peer.knows_tx(item.hash);
                    }
                    self.send(id, message);
                }
                None => missing.push(*item),
            }
        }
        // Blocks are announced only as tips, so the last one served is the one worth
        // remembering the peer has, as for the headers it is sent.
        if let (Some(hash), Some(peer)) = (last_block, self.peers.get_mut(&id)) {
            peer.knows_block(hash);
        }
        if !missing.is_empty() {
            self.send(id, Message::NotFound(missing));
        }
        Ok(())
    }

    pub(super) fn on_tx(&mut self, id: PeerId, tx: &Transaction, host: &mut impl Host) -> Handled {
        let txid = tx.txid();
        if !self.tx_requests.arrived(&txid, id) {
            // Unrequested transactions are ignored rather than punished: they cost little.
            return Ok(());
        }
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.knows_tx(txid);
        }
        match host.submit_transaction(tx.clone()) {
            Ok(_) => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.last_tx_ms = peer.last_heard_ms;
                }
                self.announce(InvItem::tx(txid), Some(id));
                Ok(())
            }
            Err(MempoolError::Rule(rule)) if breaks_consensus(rule) => {
                Err(DisconnectReason::InvalidTransaction { txid, rule })
            }
            Err(_) => Ok(()),
        }
    }

    pub(super) fn on_block(
        &mut self,
        id: PeerId,
        block: HashedBlock,
        host: &mut impl Host,
    ) -> Handled {
        let hash = block.hash();
        if !self.download.delivered(&hash, id) {
            return Err(DisconnectReason::UnsolicitedBlock(hash));
        }
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.knows_block(hash);
            peer.told_of_blocks();
        }
        // During a sync (more blocks on their way) a block waits its turn: the messages that
        // arrived behind it are handled first. Above all the next headers, which the next
        // requests depend on: queued behind a window of blocks, they would come too late, and
        // the download would run dry at every batch of them.
        if !self.blocks_to_validate.is_empty() || self.download.is_fetching_besides(&hash) {
            self.blocks_to_validate.push_back((id, block));
            return Ok(());
        }
        let Some(other_sources) = self.download.take_delivered(&hash, id) else {
            // Cannot happen: it was delivered just now.
            return Err(DisconnectReason::UnsolicitedBlock(hash));
        };
        // Not during a sync: peers hear of its tip once it is done.
        if !self.download.is_fetching()
            && self.someone_to_tell(&hash, id)
            && extends_tip_with_due_work(block.block(), &hash, host.chain())
        {
            // Announce now and validate on Resume: the announcement's round trip overlaps the
            // validation. A peer that asks meanwhile is answered after it, from the chain, so
            // it gets the block only if it turned out valid (otherwise `notfound`).
            self.announce(InvItem::block(hash), Some(id));
            self.early_block = Some(EarlyBlock {
                peer: id,
                block,
                other_sources,
            });
            return Ok(());
        }
        self.submit_block(id, block, other_sources, host)
    }

    /// Validates the next `BLOCKS_PER_TURN` blocks waiting their turn, in arrival order.
    pub(super) fn validate_waiting_blocks(&mut self, now_ms: u64, host: &mut impl Host) {
        for _ in 0..BLOCKS_PER_TURN {
            let Some((peer, block)) = self.blocks_to_validate.pop_front() else {
                return;
            };
            let hash = block.hash();
            // A peer's waiting blocks leave with it, and delivered blocks neither stall nor
            // are taken back by a notfound, so each is still in flight, delivered by `peer`.
            let Some(other_sources) = self.download.take_delivered(&hash, peer) else {
                continue;
            };
            if let Err(misbehaviour) = self.submit_block(peer, block, other_sources, host) {
                self.drop_peer(now_ms, peer, misbehaviour);
            }
        }
    }

    /// Validates the block announced on arrival, as if it had just arrived.
    pub(super) fn submit_early_block(&mut self, now_ms: u64, host: &mut impl Host) {
        let Some(early) = self.early_block.take() else {
            return;
        };
        let peer = early.peer;
        if let Err(misbehaviour) = self.submit_block(peer, early.block, early.other_sources, host) {
            self.drop_peer(now_ms, peer, misbehaviour);
        }
    }

    fn submit_block(
        &mut self,
        id: PeerId,
        block: HashedBlock,
        other_sources: Vec<PeerId>,
        host: &mut impl Host,
    ) -> Handled {
        let hash = block.hash();
        self.download.block_size(block.encoded_len());
        match host.submit_block(block) {
            Ok(outcome) => {
                if let Some((_, rule)) =
                    outcome.invalid.iter().find(|(invalid, _)| *invalid == hash)
                {
                    return Err(DisconnectReason::InvalidBlock { hash, rule: *rule });
                }
                if outcome.accepted.contains(&hash) {
                    if let Some(peer) = self.peers.get_mut(&id) {
                        peer.last_block_ms = peer.last_heard_ms;
                    }
                }
                if outcome.orphaned {
                    // Fetch the missing ancestors: headers from our tip up to this block.
                    self.request_headers(id, host.chain(), hash);
                }
                // While more blocks are on their way (a sync), the tip is announced once they
                // are in, as Bitcoin Core does not announce during initial block download:
                // peers would be told of every block of a long chain.
                if outcome.tip_changed.is_some() {
                    if self.download.is_fetching() {
                        self.tip_unannounced = true;
                    } else {
                        self.announce_tip(host.chain(), Some(id));
                    }
                }
                Ok(())
            }
            Err(BlockError::Duplicate) => Ok(()),
            Err(BlockError::DuplicateInvalid) => Err(DisconnectReason::KnownInvalidBlock(hash)),
            Err(BlockError::Rule(rule)) if rule.is_permanent() => {
                if body_not_the_headers(rule) {
                    // The block the header names may still be valid: a peer that sent a
                    // mutated body must not stop us fetching it from the others that have it.
                    for source in other_sources {
                        self.download.want(hash, source);
                    }
                }
                Err(DisconnectReason::InvalidBlock { hash, rule })
            }
            Err(BlockError::Rule(_)) => Ok(()),
        }
    }

    pub(super) fn on_headers(
        &mut self,
        id: PeerId,
        headers: &HashedHeaders,
        chain: &Chain,
    ) -> Handled {
        match sync::check_headers(chain, headers, &self.download) {
            Ok(checked) => {
                if let Some(peer) = self.peers.get_mut(&id) {
                    peer.unconnecting_headers = 0;
                    // The peer has every block up to the last header, but only tips are ever
                    // announced: remembering the last one is enough (as Bitcoin Core keeps a
                    // peer's best known block), and 2,000 entries per message would push out
                    // what else the bounded memory holds.
                    if let Some((last, _)) = checked.last() {
                        peer.knows_block(*last);
                        peer.told_of_blocks();
                    }
                }
                // Queued up to the bound; past it the rest are asked for again once the queue
                // has room, from the last header queued (or known).
                let mut resume_from = headers.headers().first().map(|first| first.prev_hash);
                let mut full = false;
                for (hash, new) in &checked {
                    if *new {
                        if self.download.queued_len() >= MAX_QUEUED_BLOCKS {
                            full = true;
                            break;
                        }
                        self.download.want(*hash, id);
                    }
                    resume_from = Some(*hash);
                }
                let more = headers.headers().len() == crate::wire::MAX_HEADERS;
                match resume_from {
                    Some(last) if full => {
                        if let Some(peer) = self.peers.get_mut(&id) {
                            peer.headers_paused_at = Some(last);
                            self.peers_wake_ms = self
                                .peers_wake_ms
                                .min(peer.last_heard_ms + super::timers::HELD_HEADERS_RECHECK_MS);
                        }
                    }
                    // More may follow: ask from the last one we were given.
                    Some(last) if more => self.send(
                        id,
                        Message::GetHeaders {
                            locator: vec![last],
                            stop: Hash256::ZERO,
                        },
                    ),
                    _ => {}
                }
                Ok(())
            }
            Err(sync::HeadersProblem::NotAChain) => Err(DisconnectReason::HeadersNotAChain),
            Err(sync::HeadersProblem::Invalid(rule)) => Err(DisconnectReason::InvalidHeaders(rule)),
            Err(sync::HeadersProblem::DoNotConnect) => {
                let Some(peer) = self.peers.get_mut(&id) else {
                    return Ok(());
                };
                peer.unconnecting_headers += 1;
                if peer.unconnecting_headers > MAX_UNCONNECTING_HEADERS {
                    return Err(DisconnectReason::UnconnectingHeaders);
                }
                self.request_headers(id, chain, Hash256::ZERO);
                Ok(())
            }
        }
    }

    /// Announces the blocks that the tip moved onto, to every ready peer not known to have them.
    pub(super) fn announce_tip(&mut self, chain: &Chain, except: Option<PeerId>) {
        let tip = chain.tip().hash;
        self.announce(InvItem::block(tip), except);
    }

    /// Whether a ready peer other than `source` has not heard of `hash`: with nobody to tell
    /// (a sync from one peer), announcing early would only add a pause.
    fn someone_to_tell(&self, hash: &Hash256, source: PeerId) -> bool {
        self.peers.values().any(|peer| {
            peer.phase == PeerPhase::Ready && peer.id != source && !peer.has_heard_of_block(hash)
        })
    }

    pub(super) fn announce(&mut self, item: InvItem, except: Option<PeerId>) {
        let mut targets: Vec<PeerId> = self
            .peers
            .values_mut()
            .filter(|peer| peer.phase == PeerPhase::Ready && Some(peer.id) != except)
            .filter_map(|peer| peer.announce(&item).then_some(peer.id))
            .collect();
        targets.sort_unstable();
        for peer in targets {
            self.send(peer, Message::Inv(vec![item]));
        }
    }
}

/// A block announced on arrival and not yet validated.
pub(super) struct EarlyBlock {
    peer: PeerId,
    block: HashedBlock,
    other_sources: Vec<PeerId>,
}

/// Whether `block` is the next block on our tip with the proof of work the chain expects
/// there: worth announcing before the (costlier) validation of its body, since a forger would
/// have to do that work. A body that turns out not to match is never served.
fn extends_tip_with_due_work(block: &Block, hash: &Hash256, chain: &Chain) -> bool {
    block.header.prev_hash == chain.tip().hash
        && block.header.bits == chain.next_bits()
        && check_header_hashed(&block.header, hash, chain.params()).is_ok()
}

/// Failures of the body checks that run before the merkle root ties the body to the header:
/// they show that this body is not the header's, not that the block the header names is invalid.
fn body_not_the_headers(rule: RuleError) -> bool {
    matches!(
        rule,
        RuleError::BlockTooLarge
            | RuleError::CoinbaseMissing
            | RuleError::CoinbaseMultiple
            | RuleError::DuplicateTx
            | RuleError::BadMerkleRoot
    )
}

/// Rule failures a well-behaved peer never relays: everything but what depends on which chain
/// the peer and we are on.
fn breaks_consensus(rule: RuleError) -> bool {
    !matches!(
        rule,
        RuleError::MissingOrSpent | RuleError::PrematureCoinbaseSpend
    )
}
