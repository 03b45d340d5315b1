//! Reporting a download against a replay of the same chain, both measured in alternating
//! rounds of one run, shared by the bench targets through `#[path]`.

use std::time::Duration;

/// Prints the best and the median round of `replays` and `downloads` (of `blocks` blocks each),
/// and the download's rate as a share of the replay's for each.
pub fn print_download_against_replay(
    blocks: u32,
    replay_label: &str,
    mut replays: Vec<Duration>,
    mut downloads: Vec<Duration>,
) {
    replays.sort();
    downloads.sort();
    let rounds = replays.len().min(downloads.len());
    let rate = |elapsed: Duration| f64::from(blocks) / elapsed.as_secs_f64();
    for (label, pick) in [("best", 0), ("median", rounds / 2)] {
        let (replay, download) = (replays[pick], downloads[pick]);
        println!(
            "{replay_label}, {label} of {rounds}: {:.1} ms, {:.0} blocks/s",
            replay.as_secs_f64() * 1e3,
            rate(replay)
        );
        println!(
            "initial block download, {label} of {rounds}: {:.1} ms, {:.0} blocks/s ({:.0} % of replay)",
            download.as_secs_f64() * 1e3,
            rate(download),
            100.0 * rate(download) / rate(replay)
        );
    }
}
