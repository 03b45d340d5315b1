//! Proof-of-work arithmetic: work, the proof-of-work check and ASERT difficulty (the compact
//! encoding of targets lives in `compact`, which network parameters use too).
//!
//! Integer-only throughout, so every node computes the same next target bit for bit. Owns the
//! maths; must not look at the block tree (callers pass the parent's and grandparent's fields).

pub use super::compact::{compact_to_target, target_to_compact};
use super::error::RuleError;
use crate::params::Params;
use crate::types::Hash256;
use primitive_types::{U256, U512};

/// Expected number of hashes to meet `target`: 2^256 / (target + 1).
pub(crate) fn work_from_target(target: U256) -> U256 {
    // 2^256 does not fit in a U256; (2^256 - target - 1) / (target + 1) + 1 is the same number.
    // The saturating edges (target 0 or 2^256 - 1) are refused by the bits checks anyway.
    match target.checked_add(U256::one()) {
        Some(divisor) => (!target / divisor).saturating_add(U256::one()),
        None => U256::one(),
    }
}

/// Work of a block with these bits, or an error for an invalid encoding.
pub(crate) fn work_from_bits(bits: u32) -> Result<U256, RuleError> {
    compact_to_target(bits).map(work_from_target)
}

/// Bitcoin-style difficulty: how many times harder than the target of bits 0x1d00ffff.
/// For display only (floating point never decides anything).
pub fn difficulty(bits: u32) -> f64 {
    let to_f64 = |value: U256| {
        value.0.iter().rev().fold(0.0, |acc, word| {
            acc * 18_446_744_073_709_551_616.0 + *word as f64
        })
    };
    match compact_to_target(bits) {
        Ok(target) => to_f64(U256::from(0xffffu64) << 208) / to_f64(target),
        Err(_) => 0.0,
    }
}

/// Whether `hash`, read as a little-endian 256-bit integer, is at most `target`.
pub fn hash_meets_target(hash: &Hash256, target: &U256) -> bool {
    U256::from_little_endian(&hash.0) <= *target
}

/// Checks a header hash against the header's own bits and the network's pow limit.
pub(crate) fn check_proof_of_work(
    hash: &Hash256,
    bits: u32,
    params: &Params,
) -> Result<(), RuleError> {
    let target = compact_to_target(bits)?;
    if target > params.pow_limit() {
        return Err(RuleError::BadCompactBits);
    }
    if !hash_meets_target(hash, &target) {
        return Err(RuleError::HighHash);
    }
    Ok(())
}

/// The facts about a block's ancestors that the next difficulty depends on.
#[derive(Clone, Copy, Debug)]
pub struct RetargetInput {
    /// The parent's compact bits.
    pub parent_bits: u32,
    /// The parent's time.
    pub parent_time: u32,
    /// `None` when the parent is the genesis block.
    pub grandparent_time: Option<u32>,
}

