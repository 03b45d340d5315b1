//! Reading `getblocktree` answers: several nodes' answers merge into one view (labels per tip,
//! marks from any node), and malformed or contradictory answers are typed errors.

use nakachain::observe::tree::{RenderOptions, TreeError, TreeView};
use nakachain::types::Hash256;
use serde_json::{json, Value};

/// A hash whose short form ends in the hex digits of `id` (`0000…000000id`).
fn h(id: u16) -> Hash256 {
    let mut bytes = [0; 32];
    bytes[..2].copy_from_slice(&id.to_le_bytes());
    Hash256(bytes)
}

/// An expected drawing written as a raw string that starts on the line after its quote.
fn golden(text: &str) -> &str {
    text.strip_prefix('\n').unwrap_or(text)
}

/// A `getblocktree` answer; blocks are `(id, parent id, height, status, reorged)` and the
/// chainwork is twice the height.
fn answer(tip: u16, blocks: &[(u16, u16, u32, &str, bool)]) -> Value {
    let blocks: Vec<Value> = blocks
        .iter()
        .map(|(id, prev, height, status, reorged)| {
            json!({
                "hash": h(*id),
                "prev": h(*prev),
                "height": height,
                "chainwork": format!("{:064x}", 2 * height),
                "status": status,
                "reorged": reorged,
            })
        })
        .collect();
    json!({"tip": h(tip), "height": 0, "blocks": blocks})
}

#[test]
fn answers_of_several_nodes_merge() {
    let a = answer(
        3,
        &[
            (1, 0, 1, "active", false),
            (2, 1, 2, "active", false),
            (3, 2, 3, "active", false),
            (0x22, 1, 2, "valid-fork", true),
        ],
    );
    let b = answer(
        0x22,
        &[
            (1, 0, 1, "active", false),
            (0x22, 1, 2, "active", false),
            (2, 1, 2, "invalid", false),
        ],
    );
    let view = TreeView::from_nodes(&[("a".to_string(), a), ("b".to_string(), b)]).expect("merges");
    assert_eq!(view.blocks().count(), 4);
    assert_eq!(view.labels(&h(3)), ["a"]);
    assert_eq!(view.labels(&h(0x22)), ["b"]);
    assert!(view.labels(&h(1)).is_empty());
    let stale = view.block(&h(0x22)).expect("known");
    assert!(stale.reorged && !stale.invalid);
    let refused = view.block(&h(2)).expect("known");
    assert!(refused.invalid && !refused.reorged);
    assert_eq!(
        view.render(&RenderOptions::default()),
        golden(
            r"
  * 0000…00000003 h=3 work=6 [a]
* | 0000…00000022 h=2 work=4 [b] (reorged)
| * 0000…00000002 h=2 (invalid)
|/
*   0000…00000001 h=1 (fork)
"
        )
    );
}

fn refusal(answer: Value) -> TreeError {
    TreeView::from_nodes(&[("n".to_string(), answer)]).expect_err("refused")
}

#[test]
fn malformed_answers_are_typed_errors() {
    let good = answer(2, &[(1, 0, 1, "active", false), (2, 1, 2, "active", false)]);
    let broken = |path: &str, value: Value| {
        let mut answer = good.clone();
        *answer.pointer_mut(path).expect("path exists") = value;
        refusal(answer)
    };
    for error in [
        refusal(json!(null)),
        refusal(json!({"tip": h(2), "blocks": {}})),
        broken("/tip", json!("xyz")),
        broken("/blocks/0/hash", json!(5)),
        broken("/blocks/0/height", json!(-1)),
        broken("/blocks/0/height", json!(1u64 << 40)),
        broken("/blocks/0/chainwork", json!("")),
        broken("/blocks/0/chainwork", json!("g1")),
        broken("/blocks/0/chainwork", json!("1".repeat(65))),
        broken("/blocks/0/status", json!("sideways")),
        broken("/blocks/1/reorged", json!("yes")),
    ] {
        assert_eq!(error.code(), "malformed-tree", "{error}");
        assert!(error.to_string().starts_with("malformed-tree: n: "));
    }
    for error in [
        broken("/tip", json!(h(9))),
        broken("/blocks/1/height", json!(5)),
    ] {
        assert_eq!(error.code(), "inconsistent-tree", "{error}");
    }
    let other = answer(1, &[(1, 0, 7, "active", false)]);
    let error = TreeView::from_nodes(&[("a".to_string(), good), ("b".to_string(), other)])
        .expect_err("two heights for one block");
    assert_eq!(error.code(), "inconsistent-tree");
}
