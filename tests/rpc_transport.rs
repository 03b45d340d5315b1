//! The RPC transport over real loopback TCP: a server fed by a small test "node" task, driven by
//! the blocking `RpcClient` and by hand-written raw HTTP.

use nakachain::rpc::{
    serve, ClientError, Cookie, RestInterface, RpcCall, RpcClient, RpcError, HEADER_READ_TIMEOUT,
    MAX_BODY_BYTES, MAX_CONNECTIONS, MAX_OPEN_CONNECTIONS,
};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Long enough never to fire on a loaded machine; only guards against a hung test.
const RAW_READ_TIMEOUT: Duration = Duration::from_secs(120);

/// A server on its own thread and runtime, stopped and joined on drop.
struct TestServer {
    addr: SocketAddr,
    cookie: Cookie,
    shutdown: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

/// The test node: "echo" returns its params, "fail" a rejection, "hang" nothing ever, anything
/// else is unknown.
async fn answer_calls(mut calls: mpsc::Receiver<RpcCall>) {
    let mut hanging = Vec::new();
    while let Some(call) = calls.recv().await {
        let outcome = match call.method.as_str() {
            "echo" => Ok(Value::Array(call.params)),
            // Never answered while the test node runs: the reply is kept, not dropped.
            "hang" => {
                hanging.push(call.reply);
                continue;
            }
            "fail" => Err(RpcError::verify_rejected("rejected for the test")),
            other => Err(RpcError::method_not_found(other)),
        };
        let _ = call.reply.send(outcome);
    }
}

impl TestServer {
    fn start() -> TestServer {
        TestServer::start_with(true)
    }

    /// `with_node: false` drops the node's end of the channel, as when the node task is gone.
    fn start_with(with_node: bool) -> TestServer {
        let cookie = Cookie::from_secret([0x5a; 32]);
        let server_cookie = cookie.clone();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind loopback");
                addr_tx
                    .send(listener.local_addr().expect("local addr"))
                    .expect("test waits for the address");
                let (calls, calls_rx) = mpsc::channel(16);
                if with_node {
                    tokio::spawn(answer_calls(calls_rx));
                } else {
                    drop(calls_rx);
                }
                serve(
                    listener,
                    server_cookie,
                    calls,
                    shutdown_rx,
                    RestInterface::Off,
                )
                .await;
            });
        });
        let addr = addr_rx.recv().expect("server thread sends its address");
        TestServer {
            addr,
            cookie,
            shutdown,
            thread: Some(thread),
        }
    }

    fn client(&self) -> RpcClient {
        RpcClient::new(self.addr, self.cookie.clone())
    }

    /// Fires shutdown and waits for `serve` to return.
    fn stop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("server thread panicked");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

