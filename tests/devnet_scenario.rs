//! `nakachain devnet scenario` end to end on regtest, with real node processes: each story must
//! converge on the most-work tip, report the reorgs and the undone confirmation, and leave no
//! process behind. A scenario plays in a directory of its own (`scenario-<name>`), never the
//! devnet's: a kept one is looked at with `--dir`, and a later run clears what it left.

use std::path::Path;
use std::process::{Command, Output};

/// Ports 24600-24607: apart from the ranges the other devnet tests use.
const BASE_PORT: &str = "24600";

fn nakachain(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nakachain"))
        .current_dir(dir)
        .args(["--network", "regtest", "devnet"])
        .args(args)
        .output()
        .expect("run nakachain")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Processes whose command line names `dir`: the nodes a scenario started there.
fn processes_under(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .map(|cmdline| text(&cmdline).replace('\0', " "))
        .filter(|cmdline| cmdline.contains(&needle))
        .collect()
}

/// Runs a scenario that must pass; returns its story.
fn play(dir: &Path, name: &str, keep: bool) -> String {
    play_on(dir, name, keep, Some(BASE_PORT))
}

/// `play`, on the scenario's default ports when `base_port` is `None`.
fn play_on(dir: &Path, name: &str, keep: bool, base_port: Option<&str>) -> String {
    let mut args = vec!["scenario", name];
    if let Some(port) = base_port {
        args.extend(["--base-port", port]);
    }
    if keep {
        args.push("--keep");
    }
    let output = nakachain(dir, &args);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "scenario {name} failed:\n{stdout}\n{}",
        text(&output.stderr)
    );
    stdout
}

/// Runs a scenario that must pass and stop everything it started; returns its story.
fn run_scenario(dir: &Path, name: &str) -> String {
    let stdout = play(dir, name, false);
    assert!(
        processes_under(dir).is_empty(),
        "scenario {name} left processes: {:?}",
        processes_under(dir)
    );
    assert!(!dir.join("chain-data/regtest/devnet.json").exists());
    stdout
}

#[test]
fn both_stories_converge_on_the_heavier_chain_and_undo_the_lighter_sides_payment() {
    let dir = tempfile::tempdir().expect("temp dir");

    let story = play(dir.path(), "partition-heal", true);
    for expected in [
        "The network splits: node-0, node-1 | node-2, node-3",
        "[node-0, node-1]",
        "[node-2, node-3]",
        "node-0 reorged depth 2",
        "node-1 reorged depth 2",
        "dropped (txn-block-conflict",
        "[ok] P1's confirmation on the minority side is undone",
        "on node-0: returned to the mempool",
        "[ok] P3's confirmation is undone too",
        "PASSED",
    ] {
        assert!(story.contains(expected), "no {expected:?} in:\n{story}");
    }
    assert!(!story.contains("node-2 reorged"), "{story}");

    // --keep left the scenario's devnet up, in its own directory, to look around in.
    let kept = "chain-data/regtest/scenario-partition-heal";
    assert!(
        story.contains(&format!("devnet --dir {kept} tree")),
        "{story}"
    );
    let height = nakachain(
        dir.path(),
        &["--dir", kept, "rpc", "node-2", "getblockcount"],
    );
    assert_eq!(
        text(&height.stdout).trim(),
        "104",
        "{}",
        text(&height.stderr)
    );
    let unknown = nakachain(
        dir.path(),
        &["--dir", kept, "rpc", "node-9", "getblockcount"],
    );
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("unknown node node-9"));
    // The default devnet directory is not the scenario's: nothing is up there.
    let elsewhere = nakachain(dir.path(), &["status"]);
    assert!(!elsewhere.status.success());
    assert!(text(&elsewhere.stderr).contains("no devnet is up"));
    let stopped = nakachain(dir.path(), &["--dir", kept, "down"]);
    assert!(stopped.status.success(), "{}", text(&stopped.stderr));
    assert!(processes_under(dir.path()).is_empty());
    assert!(
        dir.path().join(kept).join("node-0").exists(),
        "down keeps the chains"
    );

    // Playing it again clears what the kept run left, and this time leaves nothing behind.
    let again = run_scenario(dir.path(), "partition-heal");
    assert!(again.contains("PASSED"), "{again}");
    assert!(!dir.path().join(kept).exists());

    // Beside a devnet on the default ports, a scenario on its own default ports plays too.
    let yours = tempfile::tempdir().expect("temp dir");
    let up = nakachain(yours.path(), &["up", "--nodes", "2", "--mine", "none"]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    let story = play_on(dir.path(), "51-percent", false, None);
    assert!(processes_under(dir.path()).is_empty());
    let down = nakachain(yours.path(), &["down", "--purge"]);
    assert!(down.status.success(), "{}", text(&down.stderr));
    for expected in [
        "node-0 reorged depth 2",
        "node-1 reorged depth 2",
        "node-2 reorged depth 2",
        "[ok] PAY, the merchant's payment, is no longer confirmed",
        "PASSED",
    ] {
        assert!(story.contains(expected), "no {expected:?} in:\n{story}");
    }
    assert!(!story.contains("node-3 reorged"), "{story}");
    let regtest = dir.path().join("chain-data/regtest");
    let left: Vec<_> = std::fs::read_dir(&regtest)
        .map(|entries| entries.flatten().map(|entry| entry.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "the scenarios left {left:?} in {}",
        regtest.display()
    );
}

/// Chaos on devnet (its miners need a pace): a short seeded run plays its schedule, every check
/// holds, and nothing is left running.
#[test]
fn a_short_chaos_run_passes_its_checks_and_leaves_nothing_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_nakachain"))
        .current_dir(dir.path())
        .args([
            "devnet",
            "scenario",
            "chaos",
            "--seconds",
            "20",
            "--seed",
            "3",
            "--base-port",
            "24640",
        ])
        .output()
        .expect("run nakachain");
    let story = text(&output.stdout);
    assert!(output.status.success(), "{story}\n{}", text(&output.stderr));
    assert!(story.contains("schedule:"), "{story}");
    for check in [
        "[ok] every restart came up",
        "[ok] no node lost a block its RPC reported",
        "[ok] no coin spent twice on the final chain",
    ] {
        assert!(story.contains(check), "{check}: {story}");
    }
    assert!(story.contains("PASSED"), "{story}");
    assert!(processes_under(dir.path()).is_empty());
}

/// Chaos needs devnet's paced miners: on regtest it is refused with the reason.
#[test]
fn chaos_is_refused_on_regtest_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = nakachain(dir.path(), &["scenario", "chaos", "--seconds", "1"]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("chaos needs devnet"),
        "{}",
        text(&output.stderr)
    );
}
