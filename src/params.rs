//! Network parameters for regtest and devnet: genesis, proof-of-work limit, spacing, half-life,
//! reward, maturity, magic and default ports, and the network identity derived from them.
//!
//! Owns constants only. Must not validate anything; `consensus` reads these values.

use crate::codec;
use crate::consensus::compact::{compact_to_target, target_to_compact};
use crate::types::{
    merkle_root, Address, Amount, Block, BlockHeader, CoinbaseData, Hash256, Padding, Transaction,
    TxOut, COIN,
};
use primitive_types::U256;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Largest encoded block in bytes.
pub const MAX_BLOCK_BYTES: usize = 1_000_000;
/// The only block version v1 accepts.
pub(crate) const BLOCK_VERSION: u32 = 1;
/// How many previous blocks the median-time-past rule looks at.
pub(crate) const MEDIAN_TIME_SPAN: usize = 11;

/// Which chain a node runs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub enum Network {
    /// Multi-node playground with real difficulty that retargets every block.
    Devnet,
    /// Instant blocks for tests: no retargeting, about one hash in two wins.
    Regtest,
}

impl Network {
    /// The name used in paths and RPC answers (`devnet`, `regtest`).
    pub fn name(self) -> &'static str {
        match self {
            Network::Devnet => "devnet",
            Network::Regtest => "regtest",
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "devnet" => Ok(Network::Devnet),
            "regtest" => Ok(Network::Regtest),
            other => Err(format!(
                "unknown network {other:?}: expected devnet or regtest"
            )),
        }
    }
}

/// Everything consensus needs to know about a network.
#[derive(Clone, Debug)]
pub struct Params {
    /// Which network.
    pub network: Network,
    /// First bytes of every wire frame and block-log record.
    pub magic: [u8; 4],
    /// The easiest target any block may claim, in compact form.
    pub pow_limit_bits: u32,
    /// The intended time between blocks.
    pub target_spacing_secs: u32,
    /// ASERT half-life; `None` turns retargeting off (regtest).
    pub asert_half_life_secs: Option<u32>,
    /// How far past the node's clock a block's time may be.
    pub max_future_block_secs: u32,
    /// Blocks a coinbase output must wait before it can be spent.
    pub coinbase_maturity: u32,
    /// The first blocks' subsidy.
    pub initial_subsidy: Amount,
    /// Blocks between halvings of the subsidy.
    pub halving_interval_blocks: u32,
    /// The P2P port a node listens on by default.
    pub default_p2p_port: u16,
    /// The RPC port a node answers on by default.
    pub default_rpc_port: u16,
    /// The genesis block.
    pub genesis: Block,
}

/// The block spacings a devnet may ask for, in seconds.
pub const DEVNET_SPACING_SECS: std::ops::RangeInclusive<u32> = 1..=600;
/// The default devnet spacing; its genesis target is exactly 2^228.
const DEFAULT_DEVNET_SPACING_SECS: u32 = 10;

/// Genesis time: 2026-01-01T00:00:00Z.
const GENESIS_TIME: u32 = 1_767_225_600;

fn genesis_block(bits: u32) -> Block {
    let coinbase = Transaction {
        version: Transaction::VERSION,
        coinbase: Some(CoinbaseData {
            height: 0,
            extra_nonce: 0,
            padding: Padding::default(),
        }),
        inputs: Vec::new(),
        // Paid to an address no key hashes to; the genesis output is never spendable anyway
        // because genesis is not connected through the UTXO rules.
        outputs: vec![TxOut {
            amount: Amount::from_coins(50),
            address: Address([0; 20]),
        }],
    };
    let header = BlockHeader {
        version: BLOCK_VERSION,
        prev_hash: Hash256::ZERO,
        merkle_root: merkle_root(&[coinbase.txid()]),
        time: GENESIS_TIME,
        bits,
        nonce: 0,
    };
    Block {
        header,
        transactions: vec![coinbase],
    }
}

/// The genesis target for a devnet spacing: 2^228 * 10 / spacing. 2^228 is about 2^28 hashes a
/// block, roughly one 10 s spacing for one core running the SHA-NI kernel (about 30 M nonces/s);
/// a shorter spacing needs proportionally fewer hashes, so a 1 s devnet starts ten times easier
/// (a larger target) and a 600 s one sixty times harder. ASERT takes it from there.
fn devnet_genesis_bits(target_spacing_secs: u32) -> u32 {
    let target = (U256::one() << 228) * U256::from(DEFAULT_DEVNET_SPACING_SECS)
        / U256::from(target_spacing_secs.max(1));
    target_to_compact(target)
}

#[derive(Serialize)]
struct IdentityFields<'a> {
    genesis: Hash256,
    network: &'a str,
    pow_limit_bits: u32,
    target_spacing_secs: u32,
    asert_half_life_secs: Option<u32>,
    max_future_block_secs: u32,
    coinbase_maturity: u32,
    initial_subsidy: Amount,
    halving_interval_blocks: u32,
}

impl Params {
    /// Devnet with the default 10 s spacing.
    pub fn devnet() -> Params {
        Params::devnet_with_spacing(DEFAULT_DEVNET_SPACING_SECS)
    }

