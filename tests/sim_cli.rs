//! `nakachain sim` as a user runs it: the same seed prints the same report byte for byte (but for
//! the wall-clock fields), nonsense is refused with a code, a partition splits and heals, the
//! stale rate agrees with the propagation delay, and a selfish pool earns what Eyal and Sirer's
//! formula says.

use serde_json::Value;
use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nakachain"))
        .arg("sim")
        .args(args)
        .output()
        .expect("nakachain runs")
}

/// The JSON report: the last line of stdout.
fn report(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let output = sim(&all);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().expect("a report line");
    serde_json::from_str(last).expect("the last line is JSON")
}

fn without_wall_fields(mut report: Value) -> String {
    let fields = report.as_object_mut().expect("an object");
    fields.retain(|key, _| !key.starts_with("wall_"));
    serde_json::to_string(&report).expect("serializes")
}

#[test]
fn the_same_seed_gives_the_same_report_and_another_seed_another() {
    let with_seed = |seed: &'static str| {
        report(&[
            "--nodes",
            "40",
            "--blocks",
            "30",
            "--block-time",
            "5",
            "--seed",
            seed,
        ])
    };
    let first = with_seed("7");
    assert!(first["wall_seconds"].is_number(), "{first}");
    assert_eq!(first["nodes"], 40);
    assert_eq!(first["blocks"], 30);
    assert_eq!(first["converged"], true);
    let again = with_seed("7");
    assert_eq!(
        without_wall_fields(first.clone()),
        without_wall_fields(again)
    );
    let other = with_seed("8");
    assert_ne!(first["final_tip"], other["final_tip"]);
}

#[test]
fn one_thread_and_two_give_the_same_report() {
    let runs: [&[&str]; 2] = [
        &[
            "--nodes",
            "60",
            "--blocks",
            "40",
            "--block-time",
            "2",
            "--partition",
            "0.5@10-30",
            "--seed",
            "3",
        ],
        &[
            "--nodes",
            "30",
            "--blocks",
            "60",
            "--selfish",
            "0.35",
            "--seed",
            "4",
        ],
    ];
    for args in runs {
        let with = |threads: &str| {
            let mut args = args.to_vec();
            args.extend(["--threads", threads]);
            report(&args)
        };
        let one = with("1");
        // Forks, reorgs and the pool's races are what the order of events decides.
        let forks = one["stale_blocks"].as_u64().unwrap_or(0)
            + one["reorgs"]["count"].as_u64().unwrap_or(0);
        assert!(forks > 0, "{one}");
        assert_eq!(
            without_wall_fields(one),
            without_wall_fields(with("2")),
            "{args:?}"
        );
    }
}

