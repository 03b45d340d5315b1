//! Which inbound peer makes room for a newcomer when every inbound slot is taken, as Bitcoin
//! Core chooses: a peer from a discouraged address goes first (nothing protects it); otherwise
//! peers that are useful or hard for an attacker to imitate are protected (a few distinct address
//! groups, the lowest pings, the latest to relay transactions and blocks, then the longest
//! connected half of the rest), and the youngest peer of the address group with the most
//! connections among the others goes. With no one left,
//! the newcomer is refused. So a flood of connections cannot hold every slot: each new connection
//! can take the place of an earlier one of the flood, never of a protected honest peer.
//!
//! Owns the choice only. Must not drop anyone (the protocol does) nor read the clock.

use super::PeerId;
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// Peers protected for their address group: the groups an attacker has the hardest time to
/// come from (chosen by a key of our own, so it cannot aim at them).
const PROTECT_BY_GROUP: usize = 4;
/// Peers protected for the lowest ping.
const PROTECT_BY_PING: usize = 8;
/// Peers protected for relaying transactions most lately.
const PROTECT_BY_TX: usize = 4;
/// Peers protected for relaying blocks most lately.
const PROTECT_BY_BLOCK: usize = 4;

/// What the choice looks at of one inbound peer.
#[derive(Clone, Debug)]
pub(super) struct Candidate {
    pub(super) id: PeerId,
    pub(super) ip: IpAddr,
    pub(super) connected_ms: u64,
    pub(super) ping_ms: Option<u64>,
    /// When it last gave us a transaction the mempool took (0: never).
    pub(super) last_tx_ms: u64,
    /// When it last gave us a block new to us (0: never).
    pub(super) last_block_ms: u64,
    /// Its address broke consensus lately: first in line.
    pub(super) discouraged: bool,
}

/// The address group: who controls one can easily have many addresses in it (IPv4 /16, IPv6
/// /32; every loopback address is one group).
fn address_group(ip: IpAddr) -> Vec<u8> {
    if ip.is_loopback() {
        return vec![0];
    }
    match ip {
        IpAddr::V4(v4) => vec![4, v4.octets()[0], v4.octets()[1]],
        IpAddr::V6(v6) => {
            let bytes = v6.octets();
            vec![6, bytes[0], bytes[1], bytes[2], bytes[3]]
        }
    }
}

/// The address group hashed with `key`, so which groups are protected cannot be predicted.
fn keyed_group(key: u64, ip: IpAddr) -> [u8; 8] {
    let mut hasher = Sha256::new();
    hasher.update(key.to_le_bytes());
    hasher.update(address_group(ip));
    let digest = hasher.finalize();
    let mut keyed = [0u8; 8];
    keyed.copy_from_slice(&digest[..8]);
    keyed
}

/// Removes the `count` candidates that sort last by `key` (ties: the older connection last),
/// which are protected.
fn protect<K: Ord>(candidates: &mut Vec<Candidate>, count: usize, key: impl Fn(&Candidate) -> K) {
    candidates.sort_by(|a, b| {
        key(a)
            .cmp(&key(b))
            .then(b.connected_ms.cmp(&a.connected_ms))
            .then(b.id.cmp(&a.id))
    });
    let keep = candidates.len().saturating_sub(count);
    candidates.truncate(keep);
}

/// The peer to evict for a newcomer, if any is not protected; `key` is the node's own secret.
pub(super) fn choose(mut candidates: Vec<Candidate>, key: u64) -> Option<PeerId> {
    let discouraged = candidates
        .iter()
        .filter(|c| c.discouraged)
        .map(|c| (c.connected_ms, c.id))
        .max();
    if let Some((_, id)) = discouraged {
        return Some(id);
    }
    protect(&mut candidates, PROTECT_BY_GROUP, |c| {
        keyed_group(key, c.ip)
    });
    // The lowest ping sorts last; no ping yet is the worst.
    protect(&mut candidates, PROTECT_BY_PING, |c| {
        std::cmp::Reverse(c.ping_ms.unwrap_or(u64::MAX))
    });
    protect(&mut candidates, PROTECT_BY_TX, |c| c.last_tx_ms);
    protect(&mut candidates, PROTECT_BY_BLOCK, |c| c.last_block_ms);
    // Half of the rest, the longest connected.
    let half = candidates.len() / 2;
    protect(&mut candidates, half, |c| std::cmp::Reverse(c.connected_ms));
    // The group with the most connections (ties: the one with the youngest peer), its youngest.
    let mut groups: Vec<(Vec<u8>, Vec<&Candidate>)> = Vec::new();
    for candidate in &candidates {
        let group = address_group(candidate.ip);
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, members)) => members.push(candidate),
            None => groups.push((group, vec![candidate])),
        }
    }
    let youngest = |members: &[&Candidate]| {
        members
            .iter()
            .map(|c| (c.connected_ms, c.id))
            .max()
            .unwrap_or_default()
    };
    let (_, members) = groups
        .iter()
        .max_by_key(|(_, members)| (members.len(), youngest(members)))?;
    Some(youngest(members).1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn candidate(id: PeerId, ip: [u8; 4], connected_ms: u64) -> Candidate {
        Candidate {
            id,
            ip: IpAddr::V4(Ipv4Addr::from(ip)),
            connected_ms,
            ping_ms: Some(50),
            last_tx_ms: 0,
            last_block_ms: 0,
            discouraged: false,
        }
    }

    #[test]
    fn too_few_to_spare_anyone_means_no_eviction() {
        let candidates = (0..20).map(|id| candidate(id, [10, 0, 0, 1], id)).collect();
        assert_eq!(choose(candidates, 7), None);
    }

    #[test]
    fn the_youngest_of_the_biggest_group_goes() {
        // 30 peers of one /16 and 2 of another; none relayed anything.
        let mut candidates: Vec<Candidate> = (0..30)
            .map(|id| candidate(id, [10, 1, 0, id as u8], id))
            .collect();
        candidates.push(candidate(30, [192, 168, 0, 1], 1_000));
        candidates.push(candidate(31, [192, 168, 0, 2], 1_001));
        let victim = choose(candidates, 7).expect("someone is not protected");
        assert!(victim < 30, "the crowded group pays: {victim}");
    }

    #[test]
    fn peers_that_relay_blocks_are_kept_and_a_discouraged_one_goes_first() {
        let mut candidates: Vec<Candidate> = (0..32)
            .map(|id| candidate(id, [10, 1, 0, id as u8], 100 + id))
            .collect();
        // The youngest peer relayed the latest block: protected.
        candidates[31].last_block_ms = 5_000;
        assert_eq!(
            choose(candidates.clone(), 7),
            Some(30),
            "the youngest of the rest"
        );
        // Even the oldest, otherwise protected.
        candidates[0].discouraged = true;
        assert_eq!(choose(candidates, 7), Some(0));
    }
}
