use super::{event, hash};
use nakachain::events::{DroppedTx, EventKind};
use nakachain::observe::{Convergence, NodeEvent, NodeTip, TxFate};
use nakachain::types::Hash256;
use primitive_types::U256;
use serde_json::json;

const HEAL: u64 = 1_700_000_000_000;

fn tip(node: &str, tip: Hash256, height: u32, work: u64) -> NodeTip {
    NodeTip {
        node: node.to_string(),
        tip,
        height,
        chainwork: U256::from(work),
    }
}

fn connected(node: &str, seq: u64, time_ms: u64, block: &str, height: u32) -> NodeEvent {
    let kind = EventKind::BlockConnected {
        hash: hash(block),
        height,
        txs: 1,
    };
    event(node, seq, time_ms, kind)
}

struct Reorg<'a> {
    out: &'a [&'a str],
    into: &'a [&'a str],
    returned: &'a [&'a str],
    dropped: &'a [(&'a str, &'a str)],
}

fn reorg(node: &str, seq: u64, time_ms: u64, r: Reorg) -> NodeEvent {
    let hashes = |list: &[&str]| list.iter().map(|h| hash(h)).collect::<Vec<_>>();
    let kind = EventKind::Reorg {
        old_tip: hash(r.out[0]),
        new_tip: hash(r.into[r.into.len() - 1]),
        fork_point: hash("f0"),
        fork_height: 10,
        depth: r.out.len(),
        blocks_out: hashes(r.out),
        blocks_in: hashes(r.into),
        txs_returned: hashes(r.returned),
        txs_dropped: r
            .dropped
            .iter()
            .map(|(txid, reason)| DroppedTx {
                txid: hash(txid),
                reason: reason.to_string(),
            })
            .collect(),
    };
    event(node, seq, time_ms, kind)
}

/// node-1 and node-2 mined c1, c2 on one side; node-3 mined b1 alone and reorgs after the heal.
fn healed_story() -> (Vec<NodeEvent>, Vec<NodeTip>, Vec<NodeTip>) {
    let events = vec![
        // Before the heal: ignored.
        reorg(
            "node-1",
            2,
            HEAL - 5_000,
            Reorg {
                out: &["e1"],
                into: &["e2"],
                returned: &[],
                dropped: &[],
            },
        ),
        connected("node-1", 9, HEAL + 100, "c2", 12),
        connected("node-2", 4, HEAL + 300, "c2", 12),
        connected("node-3", 20, HEAL + 500, "c1", 11),
        connected("node-3", 21, HEAL + 500, "c2", 12),
        reorg(
            "node-3",
            22,
            HEAL + 500,
            Reorg {
                out: &["b1"],
                into: &["c1", "c2"],
                returned: &["a1"],
                dropped: &[("d1", "txn-block-conflict")],
            },
        ),
    ];
    let final_tips = vec![
        tip("node-1", hash("c2"), 12, 30),
        tip("node-2", hash("c2"), 12, 30),
        tip("node-3", hash("c2"), 12, 30),
    ];
    let before_heal = vec![tip("node-3", hash("b1"), 11, 20)];
    (events, final_tips, before_heal)
}

#[test]
fn a_healed_network_converges_on_the_most_work_tip() {
    let (events, final_tips, before_heal) = healed_story();
    let c = Convergence::measure(HEAL, &events, &final_tips, &before_heal);
    assert!(c.converged);
    assert_eq!(c.agreed_tip, Some(hash("c2")));
    assert_eq!(c.time_to_agree_ms, Some(500));
    assert_eq!(c.blocks_orphaned, 1);
    assert_eq!(c.deepest_reorg, Some(("node-3".to_string(), 1)));
    assert_eq!(
        c.reorgs.len(),
        1,
        "the reorg before the heal is not counted"
    );
    assert_eq!(c.reorgs[0].node, "node-3");
    assert_eq!(c.reorgs[0].new_tip, hash("c2"));
    assert!(c.most_work);
}

#[test]
fn the_report_tells_who_reorged_and_what_was_undone() {
    let (events, final_tips, before_heal) = healed_story();
    let report = Convergence::measure(HEAL, &events, &final_tips, &before_heal).report();
    assert_eq!(
        report,
        "converged on 0000…000000c2 (h=12), the most-work tip, 500 ms after the heal\n\
         1 reorg, 1 block orphaned, deepest 1 on node-3\n\
         \x20 node-3 reorged depth 1 at fork h=10: 0000…000000b1 → 0000…000000c2\n\
         confirmations undone:\n\
         \x20 tx 0000…000000a1 on node-3: returned to the mempool\n\
         \x20 tx 0000…000000d1 on node-3: dropped (txn-block-conflict)\n\
         final tips:\n\
         \x20 node-1 h=12 0000…000000c2\n\
         \x20 node-2 h=12 0000…000000c2\n\
         \x20 node-3 h=12 0000…000000c2\n"
    );
}

