//! Drawing a `TreeView` as `git log --graph` draws history: each branch is a lane (a column),
//! blocks come newest first, and lanes join their parent's lane with `/` at the fork point.
//!
//! Owns lane layout and the characters. Must not interpret node answers (`tree` does).
//!
//! Layout: a depth-first walk from the roots, visiting the child whose subtree holds the most
//! work first, splits the tree into lanes (a child with the most-work subtree continues its
//! parent's lane, any other child starts a new one). Lanes are ordered by when the walk reached
//! them, which puts the most-work branch leftmost and keeps every branch between its parent's
//! lane and the lanes that fork further down, so joins never cross a lane.

use super::{RenderOptions, TreeBlock, TreeView};
use crate::types::Hash256;
use primitive_types::U256;
use std::cmp::{Ordering, Reverse};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// Which block wins a column: valid (no invalid ancestor) before invalid, then more work, then
/// a labelled tip, then the hash (so the layout does not depend on input order).
type Rank = (bool, U256, bool, Hash256);

/// Lane colours for the graph characters (ANSI): cyan, magenta, blue, green, yellow.
const LANE_COLORS: [&str; 5] = ["36", "35", "34", "32", "33"];

/// One character of a graph line: its position, the character and the lane it belongs to.
#[derive(Clone, Copy)]
struct Cell {
    position: usize,
    ch: char,
    lane: usize,
}

enum Row<'a> {
    /// Lanes moving sideways or joining, between two blocks.
    Edges(Vec<Cell>),
    Block {
        cells: Vec<Cell>,
        block: &'a TreeBlock,
    },
}

/// A lane on screen: `next` is the block its line leads down to.
struct ActiveLane {
    lane: usize,
    /// `None` for a lane whose first block is about to be drawn and has no column yet.
    column: Option<usize>,
    next: Hash256,
    /// Whether the lane's first block was drawn: above it the column stays blank.
    drawn: bool,
}

/// The lanes of a tree: shared with the SVG drawing, which lays blocks out the same way.
pub(super) struct Layout<'a> {
    view: &'a TreeView,
    children: HashMap<Hash256, Vec<Hash256>>,
    /// Each block's lane; lane 0 is the most-work valid branch.
    pub(super) lane_of: HashMap<Hash256, usize>,
    /// Blocks that are invalid or descend from one.
    pub(super) tainted: HashSet<Hash256>,
    /// The bottom of the window: blocks here have no parent shown, and that is expected.
    lowest_height: u32,
}

