//! Bitcoin's compact `bits` encoding of a 256-bit target, both ways.
//!
//! Pure arithmetic with no network parameters, so `params` can encode its genesis targets without
//! depending on the proof-of-work rules that read those parameters. Must not look at blocks.

use super::error::RuleError;
use primitive_types::U256;

/// Decodes Bitcoin's compact `bits` into a target, refusing negative, zero and overflowing
/// encodings.
pub fn compact_to_target(bits: u32) -> Result<U256, RuleError> {
    let exponent = bits >> 24;
    let mantissa = bits & 0x007f_ffff;
    let negative = bits & 0x0080_0000 != 0;
    if mantissa == 0 || negative {
        return Err(RuleError::BadCompactBits);
    }
    let target = if exponent <= 3 {
        U256::from(mantissa >> (8 * (3 - exponent)))
    } else {
        let shift = 8 * (exponent - 3);
        let significant_bits = 32 - mantissa.leading_zeros();
        if shift + significant_bits > 256 {
            return Err(RuleError::BadCompactBits);
        }
        U256::from(mantissa) << shift
    };
    if target.is_zero() {
        return Err(RuleError::BadCompactBits);
    }
    Ok(target)
}

/// Encodes a target in compact form, rounding down to 23 bits of mantissa.
pub fn target_to_compact(target: U256) -> u32 {
    let mut size = target.bits().div_ceil(8) as u32;
    let mut mantissa = if size <= 3 {
        (target.low_u64() << (8 * (3 - size))) as u32
    } else {
        (target >> (8 * (size - 3))).low_u64() as u32
    };
    // The sign bit must stay clear: move one byte into the exponent instead.
    if mantissa & 0x0080_0000 != 0 {
        mantissa >>= 8;
        size += 1;
    }
    (size << 24) | mantissa
}
