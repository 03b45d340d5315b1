//! The block tree of one or more nodes, drawn in the terminal like `git log --graph`: newest
//! block first, one line per block, branches as columns, each node's tip labelled with its name,
//! blocks a node reorged out or found invalid marked; or drawn as an SVG picture (`svg`).
//!
//! Owns reading and merging `getblocktree` answers and drawing them. Must not call nodes or
//! print: callers fetch the answers and show the text. Answers come from outside, so anything
//! malformed is a `TreeError`, never a panic.

mod graph;
mod svg;

use crate::types::Hash256;
use primitive_types::U256;
use serde_json::Value;
use std::collections::HashMap;

/// One block as the tree view knows it, merged over every node that reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeBlock {
    /// The block's hash.
    pub hash: Hash256,
    /// Its parent's hash.
    pub prev: Hash256,
    /// Its height.
    pub height: u32,
    /// Its chainwork.
    pub chainwork: U256,
    /// Some node marked it invalid.
    pub invalid: bool,
    /// Some node had it on its active chain and reorged it out.
    pub reorged: bool,
}

/// How to draw the tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// ANSI colours (for a terminal).
    pub color: bool,
    /// Replace a run of more than this many unremarkable blocks of one branch (no fork, tip,
    /// label or mark) with a single `… N blocks …` line.
    pub collapse_linear_after: Option<usize>,
}

/// Why answers could not be turned into a tree.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("malformed-tree: {node}: {reason}")]
    /// A node's `getblocktree` answer is malformed.
    Malformed {
        /// The node.
        node: String,
        /// What is wrong.
        reason: String,
    },
    #[error("inconsistent-tree: {0}")]
    /// Two nodes' trees contradict each other.
    Inconsistent(String),
}

impl TreeError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            TreeError::Malformed { .. } => "malformed-tree",
            TreeError::Inconsistent(_) => "inconsistent-tree",
        }
    }
}

/// The union of the blocks several nodes reported, with each node's tip labelled.
#[derive(Clone, Debug, Default)]
pub struct TreeView {
    blocks: HashMap<Hash256, TreeBlock>,
    /// Names of the nodes whose active tip a block is, in the order the nodes were given.
    labels: HashMap<Hash256, Vec<String>>,
}

impl TreeView {
    /// Merges `getblocktree` answers, one per `(node name, answer)`.
    pub fn from_nodes(nodes: &[(String, Value)]) -> Result<TreeView, TreeError> {
        let mut blocks = Vec::new();
        let mut tips = Vec::new();
        for (name, answer) in nodes {
            let (tip, reported) = parse_answer(name, answer)?;
            tips.push((name.clone(), tip));
            blocks.extend(reported);
        }
        TreeView::from_blocks(blocks, &tips)
    }

    /// Builds a view from blocks (the same block may come several times, from several nodes)
    /// and `(node name, tip hash)` labels. Every tip must be among the blocks, and a block and
    /// its parent, when both are present, must agree on heights.
    pub fn from_blocks(
        blocks: impl IntoIterator<Item = TreeBlock>,
        tips: &[(String, Hash256)],
    ) -> Result<TreeView, TreeError> {
        let mut view = TreeView::default();
        for block in blocks {
            match view.blocks.get_mut(&block.hash) {
                None => {
                    view.blocks.insert(block.hash, block);
                }
                Some(known) => {
                    if (known.prev, known.height, known.chainwork)
                        != (block.prev, block.height, block.chainwork)
                    {
                        return Err(TreeError::Inconsistent(format!(
                            "block {} reported with different parents, heights or chainwork",
                            block.hash
                        )));
                    }
                    known.invalid |= block.invalid;
                    known.reorged |= block.reorged;
                }
            }
        }
        for block in view.blocks.values() {
            if let Some(parent) = view.blocks.get(&block.prev) {
                if parent.height.checked_add(1) != Some(block.height) {
                    return Err(TreeError::Inconsistent(format!(
                        "block {} at height {} has parent {} at height {}",
                        block.hash, block.height, parent.hash, parent.height
                    )));
                }
            }
        }
        for (name, tip) in tips {
            if !view.blocks.contains_key(tip) {
                return Err(TreeError::Inconsistent(format!(
                    "{name}: tip {tip} is not among the blocks"
                )));
            }
            view.labels.entry(*tip).or_default().push(name.clone());
        }
        Ok(view)
    }

    /// The block `hash`, if any node reported it.
    pub fn block(&self, hash: &Hash256) -> Option<&TreeBlock> {
        self.blocks.get(hash)
    }

    /// Every block, in no particular order.
    pub fn blocks(&self) -> impl Iterator<Item = &TreeBlock> {
        self.blocks.values()
    }

    /// The names of the nodes whose tip `hash` is.
    pub fn labels(&self, hash: &Hash256) -> &[String] {
        self.labels.get(hash).map_or(&[], Vec::as_slice)
    }

    /// The tree as text, one line per block (or per collapsed run) plus the lines that join
    /// branches, each line ending with a newline.
    pub fn render(&self, options: &RenderOptions) -> String {
        graph::render(self, options)
    }

    /// The tree as an SVG document (`color` does not apply; `collapse_linear_after` folds a
    /// long common trunk into one box).
    pub fn render_svg(&self, options: &RenderOptions) -> String {
        svg::render(self, options)
    }
}

fn parse_answer(name: &str, answer: &Value) -> Result<(Hash256, Vec<TreeBlock>), TreeError> {
    let malformed = |reason: String| TreeError::Malformed {
        node: name.to_string(),
        reason,
    };
    let tip = hash_field(answer, "tip").map_err(malformed)?;
    let listed = answer
        .get("blocks")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no \"blocks\" array".to_string()))?;
    let blocks = listed
        .iter()
        .enumerate()
        .map(|(index, block)| {
            parse_block(block).map_err(|reason| malformed(format!("block {index}: {reason}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((tip, blocks))
}

fn parse_block(block: &Value) -> Result<TreeBlock, String> {
    let height = block
        .get("height")
        .and_then(Value::as_u64)
        .and_then(|height| u32::try_from(height).ok())
        .ok_or("\"height\" is not a block height")?;
    let chainwork = block
        .get("chainwork")
        .and_then(Value::as_str)
        .filter(|hex| !hex.is_empty() && hex.len() <= 64)
        .and_then(|hex| U256::from_str_radix(hex, 16).ok())
        .ok_or("\"chainwork\" is not a hex number of at most 64 digits")?;
    let invalid = match block.get("status").and_then(Value::as_str) {
        Some("active" | "valid-fork" | "valid-headers") => false,
        Some("invalid") => true,
        _ => return Err("\"status\" is not active, valid-fork, valid-headers or invalid".into()),
    };
    let reorged = block
        .get("reorged")
        .and_then(Value::as_bool)
        .ok_or("\"reorged\" is not a boolean")?;
    Ok(TreeBlock {
        hash: hash_field(block, "hash")?,
        prev: hash_field(block, "prev")?,
        height,
        chainwork,
        invalid,
        reorged,
    })
}

fn hash_field(object: &Value, field: &str) -> Result<Hash256, String> {
    object
        .get(field)
        .and_then(Value::as_str)
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("\"{field}\" is not a 64-digit hex hash"))
}