impl<'a> Layout<'a> {
    pub(super) fn new(view: &'a TreeView) -> Layout<'a> {
        let mut by_height: Vec<&TreeBlock> = view.blocks.values().collect();
        by_height.sort_by_key(|block| (Reverse(block.height), block.hash));
        // A descendant of an invalid block is invalid too, whether or not a node said so.
        let mut tainted = HashSet::new();
        for block in by_height.iter().rev() {
            if block.invalid || tainted.contains(&block.prev) {
                tainted.insert(block.hash);
            }
        }
        let rank = |block: &TreeBlock| -> Rank {
            let labelled = !view.labels(&block.hash).is_empty();
            let valid = !tainted.contains(&block.hash);
            (valid, block.chainwork, labelled, block.hash)
        };
        let mut best: HashMap<Hash256, Rank> = by_height
            .iter()
            .map(|block| (block.hash, rank(block)))
            .collect();
        let mut children: HashMap<Hash256, Vec<Hash256>> = HashMap::new();
        let mut roots = Vec::new();
        // Children are higher than their parent, so each subtree is complete before its root
        // passes its best rank down.
        for block in &by_height {
            if view.blocks.contains_key(&block.prev) {
                children.entry(block.prev).or_default().push(block.hash);
                let subtree = best.get(&block.hash).copied();
                if let (Some(subtree), Some(parent_best)) = (subtree, best.get_mut(&block.prev)) {
                    *parent_best = (*parent_best).max(subtree);
                }
            } else {
                roots.push(block.hash);
            }
        }
        let by_best =
            |hashes: &mut Vec<Hash256>| hashes.sort_by_key(|hash| Reverse(best.get(hash).copied()));
        by_best(&mut roots);
        children.values_mut().for_each(by_best);

        let mut lane_of = HashMap::new();
        let mut lanes = 0;
        let mut stack: Vec<(Hash256, Option<usize>)> =
            roots.iter().rev().map(|hash| (*hash, None)).collect();
        while let Some((hash, lane)) = stack.pop() {
            let lane = lane.unwrap_or_else(|| {
                lanes += 1;
                lanes - 1
            });
            lane_of.insert(hash, lane);
            let kids = children.get(&hash).map_or(&[][..], Vec::as_slice);
            if let Some((first, others)) = kids.split_first() {
                stack.extend(others.iter().rev().map(|hash| (*hash, None)));
                stack.push((*first, Some(lane)));
            }
        }
        Layout {
            view,
            children,
            lane_of,
            tainted,
            lowest_height: by_height.last().map_or(0, |block| block.height),
        }
    }

    fn child_count(&self, hash: &Hash256) -> usize {
        self.children.get(hash).map_or(0, Vec::len)
    }

    /// The rows, newest block first. Every block has a lane: following parents lowers the
    /// height (`TreeView` checks it), so every block is reached from a root by the walk.
    fn rows(&self) -> Vec<Row<'a>> {
        let mut order: Vec<(&TreeBlock, usize)> = self
            .lane_of
            .iter()
            .filter_map(|(hash, lane)| self.view.blocks.get(hash).map(|block| (block, *lane)))
            .collect();
        order.sort_by_key(|(block, lane)| (Reverse(block.height), *lane));
        // Lane 0, the most-work branch, holds the leftmost column from the first row on, even
        // when other branches reach higher.
        let mut active: Vec<ActiveLane> = order
            .iter()
            .find(|(_, lane)| *lane == 0)
            .map(|(top, _)| ActiveLane {
                lane: 0,
                column: Some(0),
                next: top.hash,
                drawn: false,
            })
            .into_iter()
            .collect();
        let mut rows = Vec::new();
        for (block, lane) in order {
            if !active.iter().any(|open| open.lane == lane) {
                let at = active.partition_point(|open| open.lane < lane);
                active.insert(
                    at,
                    ActiveLane {
                        lane,
                        column: None,
                        next: block.hash,
                        drawn: false,
                    },
                );
            }
            settle(&mut active, lane, block.hash, &mut rows);
            for open in active.iter_mut().filter(|open| open.lane == lane) {
                open.drawn = true;
            }
            rows.push(Row::Block {
                cells: straight_cells(&active, lane, '*'),
                block,
            });
            if self.view.blocks.contains_key(&block.prev) {
                for open in active.iter_mut().filter(|open| open.lane == lane) {
                    open.next = block.prev;
                }
                continue;
            }
            if block.height > self.lowest_height {
                // A branch whose parent is missing above the window's bottom ends with `~`, so
                // the next block drawn in its column does not look like its parent.
                rows.push(Row::Edges(straight_cells(&active, lane, '~')));
                active.retain(|open| open.lane != lane);
            } else {
                // At the bottom every branch ends; keeping the column blank stops the branches
                // still to be drawn from sliding under this one.
                for open in active.iter_mut().filter(|open| open.lane == lane) {
                    open.drawn = false;
                }
            }
        }
        rows
    }
}

/// A line where no lane moves: `ch` in `lane`'s column, `|` in the others.
fn straight_cells(active: &[ActiveLane], lane: usize, ch: char) -> Vec<Cell> {
    active
        .iter()
        .filter(|open| open.drawn)
        .filter_map(|open| {
            open.column.map(|column| Cell {
                position: 2 * column,
                ch: if open.lane == lane { ch } else { '|' },
                lane: open.lane,
            })
        })
        .collect()
}

/// Moves lanes until they sit in consecutive columns in lane order, the lanes that lead to
/// `hash` (other than its own, `lane`) have joined it, and a new lane has its column. Each row
/// moves every lane one column toward where it belongs and the targets stay fixed, so this ends
/// after as many rows as the longest move.
fn settle(active: &mut Vec<ActiveLane>, lane: usize, hash: Hash256, rows: &mut Vec<Row>) {
    let joining = |open: &ActiveLane| open.next == hash && open.lane != lane;
    let mut targets = Vec::with_capacity(active.len());
    let mut target_column = 0;
    let mut kept = 0;
    for open in active.iter() {
        if joining(open) {
            targets.push(None);
        } else {
            if open.lane == lane {
                target_column = kept;
            }
            targets.push(Some(kept));
            kept += 1;
        }
    }
    let mut lanes: Vec<(ActiveLane, usize)> = active
        .drain(..)
        .zip(targets)
        .map(|(open, target)| (open, target.unwrap_or(target_column)))
        .collect();
    loop {
        let settled = lanes.iter().all(|(open, target)| {
            !joining(open) && open.column.is_none_or(|column| column == *target)
        });
        if settled {
            break;
        }
        let mut cells = Vec::new();
        lanes.retain_mut(|(open, target)| {
            let Some(column) = open.column else {
                return true;
            };
            let (moved, position, ch) = match column.cmp(target) {
                Ordering::Equal => (column, 2 * column, '|'),
                Ordering::Greater => (column - 1, 2 * column - 1, '/'),
                Ordering::Less => (column + 1, 2 * column + 1, '\\'),
            };
            if open.drawn {
                cells.push(Cell {
                    position,
                    ch,
                    lane: open.lane,
                });
            }
            open.column = Some(moved);
            !(joining(open) && moved == *target)
        });
        rows.push(Row::Edges(cells));
    }
    active.extend(lanes.into_iter().map(|(mut open, target)| {
        open.column.get_or_insert(target);
        open
    }));
}

