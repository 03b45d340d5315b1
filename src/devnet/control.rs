//! Runtime network controls over a running devnet: partition into groups, isolate one node, heal,
//! and add link latency. Each is a set of `setdeniedpeers` / `setlinklatency` RPC calls, so the
//! same calls work on nodes spread over several machines.
//!
//! Owns turning a spec like `node-0,node-1/node-2,node-3` into per-node deny lists. The lists
//! also hold the topology: nodes dial every address they learn from peers, so without them a
//! ring or a line would turn into a mesh within seconds. Healed means "back to the topology".
//! Must not start or stop processes; the nodes themselves enforce the lists.

use super::plan::Topology;
use super::{DevnetError, DevnetState};
use serde_json::{json, Value};

/// Parses `A,B/C,D` into groups of node indices: at least two groups, every node exactly once.
pub(crate) fn parse_partition(
    spec: &str,
    names: &[String],
) -> Result<Vec<Vec<usize>>, DevnetError> {
    let mut placed = vec![false; names.len()];
    let mut groups = Vec::new();
    for group_text in spec.split('/') {
        let mut group = Vec::new();
        for name in group_text
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let index = index_of(name, names)?;
            if placed[index] {
                return Err(DevnetError::NodeInTwoGroups(name.to_string()));
            }
            placed[index] = true;
            group.push(index);
        }
        if group.is_empty() {
            return Err(DevnetError::EmptyGroup);
        }
        groups.push(group);
    }
    if groups.len() < 2 {
        return Err(DevnetError::TooFewGroups);
    }
    if let Some(missing) = placed.iter().position(|done| !done) {
        return Err(DevnetError::NodeInNoGroup(names[missing].clone()));
    }
    Ok(groups)
}

fn index_of(name: &str, names: &[String]) -> Result<usize, DevnetError> {
    names
        .iter()
        .position(|known| known == name)
        .ok_or_else(|| DevnetError::UnknownNode {
            name: name.to_string(),
            known: names.to_vec(),
        })
}

/// For each of `nodes` nodes, the nodes it must not talk to: every node outside its group, and
/// inside it every node that is not its topology neighbour.
pub(crate) fn deny_lists(
    groups: &[Vec<usize>],
    topology: Topology,
    nodes: usize,
) -> Vec<Vec<usize>> {
    let neighbours = topology.neighbours(nodes);
    let mut group_of = vec![usize::MAX; nodes];
    for (g, group) in groups.iter().enumerate() {
        for &i in group {
            group_of[i] = g;
        }
    }
    (0..nodes)
        .map(|i| {
            (0..nodes)
                .filter(|&j| j != i && (group_of[j] != group_of[i] || !neighbours[i].contains(&j)))
                .collect()
        })
        .collect()
}

/// Groups for isolating one node: it alone, everyone else together.
pub(crate) fn isolation_groups(node: usize, nodes: usize) -> Vec<Vec<usize>> {
    let rest: Vec<usize> = (0..nodes).filter(|&i| i != node).collect();
    vec![vec![node], rest]
}

/// Gives every node its deny list. All nodes are tried; the first failure is returned.
pub(crate) fn apply_groups(state: &DevnetState, groups: &[Vec<usize>]) -> Result<(), DevnetError> {
    let lists = deny_lists(groups, state.topology, state.nodes.len());
    let calls = state.nodes.iter().zip(lists).map(|(node, denied)| {
        let addrs: Vec<String> = denied
            .iter()
            .map(|&j| state.nodes[j].p2p_addr.to_string())
            .collect();
        node.call("setdeniedpeers", vec![json!(addrs)]).map(drop)
    });
    first_error(calls)
}

/// Splits the devnet into the groups `spec` names (`A,B/C,D`); returns them as node indices.
pub fn partition(state: &DevnetState, spec: &str) -> Result<Vec<Vec<usize>>, DevnetError> {
    let groups = parse_partition(spec, &state.names())?;
    apply_groups(state, &groups)?;
    Ok(groups)
}

/// The sides of a partition by node name: `node-0, node-1 | node-2, node-3`.
pub(crate) fn describe_groups(state: &DevnetState, groups: &[Vec<usize>]) -> String {
    let sides: Vec<String> = groups
        .iter()
        .map(|group| {
            let names: Vec<&str> = group
                .iter()
                .filter_map(|&index| state.nodes.get(index))
                .map(|node| node.name.as_str())
                .collect();
            names.join(", ")
        })
        .collect();
    sides.join(" | ")
}

