//! Drawing a `TreeView` as an SVG picture: blocks as boxes from the oldest on the left to the
//! newest on the right, one row per branch (the lanes of the text drawing, the most-work valid
//! branch on top and highlighted), a line from each block to its parent, each tip labelled with
//! the nodes on it, blocks reorged out or invalid marked, and a long common trunk folded into
//! one box. The same picture serves `tree --svg`, `devnet tree --svg` and the web view.
//!
//! Owns the geometry and the markup. Must not interpret node answers (`tree` does) nor write
//! files (callers do).

use super::graph::Layout;
use super::{RenderOptions, TreeBlock, TreeView};
use crate::types::Hash256;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// Horizontal distance between the left edges of two heights' boxes.
const COLUMN_PX: u32 = 112;
/// Vertical distance between two branches.
const LANE_PX: u32 = 64;
const BOX_WIDTH_PX: u32 = 92;
const BOX_HEIGHT_PX: u32 = 30;
const MARGIN_PX: u32 = 24;
/// Room under each row for the tip labels.
const LABEL_PX: u32 = 16;
/// Width of one character of a label (11 px monospace, bold).
const LABEL_CHAR_PX: u32 = 7;
/// Blocks of the trunk kept in view below the lowest fork when the rest is folded.
const TRUNK_KEPT_BLOCKS: u32 = 2;

const STYLE: &str = "text{font:11px monospace;fill:#222}\
.edge{stroke:#888;stroke-width:1.5;fill:none}\
.block rect{fill:#eef2f7;stroke:#7a8ca3;rx:4}\
.block.active rect{fill:#d6ecd2;stroke:#2f7d32;stroke-width:2}\
.block.reorged rect{fill:#fff4d6;stroke:#b7791f;stroke-dasharray:4 2}\
.block.invalid rect{fill:#fbe0e0;stroke:#c53030}\
.block.tip rect{stroke-width:2.5}\
.fold rect{fill:#f4f4f4;stroke:#aaa;stroke-dasharray:2 2}\
.label{font-weight:bold;fill:#1a4d8f}";

/// A run of the trunk drawn as one box: the heights `from..=to`.
#[derive(Clone, Copy)]
struct Fold {
    from: u32,
    to: u32,
}

impl Fold {
    fn hides(self, height: u32) -> bool {
        (self.from..=self.to).contains(&height)
    }
}

/// Where things go: a column per height (a folded run takes one), a row per lane.
struct Geometry {
    lowest_height: u32,
    fold: Option<Fold>,
}

impl Geometry {
    fn column(&self, height: u32) -> u32 {
        let offset = height - self.lowest_height;
        match self.fold {
            Some(fold) if height > fold.to => offset - (fold.to - fold.from),
            Some(fold) if height >= fold.from => fold.from - self.lowest_height,
            _ => offset,
        }
    }

    fn x(&self, height: u32) -> u32 {
        MARGIN_PX + self.column(height) * COLUMN_PX
    }

    fn y(lane: usize) -> u32 {
        MARGIN_PX + u32::try_from(lane).unwrap_or(u32::MAX / LANE_PX) * LANE_PX
    }
}

/// The tree as an SVG document. With `collapse_linear_after: Some(n)`, a trunk of more than `n`
/// plain blocks below the lowest fork is folded into one box.
pub(super) fn render(view: &TreeView, options: &RenderOptions) -> String {
    let layout = Layout::new(view);
    let lane_of = &layout.lane_of;
    let tainted = &layout.tainted;
    let lowest_height = view.blocks().map(|block| block.height).min().unwrap_or(0);
    let highest_height = view.blocks().map(|block| block.height).max().unwrap_or(0);
    let geometry = Geometry {
        lowest_height,
        fold: options
            .collapse_linear_after
            .and_then(|after| trunk_fold(view, lane_of, lowest_height, after)),
    };
    let lanes = lane_of.values().max().map_or(1, |lane| lane + 1);
    // A tip's label may run past its box: leave room for the longest.
    let label_px = view
        .blocks()
        .map(|block| view.labels(&block.hash).join(", ").chars().count())
        .max()
        .map_or(0, |chars| {
            u32::try_from(chars).unwrap_or(u32::MAX / 8) * LABEL_CHAR_PX
        });
    let width = geometry.x(highest_height) + BOX_WIDTH_PX.max(label_px) + MARGIN_PX;
    let height = Geometry::y(lanes - 1) + BOX_HEIGHT_PX + LABEL_PX + MARGIN_PX;

    let mut blocks: Vec<&TreeBlock> = view.blocks().collect();
    blocks.sort_by_key(|block| (block.height, lane_of.get(&block.hash), block.hash));
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"block-tree\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\"><style>{STYLE}</style>"
    );
    svg.push_str("<g class=\"edges\">");
    for block in &blocks {
        draw_edge(&mut svg, view, &geometry, lane_of, block);
    }
    svg.push_str("</g>");
    if let Some(fold) = geometry.fold {
        draw_fold(&mut svg, &geometry, fold);
    }
    for block in blocks {
        if geometry.fold.is_some_and(|fold| fold.hides(block.height)) {
            continue;
        }
        let lane = lane_of.get(&block.hash).copied().unwrap_or(0);
        draw_block(&mut svg, view, &geometry, lane, block, tainted);
    }
    svg.push_str("</svg>\n");
    svg
}

