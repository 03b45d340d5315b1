//! Node and generator processes: spawning this same binary detached (its own process group, its
//! output appended to a log), asking whether a pid is still ours and alive, and signalling it.
//!
//! Owns processes and `/proc`. Must not call RPC or read the state file. A pid is only signalled
//! after `/proc` shows one of its live threads still carries our marker argument (a node's data
//! directory, the generator's state file), so a pid reused by another program is never killed.

use super::DevnetError;
use crate::params::Network;
use std::fs::{File, OpenOptions};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How often a wait for processes to go looks again.
const POLL: Duration = Duration::from_millis(50);
/// How long a freshly spawned process may take to show its arguments.
const EXEC_PATIENCE: Duration = Duration::from_secs(5);
const EXEC_POLL: Duration = Duration::from_millis(1);

/// What one node process is started with.
#[derive(Clone, Debug)]
pub(crate) struct NodeLaunch {
    /// The node's name.
    pub name: String,
    /// The network it runs.
    pub network: Network,
    /// Its data directory.
    pub datadir: PathBuf,
    /// Its RPC port.
    pub rpc_port: u16,
    /// Where it accepts peers.
    pub listen: SocketAddr,
    /// Peers it keeps connected to.
    pub connect: Vec<SocketAddr>,
    /// Miner threads (0: none).
    pub mining_threads: usize,
    /// The devnet block spacing, if not the default.
    pub block_time: Option<u32>,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
    /// The failpoint armed for the chaos scenario (`--abort-in-reorg`), if any.
    pub abort_in_reorg: Option<usize>,
}

impl NodeLaunch {
    /// The `nakachain node` arguments that start it.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--network".to_string(),
            self.network.name().to_string(),
            "--datadir".to_string(),
            self.datadir.display().to_string(),
            "--rpc-port".to_string(),
            self.rpc_port.to_string(),
            "node".to_string(),
            // Tools that watch a devnet (fork-observer) fetch headers over REST by default.
            "--rest".to_string(),
            "--listen".to_string(),
            self.listen.to_string(),
        ];
        for peer in &self.connect {
            args.extend(["--connect".to_string(), peer.to_string()]);
        }
        if self.mining_threads > 0 {
            args.extend([
                "--mine".to_string(),
                "--threads".to_string(),
                self.mining_threads.to_string(),
            ]);
        }
        if let Some(secs) = self.block_time {
            args.extend(["--block-time".to_string(), secs.to_string()]);
        }
        if let Some(depth) = self.abort_in_reorg {
            args.extend(["--abort-in-reorg".to_string(), depth.to_string()]);
        }
        args
    }
}

fn open_log(path: &Path) -> Result<File, DevnetError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(DevnetError::io(parent))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(DevnetError::io(path))
}

/// Starts this binary with `args`, detached: its own process group (Ctrl-C in the terminal that
/// ran `devnet up` does not reach it), stdin closed, stdout and stderr appended to `log`.
/// Returns once the new program's arguments show `marker` (one of `args`), so every later
/// `is_running` check sees the process as ours.
pub(crate) fn spawn_detached(
    name: &str,
    args: &[String],
    log: &Path,
    marker: &str,
) -> Result<u32, DevnetError> {
    let spawn_error = |source| DevnetError::Spawn {
        node: name.to_string(),
        source,
    };
    let exe = std::env::current_exe().map_err(spawn_error)?;
    let out = open_log(log)?;
    let err = out.try_clone().map_err(DevnetError::io(log))?;
    let child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(spawn_error)?;
    // The child is not waited for: it outlives this command. An exited child of a long-running
    // `up --watch` stays a zombie until we exit, which `is_running` counts as gone.
    let pid = child.id();
    wait_for_exec(pid, marker);
    Ok(pid)
}