struct RawResponse {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl RawResponse {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// Sends `request` as is and reads until the server closes.
fn exchange(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(RAW_READ_TIMEOUT)).unwrap();
    stream.write_all(request).expect("send request");
    read_response(&mut stream)
}

fn read_response(stream: &mut TcpStream) -> RawResponse {
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("read response");
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8(bytes[..split].to_vec()).expect("ASCII head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status code");
    RawResponse {
        status,
        head,
        body: bytes[split + 4..].to_vec(),
    }
}

fn post(addr: SocketAddr, authorization: Option<&str>, body: &[u8]) -> RawResponse {
    let mut request = format!("POST / HTTP/1.1\r\nHost: {addr}\r\n");
    if let Some(value) = authorization {
        request.push_str(&format!("Authorization: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    exchange(addr, &bytes)
}

fn rpc_error(result: Result<Value, ClientError>) -> RpcError {
    match result {
        Err(ClientError::Rpc(error)) => error,
        other => panic!("expected an RPC error answer, got {other:?}"),
    }
}

#[test]
fn round_trip_through_the_client() {
    let server = TestServer::start();
    let client = server.client();
    let params = vec![json!(1), json!("two"), json!({"three": [3]}), Value::Null];
    assert_eq!(
        client.call("echo", params.clone()).unwrap(),
        Value::Array(params)
    );
    assert_eq!(client.call("echo", vec![]).unwrap(), json!([]));

    let error = rpc_error(client.call("fail", vec![]));
    assert_eq!(error, RpcError::verify_rejected("rejected for the test"));
}

#[test]
fn a_two_megabyte_param_round_trips() {
    let server = TestServer::start();
    let hex = "ab".repeat(1_000_000);
    let answer = server.client().call("echo", vec![json!(hex)]).unwrap();
    assert_eq!(answer, json!([hex]));
}

#[test]
fn unknown_method_is_answered_by_the_node_with_its_name() {
    let server = TestServer::start();
    let error = rpc_error(server.client().call("frobnicate", vec![]));
    assert_eq!(error.code, -32601);
    assert!(error.message.contains("frobnicate"), "{}", error.message);
}

#[test]
fn wrong_or_missing_cookie_is_unauthorized_and_the_node_keeps_serving() {
    let server = TestServer::start();
    let stranger = RpcClient::new(server.addr, Cookie::from_secret([0x5b; 32]));
    let error = stranger.call("echo", vec![]).unwrap_err();
    assert!(matches!(error, ClientError::Unauthorized), "{error:?}");
    assert_eq!(
        error.to_string(),
        "RPC authentication failed: the cookie is stale or wrong"
    );

    let body = br#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[]}"#;
    let missing = post(server.addr, None, body);
    assert_eq!(missing.status, 401);
    // Header names are case-insensitive; hyper writes this one `Www-Authenticate`.
    assert!(
        missing
            .head
            .to_ascii_lowercase()
            .contains("www-authenticate: basic realm=\"jsonrpc\""),
        "{}",
        missing.head
    );
    let wrong = post(server.addr, Some(&stranger_header()), body);
    assert_eq!(wrong.status, 401);
    let not_basic = post(server.addr, Some("Bearer abc"), body);
    assert_eq!(not_basic.status, 401);

    assert_eq!(
        server.client().call("echo", vec![json!(1)]).unwrap(),
        json!([1])
    );
}

fn stranger_header() -> String {
    Cookie::from_secret([0x5b; 32]).authorization_header()
}

#[test]
fn malformed_json_is_a_parse_error() {
    let server = TestServer::start();
    let auth = server.cookie.authorization_header();
    let response = post(server.addr, Some(&auth), b"{\"method\": \"echo\", ");
    assert_eq!(response.status, 200);
    assert!(response.head.contains("Content-Type: application/json"));
    let answer = response.json();
    assert_eq!(answer["error"]["code"], json!(-32700));
    assert_eq!(answer["result"], Value::Null);
    assert_eq!(answer["id"], Value::Null);
}

#[test]
fn envelope_errors_answer_under_the_request_id() {
    let server = TestServer::start();
    let auth = server.cookie.authorization_header();
    let named = post(
        server.addr,
        Some(&auth),
        br#"{"jsonrpc":"2.0","id":"n","method":"echo","params":{"a":1}}"#,
    )
    .json();
    assert_eq!(named["error"]["code"], json!(-32602));
    assert_eq!(
        named["error"]["message"],
        json!("named parameters are not supported")
    );
    assert_eq!(named["id"], json!("n"));

    let batch = post(
        server.addr,
        Some(&auth),
        br#"[{"jsonrpc":"2.0","id":1,"method":"echo"}]"#,
    )
    .json();
    assert_eq!(batch["error"]["code"], json!(-32600));

    let legacy = post(
        server.addr,
        Some(&auth),
        br#"{"jsonrpc":"1.0","id":"cli","method":"echo","params":[7]}"#,
    )
    .json();
    assert_eq!(
        legacy,
        json!({"jsonrpc":"2.0","result":[7],"error":null,"id":"cli"})
    );
}

#[test]
fn oversized_content_length_is_refused_before_reading_the_body() {
    let server = TestServer::start();
    let auth = server.cookie.authorization_header();
    for claimed in [1_000_000_000, MAX_BODY_BYTES + 1] {
        let request = format!(
            "POST / HTTP/1.1\r\nAuthorization: {auth}\r\nContent-Length: {claimed}\r\n\r\n{{"
        );
        let response = exchange(server.addr, request.as_bytes());
        assert_eq!(response.status, 413, "claimed {claimed}");
    }
    assert_eq!(server.client().call("echo", vec![]).unwrap(), json!([]));
}

#[test]
fn wrong_method_and_missing_length_are_refused() {
    let server = TestServer::start();
    let auth = server.cookie.authorization_header();
    let get = exchange(server.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(get.status, 405);
    assert!(get.head.contains("Allow: POST"));

    let no_length = format!("POST / HTTP/1.1\r\nAuthorization: {auth}\r\n\r\n");
    assert_eq!(exchange(server.addr, no_length.as_bytes()).status, 411);

    let chunked = format!(
        "POST / HTTP/1.1\r\nAuthorization: {auth}\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n"
    );
    assert_eq!(exchange(server.addr, chunked.as_bytes()).status, 411);

    let mut huge_head = b"POST / HTTP/1.1\r\nX-Filler: ".to_vec();
    huge_head.resize(40 * 1024, b'a');
    assert_eq!(exchange(server.addr, &huge_head).status, 431);
}

#[test]
fn garbage_gets_400_and_the_next_request_is_served() {
    let server = TestServer::start();
    let garbage = exchange(server.addr, b"\x00\x01\xfe\xff not http at all\r\n\r\n");
    assert_eq!(garbage.status, 400);
    let bad_length = exchange(
        server.addr,
        b"POST / HTTP/1.1\r\nContent-Length: twelve\r\n\r\n",
    );
    assert_eq!(bad_length.status, 400);
    assert_eq!(
        server
            .client()
            .call("echo", vec![json!("still here")])
            .unwrap(),
        json!(["still here"])
    );
}

#[test]
fn a_client_that_hangs_up_early_does_not_disturb_the_server() {
    let server = TestServer::start();
    let auth = server.cookie.authorization_header();
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let partial =
        format!("POST / HTTP/1.1\r\nAuthorization: {auth}\r\nContent-Length: 100\r\n\r\n{{");
    stream.write_all(partial.as_bytes()).unwrap();
    drop(stream);
    assert_eq!(server.client().call("echo", vec![]).unwrap(), json!([]));
}

#[test]
fn connection_refused_has_a_clear_message() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client = RpcClient::new(addr, Cookie::from_secret([1; 32]));
    let error = client.call("echo", vec![]).unwrap_err();
    assert!(matches!(error, ClientError::Connect { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("could not connect to the node at {addr}: connection refused (is it running?)")
    );
}

#[test]
fn a_node_that_never_answers_is_a_timeout_after_the_clients_patience() {
    // Accepts the connection (the kernel does, from the backlog) but never reads or answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = RpcClient::new(addr, Cookie::from_secret([1; 32]))
        .with_response_timeout(Duration::from_millis(200));
    let error = client.call("echo", vec![]).unwrap_err();
    assert!(
        matches!(error, ClientError::Timeout { after } if after == Duration::from_millis(200)),
        "{error:?}"
    );
    drop(listener);
}

#[test]
fn shutdown_stops_the_server() {
    let mut server = TestServer::start();
    let client = server.client();
    assert_eq!(client.call("echo", vec![]).unwrap(), json!([]));
    server.stop();
    let error = client.call("echo", vec![]).unwrap_err();
    assert!(matches!(error, ClientError::Connect { .. }), "{error:?}");
}

#[test]
fn a_gone_node_task_is_an_error_answer() {
    let server = TestServer::start_with(false);
    let error = rpc_error(server.client().call("echo", vec![]));
    assert_eq!(error.code, -1);
}

#[test]
fn idle_connections_make_room_for_a_newcomer() {
    let server = TestServer::start();
    let mut idle: Vec<TcpStream> = (0..MAX_OPEN_CONNECTIONS)
        .map(|_| TcpStream::connect(server.addr).expect("connect"))
        .collect();
    // Every connection is taken, none in a request: the newcomer takes the oldest one's place.
    assert_eq!(
        server.client().call("echo", vec![]).expect("served"),
        json!([])
    );
    let oldest = &mut idle[0];
    // Closed now, not at the end of its head's time (which this read would not wait for).
    oldest
        .set_read_timeout(Some(HEADER_READ_TIMEOUT / 2))
        .unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(
        oldest.read(&mut byte).ok(),
        Some(0),
        "the oldest was closed"
    );
}

/// Sends a call to "hang" (which the test node never answers) on a raw connection.
fn hanging_call(addr: SocketAddr, cookie: &str) -> TcpStream {
    let body = br#"{"method":"hang","params":[]}"#;
    let mut stream = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {cookie}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send head");
    stream.write_all(body).expect("send body");
    stream
}

/// Finding 6 of the hostile-peer report: clients that start a long poll and hang up left their
/// connections taken for good, and every later call got 503. A full house of calls in progress
/// still answers 503, but a client that hangs up frees its connection at once.
#[test]
fn calls_in_progress_fill_the_house_and_a_client_that_hangs_up_frees_its_place() {
    let server = TestServer::start();
    let cookie = server.cookie.authorization_header();
    let waiting: Vec<TcpStream> = (0..MAX_CONNECTIONS)
        .map(|_| hanging_call(server.addr, &cookie))
        .collect();
    let client = server.client();
    // Every connection is in a call now (the server has read them all once one call is refused).
    let refused = (0..200).find_map(|_| match client.call("echo", vec![]) {
        Err(ClientError::Http(text)) if text.starts_with("HTTP 503") => Some(text),
        _ => {
            std::thread::sleep(Duration::from_millis(20));
            None
        }
    });
    assert_eq!(
        refused.as_deref(),
        Some("HTTP 503: too many RPC connections, try again")
    );
    drop(waiting);
    let served = (0..200).find_map(|_| match client.call("echo", vec![json!(1)]) {
        Ok(answer) => Some(answer),
        Err(_) => {
            std::thread::sleep(Duration::from_millis(50));
            None
        }
    });
    assert_eq!(served, Some(json!([1])));
}

/// Finding 7 of the hostile-peer report: 200 unauthenticated connections dripping a request
/// head byte by byte took every connection before any credentials were read, and honest calls
/// got 503. Each honest call is answered now while the drip goes on.
#[test]
fn a_slowloris_flood_does_not_keep_honest_calls_out() {
    let server = TestServer::start();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let addr = server.addr;
    let dripping = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut streams: Vec<TcpStream> = Vec::new();
            let head = b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ";
            let mut round = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // Keep 200 open, reopening any the server closed, each a byte further.
                streams.retain_mut(|stream| stream.write_all(b"a").is_ok());
                while streams.len() < 200 {
                    match TcpStream::connect(addr) {
                        Ok(mut stream) => {
                            let _ = stream.write_all(&head[..(round % head.len()) + 1]);
                            streams.push(stream);
                        }
                        Err(_) => break,
                    }
                }
                round += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let client = server.client();
    for index in 0..50 {
        let answer = client.call("echo", vec![json!(index)]);
        assert_eq!(answer.expect("an honest call is answered"), json!([index]));
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    dripping.join().expect("the dripping thread");
}
