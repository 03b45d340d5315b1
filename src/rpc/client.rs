//! The blocking RPC client the CLI uses: one POST per connection over `std::net`.
//!
//! Owns connecting with timeouts, the request bytes, and reading a bounded response. Must not use
//! tokio (the CLI has no runtime) nor know any method's result shape.

use super::auth::Cookie;
use super::error::RpcError;
use super::http::parse_response_head;
use serde_json::{json, Value};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long to wait for the node to accept the connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for an answer: `generate` on a hard devnet may take minutes.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How long sending the request may take.
const REQUEST_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// A response body may not exceed this.
const MAX_RESPONSE_BODY_BYTES: u64 = 64 * 1024 * 1024;
/// How much of a non-JSON error body to quote.
const ERROR_BODY_QUOTE_CHARS: usize = 200;

/// Talks to one node with its cookie.
#[derive(Debug)]
pub struct RpcClient {
    addr: SocketAddr,
    cookie: Cookie,
    next_id: AtomicU64,
    response_timeout: Duration,
}

/// Why a call got no result. Each variant's message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("could not connect to the node at {addr}: {} (is it running?)", describe_io(.source))]
    /// The node's RPC port refused the connection.
    Connect {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    #[error("RPC authentication failed: the cookie is stale or wrong")]
    /// The cookie was refused.
    Unauthorized,
    #[error("the node did not answer within {} s", .after.as_secs())]
    /// No answer in time.
    Timeout {
        /// How long it waited.
        after: Duration,
    },
    #[error("RPC error {}: {}", .0.code, .0.message)]
    /// The node answered with an error.
    Rpc(RpcError),
    #[error("bad HTTP response from the node: {0}")]
    /// The answer is not HTTP the client understands.
    Http(String),
    #[error("RPC connection failed: {0}")]
    /// Reading or writing failed.
    Io(io::Error),
}

impl ClientError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::Connect { .. } => "rpc-connect",
            ClientError::Unauthorized => "rpc-unauthorized",
            ClientError::Timeout { .. } => "rpc-timeout",
            ClientError::Rpc(_) => "rpc-error",
            ClientError::Http(_) => "rpc-http",
            ClientError::Io(_) => "rpc-io",
        }
    }
}

/// io::Error's own text carries "(os error 111)" noise that means nothing to a CLI user.
fn describe_io(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".to_string(),
        _ => error.to_string(),
    }
}

/// Read timeouts surface as WouldBlock on Unix and TimedOut on Windows.
fn from_io(error: io::Error, timeout: Duration) -> ClientError {
    match error.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            ClientError::Timeout { after: timeout }
        }
        _ => ClientError::Io(error),
    }
}

impl RpcClient {
    /// A client of the node at `addr` authenticating with `cookie`.
    pub fn new(addr: SocketAddr, cookie: Cookie) -> RpcClient {
        RpcClient {
            addr,
            cookie,
            next_id: AtomicU64::new(1),
            response_timeout: RESPONSE_TIMEOUT,
        }
    }

    /// The same client waiting at most `timeout` for an answer, for callers that watch several
    /// nodes and must not hang on one that stopped answering.
    pub fn with_response_timeout(mut self, timeout: Duration) -> RpcClient {
        self.response_timeout = timeout;
        self
    }

    /// Calls `method` with positional `params`; an error answer is `ClientError::Rpc`.
    pub fn call(&self, method: &str, params: Vec<Value>) -> Result<Value, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        let mut stream =
            TcpStream::connect_timeout(&self.addr, CONNECT_TIMEOUT).map_err(|source| {
                ClientError::Connect {
                    addr: self.addr,
                    source,
                }
            })?;
        stream
            .set_write_timeout(Some(REQUEST_WRITE_TIMEOUT))
            .and_then(|()| stream.set_read_timeout(Some(self.response_timeout)))
            .map_err(ClientError::Io)?;
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            self.cookie.authorization_header(),
            body.len()
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(body.as_bytes());
        stream
            .write_all(&request)
            .map_err(|e| from_io(e, REQUEST_WRITE_TIMEOUT))?;
        let (status, body) = read_response(&mut stream, self.response_timeout)?;
        interpret(status, &body, id)
    }
}

