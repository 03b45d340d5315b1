//! The data model every other module speaks: hashes, headers, blocks, transactions, amounts and
//! addresses, with their hashes (block hash, txid, sighash, merkle root).
//!
//! Owns data layout and hashing. Must not validate consensus rules, touch the UTXO set, or do
//! I/O; those belong to `consensus`, `chain` and `store`.

mod address;
mod amount;
mod block;
mod hash;
mod hashed;
mod header;
mod tx;

pub use address::{Address, ParseAddressError};
pub use amount::{Amount, ParseAmountError, COIN, MAX_MONEY};
pub use block::{first_leaf_branch, merkle_root, merkle_root_from_first, Block};
pub use hash::{sha256, sha256d, sha256d_parts, Hash256, ParseHashError};
pub use hashed::{HashedBlock, HashedHeaders};
pub use header::{BlockHeader, HEADER_BYTES, NONCE_OFFSET};
pub use tx::{CoinbaseData, OutPoint, Padding, SignatureBytes, Transaction, TxIn, TxOut, Txid};
