//! A message from a peer as the protocol takes it: blocks and headers arrive hashed.
//!
//! Hashing a block's header and transactions, or a list of two thousand headers, is much of
//! what handling them costs. The shell builds a `Received` right after decoding a frame, on the
//! connection's reader task, so the node's event loop (which handles one message at a time)
//! only compares hashes. Owns the pairing of a message with its hashes; decides nothing about
//! the message.

use crate::types::{HashedBlock, HashedHeaders};
use crate::wire::Message;

/// A decoded message, with the hashes the node needs of it.
#[derive(Clone, Debug)]
pub struct Received(pub(super) Kind);

#[derive(Clone, Debug)]
pub(super) enum Kind {
    Block(HashedBlock),
    Headers(HashedHeaders),
    /// Any other message (never a block or headers): nothing of it is hashed here.
    Other(Message),
}

impl From<Message> for Received {
    /// Hashes what the message carries, if it is a block or headers.
    fn from(message: Message) -> Received {
        Received(match message {
            Message::Block(block) => Kind::Block(HashedBlock::new(block)),
            Message::Headers(headers) => Kind::Headers(HashedHeaders::new(headers)),
            other => Kind::Other(other),
        })
    }
}

impl Received {
    /// A block already hashed where it came from (the simulator hashes each block once for
    /// all its nodes).
    pub fn block(block: HashedBlock) -> Received {
        Received(Kind::Block(block))
    }

    /// The message's command name, as `Message::command` gives it.
    pub fn command(&self) -> &'static str {
        match &self.0 {
            Kind::Block(_) => "block",
            Kind::Headers(_) => "headers",
            Kind::Other(message) => message.command(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;
    use std::sync::Arc;

    #[test]
    fn blocks_and_headers_arrive_hashed_and_keep_their_command_names() {
        let genesis = Params::regtest().genesis;
        let block = Message::Block(Arc::new(genesis.clone()));
        let headers = Message::Headers(vec![genesis.header]);
        for message in [block, headers, Message::Verack] {
            let command = message.command();
            assert_eq!(Received::from(message).command(), command);
        }
        let Received(Kind::Block(hashed)) =
            Received::from(Message::Block(Arc::new(genesis.clone())))
        else {
            panic!("a block is hashed as a block");
        };
        assert_eq!(hashed.hash(), genesis.hash());
        let Received(Kind::Headers(hashed)) =
            Received::from(Message::Headers(vec![genesis.header]))
        else {
            panic!("headers are hashed as headers");
        };
        assert_eq!(
            hashed.iter().next().map(|(_, hash)| hash),
            Some(genesis.hash())
        );
    }
}
