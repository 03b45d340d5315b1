use nakachain::sim::*;
use nakachain::sim::topology::*;
use nakachain::protocol::Timers;
fn main() {
    let mut sim = Sim::build(&SimSetup { nodes: 1000, seed: 1, params: sim_params(), latency: Latency::Regions, bandwidth: Bandwidth::Regions, loss: 0.0,
        wiring: Wiring::Random { outbound: 8, max_inbound: 115 }, timers: Timers::default(), event_logs: true });
    for step in 0..8 {
        let before = sim.inputs();
        sim.run_for(5_000);
        let outs: Vec<usize> = (0..1000).map(|i| sim.node(i).protocol.peers().iter().filter(|p| !p.inbound).count()).collect();
        let full = outs.iter().filter(|o| **o >= 8).count();
        println!("t={} inputs {} full {} min {:?}", sim.now_ms(), sim.inputs()-before, full, outs.iter().min());
        let _ = step;
    }
    let mut codes = std::collections::BTreeMap::new();
    for i in 0..1000 { for e in sim.events(i) { if let nakachain::events::EventKind::PeerDisconnected{code,..} = &e.kind { *codes.entry(code.clone()).or_insert(0) += 1; } } }
    println!("{codes:?}");
}
