//! Storage for the block tree's nodes: chunks that double up to a fixed size, so growing never
//! moves a node.
//!
//! A `Vec` of 100,000 nodes (about 250 bytes each) copies everything it holds each time it
//! doubles: about 50 MB moved, a fifth of a replay's chain time and more during a sync, where
//! other threads compete for the memory bus. Owns only where nodes live; `tree` decides what
//! they hold.

use std::ops::{Index, IndexMut};

/// Nodes per chunk, once chunks are full-sized.
const CHUNK: usize = 1024;
/// The first chunk's size; each next one is twice the size of the one before, up to `CHUNK`.
/// A chain of a few blocks, as each of a simulation's thousands of nodes holds, reserves a few
/// kilobytes rather than a whole chunk, and no chunk ever moves.
const FIRST_CHUNK: usize = 16;
/// Where the chunks of growing size end: `FIRST_CHUNK * (1 + 2 + … + CHUNK / FIRST_CHUNK / 2)`.
const GROWING_END: usize = CHUNK - FIRST_CHUNK;
/// How many chunks grow: sizes `FIRST_CHUNK` to `CHUNK / 2`.
const GROWING_CHUNKS: usize = (CHUNK / FIRST_CHUNK).trailing_zeros() as usize;

/// Which chunk holds `index`, and where in it.
fn locate(index: usize) -> (usize, usize) {
    if index < GROWING_END {
        // Chunk k starts at FIRST_CHUNK * (2^k - 1).
        let scaled = index / FIRST_CHUNK + 1;
        let chunk = (usize::BITS - 1 - scaled.leading_zeros()) as usize;
        (chunk, index - FIRST_CHUNK * ((1 << chunk) - 1))
    } else {
        let past = index - GROWING_END;
        (GROWING_CHUNKS + past / CHUNK, past % CHUNK)
    }
}

/// The capacity of chunk number `chunk`.
fn chunk_size(chunk: usize) -> usize {
    if chunk < GROWING_CHUNKS {
        FIRST_CHUNK << chunk
    } else {
        CHUNK
    }
}

/// An append-only list indexed from 0, stored in chunks.
#[derive(Clone, Debug)]
pub(super) struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Chunked<T> {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Chunked<T> {
    pub(super) fn push(&mut self, value: T) {
        let (chunk, _) = locate(self.len);
        if chunk == self.chunks.len() {
            self.chunks.push(Vec::with_capacity(chunk_size(chunk)));
        }
        self.chunks[chunk].push(value);
        self.len += 1;
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

impl<T> Index<usize> for Chunked<T> {
    type Output = T;

    /// Panics on an index not below `len`, as a slice does.
    fn index(&self, index: usize) -> &T {
        let (chunk, at) = locate(index);
        &self.chunks[chunk][at]
    }
}

impl<T> IndexMut<usize> for Chunked<T> {
    fn index_mut(&mut self, index: usize) -> &mut T {
        let (chunk, at) = locate(index);
        &mut self.chunks[chunk][at]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_double_up_to_full_size_and_never_grow_in_place() {
        let mut list = Chunked::default();
        for value in 0..5 * CHUNK {
            list.push(value);
        }
        let sizes: Vec<usize> = list.chunks.iter().map(Vec::capacity).collect();
        assert_eq!(&sizes[..7], &[16, 32, 64, 128, 256, 512, CHUNK]);
        assert!(sizes[7..].iter().all(|size| *size == CHUNK));
        assert!(list
            .chunks
            .iter()
            .all(|chunk| chunk.len() <= chunk.capacity()));
        assert_eq!(locate(GROWING_END - 1), (GROWING_CHUNKS - 1, CHUNK / 2 - 1));
        assert_eq!(locate(GROWING_END), (GROWING_CHUNKS, 0));
    }

    #[test]
    fn values_keep_their_index_across_chunks() {
        let mut list = Chunked::default();
        let count = 3 * CHUNK + 7;
        for value in 0..count {
            list.push(value);
        }
        assert_eq!(list.len(), count);
        for index in [
            0,
            1,
            15,
            16,
            47,
            48,
            CHUNK - 1,
            CHUNK,
            2 * CHUNK + 5,
            count - 1,
        ] {
            assert_eq!(list[index], index);
        }
        list[CHUNK] = 0;
        assert_eq!(list[CHUNK], 0);
        let expected: Vec<usize> = (0..count).map(|v| if v == CHUNK { 0 } else { v }).collect();
        assert_eq!(list.iter().copied().collect::<Vec<_>>(), expected);
    }
}