#[test]
fn nonsense_is_refused_with_a_clear_message_and_a_code() {
    for (args, code) in [
        (vec!["--nodes", "0"], "sim-nodes"),
        (vec!["--nodes", "5", "--peers", "5"], "sim-peers"),
        (vec!["--nodes", "5", "--peers", "0"], "sim-peers"),
        (vec!["--blocks", "0"], "sim-blocks"),
        (vec!["--selfish", "0.5"], "sim-alpha"),
        (vec!["--selfish", "0"], "sim-alpha"),
        (
            vec!["--selfish", "0.3", "--gamma-nodes", "2"],
            "sim-gamma-nodes",
        ),
        (vec!["--block-size", "2000000"], "sim-block-size"),
    ] {
        let output = sim(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&format!("[{code}]")), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    for (args, says) in [
        (
            vec!["--latency", "fast"],
            "regions, uniform:A-B or fixed:MS",
        ),
        (
            vec!["--latency", "uniform:200-20"],
            "regions, uniform:A-B or fixed:MS",
        ),
        (vec!["--partition", "1.5@0-10"], "SHARE@FROM-TO"),
        (vec!["--block-time", "0"], "seconds above 0"),
        (vec!["--bandwidth", "0"], "Mbit/s"),
    ] {
        let output = sim(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn a_partition_splits_the_chain_and_the_nodes_agree_again_after_the_heal() {
    let report = report(&[
        "--nodes",
        "40",
        "--blocks",
        "30",
        "--block-time",
        "10",
        "--partition",
        "0.5@30-150",
        "--seed",
        "3",
    ]);
    let partition = &report["partition"];
    assert_eq!(partition["share"], 0.5);
    assert!(
        partition["converged_after_ms"].is_u64(),
        "the nodes agreed again: {report}"
    );
    assert_eq!(report["converged"], true);
    assert!(
        report["reorgs"]["count"].as_u64() > Some(0),
        "one side gave its branch up: {report}"
    );
    assert!(report["stale_blocks"].as_u64() > Some(0), "{report}");
}

#[test]
fn short_block_times_make_stale_blocks_at_the_rate_propagation_predicts() {
    let report = report(&[
        "--nodes",
        "50",
        "--blocks",
        "400",
        "--block-time",
        "3",
        "--seed",
        "5",
    ]);
    let stale = report["stale_blocks"].as_u64().expect("a count");
    assert!(stale > 5, "forks happen at 3 s blocks: {report}");
    let theory = report["theory_stale_rate"].as_f64().expect("a rate");
    let [low, high] = [0, 1].map(|at| report["stale_rate_interval"][at].as_f64().expect("a bound"));
    assert!(low <= theory && theory <= high, "{report}");
    let p50 = report["propagation_ms"]["p50"].as_f64().expect("p50");
    let p99 = report["propagation_ms"]["p99"].as_f64().expect("p99");
    assert!(0.0 < p50 && p50 < p99, "{report}");
}

#[test]
fn a_selfish_pool_earns_what_the_closed_form_says() {
    let report = report(&[
        "--nodes",
        "30",
        "--blocks",
        "1500",
        "--selfish",
        "0.4",
        "--seed",
        "2",
    ]);
    let selfish = &report["selfish"];
    let share = selfish["revenue_share"].as_f64().expect("a share");
    let formula = selfish["eyal_sirer_share"].as_f64().expect("a share");
    assert!(selfish["races"].as_u64() > Some(10), "{report}");
    assert!((share - formula).abs() < 0.05, "{report}");
    assert!(share > 0.4, "at 40 % selfish mining pays: {report}");
}

#[test]
fn out_writes_the_report_and_plots_and_an_unwritable_place_is_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("run");
    let out_arg = out.to_string_lossy().to_string();
    let printed = report(&["--nodes", "20", "--blocks", "10", "--out", &out_arg]);
    let written: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json")).expect("report.json"),
    )
    .expect("JSON");
    assert_eq!(without_wall_fields(written), without_wall_fields(printed));
    let cdf = std::fs::read_to_string(out.join("propagation.svg")).expect("propagation.svg");
    assert!(
        cdf.starts_with("<svg") && cdf.contains("<polyline"),
        "{cdf}"
    );

    let sweep = dir.path().join("sweep");
    let sweep_arg = sweep.to_string_lossy().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_nakachain"))
        .args(["sim", "sweep", "--block-time", "5,50", "--nodes", "20"])
        .args(["--blocks", "20", "--out", &sweep_arg])
        .output()
        .expect("runs");
    assert!(output.status.success());
    let runs: Value = serde_json::from_str(
        &std::fs::read_to_string(sweep.join("sweep.json")).expect("sweep.json"),
    )
    .expect("JSON");
    assert_eq!(runs.as_array().map(Vec::len), Some(2));
    let plot = std::fs::read_to_string(sweep.join("stale-rate.svg")).expect("stale-rate.svg");
    assert_eq!(
        plot.matches("<circle").count(),
        3,
        "two runs and the legend: {plot}"
    );

    let blocked = dir.path().join("a-file");
    std::fs::write(&blocked, "not a directory").expect("writes");
    let inside = blocked.join("run").to_string_lossy().to_string();
    let output = sim(&["--nodes", "20", "--blocks", "2", "--out", &inside]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("[sim-out]"), "{stderr}");
}
