//! The plots a run writes: how fast blocks reached the nodes (a CDF), and for a sweep, the stale
//! rate with its 95 % interval against theory, over block times on a log scale. Plain SVG, no
//! script, readable in a browser or a README.
//!
//! Owns drawing only. Must not run simulations or write files.

use super::record::BlockRecord;
use super::report::Report;
use std::fmt::Write;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 56.0;
/// Points drawn along a CDF.
const CDF_POINTS: usize = 200;

fn plot_width() -> f64 {
    WIDTH - LEFT - RIGHT
}

fn plot_height() -> f64 {
    HEIGHT - TOP - BOTTOM
}

fn open_svg(title: &str, x_label: &str, y_label: &str) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>
<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>
<text x="{}" y="{}" text-anchor="middle">{}</text>
<text x="14" y="{}" text-anchor="middle" transform="rotate(-90 14 {})">{}</text>
<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="#999"/>
"##,
        WIDTH / 2.0,
        escape(title),
        LEFT + plot_width() / 2.0,
        HEIGHT - 14.0,
        escape(x_label),
        TOP + plot_height() / 2.0,
        TOP + plot_height() / 2.0,
        escape(y_label),
        plot_width(),
        plot_height(),
    );
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Where a value in `0..=max` lands on the y axis.
fn y_of(value: f64, max: f64) -> f64 {
    TOP + plot_height() * (1.0 - (value / max).clamp(0.0, 1.0))
}

fn y_ticks(svg: &mut String, max: f64, percent: bool) {
    for step in 0..=4 {
        let value = max * f64::from(step) / 4.0;
        let y = y_of(value, max);
        let label = if percent {
            format!("{:.1}%", value * 100.0)
        } else {
            format!("{value:.2}")
        };
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{label}</text>"##,
            LEFT + plot_width(),
            LEFT - 6.0,
            y + 4.0,
        );
    }
}

/// The share of (block, node) pairs where the node had the block that long after it was
/// published, over the final chain's blocks.
pub fn propagation_cdf_svg(blocks: &[&BlockRecord]) -> String {
    let mut delays_ms: Vec<f64> = blocks
        .iter()
        .flat_map(|block| {
            let published = block.arrivals.first().map_or(block.mined_us, |(_, at)| *at);
            block
                .arrivals
                .iter()
                .map(move |(_, at_us)| (at_us - published) as f64 / 1_000.0)
        })
        .collect();
    delays_ms.sort_by(f64::total_cmp);
    let mut svg = open_svg(
        "How fast blocks reach the nodes",
        "milliseconds after the block left its miner",
        "share of nodes that have it",
    );
    y_ticks(&mut svg, 1.0, false);
    let max_ms = delays_ms.last().copied().unwrap_or(1.0).max(1.0);
    for step in 0..=4 {
        let value = max_ms * f64::from(step) / 4.0;
        let x = LEFT + plot_width() * value / max_ms;
        let _ = writeln!(
            svg,
            r##"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{value:.0}</text>"##,
            TOP + plot_height() + 18.0
        );
    }
    let count = delays_ms.len().max(1);
    let points: Vec<String> = (0..=CDF_POINTS)
        .filter_map(|step| {
            let at = (step * (count - 1)) / CDF_POINTS;
            delays_ms.get(at).map(|ms| {
                let x = LEFT + plot_width() * ms / max_ms;
                let y = y_of((at + 1) as f64 / count as f64, 1.0);
                format!("{x:.1},{y:.1}")
            })
        })
        .collect();
    let _ = writeln!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="#1f6feb" stroke-width="2"/>"##,
        points.join(" ")
    );
    svg.push_str("</svg>\n");
    svg
}

/// Stale rate against block time: each run's measured rate with its 95 % interval, and
/// 1 − e^(−τ/T) at its measured τ.
pub fn stale_sweep_svg(reports: &[Report]) -> String {
    let mut svg = open_svg(
        "Stale blocks against block time",
        "block time, seconds (log scale)",
        "stale blocks per block of the chain",
    );
    let max_rate = reports
        .iter()
        .flat_map(|report| [report.stale_rate_interval[1], report.theory_stale_rate])
        .fold(0.0_f64, f64::max)
        .max(1e-3)
        * 1.1;
    y_ticks(&mut svg, max_rate, true);
    let times: Vec<f64> = reports
        .iter()
        .map(|report| report.block_time_secs.max(1e-3).log10())
        .collect();
    let (low, high) = times
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), t| (lo.min(*t), hi.max(*t)));
    let span = (high - low).max(1.0);
    let x_of = |log_time: f64| LEFT + plot_width() * (0.05 + 0.9 * (log_time - low) / span);
    let mut theory = Vec::new();
    for (report, log_time) in reports.iter().zip(&times) {
        let x = x_of(*log_time);
        let [lo, hi] = report.stale_rate_interval;
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="#555"/><circle cx="{x:.1}" cy="{:.1}" r="4" fill="#d1242f"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            y_of(lo, max_rate),
            y_of(hi, max_rate),
            y_of(report.stale_rate, max_rate),
            TOP + plot_height() + 18.0,
            report.block_time_secs
        );
        theory.push(format!(
            "{x:.1},{:.1}",
            y_of(report.theory_stale_rate, max_rate)
        ));
    }
    let _ = writeln!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="#1f6feb" stroke-width="2" stroke-dasharray="6 4"/>
<circle cx="{:.1}" cy="{:.1}" r="4" fill="#d1242f"/><text x="{:.1}" y="{:.1}">measured, with its 95 % interval</text>
<line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#1f6feb" stroke-width="2" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}">theory 1 − e^(−τ/T)</text>"##,
        theory.join(" "),
        WIDTH - 250.0,
        TOP + 16.0,
        WIDTH - 240.0,
        TOP + 20.0,
        WIDTH - 256.0,
        WIDTH - 244.0,
        TOP + 34.0,
        TOP + 34.0,
        WIDTH - 240.0,
        TOP + 38.0,
    );
    svg.push_str("</svg>\n");
    svg
}
