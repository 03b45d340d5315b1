//! The RPC server: accepts loopback connections, reads one bounded HTTP request per connection,
//! checks the cookie, and forwards each call to the node task as an [`RpcCall`]. With the REST
//! interface on, a `GET /rest/…` is read without credentials (as Bitcoin Core serves it) and
//! answered through the same calls (`rest`).
//!
//! Owns connection limits, timeouts and status codes. Must not interpret methods: the node task
//! answers every call, including unknown ones. Never logs credentials.

use super::auth::Cookie;
use super::envelope::{parse_request, response_body};
use super::error::RpcError;
use super::http::{parse_request_head, response, Rejection, Status};
use super::rest::RestRequest;
use serde_json::Value;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{debug, warn};

/// Connections served at once; more are answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 64;
/// A request body may not exceed this (submitblock of a 1 MB block is 2 MB of hex).
pub const MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;
/// The whole request (head and body) must arrive within this, or the client is dropped.
pub const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A client that does not take its response within this is dropped.
const RESPONSE_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// After shutdown, calls in flight (such as the `stop` that caused it) get this long to be answered.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pause after a failed accept (such as too many open files) so the loop does not spin.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);
/// After refusing a request, unread bytes are drained for this long (or up to LINGER_MAX_BYTES)
/// so closing does not reset the connection before the client has read the refusal.
const LINGER_TIMEOUT: Duration = Duration::from_secs(1);
const LINGER_MAX_BYTES: usize = 256 * 1024;
const READ_CHUNK_BYTES: usize = 4096;

/// One call for the node task. Answer on `reply`; dropping it answers an error to the client.
#[derive(Debug)]
pub struct RpcCall {
    /// The method called.
    pub method: String,
    /// Its parameters.
    pub params: Vec<Value>,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Value, RpcError>>,
}

/// Whether the server answers Bitcoin Core's read-only REST requests (`GET /rest/…`, no
/// credentials) beside JSON-RPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestInterface {
    /// Only authenticated JSON-RPC: a GET is refused.
    Off,
    /// REST for headers, blocks and chain info too.
    On,
}

/// Serves until `shutdown` becomes true (or its sender is dropped). Each call is sent to
/// `calls`; if the node task is gone, the client gets an error answer. On shutdown, stops
/// accepting, gives calls in flight a short grace to be answered, then drops the rest.
pub async fn serve(
    listener: TcpListener,
    cookie: Cookie,
    calls: mpsc::Sender<RpcCall>,
    mut shutdown: watch::Receiver<bool>,
    rest: RestInterface,
) {
    let cookie = Arc::new(cookie);
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        if *shutdown.borrow_and_update() {
            break;
        }
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match Arc::clone(&permits).try_acquire_owned() {
                    Ok(permit) => {
                        let cookie = Arc::clone(&cookie);
                        let calls = calls.clone();
                        connections.spawn(async move {
                            handle_connection(stream, peer, &cookie, &calls, rest).await;
                            drop(permit);
                        });
                    }
                    Err(_) => refuse_busy(stream, peer),
                },
                Err(e) => {
                    warn!(error = %e, "rpc: accept failed");
                    tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                }
            }
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        debug!("rpc: dropping connections still open after the shutdown grace");
        connections.abort_all();
    }
    debug!("rpc: server stopped");
}

/// Writes the 503 without waiting: a fresh socket's send buffer has room for it, and if it
/// somehow does not, the client just sees the connection close.
fn refuse_busy(stream: TcpStream, peer: SocketAddr) {
    debug!(%peer, "rpc: too many connections, refusing");
    let refusal = Rejection::new(
        Status::ServiceUnavailable,
        "too many RPC connections, try again",
    );
    if let Ok(mut stream) = stream.into_std() {
        let _ = stream.write(&refusal.to_response());
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
}

/// A request read and checked, to be answered.
enum Request {
    /// A JSON-RPC body, from a client with the cookie.
    Call(Vec<u8>),
    /// A REST request (the interface is on).
    Rest(RestRequest),
}

/// How reading a request ended, when it did not yield a body to dispatch.
enum ReadFailure {
    Refuse(Rejection),
    /// The client went away or broke the connection: nobody to answer.
    Gone,
}

async fn handle_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    cookie: &Cookie,
    calls: &mpsc::Sender<RpcCall>,
    rest: RestInterface,
) {
    let read = read_request(&mut stream, cookie, rest);
    let read = tokio::time::timeout(REQUEST_READ_TIMEOUT, read).await;
    let request = match read {
        Err(_elapsed) => {
            debug!(%peer, "rpc: dropping a client that stalled");
            return;
        }
        Ok(Err(ReadFailure::Gone)) => return,
        Ok(Err(ReadFailure::Refuse(rejection))) => {
            debug!(%peer, status = rejection.status.code(), detail = rejection.detail, "rpc: refused request");
            if write_response(&mut stream, &rejection.to_response()).await {
                linger(&mut stream).await;
            }
            return;
        }
        Ok(Ok(request)) => request,
    };
    let bytes = match request {
        Request::Call(body) => {
            response(Status::Ok, "application/json", &answer(&body, calls).await)
        }
        Request::Rest(request) => answer_rest(&request, calls).await,
    };
    write_response(&mut stream, &bytes).await;
}

