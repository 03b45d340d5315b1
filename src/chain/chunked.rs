//! Storage for the block tree's nodes: fixed-size chunks, so growing never moves a node.
//!
//! A `Vec` of 100,000 nodes (about 250 bytes each) copies everything it holds each time it
//! doubles: about 50 MB moved, a fifth of a replay's chain time and more during a sync, where
//! other threads compete for the memory bus. Owns only where nodes live; `tree` decides what
//! they hold.

use std::ops::{Index, IndexMut};

/// Nodes per chunk.
const CHUNK: usize = 1024;

/// An append-only list indexed from 0, stored in chunks of `CHUNK`.
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
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(value),
            _ => {
                // The first chunk grows as a `Vec` does (moving at most one chunk's worth): a
                // chain of a few blocks, as each of a simulation's thousands of nodes holds,
                // does not reserve a whole chunk.
                let capacity = if self.chunks.is_empty() { 0 } else { CHUNK };
                let mut chunk = Vec::with_capacity(capacity);
                chunk.push(value);
                self.chunks.push(chunk);
            }
        }
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
        &self.chunks[index / CHUNK][index % CHUNK]
    }
}

impl<T> IndexMut<usize> for Chunked<T> {
    fn index_mut(&mut self, index: usize) -> &mut T {
        &mut self.chunks[index / CHUNK][index % CHUNK]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_index_across_chunks() {
        let mut list = Chunked::default();
        let count = 3 * CHUNK + 7;
        for value in 0..count {
            list.push(value);
        }
        assert_eq!(list.len(), count);
        for index in [0, 1, CHUNK - 1, CHUNK, 2 * CHUNK + 5, count - 1] {
            assert_eq!(list[index], index);
        }
        list[CHUNK] = 0;
        assert_eq!(list[CHUNK], 0);
        let expected: Vec<usize> = (0..count).map(|v| if v == CHUNK { 0 } else { v }).collect();
        assert_eq!(list.iter().copied().collect::<Vec<_>>(), expected);
    }
}
