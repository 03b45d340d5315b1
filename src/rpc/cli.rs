//! How a command line speaks RPC, as bitcoin-cli does: arguments become JSON parameters and
//! answers become text. Used by `nakachain rpc` and `nakachain devnet rpc`.
//!
//! Owns those two conversions. Must not call anything.

use serde_json::Value;

/// Digit strings longer than this stay strings: a hash that happens to be all digits must not
/// be read as a (lossy) number.
const MAX_NUMBER_ARG_CHARS: usize = 17;

/// Turns a command-line argument into a JSON parameter: JSON literals, arrays, objects and short
/// numbers stay JSON; anything else (addresses, hashes, hex) is a string.
pub fn param_from_arg(arg: &str) -> Value {
    match serde_json::from_str::<Value>(arg) {
        Ok(Value::Number(_)) if arg.len() > MAX_NUMBER_ARG_CHARS => Value::from(arg),
        Ok(value) => value,
        Err(_) => Value::from(arg),
    }
}

/// An answer as bitcoin-cli prints it: a string bare, null as nothing, anything else as pretty
/// JSON.
pub fn answer_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Null => None,
        other => Some(serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_are_json_when_they_parse_and_strings_otherwise() {
        assert_eq!(param_from_arg("101"), json!(101));
        assert_eq!(param_from_arg("true"), json!(true));
        assert_eq!(param_from_arg("[1,2]"), json!([1, 2]));
        assert_eq!(param_from_arg("nk3fa1"), json!("nk3fa1"));
        let digits = "1".repeat(64);
        assert_eq!(param_from_arg(&digits), json!(digits));
    }

    #[test]
    fn answers_print_like_bitcoin_cli() {
        assert_eq!(answer_text(&json!("abc")), Some("abc".to_string()));
        assert_eq!(answer_text(&Value::Null), None);
        assert_eq!(answer_text(&json!([1])), Some("[\n  1\n]".to_string()));
    }
}
