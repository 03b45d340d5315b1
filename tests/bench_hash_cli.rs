//! `nakachain bench-hash --json` through the real binary: one JSON object with every field the
//! issue names, positive rates, every kernel this CPU runs with its rate, and the kernel the
//! node would mine with (the fastest of them, or the one `--kernel` names).

use serde_json::Value;
use std::process::{Command, Output};

fn bench_hash(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nakachain"))
        .arg("bench-hash")
        .args(args)
        .output()
        .expect("run nakachain bench-hash")
}

fn report(args: &[&str]) -> Value {
    let output = bench_hash(args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

#[test]
fn bench_hash_prints_one_json_object_with_every_figure() {
    let report = report(&["--seconds", "0.1", "--threads", "2", "--json"]);
    assert_eq!(report["threads"], 2);
    for field in [
        "mhps",
        "per_thread_mhps",
        "naive_mhps",
        "compress_mps",
        "single_thread_mhps",
        "portable_mhps",
        "restart_ms_median",
        "restart_ms_max",
    ] {
        let value = report[field].as_f64().unwrap_or(-1.0);
        assert!(value > 0.0, "{field} = {}", report[field]);
    }
    let kernels = report["kernels"].as_object().expect("a kernels object");
    let available: Vec<&str> = nakachain::miner::Kernel::available()
        .into_iter()
        .map(nakachain::miner::Kernel::name)
        .collect();
    let mut names: Vec<&str> = kernels.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut expected = available.clone();
    expected.sort_unstable();
    assert_eq!(names, expected);
    let rate = |name: &str| kernels[name].as_f64().unwrap_or(-1.0);
    assert!(available.iter().all(|name| rate(name) > 0.0), "{kernels:?}");
    let kernel = report["kernel"].as_str().expect("kernel name");
    let fastest = available
        .iter()
        .copied()
        .max_by(|a, b| rate(a).total_cmp(&rate(b)))
        .expect("the portable kernel at least");
    assert_eq!(kernel, fastest, "the fastest of {kernels:?}");
    assert_eq!(report["single_thread_mhps"].as_f64(), Some(rate(kernel)));
}

#[test]
fn a_kernel_named_is_the_one_measured_and_an_unknown_name_is_refused() {
    let report = report(&[
        "--seconds",
        "0.1",
        "--threads",
        "1",
        "--kernel",
        "portable-midstate",
        "--json",
    ]);
    assert_eq!(report["kernel"], "portable-midstate");

    let refused = bench_hash(&["--kernel", "sha-ni-x5"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("no kernel is called \"sha-ni-x5\"")
            && stderr.contains("portable-midstate"),
        "{stderr}"
    );
}
