//! The frames recent large blocks arrived in, so that a node relaying a block sends on the
//! bytes it received instead of encoding the block again: for a 100 KB block, encoding and
//! checksumming is a good part of the time from receiving it to the next peer having it.
//!
//! Owns a short, bounded list shared by a node's connections: readers fill it, writers consult
//! it. Must not decide what is sent; it only answers "these are the bytes for this message".

use super::{encode_frame_into, FrameDecoder, Message, WireError};
use crate::types::Block;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

/// Blocks whose frames are kept; the oldest goes first.
const KEPT_BLOCKS: usize = 8;
/// Payloads smaller than this are not kept: they encode in microseconds, and a sync's
/// thousands of small blocks should cost no copies.
pub const KEEP_BLOCK_FRAMES_FROM: usize = 16 * 1024;

/// A block and the frame it arrived in.
type Kept = (Arc<Block>, Vec<u8>);

/// The frames of the last few large blocks received, shared (cloning shares the list).
#[derive(Clone, Default, Debug)]
pub struct BlockFrames {
    kept: Arc<Mutex<VecDeque<Kept>>>,
}

impl BlockFrames {
    /// A decoder for a connection whose large block frames this list should keep.
    pub fn decoder(&self, magic: [u8; 4]) -> FrameDecoder {
        let mut decoder = FrameDecoder::new(magic);
        decoder.keep_frames_from(KEEP_BLOCK_FRAMES_FROM);
        decoder
    }

    /// Remembers that `block` arrived in `frame` (whole, header included), if `message` is
    /// that block; anything else is ignored.
    pub fn keep(&self, message: &Message, frame: Option<Vec<u8>>) {
        let (Message::Block(block), Some(frame)) = (message, frame) else {
            return;
        };
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() == KEPT_BLOCKS {
            kept.pop_front();
        }
        kept.push_back((Arc::clone(block), frame));
    }

    /// Appends the frame for `message` to `out`: the one a block arrived in if it is kept,
    /// else a fresh encoding (`encode_frame_into`). A kept frame is found by the block object
    /// itself, which the chain hands back when it serves the block, not by an equal copy: no
    /// hashing, and no chance of sending another block's bytes.
    pub fn encode_into(
        &self,
        magic: [u8; 4],
        message: &Message,
        out: &mut Vec<u8>,
    ) -> Result<(), WireError> {
        if let Message::Block(block) = message {
            let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, frame)) = kept.iter().find(|(kept, _)| Arc::ptr_eq(kept, block)) {
                out.extend_from_slice(frame);
                return Ok(());
            }
        }
        encode_frame_into(magic, message, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;
    use crate::wire::encode_frame;

    const MAGIC: [u8; 4] = *b"test";

    /// A block of about `outputs` × 28 bytes (not a valid one: the wire does not care).
    fn block_with(outputs: usize) -> Arc<Block> {
        let mut block = Params::regtest().genesis;
        let output = block.transactions[0].outputs[0];
        block.transactions[0].outputs = vec![output; outputs];
        Arc::new(block)
    }

    #[test]
    fn a_kept_frame_is_found_by_the_block_object_not_by_an_equal_block() {
        let frames = BlockFrames::default();
        let block = block_with(1);
        let message = Message::Block(Arc::clone(&block));
        // Bytes no encoding produces, to tell the kept frame from a fresh one.
        frames.keep(&message, Some(b"the frame it came in".to_vec()));
        let mut out = b"before|".to_vec();
        frames.encode_into(MAGIC, &message, &mut out).unwrap();
        assert_eq!(out, b"before|the frame it came in");

        let equal = Message::Block(Arc::new(Block::clone(&block)));
        let mut out = Vec::new();
        frames.encode_into(MAGIC, &equal, &mut out).unwrap();
        assert_eq!(out, encode_frame(MAGIC, &equal).unwrap());
    }

    #[test]
    fn only_blocks_are_kept_and_only_the_last_few() {
        let frames = BlockFrames::default();
        frames.keep(&Message::Ping(1), Some(vec![1]));
        frames.keep(&Message::Block(block_with(1)), None);
        assert!(frames.kept.lock().unwrap().is_empty());
        let blocks: Vec<Arc<Block>> = (0..=KEPT_BLOCKS).map(|_| block_with(1)).collect();
        for block in &blocks {
            frames.keep(&Message::Block(Arc::clone(block)), Some(vec![7]));
        }
        let kept = frames.kept.lock().unwrap();
        assert_eq!(kept.len(), KEPT_BLOCKS);
        assert!(
            !Arc::ptr_eq(&kept[0].0, &blocks[0]),
            "the oldest went first"
        );
    }

    #[test]
    fn the_decoder_keeps_the_frames_of_large_blocks_only() {
        let frames = BlockFrames::default();
        let small = Message::Block(block_with(1));
        let large = Message::Block(block_with(KEEP_BLOCK_FRAMES_FROM / 28 + 1));
        let large_frame = encode_frame(MAGIC, &large).unwrap();
        let mut stream = encode_frame(MAGIC, &small).unwrap();
        stream.extend_from_slice(&large_frame);
        // Whole (decoded in place), and cut mid-way (the large frame buffered).
        for cut in [stream.len(), stream.len() / 2] {
            let mut decoder = frames.decoder(MAGIC);
            let mut kept = Vec::new();
            for chunk in [&stream[..cut], &stream[cut..]] {
                let mut decoded = decoder.feed(chunk);
                while let Some(frame) = decoded.next() {
                    kept.push((frame.unwrap(), decoded.take_kept_frame()));
                }
            }
            assert_eq!(kept.len(), 2);
            assert_eq!(kept[0], (small.clone(), None));
            assert_eq!(kept[1], (large.clone(), Some(large_frame.clone())));
        }
    }
}
