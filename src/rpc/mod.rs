//! rpc: JSON-RPC 2.0 over HTTP/1.1 on loopback with cookie auth — the transport, not the methods.
//!
//! Owns the HTTP server (hyper: bounded reads, timeouts, status codes, connection limits), the
//! client's small HTTP layer, the JSON-RPC envelope,
//! cookie credentials, the blocking client the CLI uses (and how its arguments and answers
//! read on a command line), and helpers that read positional params
//! with clear errors.
//!
//! Must not touch node state: each call is forwarded as an [`RpcCall`] over a channel to the node
//! task, which answers on a oneshot. Must not touch the filesystem (`store` writes the `.cookie`
//! file) or draw randomness (the cookie secret is an argument).

pub mod auth;
pub mod cli;
pub mod client;
pub(crate) mod envelope;
pub mod error;
mod http;
pub mod params;
pub(crate) mod rest;
pub mod server;

pub use auth::{Cookie, CookieError, COOKIE_USER};
pub use client::{ClientError, RpcClient, CONNECT_TIMEOUT, RESPONSE_TIMEOUT};
pub use error::RpcError;
pub use server::{
    serve, RestInterface, RpcCall, HEADER_READ_TIMEOUT, MAX_BODY_BYTES, MAX_CONNECTIONS,
    MAX_OPEN_CONNECTIONS, REQUEST_READ_TIMEOUT,
};