#[test]
fn a_dropped_conflict_is_an_undone_confirmation() {
    let (events, final_tips, before_heal) = healed_story();
    let undone =
        Convergence::measure(HEAL, &events, &final_tips, &before_heal).confirmations_undone();
    let fates: Vec<(String, Hash256, TxFate)> = undone
        .into_iter()
        .map(|u| (u.node, u.txid, u.fate))
        .collect();
    assert_eq!(
        fates,
        vec![
            ("node-3".to_string(), hash("a1"), TxFate::ReturnedToMempool),
            (
                "node-3".to_string(),
                hash("d1"),
                TxFate::Dropped {
                    reason: "txn-block-conflict".to_string()
                }
            ),
        ]
    );
}

#[test]
fn different_final_tips_are_not_converged() {
    let (events, _, _) = healed_story();
    let tips = [
        tip("node-1", hash("c2"), 12, 30),
        tip("node-2", hash("b1"), 11, 20),
    ];
    let c = Convergence::measure(HEAL, &events, &tips, &[]);
    assert!(!c.converged);
    assert_eq!(
        (c.agreed_tip, c.time_to_agree_ms, c.most_work),
        (None, None, false)
    );
    assert!(c
        .report()
        .starts_with("NOT converged: 2 nodes on 2 different tips\n"));
    let none = Convergence::measure(HEAL, &events, &[], &[]);
    assert!(!none.converged);
}

#[test]
fn two_reorgs_on_different_nodes() {
    let mut events = vec![
        reorg(
            "node-2",
            3,
            HEAL + 40,
            Reorg {
                out: &["b2", "b1"],
                into: &["c1", "c2", "c3"],
                returned: &[],
                dropped: &[],
            },
        ),
        reorg(
            "node-3",
            8,
            HEAL + 70,
            Reorg {
                out: &["b3", "b2", "b1"],
                into: &["c1", "c2", "c3"],
                returned: &[],
                dropped: &[],
            },
        ),
        reorg(
            "node-4",
            5,
            HEAL + 90,
            Reorg {
                out: &["e2", "e1"],
                into: &["c1", "c2", "c3"],
                returned: &[],
                dropped: &[],
            },
        ),
    ];
    // A node the caller is not measuring does not delay the figure.
    events.push(connected("node-9", 1, HEAL + 900, "c3", 13));
    let tips: Vec<NodeTip> = ["node-1", "node-2", "node-3", "node-4"]
        .iter()
        .map(|node| tip(node, hash("c3"), 13, 50))
        .collect();
    let c = Convergence::measure(HEAL, &events, &tips, &[]);
    assert!(c.converged);
    // node-1 was on c3 already; the others moved onto it by reorgs.
    assert_eq!(c.time_to_agree_ms, Some(90));
    assert_eq!(c.blocks_orphaned, 5, "b1 and b2 are counted once");
    assert_eq!(c.deepest_reorg, Some(("node-3".to_string(), 3)));
    let nodes: Vec<&str> = c.reorgs.iter().map(|r| r.node.as_str()).collect();
    assert_eq!(nodes, vec!["node-2", "node-3", "node-4"]);
    assert!(c.most_work);
}

#[test]
fn a_tie_for_deepest_goes_to_the_first() {
    let events = vec![
        reorg(
            "node-2",
            3,
            HEAL + 40,
            Reorg {
                out: &["b1"],
                into: &["c1"],
                returned: &[],
                dropped: &[],
            },
        ),
        reorg(
            "node-1",
            3,
            HEAL + 60,
            Reorg {
                out: &["d1"],
                into: &["c1"],
                returned: &[],
                dropped: &[],
            },
        ),
    ];
    let tips = [
        tip("node-1", hash("c1"), 11, 9),
        tip("node-2", hash("c1"), 11, 9),
    ];
    let c = Convergence::measure(HEAL, &events, &tips, &[]);
    assert_eq!(c.deepest_reorg, Some(("node-2".to_string(), 1)));
}

#[test]
fn agreeing_on_a_lighter_tip_is_not_most_work() {
    let tips = [
        tip("node-1", hash("c1"), 11, 9),
        tip("node-2", hash("c1"), 11, 9),
    ];
    let heavier_seen = [tip("node-2", hash("b5"), 15, 12)];
    let c = Convergence::measure(HEAL, &[], &tips, &heavier_seen);
    assert!(c.converged);
    assert_eq!(c.time_to_agree_ms, Some(0));
    assert!(!c.most_work);
    assert!(c.report().contains("NOT the most-work tip seen"));
}

#[test]
fn reads_a_tip_from_getblockchaininfo() {
    let info = json!({"bestblockhash": hash("00c2").to_hex(), "blocks": 12,
                      "chainwork": format!("{:064x}", 0x1234)});
    assert_eq!(
        NodeTip::from_blockchain_info("node-1", &info),
        Ok(tip("node-1", hash("00c2"), 12, 0x1234))
    );
    let fields = ["bestblockhash", "blocks", "chainwork"];
    for (bad, field) in [
        json!({"bestblockhash": "xyz", "blocks": 12, "chainwork": "00"}),
        json!({"bestblockhash": hash("00c2").to_hex(), "blocks": -1, "chainwork": "00"}),
        json!({"bestblockhash": hash("00c2").to_hex(), "blocks": 12, "chainwork": "zz"}),
    ]
    .into_iter()
    .zip(fields)
    {
        let error = NodeTip::from_blockchain_info("node-1", &bad).expect_err("a bad field");
        assert_eq!((error.field, error.code()), (field, "tip-bad-field"));
    }
}
