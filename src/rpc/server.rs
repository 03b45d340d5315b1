//! The RPC server: HTTP/1.1 on loopback with hyper, one request per connection. Checks the cookie
//! before reading a body, bounds the body, and forwards each call to the node task as an
//! [`RpcCall`]. With the REST interface on, a `GET /rest/…` is served without credentials (as
//! Bitcoin Core serves it) through the same calls (`rest`).
//!
//! Holds against clients that would lock others out: a request head must arrive within
//! `HEADER_READ_TIMEOUT`; calls in progress are bounded (`MAX_CONNECTIONS`), connections open
//! apart from them too (`MAX_OPEN_CONNECTIONS`), and when those are all taken a newcomer takes
//! the place of the oldest connection not in a call (one dripping its head, or one that does not
//! read its answer), so honest calls are served while slow clients flood the port. A client that
//! hangs up while its call waits (a long poll) is dropped at once, and with it the call.
//!
//! Owns connection limits, timeouts and status codes. Must not interpret methods: the node task
//! answers every call, including unknown ones. Never logs credentials.

use super::auth::Cookie;
use super::envelope::{parse_request, response_body};
use super::error::RpcError;
use super::rest::RestRequest;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::Value;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{AbortHandle, JoinSet};
use tracing::{debug, warn};

/// Calls served at once; one more is answered 503.
pub const MAX_CONNECTIONS: usize = 64;
/// Connections open at once, most of them waiting for a request head or done with theirs. When
/// all are taken a newcomer replaces the oldest one not in a call: a flood of slow clients must
/// open this many before it can push out an honest client whose head is on its way.
pub const MAX_OPEN_CONNECTIONS: usize = 256;
/// A request body may not exceed this: a 1 MB block's `submitblock` is 2 MB of hex. What one
/// request can cost is about twice its body (the bytes, then the strings parsed from them).
pub const MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;
/// Bytes of request bodies read and being answered at once, over every connection: a body waits
/// for room before it is read. Eight bodies of the largest size, so a crowd of large calls
/// cannot cost more than this (and as much again in the strings parsed from them).
pub const MAX_BODY_BYTES_IN_FLIGHT: usize = 32 * 1024 * 1024;
/// The body must arrive within this once the head has, or the client is dropped.
pub const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The request head must arrive within this from the first byte.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The request head may not exceed this (hyper answers 431 beyond it).
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// After shutdown, calls in flight (such as the `stop` that caused it) get this long to be answered.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pause after a failed accept (such as too many open files) so the loop does not spin.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);
/// The answer to a connection over the limit, written as is.
const BUSY_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\
Content-Length: 36\r\nConnection: close\r\n\r\ntoo many RPC connections, try again\n";

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

/// What every connection's requests need.
struct Shared {
    cookie: Cookie,
    calls: mpsc::Sender<RpcCall>,
    rest: RestInterface,
    /// Calls in progress on every connection.
    busy: AtomicUsize,
    /// Room for request bodies, in KiB (`MAX_BODY_BYTES_IN_FLIGHT`).
    body_room: tokio::sync::Semaphore,
}