/// Waits until `/proc/<pid>/cmdline` shows the new program's arguments. `spawn` returns as soon
/// as the kernel has switched the child to the new program, a moment before the argument area
/// is published; a check in that moment would read an empty command line and take a healthy
/// node for a dead one (and leave it running on cleanup). Ends early if the child exits.
fn wait_for_exec(pid: u32, marker: &str) {
    let deadline = Instant::now() + EXEC_PATIENCE;
    while !is_running(pid, marker) && Instant::now() < deadline {
        let exited = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |stat| is_zombie(&stat));
        if exited {
            return;
        }
        sleep(EXEC_POLL);
    }
}

/// Whether `pid` is alive and is still the process started with `marker` among its arguments.
///
/// Alive means any of its threads is: after SIGKILL the main thread may already show as a
/// zombie (with an empty command line) while low-priority miner threads on a loaded machine
/// have not yet been scheduled to exit, and until the last of them has, the process still holds
/// its data directory's lock.
pub(crate) fn is_running(pid: u32, marker: &str) -> bool {
    live_thread(pid).is_some_and(|(_, cmdline)| has_arg(&cmdline, marker))
}

/// `/proc/<pid>/task/<tid>` of one of `pid`'s threads that has not exited, with the process's
/// arguments as it shows them (every thread shares them). A thread that exits while it is read
/// shows no arguments and is passed over for the next.
fn live_thread(pid: u32) -> Option<(PathBuf, Vec<u8>)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    first_live(tasks.filter_map(Result::ok).filter_map(|task| {
        let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
        let cmdline = std::fs::read(task.path().join("cmdline")).ok()?;
        (!cmdline.is_empty()).then(|| ((task.path(), cmdline), stat))
    }))
}

/// Of threads given with their `/proc` stat lines, the first that has not exited.
fn first_live<T>(threads: impl IntoIterator<Item = (T, String)>) -> Option<T> {
    threads
        .into_iter()
        .find(|(_, stat)| !is_zombie(stat))
        .map(|(thread, _)| thread)
}

/// Whether a `/proc/<pid>/stat` line shows an exited process not yet reaped. The state letter
/// follows the parenthesised command name, which may itself hold spaces.
fn is_zombie(stat: &str) -> bool {
    stat.rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']))
}

fn has_arg(cmdline: &[u8], marker: &str) -> bool {
    cmdline
        .split(|byte| *byte == 0)
        .any(|arg| arg == marker.as_bytes())
}

/// Sends `signal` (a `kill` name like TERM or KILL) to `pid` if it is still ours.
pub(crate) fn signal(pid: u32, marker: &str, signal: &str) -> Result<(), DevnetError> {
    if !is_running(pid, marker) {
        return Ok(());
    }
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| DevnetError::Signal {
            pid,
            reason: format!("cannot run kill: {e}"),
        })?;
    // kill fails when the process exited in between, which is what we wanted anyway.
    if status.success() || !is_running(pid, marker) {
        Ok(())
    } else {
        Err(DevnetError::Signal {
            pid,
            reason: format!("kill -{signal} exited with {status}"),
        })
    }
}

/// Waits until none of `procs` runs any more or `patience` passes; returns those still running.
pub(crate) fn wait_gone(procs: &[(u32, String)], patience: Duration) -> Vec<(u32, String)> {
    let deadline = Instant::now() + patience;
    loop {
        let left: Vec<(u32, String)> = procs
            .iter()
            .filter(|(pid, marker)| is_running(*pid, marker))
            .cloned()
            .collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        sleep(POLL);
    }
}

