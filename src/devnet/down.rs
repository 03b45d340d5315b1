//! `devnet down`: stop every process a devnet started, whatever state it is in. Nodes get an RPC
//! `stop`, then SIGTERM, then SIGKILL; the generator gets SIGTERM. Processes the state file does
//! not list (a start-up that was interrupted, a corrupt state file) are found by their arguments
//! naming the devnet directory. Chain data stays unless purged.
//!
//! Owns the shutdown sequence. Must not start anything.

use super::process;
use super::state::TXGEN_LOG_FILE;
use super::state::{self, DevnetState};
use super::{DevnetError, DevnetNode};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long nodes have to exit after an RPC `stop`.
pub(crate) const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long stragglers have after SIGTERM before SIGKILL.
const TERM_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the kernel gets to take down SIGKILLed processes.
const KILL_TIMEOUT: Duration = Duration::from_secs(2);

/// What `down` did.
#[derive(Debug, Default)]
pub struct DownReport {
    /// Processes that were running when `down` began.
    pub found: usize,
    /// Of those, the ones that needed SIGKILL.
    pub killed: usize,
    /// Whether a state file was there (readable or not).
    pub had_state: bool,
    /// Why the state file could not be read, when it could not.
    pub state_problem: Option<String>,
    /// Paths removed by `--purge`.
    pub purged: Vec<PathBuf>,
}

/// Stops the devnet in `root` (its nodes and generator), deleting chain data too if `purge`.
pub fn down(root: &Path, purge: bool) -> Result<DownReport, DevnetError> {
    let root = root.to_path_buf();
    let mut report = DownReport::default();
    let loaded = match state::load(&root) {
        Ok(loaded) => {
            report.had_state = true;
            Some(loaded)
        }
        Err(DevnetError::NotUp { .. }) => None,
        Err(other) => {
            report.had_state = true;
            report.state_problem = Some(other.to_string());
            None
        }
    };
    let (found, killed) = stop_processes(&root, loaded.as_ref());
    report.found = found;
    report.killed = killed;
    if report.had_state {
        state::remove(&root)?;
    }
    if purge {
        for path in kept_paths(&root) {
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            match removed {
                Ok(()) => report.purged.push(state::pretty(&path)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(DevnetError::Io { path, source }),
            }
        }
    }
    Ok(report)
}

/// Stops the devnet's processes: the ones `state` lists and any other whose arguments name a
/// path in `root`. Returns how many were running and how many needed SIGKILL.
pub(super) fn stop_processes(root: &Path, state: Option<&DevnetState>) -> (usize, usize) {
    let mut nodes: Vec<(&DevnetNode, u32, String)> = Vec::new();
    let mut others: Vec<(u32, String)> = Vec::new();
    if let Some(state) = state {
        for node in &state.nodes {
            let marker = node.datadir.display().to_string();
            if let Some(pid) = node.pid.filter(|pid| process::is_running(*pid, &marker)) {
                nodes.push((node, pid, marker));
            }
        }
        let generator = state::state_path(root).display().to_string();
        if let Some(pid) = state
            .txgen_pid
            .filter(|pid| process::is_running(*pid, &generator))
        {
            others.push((pid, generator));
        }
    }
    for stray in process::find_by_root(root) {
        let known = nodes.iter().any(|(_, pid, _)| *pid == stray.0)
            || others.iter().any(|(pid, _)| *pid == stray.0);
        if !known {
            others.push(stray);
        }
    }
    let found = nodes.len() + others.len();
    for (node, _, _) in &nodes {
        // The answer does not matter and a wedged node may never give one; the wait below
        // decides. The thread ends with this process at the latest.
        let node = (*node).clone();
        std::thread::spawn(move || node.call("stop", vec![]));
    }
    for (pid, marker) in &others {
        // A failed signal shows up below as a process that is still running.
        let _ = process::signal(*pid, marker, "TERM");
    }
    let all: Vec<(u32, String)> = nodes
        .into_iter()
        .map(|(_, pid, marker)| (pid, marker))
        .chain(others)
        .collect();
    let left = process::wait_gone(&all, STOP_TIMEOUT);
    for (pid, marker) in &left {
        let _ = process::signal(*pid, marker, "TERM");
    }
    let left = process::wait_gone(&left, TERM_TIMEOUT);
    for (pid, marker) in &left {
        let _ = process::signal(*pid, marker, "KILL");
    }
    process::wait_gone(&left, KILL_TIMEOUT);
    (found, left.len())
}

/// Paths a devnet keeps between runs: the node data directories and the generator log.
fn kept_paths(root: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("node-"))
        .map(|entry| entry.path())
        .collect();
    paths.push(root.join(TXGEN_LOG_FILE));
    paths.sort();
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purge_targets_node_dirs_and_the_generator_log_only() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["node-0", "node-1", "default"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        let paths = kept_paths(dir.path());
        assert_eq!(
            paths,
            vec![
                dir.path().join("node-0"),
                dir.path().join("node-1"),
                dir.path().join(TXGEN_LOG_FILE)
            ]
        );
    }
}