/// The run of plain trunk blocks to fold: lane-0 blocks from the bottom up to a little below the
/// lowest block of any other lane (or below the top, with one branch), if there are more than
/// `after` of them and none is labelled or marked.
fn trunk_fold(
    view: &TreeView,
    lane_of: &HashMap<Hash256, usize>,
    lowest_height: u32,
    after: usize,
) -> Option<Fold> {
    let branch_floor = view
        .blocks()
        .filter(|block| lane_of.get(&block.hash).is_some_and(|lane| *lane != 0))
        .map(|block| block.height)
        .min();
    let top = view.blocks().map(|block| block.height).max()?;
    let below = branch_floor.unwrap_or(top + 1);
    // The fork point is the block below the lowest branch block; keep it and a few under it.
    let to = below.checked_sub(TRUNK_KEPT_BLOCKS + 2)?;
    if to < lowest_height || ((to - lowest_height + 1) as usize) <= after {
        return None;
    }
    let plain = view
        .blocks()
        .filter(|block| (lowest_height..=to).contains(&block.height))
        .all(|block| {
            lane_of.get(&block.hash) == Some(&0)
                && !block.invalid
                && !block.reorged
                && view.labels(&block.hash).is_empty()
        });
    plain.then_some(Fold {
        from: lowest_height,
        to,
    })
}

fn draw_edge(
    svg: &mut String,
    view: &TreeView,
    geometry: &Geometry,
    lane_of: &HashMap<Hash256, usize>,
    block: &TreeBlock,
) {
    let Some(parent) = view.block(&block.prev) else {
        return;
    };
    if geometry.fold.is_some_and(|fold| fold.hides(block.height)) {
        return;
    }
    let lane = lane_of.get(&block.hash).copied().unwrap_or(0);
    let parent_lane = lane_of.get(&parent.hash).copied().unwrap_or(0);
    let from_x = geometry.x(parent.height) + BOX_WIDTH_PX;
    let from_y = Geometry::y(parent_lane) + BOX_HEIGHT_PX / 2;
    let to_x = geometry.x(block.height);
    let to_y = Geometry::y(lane) + BOX_HEIGHT_PX / 2;
    let bend_x = from_x + (to_x - from_x) / 2;
    let _ = write!(
        svg,
        "<path class=\"edge\" d=\"M{from_x} {from_y} C{bend_x} {from_y} {bend_x} {to_y} {to_x} {to_y}\"/>"
    );
}

fn draw_fold(svg: &mut String, geometry: &Geometry, fold: Fold) {
    let x = geometry.x(fold.from);
    let y = Geometry::y(0);
    let count = fold.to - fold.from + 1;
    let _ = write!(
        svg,
        "<g class=\"fold\" data-from=\"{}\" data-to=\"{}\"><rect x=\"{x}\" y=\"{y}\" \
         width=\"{BOX_WIDTH_PX}\" height=\"{BOX_HEIGHT_PX}\"/><text x=\"{}\" y=\"{}\">… {count} blocks</text>\
         <title>heights {} to {}</title></g>",
        fold.from,
        fold.to,
        x + 6,
        y + 19,
        fold.from,
        fold.to,
    );
}

fn draw_block(
    svg: &mut String,
    view: &TreeView,
    geometry: &Geometry,
    lane: usize,
    block: &TreeBlock,
    tainted: &HashSet<Hash256>,
) {
    let labels = view.labels(&block.hash);
    let mut classes = vec!["block"];
    if lane == 0 && !tainted.contains(&block.hash) {
        classes.push("active");
    }
    if block.invalid {
        classes.push("invalid");
    }
    if block.reorged {
        classes.push("reorged");
    }
    if !labels.is_empty() {
        classes.push("tip");
    }
    let x = geometry.x(block.height);
    let y = Geometry::y(lane);
    let hash = block.hash.to_hex();
    let mut remarks = Vec::new();
    if block.invalid {
        remarks.push("invalid");
    }
    if block.reorged {
        remarks.push("reorged out");
    }
    let _ = write!(
        svg,
        "<g class=\"{}\" data-hash=\"{hash}\" data-height=\"{}\" data-nodes=\"{}\">\
         <rect x=\"{x}\" y=\"{y}\" width=\"{BOX_WIDTH_PX}\" height=\"{BOX_HEIGHT_PX}\"/>\
         <text x=\"{}\" y=\"{}\">{} {}</text><title>height {} {hash}{}{}</title>",
        classes.join(" "),
        block.height,
        escape(&labels.join(",")),
        x + 6,
        y + 19,
        block.height,
        &hash[hash.len() - 6..],
        block.height,
        if remarks.is_empty() { "" } else { ": " },
        remarks.join(", "),
    );
    if !labels.is_empty() {
        let _ = write!(
            svg,
            "<text class=\"label\" x=\"{x}\" y=\"{}\">{}</text>",
            y + BOX_HEIGHT_PX + LABEL_PX - 3,
            escape(&labels.join(", ")),
        );
    }
    svg.push_str("</g>");
}

/// Text as SVG (XML) character data: node names come from the operator, so `<` and `&` are
/// written as entities.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