/// Processes of this program whose arguments name a path inside `root` (a devnet's node data
/// directory or its state file), with the argument that matched: the ones a lost or corrupt
/// state file no longer lists. Other programs (an editor or `tail` on a node's log) are left
/// alone.
pub(crate) fn find_by_root(root: &Path) -> Vec<(u32, String)> {
    let prefix = format!("{}/", root.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let own = std::process::id();
    let Some(program) = std::env::current_exe()
        .ok()
        .and_then(|exe| program_name(&exe))
    else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != own)
        .filter_map(|pid| {
            // Read through a live thread: a killed node's main thread may already be a zombie
            // (no executable, empty command line) while its other threads still hold its lock.
            let (thread, bytes) = live_thread(pid)?;
            let exe = std::fs::read_link(thread.join("exe")).ok()?;
            if program_name(&exe)? != program {
                return None;
            }
            let marker = bytes
                .split(|byte| *byte == 0)
                .filter_map(|arg| std::str::from_utf8(arg).ok())
                .find(|arg| arg.starts_with(&prefix))?
                .to_string();
            Some((pid, marker))
        })
        .collect()
}

/// The executable's file name; a rebuilt binary shows as "nakachain (deleted)" for processes
/// started before the build, which is still the same program.
fn program_name(exe: &Path) -> Option<String> {
    let name = exe.file_name()?.to_string_lossy().into_owned();
    Some(name.trim_end_matches(" (deleted)").to_string())
}

/// The last `lines` lines of a log, for error messages.
pub(crate) fn log_tail(path: &Path, lines: usize) -> Vec<String> {
    let text = std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let all: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|line| line.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_arguments_follow_the_cli() {
        let launch = NodeLaunch {
            name: "node-1".into(),
            network: Network::Devnet,
            datadir: PathBuf::from("/d/node-1"),
            rpc_port: 19003,
            listen: "127.0.0.1:19002".parse().unwrap(),
            connect: vec!["127.0.0.1:19000".parse().unwrap()],
            mining_threads: 2,
            block_time: Some(1),
            log: PathBuf::from("/d/node-1/node.log"),
            abort_in_reorg: None,
        };
        assert_eq!(
            launch.args().join(" "),
            "--network devnet --datadir /d/node-1 --rpc-port 19003 node --rest \
             --listen 127.0.0.1:19002 --connect 127.0.0.1:19000 --mine --threads 2 --block-time 1"
        );
    }

    #[test]
    fn our_own_process_is_found_only_with_its_marker() {
        let me = std::process::id();
        let exe = std::env::current_exe().unwrap();
        let first_arg = std::env::args().next().unwrap();
        assert!(is_running(me, &first_arg), "{}", exe.display());
        assert!(!is_running(me, "/no/such/devnet/node-0"));
        assert!(!is_running(u32::MAX, &first_arg));
    }

    #[test]
    fn a_killed_process_is_seen_through_a_thread_still_exiting() {
        let zombie_leader = ("leader", "7 (nakachain) Z 1 7".to_string());
        let exiting_miner = ("miner", "9 (miner-1) R 1 7".to_string());
        assert_eq!(
            first_live([zombie_leader.clone(), exiting_miner]),
            Some("miner")
        );
        assert_eq!(first_live([zombie_leader]), None);
        let alive_leader = ("leader", "7 (nakachain) S 1 7".to_string());
        assert_eq!(first_live([alive_leader]), Some("leader"));
    }

    #[test]
    fn only_arguments_equal_to_the_marker_match() {
        let ours = b"nakachain\0--datadir\0/devnet/node-1\0node\0";
        assert!(has_arg(ours, "/devnet/node-1"));
        assert!(!has_arg(ours, "/devnet/node-"));
        assert!(!has_arg(b"", "/devnet/node-1"));
    }

    #[test]
    fn zombie_states_are_read_after_the_command_name() {
        assert!(is_zombie("42 (nakachain) Z 1 42 42 0"));
        assert!(is_zombie("42 (a) b) X 1"));
        assert!(!is_zombie("42 (tokio-runtime-w) S 1 42"));
        assert!(!is_zombie("42 (Z) R 1"));
        assert!(!is_zombie("garbage"));
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.log");
        std::fs::write(&path, "a\nb\n\nc\nd\n").unwrap();
        assert_eq!(log_tail(&path, 2), vec!["c", "d"]);
        assert!(log_tail(&dir.path().join("missing"), 2).is_empty());
    }
}
