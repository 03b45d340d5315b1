//! Fork scenarios written as data, in the style of btcd's `fullblocktests`: each scenario names
//! its blocks, draws the tree, and lists steps (mine a block on a named parent, submit, invalidate,
//! reconsider) with the tip and outcome expected after each one. Blocks are real regtest blocks
//! built with the miner's `assemble_block` and `solve_block`; coinbase maturity is 1 so a block
//! may spend its parent's coinbase.

#[path = "fork_scenarios/harness.rs"]
mod harness;

use harness::{default_now, run, BlockTime, Step};
use nakachain::chain::BlockError;
use nakachain::consensus::UtxoView;
use nakachain::types::OutPoint;

#[test]
fn simple_extension() {
    run(
        "genesis -> b1 -> b2 -> b3",
        &[
            Step::mine("b1", "genesis")
                .tip("b1")
                .accepted(&["b1"])
                .moved(&[], &["b1"]),
            Step::mine("b2", "b1").tip("b2").moved(&[], &["b2"]),
            Step::mine("b3", "b2")
                .tip("b3")
                .moved(&[], &["b3"])
                .status("b3", "connected")
                .tips(&[("b3", 0, "active")]),
        ],
    );
}

#[test]
fn side_branch_overtakes_with_a_reorg() {
    run(
        "
        genesis -> b1 -> b2 -> b3
                     \\-> c2 -> c3 -> c4
        ",
        &[
            Step::mine("b1", "genesis"),
            Step::mine("b2", "b1"),
            Step::mine("b3", "b2").tip("b3"),
            Step::mine("c2", "b1")
                .tip("b3")
                .unchanged()
                .status("c2", "accepted")
                .tips(&[("b3", 0, "active"), ("c2", 1, "valid-headers")]),
            // Equal work: the first seen (b3) stays.
            Step::mine("c3", "c2").tip("b3").unchanged(),
            Step::mine("c4", "c3")
                .tip("c4")
                .moved(&["b3", "b2"], &["c2", "c3", "c4"])
                .status("b3", "connected")
                .tips(&[("c4", 0, "active"), ("b3", 2, "valid-fork")]),
        ],
    );
}

#[test]
fn equal_work_tie_keeps_the_first_seen() {
    run(
        "
        genesis -> a1 -> a2
               \\-> b1 -> b2
        ",
        &[
            Step::mine("a1", "genesis").tip("a1"),
            Step::mine("b1", "genesis").tip("a1").unchanged(),
            Step::mine("b2", "b1")
                .tip("b2")
                .moved(&["a1"], &["b1", "b2"]),
            Step::mine("a2", "a1")
                .tip("b2")
                .unchanged()
                .tips(&[("b2", 0, "active"), ("a2", 2, "valid-headers")]),
        ],
    );
}

