//! Golden tests of the block tree drawing: fixed trees against exact text, and a seeded
//! property test that random trees draw one line per block (or per collapsed run) and never
//! panic. Reading node answers is tested in `tree_answers.rs`.

#[path = "support/tree.rs"]
mod tree;

use nakachain::observe::tree::{RenderOptions, TreeBlock, TreeView};
use nakachain::types::Hash256;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use tree::{block, h, line};

/// An expected drawing written as a raw string that starts on the line after its quote.
fn golden(text: &str) -> &str {
    text.strip_prefix('\n').unwrap_or(text)
}

fn draw(blocks: Vec<TreeBlock>, tips: &[(&str, u16)]) -> String {
    draw_with(blocks, tips, RenderOptions::default())
}

fn draw_with(blocks: Vec<TreeBlock>, tips: &[(&str, u16)], options: RenderOptions) -> String {
    let tips: Vec<(String, Hash256)> = tips
        .iter()
        .map(|(name, id)| (name.to_string(), h(*id)))
        .collect();
    TreeView::from_blocks(blocks, &tips)
        .expect("consistent tree")
        .render(&options)
}

#[test]
fn linear_chain() {
    assert_eq!(
        draw(line(1, 4, 0), &[("node-0", 4)]),
        golden(
            r"
* 0000…00000004 h=4 work=8 [node-0]
* 0000…00000003 h=3
* 0000…00000002 h=2
* 0000…00000001 h=1
"
        )
    );
}

#[test]
fn one_fork_two_labelled_branches() {
    let mut blocks = line(1, 4, 0);
    blocks.push(block(0x33, 2, 3, 6));
    assert_eq!(
        draw(blocks, &[("node-0", 4), ("node-1", 0x33), ("node-2", 4)]),
        golden(
            r"
*   0000…00000004 h=4 work=8 [node-0, node-2]
*   0000…00000003 h=3
| * 0000…00000033 h=3 work=6 [node-1]
|/
*   0000…00000002 h=2 (fork)
*   0000…00000001 h=1
"
        )
    );
}

#[test]
fn two_forks_at_different_heights() {
    let mut blocks = line(1, 6, 0);
    blocks.push(block(0x33, 2, 3, 6));
    blocks.push(block(0x34, 0x33, 4, 8));
    blocks.push(block(0x55, 4, 5, 10));
    assert_eq!(
        draw(blocks, &[("node-0", 6), ("node-1", 0x34), ("node-2", 0x55)]),
        golden(
            r"
*   0000…00000006 h=6 work=12 [node-0]
*   0000…00000005 h=5
| * 0000…00000055 h=5 work=10 [node-2]
|/
*   0000…00000004 h=4 (fork)
| * 0000…00000034 h=4 work=8 [node-1]
* | 0000…00000003 h=3
| * 0000…00000033 h=3
|/
*   0000…00000002 h=2 (fork)
*   0000…00000001 h=1
"
        )
    );
}

#[test]
fn a_branch_forking_higher_sits_nearer_the_main_line_and_joins_without_crossing() {
    let mut blocks = line(1, 8, 0);
    blocks.extend((3..=7).map(|height| {
        let prev = if height == 3 { 2 } else { 0x20 + height - 1 };
        block(
            0x20 + height,
            prev,
            u32::from(height),
            2 * u64::from(height),
        )
    }));
    blocks.push(block(0x56, 5, 6, 12));
    assert_eq!(
        draw(blocks, &[("node-0", 8), ("node-1", 0x27), ("node-2", 0x56)]),
        golden(
            r"
*     0000…00000008 h=8 work=16 [node-0]
*     0000…00000007 h=7
| *   0000…00000027 h=7 work=14 [node-1]
* |   0000…00000006 h=6
|  \
| * | 0000…00000056 h=6 work=12 [node-2]
| | * 0000…00000026 h=6
|/ /
* |   0000…00000005 h=5 (fork)
| *   0000…00000025 h=5
* |   0000…00000004 h=4
| *   0000…00000024 h=4
* |   0000…00000003 h=3
| *   0000…00000023 h=3
|/
*     0000…00000002 h=2 (fork)
*     0000…00000001 h=1
"
        )
    );
}

#[test]
fn reorged_branch() {
    let mut blocks = line(1, 3, 0);
    for old in &mut blocks[1..] {
        old.reorged = true;
    }
    blocks.push(block(0x22, 1, 2, 4));
    blocks.push(block(0x23, 0x22, 3, 6));
    blocks.push(block(0x24, 0x23, 4, 8));
    assert_eq!(
        draw(blocks, &[("this node", 0x24)]),
        golden(
            r"
*   0000…00000024 h=4 work=8 [this node]
*   0000…00000023 h=3
| * 0000…00000003 h=3 work=6 (reorged)
* | 0000…00000022 h=2
| * 0000…00000002 h=2 (reorged)
|/
*   0000…00000001 h=1 (fork)
"
        )
    );
}

