//! The JSON-RPC envelope: reading a request object and writing the response object.
//!
//! Accepts JSON-RPC 2.0 and the 1.0 style bitcoin-cli sends (no or `"1.0"` `jsonrpc`). Answers
//! in Bitcoin Core's shape, `{"jsonrpc":"2.0","result":..,"error":..,"id":..}` with both `result`
//! and `error` present and one of them null. Batches (arrays) are refused with -32600. Must not
//! know about HTTP or the node.

use super::error::RpcError;
use serde_json::{json, Map, Value};

/// A well-formed call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Request {
    pub(crate) id: Value,
    pub(crate) method: String,
    pub(crate) params: Vec<Value>,
}

/// A call that cannot be forwarded, with the id to answer it under (null when unknown).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refused {
    pub(crate) id: Value,
    pub(crate) error: RpcError,
}

/// The most JSON values (numbers, strings, arrays, objects, keys) one request may hold. Parsed,
/// a value costs up to sixteen times its text (`[0,0,…]`: two bytes each, 32 in memory), so
/// they are counted in the text before anything is parsed. Every method's parameters need a
/// handful; a hex string, however long, is one.
pub(crate) const MAX_JSON_VALUES: usize = 65_536;

/// Whether `body` holds at most `max` JSON values, counting the separators and openers outside
/// strings (an upper bound for any text that parses).
fn values_within(body: &[u8], max: usize) -> bool {
    let mut values = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in body {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b',' | b'[' | b'{' | b':' => {
                values += 1;
                if values > max {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

pub(crate) fn parse_request(body: &[u8]) -> Result<Request, Refused> {
    let refused = |id: &Value, error| Refused {
        id: id.clone(),
        error,
    };
    if !values_within(body, MAX_JSON_VALUES) {
        return Err(refused(
            &Value::Null,
            RpcError::invalid_request(format!(
                "the request holds more than {MAX_JSON_VALUES} JSON values"
            )),
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        refused(
            &Value::Null,
            RpcError::parse_error(format!("Parse error: {e}")),
        )
    })?;
    let mut object: Map<String, Value> = match value {
        Value::Object(object) => object,
        Value::Array(_) => {
            return Err(refused(
                &Value::Null,
                RpcError::invalid_request(
                    "batch requests are not supported: send one call per request",
                ),
            ))
        }
        _ => {
            return Err(refused(
                &Value::Null,
                RpcError::invalid_request("the request must be a JSON object"),
            ))
        }
    };
    let id = object.remove("id").unwrap_or(Value::Null);
    match object.get("jsonrpc") {
        None => {}
        Some(Value::String(version)) if version == "1.0" || version == "2.0" => {}
        Some(_) => {
            return Err(refused(
                &id,
                RpcError::invalid_request("jsonrpc must be \"2.0\" (or \"1.0\")"),
            ))
        }
    }
    let method = match object.remove("method") {
        Some(Value::String(method)) => method,
        Some(_) => {
            return Err(refused(
                &id,
                RpcError::invalid_request("method must be a string"),
            ))
        }
        None => return Err(refused(&id, RpcError::invalid_request("missing method"))),
    };
    let params = match object.remove("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(params)) => params,
        Some(Value::Object(_)) => {
            return Err(refused(
                &id,
                RpcError::invalid_params("named parameters are not supported"),
            ))
        }
        Some(_) => {
            return Err(refused(
                &id,
                RpcError::invalid_request("params must be an array"),
            ))
        }
    };
    Ok(Request { id, method, params })
}

pub(crate) fn response_body(id: Value, outcome: Result<Value, RpcError>) -> Vec<u8> {
    let (result, error) = match outcome {
        Ok(result) => (result, Value::Null),
        Err(error) => (
            Value::Null,
            json!({"code": error.code, "message": error.message}),
        ),
    };
    json!({"jsonrpc": "2.0", "result": result, "error": error, "id": id})
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_2_0_and_1_0_style_requests() {
        let request =
            parse_request(br#"{"jsonrpc":"2.0","id":7,"method":"echo","params":[1,"a"]}"#).unwrap();
        assert_eq!(
            request,
            Request {
                id: json!(7),
                method: "echo".to_string(),
                params: vec![json!(1), json!("a")],
            }
        );
        let legacy =
            parse_request(br#"{"version":"1.1","id":"x","method":"getblockcount"}"#).unwrap();
        assert_eq!(legacy.params, Vec::<Value>::new());
        assert_eq!(legacy.id, json!("x"));
    }

    #[test]
    fn refusals_carry_the_right_code_and_id() {
        let code_and_id = |body: &[u8]| {
            let refused = parse_request(body).unwrap_err();
            (refused.error.code, refused.id)
        };
        assert_eq!(code_and_id(b"{nope"), (-32700, Value::Null));
        assert_eq!(code_and_id(b"[]"), (-32600, Value::Null));
        assert_eq!(code_and_id(b"42"), (-32600, Value::Null));
        assert_eq!(code_and_id(br#"{"id":1,"params":[]}"#), (-32600, json!(1)));
        assert_eq!(code_and_id(br#"{"id":2,"method":5}"#), (-32600, json!(2)));
        assert_eq!(
            code_and_id(br#"{"jsonrpc":"3.0","id":3,"method":"m"}"#),
            (-32600, json!(3))
        );
        assert_eq!(
            code_and_id(br#"{"id":4,"method":"m","params":{"a":1}}"#),
            (-32602, json!(4))
        );
        assert_eq!(
            code_and_id(br#"{"id":5,"method":"m","params":"a"}"#),
            (-32600, json!(5))
        );
    }

    #[test]
    fn response_has_both_result_and_error() {
        let ok: Value = serde_json::from_slice(&response_body(json!(1), Ok(json!([1])))).unwrap();
        assert_eq!(
            ok,
            json!({"jsonrpc":"2.0","result":[1],"error":null,"id":1})
        );
        let failed: Value =
            serde_json::from_slice(&response_body(json!("a"), Err(RpcError::misc("no")))).unwrap();
        assert_eq!(
            failed,
            json!({"jsonrpc":"2.0","result":null,"error":{"code":-1,"message":"no"},"id":"a"})
        );
    }

    /// Finding 9 of the hostile-peer report: a body of `[0,0,…]` cost nine times its size in
    /// memory before it was refused. It is refused now before anything is parsed.
    #[test]
    fn too_many_values_are_refused_before_parsing_and_strings_count_as_one() {
        let mut zeros = b"[0".to_vec();
        for _ in 0..MAX_JSON_VALUES {
            zeros.extend_from_slice(b",0");
        }
        zeros.push(b']');
        let refused = parse_request(&zeros).unwrap_err();
        assert_eq!(refused.error.code, RpcError::invalid_request("").code);
        assert!(refused
            .error
            .message
            .contains("more than 65536 JSON values"));

        let long = "[,{:".repeat(MAX_JSON_VALUES);
        let body = format!(r#"{{"id":1,"method":"echo","params":["{long}", "a\"[,"]}}"#);
        let request = parse_request(body.as_bytes()).expect("one long string is one value");
        assert_eq!(request.params.len(), 2);
    }
}
