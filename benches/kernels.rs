//! Every hash kernel this CPU runs, one thread each, through `nakachain bench-hash --json`; the
//! miner's choice on every thread (scaling against threads × one thread); and the restart time
//! on a new job. With `CPUMINER` naming a cpuminer-opt binary, its sha256d benchmark on one
//! thread runs between two of our measurements, and each kernel's line gives the ratio to it
//! (our rate the mean of the two, so drift on a shared machine falls on both sides alike).
//!
//! Run with `cargo bench --bench kernels`, or
//! `CPUMINER=/path/to/cpuminer cargo bench --bench kernels`.

use serde_json::Value;
use std::process::Command;
use std::time::Duration;

/// Seconds per measurement of ours.
const SECONDS: &str = "3";
/// cpuminer-opt prints its rate every few seconds; the first line is ramp-up.
const CPUMINER_RUN: Duration = Duration::from_secs(32);

fn bench_hash() -> Value {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let output = Command::new(env!("CARGO_BIN_EXE_nakachain"))
        .args(["bench-hash", "--seconds", SECONDS, "--json", "--threads"])
        .arg(threads.to_string())
        .output()
        .expect("nakachain bench-hash runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

/// cpuminer-opt's mean sha256d rate on one thread, in millions per second.
fn cpuminer(binary: &str) -> Option<f64> {
    let output = Command::new("timeout")
        .arg(CPUMINER_RUN.as_secs().to_string())
        .args([binary, "-a", "sha256d", "--benchmark", "-t", "1"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let rates: Vec<f64> = text
        .lines()
        .filter_map(|line| line.split("Total: ").nth(1))
        .filter_map(|rest| {
            let (value, unit) = rest.split_once(' ')?;
            let scale = match unit.get(..4)? {
                "kH/s" => 1e-3,
                "MH/s" => 1.0,
                "GH/s" => 1e3,
                _ => return None,
            };
            Some(value.parse::<f64>().ok()? * scale)
        })
        .skip(1)
        .collect();
    (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64)
}

fn rates(report: &Value) -> Vec<(String, f64)> {
    report["kernels"]
        .as_object()
        .map(|kernels| {
            kernels
                .iter()
                .map(|(name, rate)| (name.clone(), rate.as_f64().unwrap_or(0.0)))
                .collect()
        })
        .unwrap_or_default()
}

fn main() {
    let first = bench_hash();
    let Ok(binary) = std::env::var("CPUMINER") else {
        print(&first, None, None);
        return;
    };
    let theirs = cpuminer(&binary);
    let second = bench_hash();
    print(&first, Some(&second), theirs);
}

fn print(first: &Value, second: Option<&Value>, cpuminer_mhps: Option<f64>) {
    println!("kernels, one thread each (M nonces/s)");
    let again = second.map(rates).unwrap_or_default();
    for (name, rate) in rates(first) {
        let mean = again
            .iter()
            .find(|(other, _)| *other == name)
            .map_or(rate, |(_, later)| (rate + later) / 2.0);
        let ratio = cpuminer_mhps.map_or(String::new(), |theirs| {
            format!("   {:.2} × cpuminer-opt sha256d", mean / theirs)
        });
        println!("  {name:<20} {mean:7.2}{ratio}");
    }
    if let Some(theirs) = cpuminer_mhps {
        println!("  {:<20} {theirs:7.2}", "cpuminer-opt");
    }
    let report = second.unwrap_or(first);
    println!(
        "{} on {} threads: {:.2} M/s, {:.2} per thread, scaling {:.2} × threads × one thread",
        report["kernel"].as_str().unwrap_or("?"),
        report["threads"],
        report["mhps"].as_f64().unwrap_or(0.0),
        report["per_thread_mhps"].as_f64().unwrap_or(0.0),
        report["scaling"].as_f64().unwrap_or(0.0),
    );
    println!(
        "restart on a new job: {:.3} ms median, {:.3} ms max",
        report["restart_ms_median"].as_f64().unwrap_or(f64::NAN),
        report["restart_ms_max"].as_f64().unwrap_or(f64::NAN),
    );
}