/// The last 8 hex digits identify a block; the first 4 show its work (leading zeros).
fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn draw_cells(cells: &[Cell], width: usize, color: bool) -> String {
    let mut line: Vec<Option<&Cell>> = vec![None; width];
    for cell in cells {
        if let Some(slot) = line.get_mut(cell.position) {
            *slot = Some(cell);
        }
    }
    line.iter()
        .map(|slot| match slot {
            Some(cell) => paint(
                &cell.ch.to_string(),
                LANE_COLORS[cell.lane % LANE_COLORS.len()],
                color,
            ),
            None => " ".to_string(),
        })
        .collect()
}

fn cells_width(cells: &[Cell]) -> usize {
    cells
        .iter()
        .map(|cell| cell.position + 1)
        .max()
        .unwrap_or(0)
}

impl Layout<'_> {
    /// What a block's line says after the hash and height; empty for an unremarkable block.
    /// (Writing to a `String` cannot fail, hence the ignored results.)
    fn remarks(&self, block: &TreeBlock, color: bool) -> String {
        let mut text = String::new();
        let labels = self.view.labels(&block.hash);
        let children = self.child_count(&block.hash);
        if children == 0 || !labels.is_empty() {
            let _ = write!(text, " work={}", block.chainwork);
        }
        if !labels.is_empty() {
            let names = format!("[{}]", labels.join(", "));
            let _ = write!(text, " {}", paint(&names, "1;32", color));
        }
        if children > 1 {
            let _ = write!(text, " {}", paint("(fork)", "36", color));
        }
        if block.reorged {
            let _ = write!(text, " {}", paint("(reorged)", "33", color));
        }
        if block.invalid {
            let _ = write!(text, " {}", paint("(invalid)", "31", color));
        }
        if block.height > self.lowest_height && !self.view.blocks.contains_key(&block.prev) {
            let _ = write!(text, " (parent {} not shown)", Hash256::short(&block.prev));
        }
        text
    }
}

pub(super) fn render(view: &TreeView, options: &RenderOptions) -> String {
    let layout = Layout::new(view);
    let rows = layout.rows();
    let width = rows
        .iter()
        .map(|row| match row {
            Row::Edges(cells) | Row::Block { cells, .. } => cells_width(cells),
        })
        .max()
        .unwrap_or(0);
    let color = options.color;
    let mut out = String::new();
    let mut index = 0;
    while index < rows.len() {
        match &rows[index] {
            Row::Edges(cells) => {
                let _ = writeln!(out, "{}", draw_cells(cells, cells_width(cells), color));
                index += 1;
            }
            Row::Block { cells, block } => {
                let remarks = layout.remarks(block, color);
                let run = match options.collapse_linear_after {
                    Some(limit) if remarks.is_empty() => {
                        let run = plain_run(&layout, &rows[index..], cells);
                        if run > limit {
                            run
                        } else {
                            1
                        }
                    }
                    _ => 1,
                };
                if run > 1 {
                    let elided: Vec<Cell> = cells
                        .iter()
                        .map(|cell| Cell {
                            ch: if cell.ch == '*' { ':' } else { cell.ch },
                            ..*cell
                        })
                        .collect();
                    let lowest = match rows.get(index + run - 1) {
                        Some(Row::Block { block: last, .. }) => last.height,
                        _ => block.height,
                    };
                    let _ = writeln!(
                        out,
                        "{} … {run} blocks (heights {lowest}..{}) …",
                        draw_cells(&elided, width, color),
                        block.height
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "{} {} h={}{remarks}",
                        draw_cells(cells, width, color),
                        Hash256::short(&block.hash),
                        block.height
                    );
                }
                index += run;
            }
        }
    }
    out
}

/// How many block rows from the start of `rows` are unremarkable blocks drawn with the same
/// graph as the first (so one lane, nothing joining or moving in between).
fn plain_run(layout: &Layout, rows: &[Row], first: &[Cell]) -> usize {
    let same = |cells: &[Cell]| {
        cells.len() == first.len()
            && cells
                .iter()
                .zip(first)
                .all(|(a, b)| (a.position, a.ch, a.lane) == (b.position, b.ch, b.lane))
    };
    rows.iter()
        .take_while(|row| match row {
            Row::Block { cells, block } => same(cells) && layout.remarks(block, false).is_empty(),
            Row::Edges(_) => false,
        })
        .count()
}
