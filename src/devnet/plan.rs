//! Planning a devnet before anything starts: node names, ports, who dials whom, which nodes mine
//! and with how many threads.
//!
//! Pure functions of the arguments. Must not touch processes, sockets or files.

use super::DevnetError;
use serde::{Deserialize, Serialize};

/// The most nodes one devnet starts on one machine.
pub(crate) const MAX_NODES: usize = 64;

/// How the nodes are wired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Topology {
    /// Every node connects to every other node.
    Mesh,
    /// Each node connects to the next; the last one closes the circle.
    Ring,
    /// A chain: node-0 — node-1 — … — node-(N-1).
    Line,
}

impl Topology {
    /// For each node, the nodes it dials with `--connect`. Every edge is dialed from exactly one
    /// side (the higher-numbered node, except the ring's closing edge), so a pair never holds two
    /// connections.
    pub fn dials(self, nodes: usize) -> Vec<Vec<usize>> {
        (0..nodes)
            .map(|i| match self {
                Topology::Mesh => (0..i).collect(),
                Topology::Line => (i > 0).then(|| i - 1).into_iter().collect(),
                Topology::Ring if i == 0 && nodes >= 3 => vec![nodes - 1],
                Topology::Ring => (i > 0).then(|| i - 1).into_iter().collect(),
            })
            .collect()
    }

    /// For each node, every node it is wired to, whoever dials.
    pub(crate) fn neighbours(self, nodes: usize) -> Vec<Vec<usize>> {
        let mut neighbours = vec![Vec::new(); nodes];
        for (i, dials) in self.dials(nodes).into_iter().enumerate() {
            for j in dials {
                neighbours[i].push(j);
                neighbours[j].push(i);
            }
        }
        for list in &mut neighbours {
            list.sort_unstable();
        }
        neighbours
    }
}

/// The name of node `index`: `node-0`, `node-1`, …
pub(crate) fn node_name(index: usize) -> String {
    format!("node-{index}")
}

/// Refuses a node count outside 1 to `MAX_NODES`.
pub(crate) fn check_node_count(nodes: usize) -> Result<(), DevnetError> {
    if (1..=MAX_NODES).contains(&nodes) {
        Ok(())
    } else {
        Err(DevnetError::NodeCount {
            nodes,
            max: MAX_NODES,
        })
    }
}

/// Node i's (P2P, RPC) ports: base + 2i and base + 2i + 1.
pub fn ports(base: u16, nodes: usize) -> Result<Vec<(u16, u16)>, DevnetError> {
    let out_of_range = || DevnetError::PortRange { base, nodes };
    (0..nodes)
        .map(|i| {
            let p2p = u16::try_from(usize::from(base) + 2 * i).map_err(|_| out_of_range())?;
            let rpc = p2p.checked_add(1).ok_or_else(out_of_range)?;
            Ok((p2p, rpc))
        })
        .collect()
}

/// Which nodes mine: `all`, `none`, or a comma-separated list of node names.
pub(crate) fn parse_mine(spec: &str, nodes: usize) -> Result<Vec<bool>, DevnetError> {
    match spec.trim() {
        "all" => Ok(vec![true; nodes]),
        "none" => Ok(vec![false; nodes]),
        list => {
            let names: Vec<String> = (0..nodes).map(node_name).collect();
            let mut mining = vec![false; nodes];
            for name in list.split(',').map(str::trim) {
                let index = names
                    .iter()
                    .position(|known| known == name)
                    .ok_or_else(|| DevnetError::UnknownNode {
                        name: name.to_string(),
                        known: names.clone(),
                    })?;
                mining[index] = true;
            }
            Ok(mining)
        }
    }
}

/// Splits `total` miner threads fairly over the mining nodes: each gets total / miners (at
/// least one), the remainder goes one each to the first ones. Non-miners get zero.
pub(crate) fn split_threads(total: usize, mining: &[bool]) -> Vec<usize> {
    let miners = mining.iter().filter(|mines| **mines).count();
    if miners == 0 {
        return vec![0; mining.len()];
    }
    let share = (total / miners).max(1);
    let mut remainder = total.saturating_sub(share * miners);
    mining
        .iter()
        .map(|mines| {
            if !mines {
                return 0;
            }
            let extra = usize::from(remainder > 0);
            remainder -= extra;
            share + extra
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesh_dials_every_lower_node() {
        assert_eq!(
            Topology::Mesh.dials(4),
            vec![vec![], vec![0], vec![0, 1], vec![0, 1, 2]]
        );
        assert_eq!(
            Topology::Mesh.neighbours(3),
            vec![vec![1, 2], vec![0, 2], vec![0, 1]]
        );
    }

    #[test]
    fn ring_closes_the_circle_once() {
        assert_eq!(
            Topology::Ring.dials(4),
            vec![vec![3], vec![0], vec![1], vec![2]]
        );
        assert_eq!(Topology::Ring.neighbours(4)[0], vec![1, 3]);
        // Two nodes in a ring are one edge, not two connections between the same pair.
        assert_eq!(Topology::Ring.dials(2), vec![vec![], vec![0]]);
    }

    #[test]
    fn line_is_a_chain() {
        assert_eq!(
            Topology::Line.neighbours(3),
            vec![vec![1], vec![0, 2], vec![1]]
        );
        assert_eq!(Topology::Line.dials(1), vec![Vec::<usize>::new()]);
    }

    #[test]
    fn ports_are_consecutive_pairs() {
        assert_eq!(
            ports(19000, 3).unwrap(),
            vec![(19000, 19001), (19002, 19003), (19004, 19005)]
        );
        assert_eq!(ports(65534, 1).unwrap(), vec![(65534, 65535)]);
        assert_eq!(ports(65534, 2).unwrap_err().code(), "devnet-port-range");
        assert_eq!(ports(65535, 1).unwrap_err().code(), "devnet-port-range");
    }

    #[test]
    fn threads_split_fairly() {
        assert_eq!(split_threads(8, &[true; 3]), vec![3, 3, 2]);
        assert_eq!(
            split_threads(2, &[true, false, true, true]),
            vec![1, 0, 1, 1]
        );
        assert_eq!(split_threads(6, &[false, true, true]), vec![0, 3, 3]);
        assert_eq!(split_threads(4, &[false; 2]), vec![0, 0]);
    }

    #[test]
    fn mine_spec_names_nodes() {
        assert_eq!(parse_mine("all", 2).unwrap(), vec![true, true]);
        assert_eq!(parse_mine("none", 2).unwrap(), vec![false, false]);
        assert_eq!(
            parse_mine("node-0,node-2", 3).unwrap(),
            vec![true, false, true]
        );
        let error = parse_mine("node-0,node-7", 3).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown node node-7 (this devnet has node-0, node-1, node-2)"
        );
    }

    #[test]
    fn node_count_is_bounded() {
        assert!(check_node_count(1).is_ok());
        assert_eq!(check_node_count(0).unwrap_err().code(), "devnet-node-count");
        assert!(check_node_count(MAX_NODES + 1).is_err());
    }
}
