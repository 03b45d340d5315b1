//! Helpers for method handlers to read positional params with clear errors.
//!
//! Parameters are named in errors by 1-based position and name ("missing parameter 2
//! (amount)"). A JSON null counts as absent, as in Bitcoin Core. Codes: a missing required
//! parameter is -32602, a wrong JSON type or unusable amount -3 (Core's RPC_TYPE_ERROR), a bad
//! hash -8, a bad address -5. Must not know which method is being served.

use super::error::RpcError;
use crate::types::{Address, Amount, Hash256};
use serde_json::{Number, Value};

/// The largest whole-coin part an amount can have: 21,000,000 is 8 digits.
const MAX_WHOLE_COIN_DIGITS: usize = 8;
/// Beyond this exponent a number cannot be a valid amount and expanding it is pointless.
const MAX_AMOUNT_EXPONENT: i64 = 30;

fn label(index: usize, name: &str) -> String {
    format!("parameter {} ({name})", index + 1)
}

fn present(params: &[Value], index: usize) -> Option<&Value> {
    params.get(index).filter(|value| !value.is_null())
}

fn required<'p>(params: &'p [Value], index: usize, name: &str) -> Result<&'p Value, RpcError> {
    present(params, index)
        .ok_or_else(|| RpcError::invalid_params(format!("missing {}", label(index, name))))
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(index: usize, name: &str, expected: &str, value: &Value) -> RpcError {
    RpcError::type_error(format!(
        "{} must be {expected}, got {}",
        label(index, name),
        json_type(value)
    ))
}

fn as_str<'p>(value: &'p Value, index: usize, name: &str) -> Result<&'p str, RpcError> {
    value
        .as_str()
        .ok_or_else(|| wrong_type(index, name, "a string", value))
}

fn as_u64(value: &Value, index: usize, name: &str) -> Result<u64, RpcError> {
    value
        .as_u64()
        .ok_or_else(|| wrong_type(index, name, "a non-negative integer", value))
}

/// Parameter `index`, a string.
pub(crate) fn required_str<'p>(
    params: &'p [Value],
    index: usize,
    name: &str,
) -> Result<&'p str, RpcError> {
    as_str(required(params, index, name)?, index, name)
}

/// Parameter `index`, a string if given.
pub(crate) fn optional_str<'p>(
    params: &'p [Value],
    index: usize,
    name: &str,
) -> Result<Option<&'p str>, RpcError> {
    present(params, index)
        .map(|value| as_str(value, index, name))
        .transpose()
}

/// Parameter `index`, a whole number.
pub(crate) fn required_u64(params: &[Value], index: usize, name: &str) -> Result<u64, RpcError> {
    as_u64(required(params, index, name)?, index, name)
}

/// Parameter `index`, a whole number if given.
pub(crate) fn optional_u64(
    params: &[Value],
    index: usize,
    name: &str,
) -> Result<Option<u64>, RpcError> {
    present(params, index)
        .map(|value| as_u64(value, index, name))
        .transpose()
}

/// Parameter `index`, true or false if given.
pub(crate) fn optional_bool(
    params: &[Value],
    index: usize,
    name: &str,
) -> Result<Option<bool>, RpcError> {
    present(params, index)
        .map(|value| {
            value
                .as_bool()
                .ok_or_else(|| wrong_type(index, name, "true or false", value))
        })
        .transpose()
}

/// A block hash or txid in display (byte-reversed) hex.
pub(crate) fn required_hash(
    params: &[Value],
    index: usize,
    name: &str,
) -> Result<Hash256, RpcError> {
    let text = required_str(params, index, name)?;
    text.parse()
        .map_err(|e| RpcError::invalid_parameter(format!("{}: {e}", label(index, name))))
}

/// Parameter `index`, an address.
pub(crate) fn required_address(
    params: &[Value],
    index: usize,
    name: &str,
) -> Result<Address, RpcError> {
    let text = required_str(params, index, name)?;
    text.parse()
        .map_err(|e| RpcError::invalid_address(format!("{}: {e}", label(index, name))))
}

/// An amount of coins as a JSON number (`1.5`) or string (`"1.5"`), converted exactly: at most
/// 8 decimals, never rounded, not negative, at most 21,000,000 coins.
pub(crate) fn required_amount(
    params: &[Value],
    index: usize,
    name: &str,
) -> Result<Amount, RpcError> {
    let value = required(params, index, name)?;
    let invalid = |why: String| {
        RpcError::type_error(format!("invalid amount for {}: {why}", label(index, name)))
    };
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => coins_text(number).map_err(|why| invalid(why.to_string()))?,
        other => {
            return Err(wrong_type(
                index,
                name,
                "a number or a string of coins",
                other,
            ))
        }
    };
    text.parse::<Amount>().map_err(|e| invalid(e.to_string()))
}

