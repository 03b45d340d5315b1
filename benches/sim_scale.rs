//! `nakachain sim` at scale, side by side with SimBlock: wall time, peak memory and the cost per
//! node-block from 100 to 10,000 nodes, each `nakachain sim` run in its own process (so its peak
//! memory is its own). With `SIMBLOCK_SRC` pointing at a checkout of dsg-titech/simblock (and a
//! JDK on the PATH), SimBlock runs the same sizes right after each of ours, and the line gives the
//! ratio. Then the checks the simulator is judged by: the selfish pool's revenue against Eyal and
//! Sirer's formula, and the stale rate against theory over a sweep of block times.
//!
//! `SIM_BENCH_QUICK=1` runs the small sizes only.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn nakachain(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_nakachain"))
        .arg("sim")
        .args(args)
        .arg("--json")
        .output()
        .expect("nakachain sim runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().expect("a report")).expect("JSON")
}

/// SimBlock compiled for one size (its sizes are constants in its source).
struct SimBlock {
    dir: PathBuf,
}

impl SimBlock {
    fn build(src: &Path, nodes: usize, blocks: usize) -> Option<SimBlock> {
        let dir = std::env::temp_dir().join(format!("simblock-{nodes}-{blocks}"));
        let _ = std::fs::remove_dir_all(&dir);
        let java = dir.join("src");
        copy_tree(&src.join("simulator/src/main/java"), &java)?;
        let settings = java.join("simblock/settings/SimulationConfiguration.java");
        let text = std::fs::read_to_string(&settings).ok()?;
        let text = text
            .replace(
                "public static final int NUM_OF_NODES = 300;",
                &format!("public static final int NUM_OF_NODES = {nodes};"),
            )
            .replace(
                "public static final int END_BLOCK_HEIGHT = 3;",
                &format!("public static final int END_BLOCK_HEIGHT = {blocks};"),
            );
        std::fs::write(&settings, text).ok()?;
        let sources: Vec<PathBuf> = walk(&java)
            .into_iter()
            .filter(|path| path.extension().is_some_and(|ext| ext == "java"))
            .collect();
        let status = Command::new("javac")
            .arg("-d")
            .arg(dir.join("classes"))
            .args(&sources)
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
        copy_tree(&src.join("simulator/src/dist/conf"), &dir.join("run/conf"))?;
        std::fs::create_dir_all(dir.join("run/output/graph")).ok()?;
        Some(SimBlock { dir })
    }

