//! The live status line of `nakachain mine` and `nakachain node` on a terminal: height,
//! hashrate (total and per thread), difficulty and the age of the tip, redrawn every second.
//!
//! Owns terminal drawing for the node. Hidden automatically when stderr is not a terminal.

use super::state::Node;
use crate::clock::unix_now_secs;
use crate::consensus::pow::difficulty;
use crate::miner::format_hashrate;
use indicatif::{ProgressBar, ProgressStyle};

/// What the workers are doing, as the line shows it.
pub(super) struct Hashing<'a> {
    pub(super) kernel: &'a str,
    pub(super) threads: usize,
    /// `None` until the first full second of hashing has been measured.
    pub(super) hashes_per_sec: Option<f64>,
}

pub(super) struct StatusLine {
    bar: ProgressBar,
}

impl StatusLine {
    pub(super) fn new() -> StatusLine {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        StatusLine { bar }
    }

    /// Redraws the line; `hashing` is `None` when no workers run.
    pub(super) fn update(&self, node: &Node, hashing: Option<Hashing<'_>>) {
        let tip = node.chain.tip();
        let age_secs = unix_now_secs().saturating_sub(u64::from(tip.header.time));
        let hashing = match hashing {
            Some(Hashing {
                kernel,
                threads,
                hashes_per_sec: Some(rate),
            }) => format!(
                "{} total, {} per thread × {threads} ({kernel})",
                format_hashrate(rate),
                format_hashrate(rate / threads.max(1) as f64),
            ),
            Some(Hashing {
                kernel, threads, ..
            }) => format!("starting {threads} threads ({kernel})"),
            None => "not mining".to_string(),
        };
        self.bar.set_message(format!(
            "{} height {} | {hashing} | difficulty {:.6} | tip {}s old | mempool {} tx",
            node.params().network,
            tip.height,
            difficulty(node.chain.next_block().bits),
            age_secs,
            node.mempool.len(),
        ));
        self.bar.tick();
    }

    pub(super) fn println(&self, line: &str) {
        self.bar.println(line);
    }

    pub(super) fn finish(self) {
        self.bar.finish_and_clear();
    }
}