/// Cuts the node called `name` off from every other.
pub fn isolate(state: &DevnetState, name: &str) -> Result<(), DevnetError> {
    let index = index_of(name, &state.names())?;
    apply_groups(state, &isolation_groups(index, state.nodes.len()))
}

/// Lifts partitions and isolation: every node may reach its topology neighbours again (for a
/// mesh, every node). The nodes redial their configured peers at once.
pub fn heal(state: &DevnetState) -> Result<(), DevnetError> {
    let everyone: Vec<usize> = (0..state.nodes.len()).collect();
    apply_groups(state, &[everyone])
}

/// Sets `ms` of added delay on every link, or (with `between`) on the links among the named
/// nodes only, both directions.
pub fn latency(state: &DevnetState, ms: u64, between: Option<&str>) -> Result<(), DevnetError> {
    let Some(between) = between else {
        return first_error(
            state
                .nodes
                .iter()
                .map(|node| node.call("setlinklatency", vec![json!(ms)]).map(drop)),
        );
    };
    let names = state.names();
    let chosen = between
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| index_of(name, &names))
        .collect::<Result<Vec<usize>, _>>()?;
    // One name would send an empty peer list, which the node reads as "every peer".
    if chosen.len() < 2 {
        return Err(DevnetError::BetweenTooFew);
    }
    let calls = chosen.iter().map(|&i| {
        let peers: Vec<Value> = chosen
            .iter()
            .filter(|&&j| j != i)
            .map(|&j| json!(state.nodes[j].p2p_addr.to_string()))
            .collect();
        state.nodes[i]
            .call("setlinklatency", vec![json!(ms), Value::Array(peers)])
            .map(drop)
    });
    first_error(calls)
}

fn first_error(results: impl Iterator<Item = Result<(), DevnetError>>) -> Result<(), DevnetError> {
    let mut first = None;
    for result in results {
        if let Err(error) = result {
            first.get_or_insert(error);
        }
    }
    first.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("node-{i}")).collect()
    }

    #[test]
    fn partition_parses_groups() {
        let groups = parse_partition("node-0,node-1/node-2, node-3", &names(4)).unwrap();
        assert_eq!(groups, vec![vec![0, 1], vec![2, 3]]);
        let three = parse_partition("node-2/node-0/node-1", &names(3)).unwrap();
        assert_eq!(three, vec![vec![2], vec![0], vec![1]]);
    }

    #[test]
    fn partition_must_cover_every_node_once() {
        let error = |spec: &str| parse_partition(spec, &names(5)).unwrap_err().to_string();
        assert_eq!(
            error("node-0,node-1/node-2,node-3"),
            "node-4 is in no group: a partition must place every node"
        );
        assert_eq!(
            error("node-0,node-1/node-1,node-2,node-3,node-4"),
            "node-1 is in two groups: a node can only be on one side"
        );
        assert_eq!(
            error("node-0,node-1/node-9"),
            "unknown node node-9 (this devnet has node-0 … node-4)"
        );
        assert!(error("node-0,node-1,node-2,node-3,node-4").contains("at least two groups"));
        assert!(error("node-0,node-1//node-2,node-3,node-4").contains("empty"));
    }

    #[test]
    fn deny_lists_cross_groups_in_a_mesh() {
        let lists = deny_lists(&[vec![0, 1], vec![2, 3]], Topology::Mesh, 4);
        assert_eq!(lists, vec![vec![2, 3], vec![2, 3], vec![0, 1], vec![0, 1]]);
        let isolated = deny_lists(&isolation_groups(1, 3), Topology::Mesh, 3);
        assert_eq!(isolated, vec![vec![1], vec![0, 2], vec![1]]);
        let healed = deny_lists(&[vec![0, 1, 2]], Topology::Mesh, 3);
        assert!(healed.iter().all(Vec::is_empty));
    }

    #[test]
    fn deny_lists_keep_a_line_a_line() {
        let healed = deny_lists(&[vec![0, 1, 2, 3]], Topology::Line, 4);
        assert_eq!(healed, vec![vec![2, 3], vec![3], vec![0], vec![0, 1]]);
        let split = deny_lists(&[vec![0, 1], vec![2, 3]], Topology::Line, 4);
        assert_eq!(split, vec![vec![2, 3], vec![2, 3], vec![0, 1], vec![0, 1]]);
    }
}
