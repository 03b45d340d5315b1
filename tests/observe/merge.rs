use super::{event, hash};
use nakachain::events::EventKind;
use nakachain::observe::{merge, NodeEvent};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

fn mined(node: &str, seq: u64, time_ms: u64) -> NodeEvent {
    event(
        node,
        seq,
        time_ms,
        EventKind::BlockMined {
            hash: hash("ab"),
            height: 1,
        },
    )
}

fn keys(events: &[NodeEvent]) -> Vec<(String, u64, u64)> {
    events
        .iter()
        .map(|e| (e.node.clone(), e.seq, e.time_ms))
        .collect()
}

#[test]
fn orders_by_time_then_node_then_seq() {
    let node_2 = vec![mined("node-2", 1, 100), mined("node-2", 2, 300)];
    let node_1 = vec![
        mined("node-1", 5, 100),
        mined("node-1", 6, 100),
        mined("node-1", 7, 200),
    ];
    let merged = merge([node_2, node_1]);
    let expected = [
        ("node-1", 5, 100),
        ("node-1", 6, 100),
        ("node-2", 1, 100),
        ("node-1", 7, 200),
        ("node-2", 2, 300),
    ]
    .map(|(node, seq, time)| (node.to_string(), seq, time));
    assert_eq!(keys(&merged), expected.to_vec());
}

#[test]
fn merging_nothing_is_empty() {
    assert!(merge(Vec::<Vec<NodeEvent>>::new()).is_empty());
    assert!(merge([Vec::new(), Vec::new()]).is_empty());
}

/// Streams as the nodes produce them: per node, increasing seq and non-decreasing time, with
/// times drawn from a small range so ties across nodes are common.
fn streams() -> impl Strategy<Value = Vec<Vec<NodeEvent>>> {
    prop::collection::vec(prop::collection::vec(0u64..5, 0..12), 0..5).prop_map(|gaps| {
        gaps.into_iter()
            .enumerate()
            .map(|(i, gaps)| {
                let node = format!("node-{i}");
                let mut time = 1_000;
                gaps.into_iter()
                    .enumerate()
                    .map(|(seq, gap)| {
                        time += gap;
                        mined(&node, seq as u64 + 1, time)
                    })
                    .collect()
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_seed: RngSeed::Fixed(0x0b5e_17e5),
        ..ProptestConfig::default()
    })]

    #[test]
    fn merge_is_a_sorted_permutation_of_its_input(streams in streams()) {
        let mut input: Vec<NodeEvent> = streams.iter().flatten().cloned().collect();
        let merged = merge(streams.clone());
        for pair in merged.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            prop_assert!(
                (a.time_ms, &a.node, a.seq) < (b.time_ms, &b.node, b.seq),
                "out of order: {a:?} before {b:?}"
            );
        }
        let mut sorted_merged = keys(&merged);
        sorted_merged.sort();
        input.sort_by(|a, b| (&a.node, a.seq).cmp(&(&b.node, b.seq)));
        prop_assert_eq!(sorted_merged, keys(&input));
        // Each node's own events keep the node's order.
        for stream in &streams {
            let Some(first) = stream.first() else { continue };
            let own: Vec<u64> = merged.iter().filter(|e| e.node == first.node).map(|e| e.seq).collect();
            let original: Vec<u64> = stream.iter().map(|e| e.seq).collect();
            prop_assert_eq!(own, original);
        }
        // Reversing the input streams does not change the result.
        let reversed: Vec<Vec<NodeEvent>> = streams.into_iter().rev().collect();
        prop_assert_eq!(merge(reversed), merged);
    }
}
