//! Where simulated nodes are and how far apart: each node's address (10.x.y.z, one per node, so
//! the address-to-node lookup is arithmetic), its region, and the latency and bandwidth of a
//! message between two regions.
//!
//! The region tables are SimBlock's, for 2019 (`simblock.settings.NetworkConfiguration` in
//! dsg-titech/simblock; Aoki et al., "SimBlock: A Blockchain Network Simulator", INFOCOM
//! workshops 2019, derive them from measurements of Bitcoin's network): the share of Bitcoin's
//! nodes in each of six regions, the mean latency between regions, and each region's upload and
//! download bandwidth. A message's latency is drawn from a Pareto distribution with that mean, as
//! SimBlock draws it. Owns these models only; must not know about messages or nodes' state.

use rand::rngs::StdRng;
use rand::Rng;
use std::net::{Ipv4Addr, SocketAddr};

/// The port every simulated node listens on (each has its own address).
const SIM_PORT: u16 = 8_333;
/// Nodes a simulation can address: 10.0.0.0/8.
pub const MAX_SIM_NODES: usize = 1 << 24;

/// Where simulated node `index` listens: 10.x.y.z, the index in the low 24 bits.
pub fn node_addr(index: usize) -> SocketAddr {
    let bits = u32::try_from(index % MAX_SIM_NODES).unwrap_or(0);
    SocketAddr::from((Ipv4Addr::from(0x0a00_0000 | bits), SIM_PORT))
}

/// The node listening at or dialing from `addr`, if it is one of `nodes` simulated nodes.
pub fn node_of(addr: SocketAddr, nodes: usize) -> Option<usize> {
    let SocketAddr::V4(v4) = addr else {
        return None;
    };
    let bits = u32::from(*v4.ip());
    let index = usize::try_from(bits & 0x00ff_ffff).ok()?;
    (bits >> 24 == 10 && index < nodes).then_some(index)
}

/// The six regions of SimBlock's tables.
pub const REGIONS: [&str; 6] = [
    "north-america",
    "europe",
    "south-america",
    "asia-pacific",
    "japan",
    "australia",
];

/// Share of nodes in each region (Bitcoin, 2019).
const REGION_SHARE: [f64; 6] = [0.3316, 0.4998, 0.0090, 0.1177, 0.0224, 0.0195];

/// Mean one-way latency between regions, milliseconds (2019).
pub(super) const REGION_LATENCY_MS: [[u32; 6]; 6] = [
    [32, 124, 184, 198, 151, 189],
    [124, 11, 227, 237, 252, 294],
    [184, 227, 88, 325, 301, 322],
    [198, 237, 325, 85, 58, 198],
    [151, 252, 301, 58, 12, 126],
    [189, 294, 322, 198, 126, 16],
];

/// Download bandwidth per region, bits per second (2019).
const REGION_DOWNLOAD_BPS: [u64; 6] = [
    52_000_000, 40_000_000, 18_000_000, 22_800_000, 22_800_000, 29_900_000,
];

/// Upload bandwidth per region, bits per second (2019).
const REGION_UPLOAD_BPS: [u64; 6] = [
    19_200_000, 20_700_000, 5_800_000, 15_700_000, 10_200_000, 11_300_000,
];

/// Picks each of `nodes` nodes' region by the regions' shares.
pub fn assign_regions(nodes: usize, rng: &mut StdRng) -> Vec<u8> {
    (0..nodes)
        .map(|_| {
            let mut draw: f64 = rng.random::<f64>() * REGION_SHARE.iter().sum::<f64>();
            for (region, share) in REGION_SHARE.iter().enumerate() {
                if draw < *share {
                    return u8::try_from(region).unwrap_or(0);
                }
                draw -= share;
            }
            0
        })
        .collect()
}

/// How long a message takes to start arriving.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    /// Drawn per message from a Pareto distribution with the regions' mean (SimBlock's).
    Regions,
    /// Drawn uniformly per message from this range, milliseconds.
    Uniform(u64, u64),
    /// Always this many milliseconds.
    Fixed(u64),
}