/// The bits a child of `input.parent` must carry.
///
/// ASERT in per-block form: next = parent target × 2^((solve time − spacing) / half-life), with
/// the solve time clamped to [0, 6 × spacing]. The fractional power of two is aserti3-2d's cubic
/// approximation in 16-bit fixed point.
pub fn next_bits(params: &Params, input: RetargetInput) -> u32 {
    let (Some(half_life), Some(grandparent_time)) =
        (params.asert_half_life_secs, input.grandparent_time)
    else {
        return input.parent_bits;
    };
    let Ok(parent_target) = compact_to_target(input.parent_bits) else {
        // The parent passed the bits check, so this is unreachable for blocks in the tree;
        // falling back to the limit keeps this function total.
        return params.pow_limit_bits;
    };
    let spacing = i64::from(params.target_spacing_secs);
    let solve_time =
        (i64::from(input.parent_time) - i64::from(grandparent_time)).clamp(0, 6 * spacing);
    let exponent = ((solve_time - spacing) << 16) / i64::from(half_life);
    let shifts = exponent >> 16;
    let frac = (exponent & 0xffff) as u128;
    let factor = 65_536
        + ((195_766_423_245_049 * frac
            + 971_821_376 * frac * frac
            + 5_127 * frac * frac * frac
            + (1 << 47))
            >> 48);
    let product = U512::from(parent_target) * U512::from(factor as u64);
    let total_shift = shifts - 16;
    let scaled = if total_shift >= 0 {
        product << (total_shift as usize)
    } else {
        product >> ((-total_shift) as usize)
    };
    let limit = params.pow_limit();
    let next = match U256::try_from(scaled) {
        Ok(target) if target > limit => limit,
        Ok(target) if target.is_zero() => U256::one(),
        Ok(target) => target,
        Err(_) => limit,
    };
    target_to_compact(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_round_trips_known_values() {
        for bits in [
            0x1d00_ffffu32,
            0x207f_ffff,
            0x1b04_04cb,
            0x0300_8000,
            0x1d40_0000,
        ] {
            assert_eq!(target_to_compact(compact_to_target(bits).unwrap()), bits);
        }
        assert_eq!(
            compact_to_target(0x1d00_ffff).unwrap(),
            U256::from(0xffffu64) << 208
        );
    }

    #[test]
    fn refuses_negative_zero_and_overflowing_bits() {
        assert_eq!(
            compact_to_target(0x0180_0000),
            Err(RuleError::BadCompactBits)
        );
        assert_eq!(
            compact_to_target(0x04923456),
            Err(RuleError::BadCompactBits)
        );
        assert_eq!(
            compact_to_target(0x2000_0000),
            Err(RuleError::BadCompactBits)
        );
        assert_eq!(
            compact_to_target(0x2101_0000),
            Err(RuleError::BadCompactBits)
        );
        assert_eq!(
            compact_to_target(0xff12_3456),
            Err(RuleError::BadCompactBits)
        );
        assert_eq!(
            compact_to_target(0x0100_0012),
            Err(RuleError::BadCompactBits)
        );
    }

    #[test]
    fn work_is_two_to_the_256_over_target_plus_one() {
        assert_eq!(work_from_target(U256::MAX), U256::one());
        assert_eq!(work_from_target(U256::MAX >> 1), U256::from(2));
        assert_eq!(work_from_target(U256::zero()), U256::MAX);
        assert_eq!(
            work_from_bits(0x1d00_ffff).unwrap(),
            U256::from(0x0001_0001_0001u64)
        );
    }

    #[test]
    fn difficulty_is_relative_to_bitcoins_first_target() {
        assert_eq!(difficulty(0x1d00_ffff), 1.0);
        assert_eq!(difficulty(0x1c7f_ff80), 2.0);
        assert!(difficulty(0x207f_ffff) < 1e-9);
    }

    #[test]
    fn hash_equal_to_target_passes_and_one_above_fails() {
        let target = U256::from(1000u64);
        let mut at = [0u8; 32];
        at[..2].copy_from_slice(&1000u16.to_le_bytes());
        assert!(hash_meets_target(&Hash256(at), &target));
        at[..2].copy_from_slice(&1001u16.to_le_bytes());
        assert!(!hash_meets_target(&Hash256(at), &target));
    }

    fn devnet_step(solve_time: u32) -> (U256, U256) {
        let params = Params::devnet();
        let parent_bits = params.genesis.header.bits;
        let next = next_bits(
            &params,
            RetargetInput {
                parent_bits,
                parent_time: 1_000_000 + solve_time,
                grandparent_time: Some(1_000_000),
            },
        );
        (
            compact_to_target(parent_bits).unwrap(),
            compact_to_target(next).unwrap(),
        )
    }

    #[test]
    fn asert_holds_on_schedule_and_moves_with_solve_time() {
        let params = Params::devnet();
        let (before, on_time) = devnet_step(params.target_spacing_secs);
        assert_eq!(before, on_time);
        let (_, slow) = devnet_step(params.target_spacing_secs * 3);
        let (_, fast) = devnet_step(0);
        assert!(slow > before, "slow blocks ease the target");
        assert!(fast < before, "fast blocks tighten the target");
    }

    #[test]
    fn asert_clamps_long_gaps() {
        let params = Params::devnet();
        let (_, six) = devnet_step(params.target_spacing_secs * 6);
        let (_, overnight) = devnet_step(12 * 3600);
        assert_eq!(six, overnight);
    }

    #[test]
    fn asert_doubles_after_one_half_life_of_delay() {
        let params = Params::devnet();
        let half_life = params.asert_half_life_secs.unwrap();
        let parent_bits = 0x1c40_0000;
        let next = next_bits(
            &Params {
                target_spacing_secs: half_life,
                ..params
            },
            RetargetInput {
                parent_bits,
                parent_time: 2 * half_life,
                grandparent_time: Some(0),
            },
        );
        assert_eq!(
            compact_to_target(next).unwrap(),
            compact_to_target(parent_bits).unwrap() * 2
        );
    }

    #[test]
    fn regtest_never_retargets() {
        let params = Params::regtest();
        let bits = params.pow_limit_bits;
        let input = RetargetInput {
            parent_bits: bits,
            parent_time: 100,
            grandparent_time: Some(0),
        };
        assert_eq!(next_bits(&params, input), bits);
    }
}