    /// Devnet with another block spacing; that is another network with another identity. The
    /// spacing is clamped to [`DEVNET_SPACING_SECS`] (callers validate user input against it).
    pub fn devnet_with_spacing(target_spacing_secs: u32) -> Params {
        let target_spacing_secs =
            target_spacing_secs.clamp(*DEVNET_SPACING_SECS.start(), *DEVNET_SPACING_SECS.end());
        let genesis_bits = devnet_genesis_bits(target_spacing_secs);
        Params {
            network: Network::Devnet,
            magic: *b"nkdv",
            pow_limit_bits: 0x207f_ffff,
            target_spacing_secs,
            asert_half_life_secs: Some(60 * target_spacing_secs),
            max_future_block_secs: 120,
            coinbase_maturity: 20,
            initial_subsidy: Amount(50 * COIN),
            halving_interval_blocks: 210_000,
            default_p2p_port: 18_444,
            default_rpc_port: 18_443,
            genesis: genesis_block(genesis_bits),
        }
    }

    /// Regtest: instant blocks, no retargeting.
    pub fn regtest() -> Params {
        let bits = 0x207f_ffff;
        Params {
            network: Network::Regtest,
            magic: *b"nkrt",
            pow_limit_bits: bits,
            target_spacing_secs: 600,
            asert_half_life_secs: None,
            max_future_block_secs: 2 * 60 * 60,
            coinbase_maturity: 100,
            initial_subsidy: Amount(50 * COIN),
            halving_interval_blocks: 210_000,
            default_p2p_port: 28_444,
            default_rpc_port: 28_443,
            genesis: genesis_block(bits),
        }
    }

    /// The default parameters of `network`.
    pub fn for_network(network: Network) -> Params {
        match network {
            Network::Devnet => Params::devnet(),
            Network::Regtest => Params::regtest(),
        }
    }

    /// The genesis block's hash.
    pub fn genesis_hash(&self) -> Hash256 {
        self.genesis.hash()
    }

    /// The pow limit as a target.
    #[allow(
        clippy::expect_used,
        reason = "both networks' pow limit bits are a valid encoding (see the comment)"
    )]
    pub fn pow_limit(&self) -> U256 {
        // Cannot fail: both networks use the valid encoding 0x207fffff, checked by a test.
        compact_to_target(self.pow_limit_bits).expect("pow limit bits are a valid encoding")
    }

    /// Block subsidy at `height`: 50 coins halving every interval, zero after 64 halvings.
    pub fn subsidy(&self, height: u32) -> Amount {
        let halvings = height / self.halving_interval_blocks;
        if halvings >= 64 {
            return Amount::ZERO;
        }
        Amount(self.initial_subsidy.0 >> halvings)
    }

    /// The network identity: the hash of the genesis block and every consensus parameter, so a
    /// devnet with another block time is another network.
    pub fn network_id(&self) -> Hash256 {
        let fields = IdentityFields {
            genesis: self.genesis_hash(),
            network: self.network.name(),
            pow_limit_bits: self.pow_limit_bits,
            target_spacing_secs: self.target_spacing_secs,
            asert_half_life_secs: self.asert_half_life_secs,
            max_future_block_secs: self.max_future_block_secs,
            coinbase_maturity: self.coinbase_maturity,
            initial_subsidy: self.initial_subsidy,
            halving_interval_blocks: self.halving_interval_blocks,
        };
        crate::types::sha256d(&codec::encode(&fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow_limits_decode() {
        assert!(!Params::regtest().pow_limit().is_zero());
        assert!(!Params::devnet().pow_limit().is_zero());
        assert!(compact_to_target(Params::devnet().genesis.header.bits).is_ok());
    }

    #[test]
    fn identities_differ_by_network_and_spacing() {
        let ids = [
            Params::regtest().network_id(),
            Params::devnet().network_id(),
            Params::devnet_with_spacing(5).network_id(),
        ];
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[1], ids[2]);
        assert_eq!(Params::devnet().network_id(), ids[1]);
    }

    #[test]
    fn devnet_genesis_target_scales_with_spacing() {
        // The 10 s devnet genesis is fixed: changing it would change the network.
        assert_eq!(Params::devnet().genesis.header.bits, 0x1d10_0000);
        let target = |spacing| compact_to_target(devnet_genesis_bits(spacing)).unwrap();
        let ten = target(10);
        assert_eq!(ten, U256::one() << 228);
        // A shorter spacing is an easier (larger) target. Compact form keeps 23 bits of
        // mantissa, so only the ratio is exact.
        assert_eq!(target(1), ten * U256::from(10));
        assert_eq!(ten / target(600), U256::from(60));
        assert_eq!(
            Params::devnet_with_spacing(0).target_spacing_secs,
            *DEVNET_SPACING_SECS.start()
        );
    }

    #[test]
    fn subsidy_halves() {
        let params = Params::regtest();
        assert_eq!(params.subsidy(0), Amount::from_coins(50));
        assert_eq!(params.subsidy(210_000), Amount::from_coins(25));
        assert_eq!(params.subsidy(210_000 * 64), Amount::ZERO);
    }

    #[test]
    fn genesis_merkle_root_matches_its_transactions() {
        let genesis = Params::regtest().genesis;
        assert_eq!(genesis.compute_merkle_root(), genesis.header.merkle_root);
    }

    #[test]
    fn network_names_parse() {
        assert_eq!("regtest".parse::<Network>(), Ok(Network::Regtest));
        assert!("mainnet".parse::<Network>().is_err());
    }
}
