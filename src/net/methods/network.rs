//! Peer methods: who we are connected to, and the hand controls (`addnode`, `disconnectnode`,
//! `setnetworkactive`).

use crate::net::runtime::NodeTask;
use crate::protocol::Input;
use crate::rpc::params::{optional_str, required_str};
use crate::rpc::RpcError;
use serde_json::{json, Value};
use std::net::SocketAddr;

pub(super) fn get_peer_info(task: &NodeTask) -> Value {
    let peers: Vec<Value> = task
        .protocol
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
            })
        })
        .collect();
    Value::Array(peers)
}

pub(super) fn get_connection_count(task: &NodeTask) -> Value {
    json!(task.protocol.peers().len())
}

pub(super) fn get_network_info(task: &NodeTask) -> Value {
    let peers = task.protocol.peers();
    let inbound = peers.iter().filter(|peer| peer.inbound).count();
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "subversion": format!("nakachain:{}", env!("CARGO_PKG_VERSION")),
        "networkactive": task.protocol.network_active(),
        "connections": peers.len(),
        "connections_in": inbound,
        "connections_out": peers.len() - inbound,
    })
}

fn parse_addr(text: &str) -> Result<SocketAddr, RpcError> {
    text.parse().map_err(|_| {
        RpcError::invalid_parameter(format!("invalid address {text:?}: expected IP:PORT"))
    })
}

pub(super) fn add_node(task: &mut NodeTask, params: &[Value]) -> Result<Value, RpcError> {
    let addr = parse_addr(required_str(params, 0, "node")?)?;
    match optional_str(params, 1, "command")?.unwrap_or("add") {
        "add" | "onetry" => {
            task.input(Input::AddPeer(addr));
            Ok(Value::Null)
        }
        other => Err(RpcError::invalid_parameter(format!(
            "command must be add or onetry, not {other:?}"
        ))),
    }
}

pub(super) fn disconnect_node(task: &mut NodeTask, params: &[Value]) -> Result<Value, RpcError> {
    let peers = task.protocol.peers();
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
    task.input(Input::DisconnectPeer(peer));
    Ok(Value::Null)
}

pub(super) fn set_network_active(task: &mut NodeTask, params: &[Value]) -> Result<Value, RpcError> {
    let Some(Value::Bool(active)) = params.first() else {
        return Err(RpcError::invalid_params(
            "parameter 1 (state) must be true or false",
        ));
    };
    task.input(Input::SetNetworkActive(*active));
    Ok(json!(*active))
}
