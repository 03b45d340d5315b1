//! Bitcoin Core's read-only REST interface, for the tools that fetch headers and blocks that way
//! (fork-observer does by default): `GET /rest/headers/<count>/<hash>.<bin|hex|json>` (and the
//! newer `/rest/headers/<hash>.<ext>?count=<n>`), `GET /rest/block/<hash>.<bin|hex|json>` and
//! `GET /rest/chaininfo.json`, without authentication, as Core serves them with `-rest`.
//!
//! Owns parsing the paths and rendering what the node answered in the asked format. Must not
//! touch node state: each request becomes an RPC call the node task answers like any other.

use super::error::RpcError;
use crate::types::Hash256;
use serde_json::{json, Value};

/// The most headers one request may ask for, as in Core.
pub(crate) const MAX_REST_HEADERS: u64 = 2_000;

/// How the answer is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Raw bytes (`application/octet-stream`).
    Bin,
    /// Hex of the raw bytes and a newline (`text/plain`).
    Hex,
    /// JSON (`application/json`).
    Json,
}

/// A REST request the server understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RestRequest {
    /// Up to `count` headers of the active chain, starting at `hash`.
    Headers {
        count: u64,
        hash: Hash256,
        format: Format,
    },
    /// One block.
    Block { hash: Hash256, format: Format },
    /// `getblockchaininfo`.
    ChainInfo,
}

/// Why a REST request is refused: 400 with this text.
pub(crate) type BadRest = String;

impl RestRequest {
    /// Parses the request target (path and query) of a GET under `/rest/`.
    pub(crate) fn parse(target: &str) -> Result<RestRequest, BadRest> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let Some(rest) = path.strip_prefix("/rest/") else {
            return Err(format!("not a REST path: {path}"));
        };
        if rest == "chaininfo.json" {
            return Ok(RestRequest::ChainInfo);
        }
        if let Some(tail) = rest.strip_prefix("block/") {
            let (hash, format) = hash_and_format(tail)?;
            return Ok(RestRequest::Block { hash, format });
        }
        if let Some(tail) = rest.strip_prefix("headers/") {
            let (count, target) = match tail.split_once('/') {
                Some((count, target)) => (count, target),
                None => {
                    let count = query
                        .split('&')
                        .find_map(|pair| pair.strip_prefix("count="))
                        .unwrap_or("5");
                    (count, tail)
                }
            };
            let count = count
                .parse::<u64>()
                .ok()
                .filter(|count| (1..=MAX_REST_HEADERS).contains(count))
                .ok_or_else(|| {
                    format!("header count is out of range, must be 1 to {MAX_REST_HEADERS}")
                })?;
            let (hash, format) = hash_and_format(target)?;
            return Ok(RestRequest::Headers {
                count,
                hash,
                format,
            });
        }
        Err(format!("unknown REST path: {path}"))
    }

    /// The RPC call that answers this request.
    pub(crate) fn call(&self) -> (&'static str, Vec<Value>) {
        match self {
            RestRequest::Headers {
                count,
                hash,
                format,
            } => (
                "getblockheaders",
                vec![json!(hash), json!(count), json!(*format == Format::Json)],
            ),
            RestRequest::Block { hash, format } => {
                let verbosity = if *format == Format::Json { 2 } else { 0 };
                ("getblock", vec![json!(hash), json!(verbosity)])
            }
            RestRequest::ChainInfo => ("getblockchaininfo", Vec::new()),
        }
    }

    /// The content type and body for what the node answered, or the status and text of a
    /// failure (404 for an unknown block, as Core answers).
    pub(crate) fn render(
        &self,
        answer: Result<Value, RpcError>,
    ) -> Result<(&'static str, Vec<u8>), (u16, String)> {
        let value = answer.map_err(|error| {
            // -5: Core's "not found", which `getblock` and `getblockheaders` answer.
            let status = if error.code == -5 { 404 } else { 500 };
            (status, error.message)
        })?;
        let format = match self {
            RestRequest::Headers { format, .. } | RestRequest::Block { format, .. } => *format,
            RestRequest::ChainInfo => Format::Json,
        };
        if format == Format::Json {
            let mut body = value.to_string().into_bytes();
            body.push(b'\n');
            return Ok(("application/json", body));
        }
        // Hex from the node: one string (a block), or a list (headers) back to back.
        let hex_text = match &value {
            Value::String(text) => text.clone(),
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            other => return Err((500, format!("unexpected answer {other}"))),
        };
        match format {
            Format::Hex => Ok(("text/plain", format!("{hex_text}\n").into_bytes())),
            _ => hex::decode(&hex_text)
                .map(|bytes| ("application/octet-stream", bytes))
                .map_err(|error| (500, error.to_string())),
        }
    }
}