#[test]
fn reorg_onto_a_branch_with_an_invalid_block_falls_back() {
    run(
        "
        genesis -> b1 -> b2 -> b3
                     \\-> c2 -> c3 -> c4 -> c5
                                (c3's coinbase pays one unit too much)
        ",
        &[
            Step::mine("b1", "genesis"),
            Step::mine("b2", "b1"),
            Step::mine("b3", "b2").tip("b3"),
            Step::build("c2", "b1"),
            Step::build("c3", "c2").overpay(),
            Step::build("c4", "c3"),
            Step::build("c5", "c4"),
            Step::submit("c2").tip("b3"),
            // c3 ties with b3: not tried, so not yet known to be invalid.
            Step::submit("c3").tip("b3").status("c3", "accepted"),
            // c4 has more work: the node reorgs, connects c2, fails on c3, and goes back.
            Step::submit("c4")
                .tip("b3")
                .accepted(&["c4"])
                .invalid(&["c3"])
                .unchanged()
                .status("c2", "connected")
                .status("c3", "invalid")
                .status("c4", "invalid-ancestor")
                .tips(&[("b3", 0, "active"), ("c4", 3, "invalid")]),
            Step::submit("c5").err("bad-prevblk").tip("b3"),
            Step::submit("c5").err("duplicate-invalid"),
            Step::submit("c3").err("duplicate-invalid"),
            Step::submit("b2").err("duplicate"),
        ],
    );
}

#[test]
fn double_spend_in_the_same_branch_is_invalid() {
    run(
        "
        genesis -> b1 -> b2 (t1 spends b1) -> b3 (t2 spends b1 again)
        ",
        &[
            Step::mine("b1", "genesis"),
            Step::mine("b2", "b1").spend("t1", "b1", 49).tip("b2"),
            Step::mine("b3", "b2")
                .spend("t2", "b1", 48)
                .accepted(&["b3"])
                .invalid(&["b3"])
                .unchanged()
                .tip("b2")
                .status("b3", "invalid"),
        ],
    );
}

#[test]
fn invalidate_and_reconsider() {
    run(
        "
        genesis -> b1 -> b2 -> b3
                     \\-> c2 -> c3
        ",
        &[
            Step::mine("b1", "genesis"),
            Step::mine("b2", "b1"),
            Step::mine("b3", "b2"),
            Step::mine("c2", "b1"),
            Step::mine("c3", "c2").tip("b3"),
            Step::invalidate("b2")
                .tip("c3")
                .moved(&["b3", "b2"], &["c2", "c3"])
                .status("b2", "invalidated")
                .status("b3", "invalid-ancestor")
                .tips(&[("c3", 0, "active"), ("b3", 2, "invalid")]),
            Step::mine("b4", "b3").err("bad-prevblk").tip("c3"),
            // Reconsidering restores b3, which ties with c3 and was seen first.
            Step::reconsider("b2")
                .tip("b3")
                .moved(&["c3", "c2"], &["b2", "b3"])
                .status("b2", "connected"),
            Step::invalidate("c3").tip("b3").unchanged(),
            Step::invalidate("genesis").err("cannot-invalidate-genesis"),
            Step::invalidate("nowhere").err("unknown-block"),
            Step::reconsider("nowhere").err("unknown-block"),
        ],
    );
}

#[test]
fn reconsidering_a_really_invalid_block_fails_again() {
    run(
        "
        genesis -> b1 -> b2 (overpays)
        ",
        &[
            Step::mine("b1", "genesis"),
            Step::mine("b2", "b1").overpay().invalid(&["b2"]).tip("b1"),
            Step::reconsider("b2")
                .tip("b1")
                .unchanged()
                .status("b2", "invalid"),
        ],
    );
}

#[test]
fn orphans_wait_for_their_parent() {
    run(
        "
        genesis -> b1 -> b2 -> b3     (arrive as b3, b2, b1)
        ",
        &[
            Step::build("b1", "genesis"),
            Step::build("b2", "b1"),
            Step::build("b3", "b2"),
            Step::submit("b3").orphaned().orphans(1).tip("genesis"),
            Step::submit("b3").err("duplicate").orphans(1),
            Step::submit("b2").orphaned().orphans(2),
            Step::submit("b1")
                .accepted(&["b1", "b2", "b3"])
                .moved(&[], &["b1", "b2", "b3"])
                .orphans(0)
                .tip("b3"),
            Step::submit("b3").err("duplicate"),
        ],
    );
}

#[test]
fn an_orphan_below_a_block_that_fails_is_refused() {
    run(
        "
        genesis -> b1 -> p2 (overpays) -> c3 (arrives first)
        ",
        &[
            Step::mine("b1", "genesis"),
            Step::build("p2", "b1").overpay(),
            Step::build("c3", "p2"),
            Step::submit("c3").orphaned().orphans(1),
            Step::submit("p2")
                .accepted(&["p2"])
                .invalid(&["p2"])
                .refused(&["c3"])
                .unchanged()
                .orphans(0)
                .tip("b1")
                .tips(&[("b1", 0, "active"), ("p2", 1, "invalid")]),
            Step::submit("c3").err("duplicate-invalid"),
        ],
    );
}

#[test]
fn header_rules_and_what_is_remembered() {
    run(
        "
        genesis -> b1 -> b2 -> x3 (time-too-old)
                           \\-> y3 (wrong bits)
                           \\-> f3 (from the future) -> f4 (orphan until f3 is accepted)
                           \\-> m3 (body mutated under the same header first)
        ",
        &[
            Step::mine("b1", "genesis"),
            Step::mine("b2", "b1"),
            // Median of (genesis, b1, b2) is b1's time.
            Step::mine("x3", "b2")
                .time(BlockTime::SameAs("b1"))
                .err("time-too-old"),
            Step::submit("x3").err("duplicate-invalid"),
            Step::mine("y3", "b2").bits(0x2040_0000).err("bad-diffbits"),
            Step::submit("y3").err("duplicate-invalid"),
            Step::mine("f3", "b2")
                .time(BlockTime::TooNew)
                .err("time-too-new"),
            // Not remembered: the same block is refused again for the same reason...
            Step::submit("f3").err("time-too-new"),
            Step::mine("f4", "f3").orphaned().orphans(1),
            // ...and accepted once the clock has moved on, releasing its orphan.
            Step::submit("f3")
                .now(default_now() + 100)
                .accepted(&["f3", "f4"])
                .orphans(0)
                .tip("f4"),
            Step::build("m3", "b2"),
            Step::submit_mutated_body("m3").err("bad-txnmrklroot"),
            Step::submit("m3").tip("f4").status("m3", "accepted"),
        ],
    );
}

#[test]
fn a_reorg_reports_the_transactions_of_the_losing_branch() {
    let harness = run(
        "
        genesis -> b1 -> b2 -> b3 (t1 spends b1, t2 spends b2)
                     \\-> c2 (t1 again) -> c3 -> c4
        ",
        &[
            Step::mine("b1", "genesis"),
            Step::mine("b2", "b1"),
            Step::mine("b3", "b2")
                .spend("t1", "b1", 49)
                .spend("t2", "b2", 49)
                .tip("b3"),
            Step::mine("c2", "b1").spend("t1", "b1", 49),
            Step::mine("c3", "c2"),
            Step::mine("c4", "c3")
                .tip("c4")
                .moved(&["b3", "b2"], &["c2", "c3", "c4"])
                .disconnected_txs(&["t1", "t2"]),
        ],
    );
    let utxos = harness.chain.utxos();
    let output = |tx: &str| OutPoint {
        txid: harness.txid(tx),
        vout: 0,
    };
    assert!(utxos.coin(&output("t1")).is_some());
    assert!(utxos.coin(&output("t2")).is_none());
    // Coinbases of genesis' descendants on the active chain: b1, c2, c3, c4; b1's is spent.
    assert_eq!(utxos.len(), 3 + 1);
}

#[test]
fn a_reorg_returns_transactions_to_the_mempool_and_drops_the_conflicting_one() {
    run(
        "
        genesis -> a1 -> a2 -> b3 (pay spends a1, keep spends a2)
                            \\-> c3 (pay2 spends a1 again) -> c4
        ",
        &[
            Step::mine("a1", "genesis"),
            Step::mine("a2", "a1"),
            Step::mine("b3", "a2")
                .spend("pay", "a1", 49)
                .spend("keep", "a2", 49)
                .tip("b3")
                .mempool(&[]),
            Step::mine("c3", "a2").spend("pay2", "a1", 48).tip("b3"),
            Step::mine("c4", "c3")
                .tip("c4")
                .moved(&["b3"], &["c3", "c4"])
                .disconnected_txs(&["pay", "keep"])
                .mempool(&["keep"])
                .dropped(&[("pay", "txn-block-conflict")]),
            // Back again: b3 confirms `keep` (out of the mempool) and `pay`, which conflicts with
            // the returning `pay2`.
            Step::mine("b4", "b3"),
            Step::mine("b5", "b4")
                .tip("b5")
                .moved(&["c4", "c3"], &["b3", "b4", "b5"])
                .mempool(&[])
                .dropped(&[("pay2", "txn-block-conflict")]),
        ],
    );
}

#[test]
fn block_errors_have_stable_codes() {
    assert_eq!(BlockError::Duplicate.code(), "duplicate");
    assert_eq!(BlockError::DuplicateInvalid.code(), "duplicate-invalid");
    assert_eq!(
        BlockError::Rule(nakachain::consensus::RuleError::HighHash).code(),
        "high-hash"
    );
}
