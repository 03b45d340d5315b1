//! The live status line of `nakachain mine`: height, hashrate (total and per thread),
//! difficulty and the age of the tip, redrawn every second on the terminal.
//!
//! Owns terminal drawing for the node. Hidden automatically when stderr is not a terminal.

use super::node::{unix_now, Node};
use crate::consensus::pow::difficulty;
use indicatif::{ProgressBar, ProgressStyle};

pub(super) struct StatusLine {
    bar: ProgressBar,
}

/// Hashes per second in human units.
pub fn format_hashrate(hashes_per_sec: f64) -> String {
    const UNITS: [&str; 5] = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s"];
    let mut value = hashes_per_sec;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
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

    /// Redraws the line; `mining` names the kernel and thread count when workers run.
    pub(super) fn update(&self, node: &Node, hashes_per_sec: f64, mining: Option<(&str, usize)>) {
        let tip = node.chain.tip();
        let age = unix_now().saturating_sub(u64::from(tip.header.time));
        let hashing = match mining {
            Some((kernel, threads)) => format!(
                "{} total, {} per thread × {threads} ({kernel})",
                format_hashrate(hashes_per_sec),
                format_hashrate(hashes_per_sec / threads.max(1) as f64),
            ),
            None => "not mining".to_string(),
        };
        self.bar.set_message(format!(
            "{} height {} | {hashing} | difficulty {:.6} | tip {}s old | mempool {} tx",
            node.params().network,
            tip.height,
            difficulty(node.chain.next_block().bits),
            age,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashrates_read_in_human_units() {
        assert_eq!(format_hashrate(950.0), "950.00 H/s");
        assert_eq!(format_hashrate(8_123_000.0), "8.12 MH/s");
    }
}