fn read_response(stream: &mut TcpStream, timeout: Duration) -> Result<(u16, Vec<u8>), ClientError> {
    let timed_out = |e| from_io(e, timeout);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head = loop {
        let n = stream.read(&mut chunk).map_err(timed_out)?;
        if n == 0 {
            return Err(ClientError::Http(
                "the node closed the connection without answering".to_string(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(head) = parse_response_head(&buf).map_err(ClientError::Http)? {
            break head;
        }
    };
    let too_large = || ClientError::Http("response body over 64 MiB".to_string());
    let mut body = buf.split_off(head.len);
    match head.content_length {
        Some(length) if length > MAX_RESPONSE_BODY_BYTES => return Err(too_large()),
        Some(length) => {
            // At most MAX_RESPONSE_BODY_BYTES, checked above.
            let length = usize::try_from(length).map_err(|_| too_large())?;
            if body.len() >= length {
                body.truncate(length);
            } else {
                let already = body.len();
                body.resize(length, 0);
                stream.read_exact(&mut body[already..]).map_err(|e| {
                    if e.kind() == io::ErrorKind::UnexpectedEof {
                        ClientError::Http("response body shorter than Content-Length".to_string())
                    } else {
                        timed_out(e)
                    }
                })?;
            }
        }
        None => {
            let limit = MAX_RESPONSE_BODY_BYTES + 1;
            stream
                .take(limit.saturating_sub(body.len() as u64))
                .read_to_end(&mut body)
                .map_err(timed_out)?;
            if body.len() as u64 > MAX_RESPONSE_BODY_BYTES {
                return Err(too_large());
            }
        }
    }
    Ok((head.status, body))
}

/// Turns status and body into the call's outcome. Any JSON-RPC answer counts whatever the
/// status (Bitcoin Core answers errors with 404 or 500); otherwise a non-200 is an HTTP error.
fn interpret(status: u16, body: &[u8], id: u64) -> Result<Value, ClientError> {
    if status == 401 {
        return Err(ClientError::Unauthorized);
    }
    let parsed = serde_json::from_slice::<Value>(body);
    let mut answer = match parsed {
        Ok(Value::Object(answer))
            if answer.contains_key("result") || answer.contains_key("error") =>
        {
            answer
        }
        _ if status != 200 => {
            let text = String::from_utf8_lossy(body);
            let quoted: String = text.trim().chars().take(ERROR_BODY_QUOTE_CHARS).collect();
            return Err(ClientError::Http(format!("HTTP {status}: {quoted}")));
        }
        Ok(_) => {
            return Err(ClientError::Http(
                "the answer is not a JSON-RPC response object".to_string(),
            ))
        }
        Err(e) => return Err(ClientError::Http(format!("the answer is not JSON: {e}"))),
    };
    match answer.remove("error") {
        None | Some(Value::Null) => {}
        Some(error) => {
            return Err(serde_json::from_value::<RpcError>(error)
                .map(ClientError::Rpc)
                .unwrap_or_else(|e| ClientError::Http(format!("malformed error object: {e}"))))
        }
    }
    if answer.get("id") != Some(&json!(id)) {
        return Err(ClientError::Http(
            "the answer's id does not match the request".to_string(),
        ));
    }
    Ok(answer.remove("result").unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interprets_results_errors_and_statuses() {
        let ok = br#"{"jsonrpc":"2.0","result":5,"error":null,"id":3}"#;
        assert_eq!(interpret(200, ok, 3).unwrap(), json!(5));
        assert!(matches!(interpret(200, ok, 4), Err(ClientError::Http(_))));

        let failed = br#"{"result":null,"error":{"code":-8,"message":"bad"},"id":3}"#;
        match interpret(500, failed, 3) {
            Err(ClientError::Rpc(error)) => assert_eq!(error, RpcError::invalid_parameter("bad")),
            other => panic!("expected an RPC error, got {other:?}"),
        }

        assert!(matches!(
            interpret(401, b"", 3),
            Err(ClientError::Unauthorized)
        ));
        match interpret(413, b"request body over 8 MiB\n", 3) {
            Err(ClientError::Http(text)) => assert_eq!(text, "HTTP 413: request body over 8 MiB"),
            other => panic!("expected an HTTP error, got {other:?}"),
        }
        assert!(matches!(
            interpret(200, b"[1]", 3),
            Err(ClientError::Http(_))
        ));
    }
}
