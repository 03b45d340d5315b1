//! Entry points for the fuzz targets in `fuzz/` and for the test that replays their corpora on
//! stable Rust (`tests/fuzz_corpora.rs`): each takes arbitrary bytes from outside (a peer's
//! frames and messages, a block or transaction body, an RPC request or REST path, a block log,
//! a wallet file) and must return, whatever they are, without panicking or allocating beyond
//! the bounds checked before decoding.
//!
//! Owns nothing but the calls into the decoders. Must not do I/O or keep state between calls.

use crate::chain::Chain;
use crate::codec;
use crate::params::{Params, MAX_BLOCK_BYTES};
use crate::rpc::{envelope, rest};
use crate::store::record;
use crate::types::{Block, Transaction};
use crate::wallet::Wallet;
use crate::wire::{FrameDecoder, Message, MAX_MESSAGE_BYTES};

/// The byte stream a peer sends, split in two reads at a point the input chooses.
pub fn frame_decoder(data: &[u8]) {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let split = usize::from(split).min(stream.len());
    let mut decoder = FrameDecoder::new(Params::regtest().magic);
    for part in [&stream[..split], &stream[split..]] {
        for message in decoder.feed(part).flatten() {
            let _ = message.command();
        }
    }
}

/// One frame's payload, as a message.
pub fn message(data: &[u8]) {
    if let Ok(message) = Message::decode_payload(data) {
        let _ = message.command();
    }
}

/// A block body, then its hashes and consensus checks that need no context.
pub fn block(data: &[u8]) {
    if let Ok(block) = codec::decode::<Block>(data, MAX_BLOCK_BYTES) {
        let _ = block.hash();
        let _ = crate::consensus::rules::check_block(&block, &Params::regtest());
    }
}

/// A transaction body, then its id.
pub fn transaction(data: &[u8]) {
    if let Ok(tx) = codec::decode::<Transaction>(data, MAX_MESSAGE_BYTES) {
        let _ = tx.txid();
    }
}

/// An RPC request body, and the same bytes as a REST path.
pub fn rpc_request(data: &[u8]) {
    let _ = envelope::parse_request(data);
    if let Ok(target) = std::str::from_utf8(data) {
        let _ = rest::RestRequest::parse(target);
    }
}

/// A block log as the node reads it at start, its blocks replayed into a regtest chain.
pub fn block_log(data: &[u8]) {
    let params = Params::regtest();
    let Ok(scan) = record::scan(data, params.magic) else {
        return;
    };
    let now_secs = u64::from(params.genesis.header.time) + 1_000_000;
    let mut chain = Chain::new(params);
    for block in scan.blocks {
        let _ = chain.process_block(block, now_secs);
    }
}

/// A wallet file.
pub fn wallet_file(data: &[u8]) {
    if let Ok(wallet) = Wallet::decode(data) {
        let _ = wallet.encode();
    }
}