/// A connection being served: when it came, whether a request of it is under way, and how to
/// end it to make room.
struct Live {
    accepted: Instant,
    in_request: Arc<AtomicUsize>,
    task: AbortHandle,
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
    let shared = Arc::new(Shared {
        cookie,
        calls,
        rest,
        busy: AtomicUsize::new(0),
        body_room: tokio::sync::Semaphore::new(MAX_BODY_BYTES_IN_FLIGHT / 1024),
    });
    let mut connections = JoinSet::new();
    let mut live: Vec<Live> = Vec::new();
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
                Ok((stream, peer)) => {
                    live.retain(|connection| !connection.task.is_finished());
                    if live.len() >= MAX_OPEN_CONNECTIONS && !make_room(&mut live) {
                        refuse_busy(stream, peer);
                        continue;
                    }
                    let in_request = Arc::new(AtomicUsize::new(0));
                    let task = connections.spawn(serve_connection(
                        stream,
                        Arc::clone(&shared),
                        Arc::clone(&in_request),
                    ));
                    live.push(Live { accepted: Instant::now(), in_request, task });
                }
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

/// Ends the oldest connection that is not in the middle of a request; false if there is none.
fn make_room(live: &mut Vec<Live>) -> bool {
    let oldest_idle = live
        .iter()
        .enumerate()
        .filter(|(_, connection)| connection.in_request.load(Ordering::Acquire) == 0)
        .min_by_key(|(_, connection)| connection.accepted)
        .map(|(index, _)| index);
    let Some(index) = oldest_idle else {
        return false;
    };
    debug!("rpc: all connections taken, dropping the oldest idle one");
    live.swap_remove(index).task.abort();
    true
}

/// Writes the 503 without waiting: a fresh socket's send buffer has room for it, and if it
/// somehow does not, the client just sees the connection close.
fn refuse_busy(stream: TcpStream, peer: SocketAddr) {
    debug!(%peer, "rpc: every connection is in a request, refusing");
    if let Ok(mut stream) = stream.into_std() {
        use std::io::Write;
        let _ = stream.write(BUSY_RESPONSE);
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>, in_request: Arc<AtomicUsize>) {
    let service = hyper::service::service_fn(move |request| {
        let shared = Arc::clone(&shared);
        let guard = InRequest::enter(&in_request, &shared);
        async move {
            let response = if guard.calls_before >= MAX_CONNECTIONS {
                refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many RPC connections, try again",
                )
            } else {
                handle(request, &shared).await
            };
            // Also when the client hangs up and the call is dropped: this future is dropped
            // with it, and so are the guards.
            drop(guard);
            Ok::<_, Infallible>(response)
        }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(false)
        // As Bitcoin Core writes them, for clients that match header names by case.
        .title_case_headers(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(error) = served {
        debug!(%error, "rpc: connection ended early");
    }
}

/// Counts a call under way, on its connection and in the server, while alive: such a connection
/// is not ended to make room. A call dropped because its client hung up leaves the counts too.
struct InRequest {
    connection: Arc<AtomicUsize>,
    shared: Arc<Shared>,
    /// Calls in progress in the server when this one came.
    calls_before: usize,
}

impl InRequest {
    fn enter(connection: &Arc<AtomicUsize>, shared: &Arc<Shared>) -> InRequest {
        connection.fetch_add(1, Ordering::AcqRel);
        let calls_before = shared.busy.fetch_add(1, Ordering::AcqRel);
        InRequest {
            connection: Arc::clone(connection),
            shared: Arc::clone(shared),
            calls_before,
        }
    }
}

impl Drop for InRequest {
    fn drop(&mut self) {
        self.connection.fetch_sub(1, Ordering::AcqRel);
        self.shared.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn refuse(status: StatusCode, detail: &str) -> Answer {
    let mut response = answer(status, "text/plain", format!("{detail}\n"));
    let extra = match status {
        StatusCode::UNAUTHORIZED => Some((header::WWW_AUTHENTICATE, "Basic realm=\"jsonrpc\"")),
        StatusCode::METHOD_NOT_ALLOWED => Some((header::ALLOW, "POST")),
        _ => None,
    };
    if let Some((name, value)) = extra {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    response
}

/// One request: a REST GET (when the interface is on), or a JSON-RPC call whose body is read
/// only once the method, credentials and length are checked, so an unauthenticated client
/// cannot make the node buffer megabytes.
async fn handle(request: Request<Incoming>, shared: &Shared) -> Answer {
    let rest = shared.rest == RestInterface::On;
    if request.method() == Method::GET && rest && request.uri().path().starts_with("/rest/") {
        let target = request
            .uri()
            .path_and_query()
            .map_or("", |target| target.as_str());
        return match RestRequest::parse(target) {
            Ok(rest) => answer_rest(&rest, &shared.calls).await,
            Err(_) => refuse(
                StatusCode::BAD_REQUEST,
                "bad REST request: use /rest/headers/<count>/<hash>.<bin|hex|json>, \
                 /rest/block/<hash>.<bin|hex|json> or /rest/chaininfo.json",
            ),
        };
    }
    if request.method() != Method::POST {
        let detail = if rest {
            "only POST is supported, and GET under /rest/"
        } else {
            "only POST is supported (REST is off: start the node with --rest)"
        };
        return refuse(StatusCode::METHOD_NOT_ALLOWED, detail);
    }
    let headers = request.headers();
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| shared.cookie.check(value));
    if !authorized {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing or wrong credentials: use the cookie from the data directory",
        );
    }
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    let length = match length {
        Some(length) if length > MAX_BODY_BYTES => {
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, "request body over 4 MiB")
        }
        Some(length) => length,
        None if headers.contains_key(header::TRANSFER_ENCODING) => {
            return refuse(
                StatusCode::LENGTH_REQUIRED,
                "chunked bodies are not supported: send Content-Length",
            )
        }
        None => return refuse(StatusCode::LENGTH_REQUIRED, "Content-Length is required"),
    };
    // Within MAX_BODY_BYTES, checked above: the count fits in u32 and the body in memory.
    let kib = u32::try_from(length.div_ceil(1024)).unwrap_or(u32::MAX);
    let Ok(_room) = shared.body_room.acquire_many(kib).await else {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping");
    };
    let read = read_body(request.into_body(), length);
    let body = match tokio::time::timeout(REQUEST_READ_TIMEOUT, read).await {
        Ok(Some(body)) => body,
        Ok(None) => return refuse(StatusCode::BAD_REQUEST, "the request body broke off"),
        Err(_) => {
            return refuse(
                StatusCode::REQUEST_TIMEOUT,
                "the request body came too slowly",
            )
        }
    };
    let reply = call(&body, &shared.calls).await;
    answer(StatusCode::OK, "application/json", reply)
}

/// Reads a body of `length` bytes into one buffer of that size (hyper stops it at its
/// Content-Length); `None` if it breaks off.
async fn read_body(mut body: Incoming, length: u64) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(usize::try_from(length).ok()?);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.ok()?.into_data() {
            bytes.extend_from_slice(&data);
        }
    }
    Some(bytes)
}

/// Answers a REST request through the RPC call that serves it.
async fn answer_rest(request: &RestRequest, calls: &mpsc::Sender<RpcCall>) -> Answer {
    let (method, params) = request.call();
    let outcome = forward(method.to_string(), params, calls).await;
    match request.render(outcome) {
        Ok((content_type, body)) => answer(StatusCode::OK, content_type, body),
        Err((code, message)) => {
            let status = if code == 404 {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            answer(status, "text/plain", format!("{message}\n"))
        }
    }
}

/// Parses and forwards one call; every outcome, including a gone node, becomes a JSON answer.
async fn call(body: &[u8], calls: &mpsc::Sender<RpcCall>) -> Vec<u8> {
    let request = match parse_request(body) {
        Ok(request) => request,
        Err(refused) => {
            debug!(code = refused.error.code, "rpc: refused call");
            return response_body(refused.id, Err(refused.error));
        }
    };
    let started = Instant::now();
    let outcome = forward(request.method.clone(), request.params, calls).await;
    debug!(
        method = %request.method,
        elapsed_ms = started.elapsed().as_millis() as u64,
        error_code = outcome.as_ref().err().map(|e| e.code),
        "rpc call"
    );
    response_body(request.id, outcome)
}

/// Sends a call to the node task and waits for its answer.
async fn forward(
    method: String,
    params: Vec<Value>,
    calls: &mpsc::Sender<RpcCall>,
) -> Result<Value, RpcError> {
    let (reply, answered) = oneshot::channel();
    let call = RpcCall {
        method,
        params,
        reply,
    };
    match calls.send(call).await {
        Ok(()) => answered.await.unwrap_or_else(|_| Err(node_gone())),
        Err(_) => Err(node_gone()),
    }
}

fn node_gone() -> RpcError {
    RpcError::misc("the node is shutting down and cannot answer")
}
