//! `nakachain bench-hash --json` through the real binary: one JSON object with every field the
//! issue names, positive rates, and the kernel the node would mine with.

use serde_json::Value;
use std::process::Command;

#[test]
fn bench_hash_prints_one_json_object_with_every_figure() {
    let output = Command::new(env!("CARGO_BIN_EXE_nakachain"))
        .args(["bench-hash", "--seconds", "0.1", "--threads", "2", "--json"])
        .output()
        .expect("run nakachain bench-hash");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    let kernel = report["kernel"].as_str().expect("kernel name");
    assert_eq!(kernel, nakachain::miner::Kernel::detect().name());
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
}
