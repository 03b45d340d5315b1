//! The command line as a new user meets it: what each command's help lists, and the settings a
//! command refuses rather than silently ignores. Runs the real binary.

use std::process::{Command, Output};

fn nakachain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nakachain"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn only_commands_that_run_or_talk_to_one_node_list_its_datadir_and_rpc_port() {
    for command in [&["node"][..], &["mine"], &["rpc"], &["status"], &["send"]] {
        let mut args = command.to_vec();
        args.push("--help");
        let help = stdout(&nakachain(&args));
        assert!(help.contains("--datadir"), "{command:?}: {help}");
        assert!(help.contains("--rpc-port"), "{command:?}: {help}");
    }
    for command in [
        &["bench-hash"][..],
        &["devnet", "up"],
        &["devnet", "partition"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let help = stdout(&nakachain(&args));
        assert!(help.contains("Usage"), "{command:?}: {help}");
        assert!(!help.contains("--datadir"), "{command:?}: {help}");
        assert!(!help.contains("--rpc-port"), "{command:?}: {help}");
    }
}

#[test]
fn a_devnet_or_bench_hash_refuses_a_datadir_it_would_ignore() {
    for args in [
        &["--datadir", "chain-data/x", "devnet", "status"][..],
        &["--rpc-port", "1", "bench-hash", "--seconds", "0.01"],
    ] {
        let output = nakachain(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains("do not apply"),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn block_time_is_for_devnet_on_mine_as_on_node() {
    for command in ["mine", "node"] {
        let output = nakachain(&["--network", "regtest", command, "--block-time", "5"]);
        assert_eq!(output.status.code(), Some(2), "{command}");
        assert!(
            stderr(&output).contains("devnet only"),
            "{}",
            stderr(&output)
        );
    }
    let help = stdout(&nakachain(&["mine", "--help"]));
    assert!(help.contains("--block-time"), "{help}");
}

#[test]
fn helps_say_what_arguments_look_like() {
    let rpc = stdout(&nakachain(&["rpc", "--help"]));
    assert!(rpc.contains("<METHOD>") && rpc.contains("[ARGS]"), "{rpc}");
    assert!(rpc.contains("nakachain rpc help"), "{rpc}");
    let send = stdout(&nakachain(&["send", "--help"]));
    assert!(send.contains("nk followed by 48 hex digits"), "{send}");
    let scenario = stdout(&nakachain(&["devnet", "scenario", "--help"]));
    // Each scenario once in the list of values, once in an example.
    assert_eq!(scenario.matches("partition-heal").count(), 2, "{scenario}");
    assert_eq!(scenario.matches("51-percent").count(), 2, "{scenario}");
    assert!(scenario.contains("- partition-heal:"), "{scenario}");
}