/// The plain decimal text of a JSON number. serde_json keeps a fractional number as an f64 whose
/// Display is the shortest text that reads back as the same f64, so an amount of at most 8
/// decimals (and at most 21,000,000 coins, where an f64 step is under 10^-8) comes back exactly
/// as typed, though perhaps in exponent form (`1e-8`), which this expands.
fn coins_text(number: &Number) -> Result<String, &'static str> {
    let text = number.to_string();
    if text.starts_with('-') {
        return Err("amounts cannot be negative");
    }
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (
            mantissa,
            exponent.parse::<i64>().map_err(|_| "unreadable exponent")?,
        ),
        None => (text.as_str(), 0),
    };
    if exponent.abs() > MAX_AMOUNT_EXPONENT {
        return Err(if exponent > 0 {
            "exceeds the 21,000,000 coin limit"
        } else {
            "more than 8 decimals"
        });
    }
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a plain decimal number");
    }
    // Where the decimal point lands within `digits` once the exponent is applied.
    let point = whole.len() as i64 + exponent;
    let (int_part, frac_part) = if point <= 0 {
        (
            String::new(),
            format!("{}{digits}", "0".repeat(point.unsigned_abs() as usize)),
        )
    } else if point as usize >= digits.len() {
        (
            format!("{digits:0<width$}", width = point as usize),
            String::new(),
        )
    } else {
        let (int_part, frac_part) = digits.split_at(point as usize);
        (int_part.to_string(), frac_part.to_string())
    };
    let int_part = match int_part.trim_start_matches('0') {
        "" => "0",
        trimmed => trimmed,
    };
    if int_part.len() > MAX_WHOLE_COIN_DIGITS {
        return Err("exceeds the 21,000,000 coin limit");
    }
    let frac_part = frac_part.trim_end_matches('0');
    Ok(if frac_part.is_empty() {
        int_part.to_string()
    } else {
        format!("{int_part}.{frac_part}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{COIN, MAX_MONEY};
    use serde_json::json;

    fn amount(value: Value) -> Result<Amount, RpcError> {
        required_amount(&[value], 0, "amount")
    }

    #[test]
    fn amounts_from_numbers_are_exact() {
        assert_eq!(amount(json!(1.5)).unwrap(), Amount(150_000_000));
        assert_eq!(amount(json!(1e-8)).unwrap(), Amount(1));
        assert_eq!(amount(json!(0.1)).unwrap(), Amount(10_000_000));
        assert_eq!(amount(json!(0.3)).unwrap(), Amount(30_000_000));
        assert_eq!(amount(json!(21000000)).unwrap(), MAX_MONEY);
        assert_eq!(amount(json!(21000000.0)).unwrap(), MAX_MONEY);
        assert_eq!(amount(json!(0)).unwrap(), Amount::ZERO);
        assert_eq!(amount(json!(2.5e3)).unwrap(), Amount(2500 * COIN));
        assert_eq!(
            amount(json!(20999999.99999999)).unwrap(),
            Amount(MAX_MONEY.0 - 1)
        );
        let parsed: Value = serde_json::from_str("12.34567891").unwrap();
        assert_eq!(amount(parsed).unwrap(), Amount(1_234_567_891));
    }

    #[test]
    fn amounts_from_strings() {
        assert_eq!(amount(json!("0.1")).unwrap(), Amount(10_000_000));
        assert_eq!(amount(json!("1.5")).unwrap(), Amount(150_000_000));
        assert_eq!(amount(json!("0.00000001")).unwrap(), Amount(1));
    }

    #[test]
    fn amounts_refused() {
        for bad in [
            json!(21000001),
            json!("21000001"),
            json!(21000000.00000001),
            json!(1.123456789),
            json!("1.123456789"),
            json!(1e-9),
            json!(1e300),
            json!(-1),
            json!(-0.5),
            json!("-1"),
            json!("1e-8"),
            json!(true),
            json!([1]),
        ] {
            let error = amount(bad.clone()).unwrap_err();
            assert_eq!(error.code, -3, "{bad} gave {error}");
            assert!(error.message.contains("parameter 1 (amount)"), "{error}");
        }
    }

    #[test]
    fn missing_or_null_required_params_are_invalid_params() {
        let params = [json!("a"), Value::Null];
        let error = required_str(&params, 1, "address").unwrap_err();
        assert_eq!(
            error,
            RpcError::invalid_params("missing parameter 2 (address)")
        );
        assert_eq!(required_u64(&[], 0, "height").unwrap_err().code, -32602);
        assert_eq!(required_amount(&[], 0, "amount").unwrap_err().code, -32602);
    }

    #[test]
    fn optional_params_absent_null_present_and_wrong_type() {
        let params = [json!(5), Value::Null, json!(true), json!("x")];
        assert_eq!(optional_u64(&params, 0, "n").unwrap(), Some(5));
        assert_eq!(optional_u64(&params, 1, "n").unwrap(), None);
        assert_eq!(optional_u64(&params, 9, "n").unwrap(), None);
        assert_eq!(optional_bool(&params, 2, "b").unwrap(), Some(true));
        assert_eq!(optional_str(&params, 3, "s").unwrap(), Some("x"));
        assert_eq!(optional_str(&params, 4, "s").unwrap(), None);

        let error = optional_u64(&params, 3, "count").unwrap_err();
        assert_eq!(error.code, -3);
        assert_eq!(
            error.message,
            "parameter 4 (count) must be a non-negative integer, got a string"
        );
        assert_eq!(optional_bool(&params, 0, "b").unwrap_err().code, -3);
        assert_eq!(required_u64(&[json!(-1)], 0, "n").unwrap_err().code, -3);
        assert_eq!(required_u64(&[json!(1.5)], 0, "n").unwrap_err().code, -3);
    }

    #[test]
    fn hashes_and_addresses() {
        let hash = Hash256([7; 32]);
        assert_eq!(
            required_hash(&[json!(hash.to_hex())], 0, "blockhash").unwrap(),
            hash
        );
        assert_eq!(
            required_hash(&[json!("00ff")], 0, "blockhash")
                .unwrap_err()
                .code,
            -8
        );
        assert_eq!(
            required_hash(&[json!(1)], 0, "blockhash").unwrap_err().code,
            -3
        );

        let address = Address::from_pubkey(&[9; 32]);
        assert_eq!(
            required_address(&[json!(address.to_string())], 0, "address").unwrap(),
            address
        );
        assert_eq!(
            required_address(&[json!("nk00")], 0, "address")
                .unwrap_err()
                .code,
            -5
        );
    }
}