    /// Wall seconds and peak memory (MB, through /usr/bin/time when there is one).
    fn run(&self) -> Option<(f64, Option<f64>)> {
        let classpath = format!("{}:conf", self.dir.join("classes").display());
        let started = Instant::now();
        let time = Path::new("/usr/bin/time");
        let output = if time.exists() {
            Command::new(time)
                .args(["-f", "%M"])
                .args(["java", "-cp", &classpath, "simblock.simulator.Main"])
                .current_dir(self.dir.join("run"))
                .output()
                .ok()?
        } else {
            Command::new("java")
                .args(["-cp", &classpath, "simblock.simulator.Main"])
                .current_dir(self.dir.join("run"))
                .output()
                .ok()?
        };
        let wall = started.elapsed().as_secs_f64();
        let peak_mb = String::from_utf8_lossy(&output.stderr)
            .lines()
            .last()
            .and_then(|line| line.trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0);
        output.status.success().then_some((wall, peak_mb))
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn copy_tree(from: &Path, to: &Path) -> Option<()> {
    for path in walk(from) {
        let target = to.join(path.strip_prefix(from).ok()?);
        std::fs::create_dir_all(target.parent()?).ok()?;
        std::fs::copy(&path, &target).ok()?;
    }
    Some(())
}

fn main() {
    let quick = std::env::var_os("SIM_BENCH_QUICK").is_some();
    let simblock_src = std::env::var_os("SIMBLOCK_SRC").map(PathBuf::from);
    let sizes: &[(usize, usize)] = if quick {
        &[(100, 100), (1_000, 100)]
    } else {
        &[(100, 100), (1_000, 100), (10_000, 100), (1_000, 1_000)]
    };
    println!("nakachain sim (--peers 8, --latency regions, 600 s blocks) against SimBlock");
    println!(
        "{:>7} {:>7} {:>10} {:>10} {:>12} {:>11} {:>12} {:>12} {:>7}",
        "nodes",
        "blocks",
        "wall s",
        "peak MB",
        "µs/node-blk",
        "M events/s",
        "SimBlock s",
        "SimBlock MB",
        "ratio"
    );
    for &(nodes, blocks) in sizes {
        let (nodes_arg, blocks_arg) = (nodes.to_string(), blocks.to_string());
        let report = nakachain(&["--nodes", &nodes_arg, "--blocks", &blocks_arg]);
        let wall = report["wall_seconds"].as_f64().unwrap_or(f64::NAN);
        let peak = report["wall_peak_rss_mb"].as_f64().unwrap_or(f64::NAN);
        let events = report["wall_events_per_sec"].as_f64().unwrap_or(f64::NAN);
        let per_node_block_us = wall * 1e6 / (nodes * blocks) as f64;
        let simblock = simblock_src
            .as_deref()
            .and_then(|src| SimBlock::build(src, nodes, blocks))
            .and_then(|simblock| simblock.run());
        let (theirs, theirs_mb, ratio) = match simblock {
            Some((secs, mb)) => (
                format!("{secs:.1}"),
                mb.map_or("-".to_string(), |mb| format!("{mb:.0}")),
                format!("{:.2}", wall / secs),
            ),
            None => ("-".to_string(), "-".to_string(), "-".to_string()),
        };
        println!(
            "{nodes:>7} {blocks:>7} {wall:>10.1} {peak:>10.0} {per_node_block_us:>12.1} {:>11.2} {theirs:>12} {theirs_mb:>12} {ratio:>7}",
            events / 1e6
        );
    }

    println!(
        "\nselfish pool (100 nodes, 5,000 blocks, 600 s) against Eyal-Sirer at the measured γ"
    );
    for alpha in ["0.25", "0.33", "0.4"] {
        let blocks = if quick { "1000" } else { "5000" };
        let report = nakachain(&["--nodes", "100", "--blocks", blocks, "--selfish", alpha]);
        let selfish = &report["selfish"];
        println!(
            "α {alpha}: revenue {:.4}, formula {:.4}, γ {}, {} races",
            selfish["revenue_share"].as_f64().unwrap_or(f64::NAN),
            selfish["eyal_sirer_share"].as_f64().unwrap_or(f64::NAN),
            selfish["gamma_measured"],
            selfish["races"]
        );
    }

    println!("\nstale rate against 1 − e^(−τ/T) (200 nodes, 1,000 blocks per block time)");
    for secs in ["2", "5", "10", "30", "60", "600"] {
        let blocks = if quick { "300" } else { "1000" };
        let report = nakachain(&["--nodes", "200", "--blocks", blocks, "--block-time", secs]);
        let rate = report["stale_rate"].as_f64().unwrap_or(f64::NAN);
        let theory = report["theory_stale_rate"].as_f64().unwrap_or(f64::NAN);
        let low = report["stale_rate_interval"][0]
            .as_f64()
            .unwrap_or(f64::NAN);
        let high = report["stale_rate_interval"][1]
            .as_f64()
            .unwrap_or(f64::NAN);
        println!(
            "T {secs:>3} s: measured {:.3}% [{:.3}%, {:.3}%], theory {:.3}% {}",
            rate * 100.0,
            low * 100.0,
            high * 100.0,
            theory * 100.0,
            if (low..=high).contains(&theory) {
                "within"
            } else {
                "OUTSIDE"
            }
        );
    }
}