/// How fast a message's bytes follow its first one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bandwidth {
    /// The sender's region's upload or the receiver's download bandwidth, whichever is less.
    Regions,
    /// Every link carries this many bits per second.
    Uniform(u64),
    /// Size costs no time.
    Unlimited,
}

/// The latency and bandwidth of every link.
#[derive(Clone, Debug)]
pub struct Links {
    /// How latency is drawn.
    pub latency: Latency,
    /// How bandwidth is set.
    pub bandwidth: Bandwidth,
    /// Each node's region, an index into `REGIONS`.
    pub regions: Vec<u8>,
}

impl Links {
    /// A message's latency from node `from` to node `to`, microseconds (at least one).
    pub fn latency_us(&self, from: usize, to: usize, rng: &mut impl Rng) -> u64 {
        let ms = match self.latency {
            Latency::Fixed(ms) => ms as f64,
            Latency::Uniform(low, high) => rng.random_range(low..=high.max(low)) as f64,
            Latency::Regions => {
                let mean = f64::from(REGION_LATENCY_MS[self.region(from)][self.region(to)]);
                // Pareto with mean `mean`: scale (mean - 5) and shape mean / 5, SimBlock's.
                let shape = 0.2 * mean;
                let scale = mean - 5.0;
                let uniform: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
                scale / uniform.powf(1.0 / shape)
            }
        };
        ((ms * 1_000.0).round() as u64).max(1)
    }

    /// How long `bytes` take to pass from node `from` to node `to` once the first arrives,
    /// microseconds.
    pub fn transfer_us(&self, from: usize, to: usize, bytes: usize) -> u64 {
        let bits_per_sec = match self.bandwidth {
            Bandwidth::Unlimited => return 0,
            Bandwidth::Uniform(bps) => bps,
            Bandwidth::Regions => {
                REGION_UPLOAD_BPS[self.region(from)].min(REGION_DOWNLOAD_BPS[self.region(to)])
            }
        };
        let bits = u128::try_from(bytes).unwrap_or(u128::MAX) * 8 * 1_000_000;
        u64::try_from(bits / u128::from(bits_per_sec.max(1))).unwrap_or(u64::MAX)
    }

    fn region(&self, node: usize) -> usize {
        usize::from(self.regions.get(node).copied().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_index_has_its_own_address_and_maps_back() {
        for index in [
            0,
            1,
            254,
            255,
            256,
            65_535,
            65_536,
            9_999,
            MAX_SIM_NODES - 1,
        ] {
            assert_eq!(node_of(node_addr(index), MAX_SIM_NODES), Some(index));
        }
        assert_ne!(node_addr(255).ip(), node_addr(511).ip());
        assert_eq!(node_of(node_addr(10), 10), None, "past the last node");
        assert_eq!(node_of(SocketAddr::from(([127, 0, 0, 1], 8_333)), 10), None);
        assert!(!node_addr(3).ip().is_loopback());
    }

    #[test]
    fn region_latencies_have_the_tables_mean_and_bandwidth_the_slower_side() {
        let links = Links {
            latency: Latency::Regions,
            bandwidth: Bandwidth::Regions,
            regions: vec![0, 1],
        };
        let mut rng = StdRng::seed_from_u64(7);
        let draws = 200_000;
        let total: u64 = (0..draws).map(|_| links.latency_us(0, 1, &mut rng)).sum();
        let mean_ms = total as f64 / draws as f64 / 1_000.0;
        assert!((mean_ms - 124.0).abs() < 2.0, "mean {mean_ms} ms");
        // 1 MB from North America (19.2 Mbit/s up) to Europe (40 Mbit/s down): 8 Mbit at 19.2.
        assert_eq!(links.transfer_us(0, 1, 1_000_000), 416_666);
        assert_eq!(links.transfer_us(1, 0, 1_000_000), 386_473);
    }

    #[test]
    fn regions_follow_their_shares() {
        let regions = assign_regions(100_000, &mut StdRng::seed_from_u64(3));
        let europe = regions.iter().filter(|region| **region == 1).count();
        assert!((49_000..51_000).contains(&europe), "{europe} in Europe");
    }
}
