//! `RpcError`: the JSON-RPC error object, with Bitcoin Core's numeric codes.
//!
//! The number is the stable code clients match on; the message is for people. Must not know
//! about HTTP: transport failures are `ClientError`s or HTTP statuses, never `RpcError`s.

use serde::{Deserialize, Serialize};

/// An error answer to a call; serializes as `{"code": .., "message": ..}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct RpcError {
    /// Bitcoin Core's error code.
    pub code: i64,
    /// What went wrong.
    pub message: String,
}

impl RpcError {
    /// An error with `code` and `message`.
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
        }
    }

    /// -32700: the body is not JSON.
    pub(crate) fn parse_error(message: impl Into<String>) -> RpcError {
        RpcError::new(-32700, message)
    }

    /// -32600: JSON, but not a JSON-RPC request.
    pub(crate) fn invalid_request(message: impl Into<String>) -> RpcError {
        RpcError::new(-32600, message)
    }

    /// -32601: no handler for `method`; the name is in the message.
    pub fn method_not_found(method: &str) -> RpcError {
        RpcError::new(-32601, format!("Method not found: {method}"))
    }

    /// -32602: parameters missing or in an unsupported form.
    pub(crate) fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError::new(-32602, message)
    }

    /// -1: anything without a more specific code.
    pub(crate) fn misc(message: impl Into<String>) -> RpcError {
        RpcError::new(-1, message)
    }

    /// -3: a parameter has the wrong JSON type or an unusable amount (Core's RPC_TYPE_ERROR).
    pub(crate) fn type_error(message: impl Into<String>) -> RpcError {
        RpcError::new(-3, message)
    }

    /// -5: an address that does not parse.
    pub(crate) fn invalid_address(message: impl Into<String>) -> RpcError {
        RpcError::new(-5, message)
    }

    /// -6: the wallet cannot pay.
    pub(crate) fn wallet_insufficient_funds(message: impl Into<String>) -> RpcError {
        RpcError::new(-6, message)
    }

    /// -8: a parameter has the right type but an unusable value.
    pub(crate) fn invalid_parameter(message: impl Into<String>) -> RpcError {
        RpcError::new(-8, message)
    }

    /// -9: the node has no peers.
    pub(crate) fn client_not_connected(message: impl Into<String>) -> RpcError {
        RpcError::new(-9, message)
    }

    /// -25: a transaction or block failed verification.
    pub(crate) fn verify_error(message: impl Into<String>) -> RpcError {
        RpcError::new(-25, message)
    }

    /// -26: a transaction was rejected by rule or policy.
    pub fn verify_rejected(message: impl Into<String>) -> RpcError {
        RpcError::new(-26, message)
    }

    /// -27: the transaction is already in the chain.
    pub(crate) fn verify_already_in_chain(message: impl Into<String>) -> RpcError {
        RpcError::new(-27, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_code_and_message() {
        let error = RpcError::method_not_found("frobnicate");
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": -32601, "message": "Method not found: frobnicate"})
        );
        let back: RpcError = serde_json::from_value(json).unwrap();
        assert_eq!(back, error);
    }
}
