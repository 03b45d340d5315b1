//! The block tree as an SVG picture: every block drawn once where its branch runs, the most-work
//! valid branch marked active, tips labelled with their nodes, reorged and invalid blocks
//! marked, a long common trunk folded, node names escaped.

#[path = "support/tree.rs"]
mod tree;

use nakachain::observe::tree::{RenderOptions, TreeBlock, TreeView};
use nakachain::types::Hash256;
use tree::{block, h, line};

fn svg(blocks: Vec<TreeBlock>, tips: &[(&str, u16)], collapse: Option<usize>) -> String {
    let tips: Vec<(String, Hash256)> = tips
        .iter()
        .map(|(name, id)| (name.to_string(), h(*id)))
        .collect();
    TreeView::from_blocks(blocks, &tips)
        .expect("consistent tree")
        .render_svg(&RenderOptions {
            color: false,
            collapse_linear_after: collapse,
        })
}

/// The opening tag of block `id`'s group.
fn group(svg: &str, id: u16) -> &str {
    let at = svg
        .find(&format!("data-hash=\"{}\"", h(id).to_hex()))
        .unwrap_or_else(|| panic!("block {id} is drawn: {svg}"));
    let start = svg[..at].rfind("<g ").expect("in a group");
    let end = at + svg[at..].find('>').expect("a closed tag");
    &svg[start..end]
}

/// The `y` of block `id`'s box: its branch's row.
fn row(svg: &str, id: u16) -> u32 {
    let at = svg
        .find(&format!("data-hash=\"{}\"", h(id).to_hex()))
        .expect("drawn");
    let rect = &svg[at..];
    let y = &rect[rect.find(" y=\"").expect("a y") + 4..];
    y[..y.find('"').expect("quoted")].parse().expect("a number")
}

#[test]
fn a_fork_draws_two_rows_with_the_labelled_tips_and_the_winner_active() {
    let mut blocks = line(1, 4, 0);
    blocks.push(block(0x33, 2, 3, 6));
    let drawn = svg(blocks, &[("node-0", 4), ("node-1", 0x33)], None);
    assert!(drawn.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(drawn.trim_end().ends_with("</svg>"));
    assert_eq!(drawn.matches("<g").count(), drawn.matches("</g>").count());
    assert_eq!(
        drawn.matches("<g class=\"block").count(),
        5,
        "every block once"
    );
    for id in [1, 2, 3, 4] {
        assert!(
            group(&drawn, id).contains("active"),
            "block {id} is on the winning branch"
        );
        assert_eq!(row(&drawn, id), row(&drawn, 1));
    }
    assert!(!group(&drawn, 0x33).contains("active"));
    assert!(
        row(&drawn, 0x33) > row(&drawn, 1),
        "the fork has a row of its own"
    );
    assert!(group(&drawn, 4).contains("tip") && group(&drawn, 4).contains("data-nodes=\"node-0\""));
    assert!(group(&drawn, 0x33).contains("data-nodes=\"node-1\""));
    assert!(drawn.contains(">node-1</text>"));
    // Four parent links: 1→2, 2→3, 3→4 and 2→3'.
    assert_eq!(drawn.matches("class=\"edge\"").count(), 4);
}

#[test]
fn reorged_and_invalid_blocks_are_marked() {
    let mut blocks = line(1, 3, 0);
    let mut reorged = block(0x22, 1, 2, 4);
    reorged.reorged = true;
    let mut invalid = block(0x44, 3, 4, 100);
    invalid.invalid = true;
    blocks.extend([reorged, invalid]);
    let drawn = svg(blocks, &[("node-0", 3)], None);
    assert!(group(&drawn, 0x22).contains("reorged"));
    assert!(group(&drawn, 0x44).contains("invalid"));
    assert!(
        !group(&drawn, 0x44).contains("active"),
        "invalid is never the active chain"
    );
    assert!(group(&drawn, 3).contains("active"));
}

#[test]
fn a_long_trunk_folds_into_one_box_and_the_fork_stays_in_view() {
    let mut blocks = line(1, 40, 0);
    blocks.push(block(0x99, 37, 38, 70));
    let drawn = svg(blocks, &[("node-0", 40), ("node-1", 0x99)], Some(5));
    assert!(drawn.contains("class=\"fold\" data-from=\"1\""), "{drawn}");
    assert!(!drawn.contains(&format!("data-hash=\"{}\"", h(10).to_hex())));
    for id in [35, 36, 37, 38, 39, 40, 0x99] {
        group(&drawn, id);
    }
    let unfolded = svg(line(1, 40, 0), &[("node-0", 40)], None);
    assert!(!unfolded.contains("class=\"fold\""));
    assert_eq!(unfolded.matches("<g class=\"block").count(), 40);
}

#[test]
fn node_names_are_escaped() {
    let drawn = svg(line(1, 2, 0), &[("<b>&co", 2)], None);
    assert!(drawn.contains("&lt;b&gt;&amp;co"), "{drawn}");
    assert!(!drawn.contains("<b>"));
}
