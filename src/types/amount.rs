//! `Amount`: integer base units with checked arithmetic and the MAX_MONEY bound, and the
//! coin-string form (`"1.5"`, up to 8 decimals) used by RPC and the CLI.
//!
//! Must not round: a coin string with more than 8 decimals is an error, never truncated.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Base units per coin.
pub const COIN: u64 = 100_000_000;
/// No amount, and no sum of amounts, may exceed this.
pub const MAX_MONEY: Amount = Amount(21_000_000 * COIN);

/// An amount of base units (1 coin = 10^8 units).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug, Serialize, Deserialize,
)]
pub struct Amount(pub u64);

impl Amount {
    /// Nothing.
    pub const ZERO: Amount = Amount(0);

    /// `coins` whole coins.
    pub fn from_coins(coins: u64) -> Amount {
        Amount(coins * COIN)
    }

    /// The amount in base units.
    pub fn units(self) -> u64 {
        self.0
    }

    /// The sum, or `None` past `u64::MAX`.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    /// The difference, or `None` below zero.
    pub(crate) fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// Whether the amount is at most MAX_MONEY.
    pub(crate) fn is_in_range(self) -> bool {
        self <= MAX_MONEY
    }

    /// The amount as a JSON number of coins, as Bitcoin Core shows it.
    pub(crate) fn to_coins_f64(self) -> f64 {
        self.0 as f64 / COIN as f64
    }
}

/// Why a coin string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseAmountError {
    #[error("invalid amount {0:?}: expected coins like 1.5 with at most 8 decimals")]
    /// Not a decimal number of coins.
    Malformed(String),
    #[error("amount {0:?} exceeds the 21,000,000 coin limit")]
    /// More coins than MAX_MONEY, or more than 8 decimals.
    TooLarge(String),
}

impl FromStr for Amount {
    type Err = ParseAmountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || ParseAmountError::Malformed(s.to_string());
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && frac.is_empty()
            || !all_digits(whole)
            || !all_digits(frac)
            || frac.len() > 8
            || whole.len() > 12
        {
            return Err(malformed());
        }
        let whole_units: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| malformed())?
        };
        let frac_units: u64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<8}").parse().map_err(|_| malformed())?
        };
        let amount = whole_units
            .checked_mul(COIN)
            .and_then(|w| w.checked_add(frac_units))
            .map(Amount)
            .ok_or_else(|| ParseAmountError::TooLarge(s.to_string()))?;
        if !amount.is_in_range() {
            return Err(ParseAmountError::TooLarge(s.to_string()));
        }
        Ok(amount)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:08}", self.0 / COIN, self.0 % COIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_coin_strings() {
        assert_eq!("1.5".parse::<Amount>().unwrap(), Amount(150_000_000));
        assert_eq!("0.00000001".parse::<Amount>().unwrap(), Amount(1));
        assert_eq!("21000000".parse::<Amount>().unwrap(), MAX_MONEY);
        assert_eq!(".5".parse::<Amount>().unwrap(), Amount(50_000_000));
        assert_eq!("7.".parse::<Amount>().unwrap(), Amount(700_000_000));
    }

    #[test]
    fn rejects_bad_coin_strings() {
        for bad in ["", ".", "-1", "1.000000001", "1e5", "abc", "1.2.3", " 1"] {
            assert!(bad.parse::<Amount>().is_err(), "{bad:?} should be refused");
        }
        assert!(matches!(
            "21000000.00000001".parse::<Amount>(),
            Err(ParseAmountError::TooLarge(_))
        ));
    }

    #[test]
    fn displays_with_eight_decimals() {
        assert_eq!(Amount(150_000_001).to_string(), "1.50000001");
        assert_eq!(Amount::from_coins(50).to_string(), "50.00000000");
    }
}