#[test]
fn an_invalid_branch_with_more_work_stays_right_of_the_valid_one() {
    let mut blocks = line(1, 3, 0);
    blocks.push(block(0x23, 2, 3, 5));
    blocks.push(block(0x24, 0x23, 4, 7));
    blocks[3].invalid = true;
    assert_eq!(
        draw(blocks, &[("node-0", 3), ("node-1", 0x24)]),
        golden(
            r"
  * 0000…00000024 h=4 work=7 [node-1]
* | 0000…00000003 h=3 work=6 [node-0]
| * 0000…00000023 h=3 (invalid)
|/
*   0000…00000002 h=2 (fork)
*   0000…00000001 h=1
"
        )
    );
}

#[test]
fn the_most_work_branch_is_leftmost_even_when_shorter() {
    let mut blocks = line(1, 6, 0);
    blocks.push(block(0x24, 3, 4, 100));
    assert_eq!(
        draw(blocks, &[("node-0", 0x24), ("node-1", 6)]),
        golden(
            r"
  * 0000…00000006 h=6 work=12 [node-1]
  * 0000…00000005 h=5
* | 0000…00000024 h=4 work=100 [node-0]
| * 0000…00000004 h=4
|/
*   0000…00000003 h=3 (fork)
*   0000…00000002 h=2
*   0000…00000001 h=1
"
        )
    );
}

#[test]
fn three_way_fork_at_one_parent() {
    let mut blocks = line(1, 4, 0);
    blocks.push(block(0x33, 2, 3, 5));
    blocks.push(block(0x43, 2, 3, 6));
    blocks.push(block(0x44, 0x43, 4, 7));
    assert_eq!(
        draw(blocks, &[("node-0", 4), ("node-1", 0x33), ("node-2", 0x44)]),
        golden(
            r"
*     0000…00000004 h=4 work=8 [node-0]
| *   0000…00000044 h=4 work=7 [node-2]
* |   0000…00000003 h=3
| *   0000…00000043 h=3
| | * 0000…00000033 h=3 work=5 [node-1]
|/ /
|/
*     0000…00000002 h=2 (fork)
*     0000…00000001 h=1
"
        )
    );
}

#[test]
fn a_parent_missing_from_the_window_ends_its_branch() {
    let mut blocks = line(1, 4, 0);
    blocks.push(block(0x44, 0x93, 4, 8));
    blocks.push(block(0x45, 0x44, 5, 10));
    assert_eq!(
        draw(blocks, &[("node-0", 4), ("node-1", 0x45)]),
        golden(
            r"
* 0000…00000045 h=5 work=10 [node-1]
* 0000…00000044 h=4 (parent 0000…00000093 not shown)
~
* 0000…00000004 h=4 work=8 [node-0]
* 0000…00000003 h=3
* 0000…00000002 h=2
* 0000…00000001 h=1
"
        )
    );
}

#[test]
fn branches_ending_at_the_bottom_of_the_window_keep_their_columns() {
    let mut blocks = vec![block(2, 0x91, 2, 4), block(3, 2, 3, 6), block(4, 3, 4, 8)];
    blocks.push(block(0x22, 0x92, 2, 5));
    blocks.push(block(0x23, 0x22, 3, 7));
    assert_eq!(
        draw(blocks, &[("node-0", 4)]),
        golden(
            r"
*   0000…00000004 h=4 work=8 [node-0]
*   0000…00000003 h=3
| * 0000…00000023 h=3 work=7
* | 0000…00000002 h=2
  * 0000…00000022 h=2
"
        )
    );
}

#[test]
fn long_runs_collapse_when_asked() {
    let mut blocks = line(1, 30, 0);
    blocks.push(block(0x66, 5, 6, 13));
    let options = RenderOptions {
        color: false,
        collapse_linear_after: Some(4),
    };
    assert_eq!(
        draw_with(blocks, &[("node-0", 30)], options),
        golden(
            r"
*   0000…0000001e h=30 work=60 [node-0]
:   … 24 blocks (heights 6..29) …
| * 0000…00000066 h=6 work=13
|/
*   0000…00000005 h=5 (fork)
*   0000…00000004 h=4
*   0000…00000003 h=3
*   0000…00000002 h=2
*   0000…00000001 h=1
"
        )
    );
    // A run no longer than the limit stays as it is.
    let options = RenderOptions {
        color: false,
        collapse_linear_after: Some(4),
    };
    assert_eq!(
        draw_with(line(1, 4, 0), &[("node-0", 4)], options),
        draw(line(1, 4, 0), &[("node-0", 4)])
    );
}

