//! Peer methods: who we are connected to, and the hand controls (`addnode`, `disconnectnode`,
//! `setnetworkactive`, and the devnet's `setdeniedpeers` and `setlinklatency`).

use super::NodeControl;
use crate::node::state::MIN_FEE_RATE;
use crate::node::user_agent;
use crate::protocol::Input;
use crate::rpc::params::{optional_str, required_str};
use crate::rpc::RpcError;
use crate::types::Amount;
use crate::wire::PROTOCOL_VERSION;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// The most `setlinklatency` adds: beyond a minute a link is better cut with `setdeniedpeers`.
const MAX_LINK_LATENCY_MS: u64 = 60_000;

pub(super) fn get_peer_info(control: &dyn NodeControl) -> Value {
    let peers: Vec<Value> = control
        .peers()
        .into_iter()
        .map(|peer| {
            json!({
                "id": peer.id,
                "addr": peer.addr.to_string(),
                "inbound": peer.inbound,
                "handshake_done": peer.handshake_done,
                "subver": peer.user_agent,
                "startingheight": peer.best_height,
                "pingtime": peer.ping_ms.map(|ms| ms as f64 / 1e3),
                "listen_addr": peer.listen_addr.map(|addr| addr.to_string()),
                "latency_ms": control.peer_latency_ms(peer.id).unwrap_or(0),
            })
        })
        .collect();
    Value::Array(peers)
}

pub(super) fn get_connection_count(control: &dyn NodeControl) -> Value {
    json!(control.peers().len())
}

pub(super) fn get_network_info(control: &dyn NodeControl) -> Value {
    let peers = control.peers();
    let inbound = peers.iter().filter(|peer| peer.inbound).count();
    // Bitcoin Core's shape, field for field (tools such as fork-observer read it strictly),
    // with nakachain's own fields beside it.
    let relay_fee = Amount(MIN_FEE_RATE * 1_000).to_coins_f64();
    json!({
        "version": version_number(),
        "subversion": user_agent(),
        "protocolversion": PROTOCOL_VERSION,
        "localservices": format!("{NODE_NETWORK:016x}"),
        "localservicesnames": ["NETWORK"],
        "localrelay": true,
        "timeoffset": 0,
        "networkactive": control.network_active(),
        "connections": peers.len(),
        "connections_in": inbound,
        "connections_out": peers.len() - inbound,
        "networks": [{
            "name": "ipv4",
            "limited": false,
            "reachable": true,
            "proxy": "",
            "proxy_randomize_credentials": false,
        }],
        "relayfee": relay_fee,
        "incrementalfee": relay_fee,
        "localaddresses": Vec::<Value>::new(),
        "warnings": Vec::<String>::new(),
        "denied": addr_strings(&control.denied()),
        "latency_ms": control.default_latency_ms(),
    })
}

/// Bitcoin Core's service bit for a node that serves the whole chain, which every node does.
const NODE_NETWORK: u64 = 1;

/// The version as Bitcoin Core numbers its own: 0.1.0 is 100, 28.0.0 would be 280000.
fn version_number() -> u64 {
    let part = |text: &str| text.parse::<u64>().unwrap_or(0);
    part(env!("CARGO_PKG_VERSION_MAJOR")) * 10_000
        + part(env!("CARGO_PKG_VERSION_MINOR")) * 100
        + part(env!("CARGO_PKG_VERSION_PATCH"))
}

fn addr_strings(addrs: &[SocketAddr]) -> Vec<String> {
    addrs.iter().map(SocketAddr::to_string).collect()
}

/// Parameter `index`, a JSON array of "IP:PORT" strings, sorted and without duplicates.
fn addr_list(params: &[Value], index: usize, name: &str) -> Result<Vec<SocketAddr>, RpcError> {
    let label = format!("parameter {} ({name})", index + 1);
    let Some(Value::Array(items)) = params.get(index) else {
        return Err(RpcError::invalid_parameter(format!(
            "{label} must be an array of \"IP:PORT\" strings, e.g. [\"127.0.0.1:18444\"]"
        )));
    };
    let mut addrs = items
        .iter()
        .map(|item| match item {
            Value::String(text) => parse_addr(text),
            other => Err(RpcError::invalid_parameter(format!(
                "{label} must hold \"IP:PORT\" strings, not {other}"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    addrs.sort_unstable();
    addrs.dedup();
    Ok(addrs)
}

fn parse_addr(text: &str) -> Result<SocketAddr, RpcError> {
    text.parse().map_err(|_| {
        RpcError::invalid_parameter(format!("invalid address {text:?}: expected IP:PORT"))
    })
}

pub(super) fn add_node(control: &mut dyn NodeControl, params: &[Value]) -> Result<Value, RpcError> {
    let addr = parse_addr(required_str(params, 0, "node")?)?;
    match optional_str(params, 1, "command")?.unwrap_or("add") {
        "add" | "onetry" => {
            control.protocol_input(Input::AddPeer(addr));
            Ok(Value::Null)
        }
        other => Err(RpcError::invalid_parameter(format!(
            "command must be add or onetry, not {other:?}"
        ))),
    }
}

pub(super) fn disconnect_node(
    control: &mut dyn NodeControl,
    params: &[Value],
) -> Result<Value, RpcError> {
    let peers = control.peers();
    let found = match params.first() {
        Some(Value::Number(id)) => peers.iter().find(|peer| Some(peer.id) == id.as_u64()),
        Some(Value::String(text)) => {
            let addr = parse_addr(text)?;
            peers.iter().find(|peer| peer.addr == addr)
        }
        _ => {
            return Err(RpcError::invalid_params(
                "parameter 1 (address or nodeid) is required",
            ))
        }
    };
    let peer = found
        .map(|peer| peer.id)
        .ok_or_else(|| RpcError::client_not_connected("Node not found in connected nodes"))?;
    control.protocol_input(Input::DisconnectPeer(peer));
    Ok(Value::Null)
}

pub(super) fn set_network_active(
    control: &mut dyn NodeControl,
    params: &[Value],
) -> Result<Value, RpcError> {
    let Some(Value::Bool(active)) = params.first() else {
        return Err(RpcError::invalid_params(
            "parameter 1 (state) must be true or false",
        ));
    };
    control.protocol_input(Input::SetNetworkActive(*active));
    Ok(json!(*active))
}

/// `setdeniedpeers ["IP:PORT", ...]`: replaces the deny-list; returns the list in force.
pub(super) fn set_denied_peers(
    control: &mut dyn NodeControl,
    params: &[Value],
) -> Result<Value, RpcError> {
    let denied = addr_list(params, 0, "addresses")?;
    control.protocol_input(Input::SetDenied(&denied));
    Ok(json!(addr_strings(&control.denied())))
}

/// `setlinklatency MS ["IP:PORT", ...]`: delays frames to those peers, or without addresses to
/// every peer.
pub(super) fn set_link_latency(
    control: &mut dyn NodeControl,
    params: &[Value],
) -> Result<Value, RpcError> {
    let ms = params
        .first()
        .and_then(Value::as_u64)
        .filter(|ms| *ms <= MAX_LINK_LATENCY_MS)
        .ok_or_else(|| {
            RpcError::invalid_parameter(format!(
                "parameter 1 (ms) must be a whole number of milliseconds from 0 to {MAX_LINK_LATENCY_MS}"
            ))
        })?;
    let peers = match params.get(1) {
        None | Some(Value::Null) => Vec::new(),
        Some(_) => addr_list(params, 1, "addresses")?,
    };
    control.set_latency(ms, &peers);
    Ok(Value::Null)
}