/// Answers a REST request through the RPC call that serves it.
async fn answer_rest(request: &RestRequest, calls: &mpsc::Sender<RpcCall>) -> Vec<u8> {
    let (method, params) = request.call();
    let (reply, answered) = oneshot::channel();
    let call = RpcCall {
        method: method.to_string(),
        params,
        reply,
    };
    let outcome = match calls.send(call).await {
        Ok(()) => answered.await.unwrap_or_else(|_| Err(node_gone())),
        Err(_) => Err(node_gone()),
    };
    match request.render(outcome) {
        Ok((content_type, body)) => response(Status::Ok, content_type, &body),
        Err((code, message)) => {
            let status = if code == 404 {
                Status::NotFound
            } else {
                Status::InternalServerError
            };
            response(status, "text/plain", format!("{message}\n").as_bytes())
        }
    }
}

/// Reads one request: a REST GET (when the interface is on), or a call whose body is returned
/// once the method, credentials and length are checked. Credentials are checked before the body
/// is read, so an unauthenticated client cannot make the node buffer megabytes.
async fn read_request(
    stream: &mut TcpStream,
    cookie: &Cookie,
    rest: RestInterface,
) -> Result<Request, ReadFailure> {
    let mut buf = Vec::with_capacity(READ_CHUNK_BYTES);
    let mut chunk = [0u8; READ_CHUNK_BYTES];
    let head = loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| ReadFailure::Gone)?;
        if n == 0 {
            return Err(ReadFailure::Gone);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(head) = parse_request_head(&buf).map_err(ReadFailure::Refuse)? {
            break head;
        }
    };
    if head.method == "GET" && rest == RestInterface::On && head.target.starts_with("/rest/") {
        return RestRequest::parse(&head.target)
            .map(Request::Rest)
            .map_err(|_| {
                ReadFailure::Refuse(Rejection::new(
                    Status::BadRequest,
                    "bad REST request: use /rest/headers/<count>/<hash>.<bin|hex|json>, \
                     /rest/block/<hash>.<bin|hex|json> or /rest/chaininfo.json",
                ))
            });
    }
    if head.method != "POST" {
        let detail = match rest {
            RestInterface::On => "only POST is supported, and GET under /rest/",
            RestInterface::Off => {
                "only POST is supported (REST is off: start the node with --rest)"
            }
        };
        return Err(ReadFailure::Refuse(Rejection::new(
            Status::MethodNotAllowed,
            detail,
        )));
    }
    let authorized = head
        .authorization
        .as_deref()
        .and_then(|value| std::str::from_utf8(value).ok())
        .is_some_and(|value| cookie.check(value));
    if !authorized {
        return Err(ReadFailure::Refuse(Rejection::new(
            Status::Unauthorized,
            "missing or wrong credentials: use the cookie from the data directory",
        )));
    }
    let length = match head.content_length {
        Some(length) if length > MAX_BODY_BYTES => {
            return Err(ReadFailure::Refuse(Rejection::new(
                Status::PayloadTooLarge,
                "request body over 8 MiB",
            )))
        }
        Some(length) => length,
        None if head.has_transfer_encoding => {
            return Err(ReadFailure::Refuse(Rejection::new(
                Status::LengthRequired,
                "chunked bodies are not supported: send Content-Length",
            )))
        }
        None => {
            return Err(ReadFailure::Refuse(Rejection::new(
                Status::LengthRequired,
                "Content-Length is required",
            )))
        }
    };
    // Checked against MAX_BODY_BYTES above, so it fits in memory and in usize.
    let length = usize::try_from(length).map_err(|_| {
        ReadFailure::Refuse(Rejection::new(
            Status::PayloadTooLarge,
            "request body over 8 MiB",
        ))
    })?;
    let mut body = buf.split_off(head.len);
    if body.len() >= length {
        body.truncate(length);
        return Ok(Request::Call(body));
    }
    let already = body.len();
    body.resize(length, 0);
    stream
        .read_exact(&mut body[already..])
        .await
        .map_err(|_| ReadFailure::Gone)?;
    Ok(Request::Call(body))
}

/// Parses and forwards one call; every outcome, including a gone node, becomes a JSON answer.
async fn answer(body: &[u8], calls: &mpsc::Sender<RpcCall>) -> Vec<u8> {
    let request = match parse_request(body) {
        Ok(request) => request,
        Err(refused) => {
            debug!(code = refused.error.code, "rpc: refused call");
            return response_body(refused.id, Err(refused.error));
        }
    };
    let started = Instant::now();
    let (reply, answered) = oneshot::channel();
    let call = RpcCall {
        method: request.method.clone(),
        params: request.params,
        reply,
    };
    let outcome = match calls.send(call).await {
        Ok(()) => answered.await.unwrap_or_else(|_| Err(node_gone())),
        Err(_) => Err(node_gone()),
    };
    debug!(
        method = %request.method,
        elapsed_ms = started.elapsed().as_millis() as u64,
        error_code = outcome.as_ref().err().map(|e| e.code),
        "rpc call"
    );
    response_body(request.id, outcome)
}

fn node_gone() -> RpcError {
    RpcError::misc("the node is shutting down and cannot answer")
}

/// Whether the whole response was written and the write side closed in time.
async fn write_response(stream: &mut TcpStream, bytes: &[u8]) -> bool {
    let write = async {
        stream.write_all(bytes).await?;
        stream.shutdown().await
    };
    matches!(
        tokio::time::timeout(RESPONSE_WRITE_TIMEOUT, write).await,
        Ok(Ok(()))
    )
}

/// Discards what the client is still sending (a body we refused) until it closes, briefly.
async fn linger(stream: &mut TcpStream) {
    let drain = async {
        let mut chunk = [0u8; READ_CHUNK_BYTES];
        let mut drained = 0;
        while drained < LINGER_MAX_BYTES {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIMEOUT, drain).await;
}