#[test]
fn color_wraps_the_same_text_in_ansi_codes() {
    let mut blocks = line(1, 3, 0);
    blocks.push(block(0x23, 2, 3, 5));
    blocks[2].reorged = true;
    let tips = [("node-0", 3), ("node-1", 0x23)];
    let options = RenderOptions {
        color: true,
        collapse_linear_after: None,
    };
    let colored = draw_with(blocks.clone(), &tips, options);
    assert!(colored.contains("\x1b[1;32m[node-0]\x1b[0m"));
    assert!(colored.contains("\x1b[33m(reorged)\x1b[0m"));
    assert_eq!(strip_ansi(&colored), draw(blocks, &tips));
}

fn strip_ansi(text: &str) -> String {
    let mut plain = String::new();
    let mut in_escape = false;
    for ch in text.chars() {
        match (in_escape, ch) {
            (false, '\x1b') => in_escape = true,
            (false, _) => plain.push(ch),
            (true, 'm') => in_escape = false,
            (true, _) => {}
        }
    }
    plain
}

/// A random forest: each block's parent is an earlier block or missing, with random work,
/// flags and tips.
fn random_tree() -> impl Strategy<Value = (Vec<TreeBlock>, Vec<(String, Hash256)>)> {
    let spec = (
        any::<prop::sample::Index>(),
        0u8..4,
        1u64..5,
        0u32..6,
        any::<bool>(),
        any::<bool>(),
    );
    (
        prop::collection::vec(spec, 1..60),
        prop::collection::vec(any::<prop::sample::Index>(), 0..5),
    )
        .prop_map(|(specs, tip_picks)| {
            let mut blocks: Vec<TreeBlock> = Vec::new();
            for (id, (parent, kind, work, base, invalid, reorged)) in specs.into_iter().enumerate()
            {
                let id = id as u16 + 1;
                let mut fresh = block(id, 0x8000 + id, base, work);
                // One block in four starts a new root (its parent missing).
                if kind > 0 && !blocks.is_empty() {
                    let parent = &blocks[parent.index(blocks.len())];
                    fresh.prev = parent.hash;
                    fresh.height = parent.height + 1;
                    fresh.chainwork = parent.chainwork + work;
                }
                fresh.invalid = invalid && kind == 1;
                fresh.reorged = reorged;
                blocks.push(fresh);
            }
            let tips = tip_picks
                .iter()
                .enumerate()
                .map(|(n, pick)| (format!("node-{n}"), blocks[pick.index(blocks.len())].hash))
                .collect();
            (blocks, tips)
        })
}

/// How many blocks a rendered line stands for.
fn blocks_on(line: &str) -> usize {
    if let Some(rest) = line
        .split("… ")
        .nth(1)
        .filter(|_| line.contains(" blocks ("))
    {
        return rest
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
    }
    usize::from(line.contains(" h="))
}

#[test]
fn random_trees_draw_one_line_per_block_and_never_panic() {
    let seed = [42; 32];
    let mut runner = TestRunner::new_with_rng(
        Config::with_cases(300),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    runner
        .run(&random_tree(), |(blocks, tips)| {
            let count = blocks.len();
            let view = TreeView::from_blocks(blocks.clone(), &tips)
                .map_err(|error| TestCaseError::fail(error.to_string()))?;
            for collapse in [None, Some(0), Some(3)] {
                let text = view.render(&RenderOptions {
                    color: false,
                    collapse_linear_after: collapse,
                });
                let lines: Vec<&str> = text.lines().collect();
                prop_assert_eq!(
                    lines.iter().map(|line| blocks_on(line)).sum::<usize>(),
                    count
                );
                for line in &lines {
                    let graph: String = line
                        .chars()
                        .take_while(|ch| !ch.is_ascii_alphanumeric() && *ch != '…')
                        .collect();
                    prop_assert!(graph.chars().all(|ch| " *|/\\~:".contains(ch)), "{}", line);
                    let stars = graph.matches('*').count() + graph.matches(':').count();
                    prop_assert_eq!(stars, blocks_on(line).min(1), "{}", line);
                }
                if collapse.is_none() {
                    for block in &blocks {
                        let short = block.hash.to_hex();
                        let shown = format!("{}…{} h=", &short[..4], &short[56..]);
                        prop_assert_eq!(text.matches(&shown).count(), 1);
                    }
                }
            }
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}