fn hash_and_format(target: &str) -> Result<(Hash256, Format), BadRest> {
    let (hash, extension) = target
        .rsplit_once('.')
        .ok_or_else(|| "output format not found (available: .bin, .hex, .json)".to_string())?;
    let format = match extension {
        "bin" => Format::Bin,
        "hex" => Format::Hex,
        "json" => Format::Json,
        other => {
            return Err(format!(
                "unknown format .{other} (available: .bin, .hex, .json)"
            ))
        }
    };
    let hash = hash.parse().map_err(|_| format!("invalid hash: {hash}"))?;
    Ok((hash, format))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "00000000000000000000000000000000000000000000000000000000000000ab";

    fn hash() -> Hash256 {
        HASH.parse().expect("a hash")
    }

    #[test]
    fn reads_both_header_forms_blocks_and_chaininfo() {
        assert_eq!(
            RestRequest::parse(&format!("/rest/headers/7/{HASH}.bin")),
            Ok(RestRequest::Headers {
                count: 7,
                hash: hash(),
                format: Format::Bin
            })
        );
        assert_eq!(
            RestRequest::parse(&format!("/rest/headers/{HASH}.json?count=3")),
            Ok(RestRequest::Headers {
                count: 3,
                hash: hash(),
                format: Format::Json
            })
        );
        assert_eq!(
            RestRequest::parse(&format!("/rest/block/{HASH}.hex")),
            Ok(RestRequest::Block {
                hash: hash(),
                format: Format::Hex
            })
        );
        assert_eq!(
            RestRequest::parse("/rest/chaininfo.json"),
            Ok(RestRequest::ChainInfo)
        );
    }

    #[test]
    fn refuses_bad_counts_formats_hashes_and_paths() {
        for target in [
            format!("/rest/headers/0/{HASH}.bin"),
            format!("/rest/headers/2001/{HASH}.bin"),
            format!("/rest/headers/x/{HASH}.bin"),
            format!("/rest/block/{HASH}.xml"),
            format!("/rest/block/{HASH}"),
            "/rest/block/nothex.bin".to_string(),
            "/rest/mempool/info.json".to_string(),
            "/other".to_string(),
        ] {
            assert!(RestRequest::parse(&target).is_err(), "{target}");
        }
    }

    #[test]
    fn renders_hex_answers_as_bytes_or_hex_and_not_found_as_404() {
        let headers = RestRequest::Headers {
            count: 2,
            hash: hash(),
            format: Format::Bin,
        };
        let answer = Ok(json!(["0a0b", "0c"]));
        assert_eq!(
            headers.render(answer),
            Ok(("application/octet-stream", vec![10, 11, 12]))
        );
        let block = RestRequest::Block {
            hash: hash(),
            format: Format::Hex,
        };
        assert_eq!(
            block.render(Ok(json!("0a0b"))),
            Ok(("text/plain", b"0a0b\n".to_vec()))
        );
        let missing = RpcError::new(-5, "Block not found");
        assert_eq!(
            block.render(Err(missing)),
            Err((404, "Block not found".to_string()))
        );
    }
}
