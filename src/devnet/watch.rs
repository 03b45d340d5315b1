//! Foreground loops: the live view (`watch`, `up --watch`) redrawn every second until Ctrl-C,
//! following a node's log, and any other step repeated until Ctrl-C (`events --follow`).
//!
//! Owns the terminal and Ctrl-C. Must not decide what a frame shows: the caller passes the
//! frame, so more panels (events) can be added next to the status table.

use super::DevnetError;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

/// How often the live view is redrawn.
pub(crate) const REFRESH: Duration = Duration::from_secs(1);
/// How often a followed log is checked for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(200);
/// Clears the screen and moves the cursor home.
const CLEAR: &str = "\x1b[2J\x1b[H";

/// Why a foreground loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// Ctrl-C.
    Interrupted,
    /// The frame said there is nothing left to show.
    Finished,
}

fn runtime() -> Result<tokio::runtime::Runtime, DevnetError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(DevnetError::io("tokio runtime"))
}

/// Redraws `frame()` every second until Ctrl-C, or until `frame` returns `None`.
pub fn live(mut frame: impl FnMut() -> Option<String>) -> Result<Ended, DevnetError> {
    runtime()?.block_on(async {
        // Registered before the first frame so an early Ctrl-C is caught, not fatal.
        let mut interrupt =
            signal(SignalKind::interrupt()).map_err(DevnetError::io("SIGINT handler"))?;
        loop {
            let Some(text) = frame() else {
                return Ok(Ended::Finished);
            };
            let mut out = std::io::stdout().lock();
            // A closed terminal ends the loop like Ctrl-C would.
            if write!(out, "{CLEAR}{text}\n(Ctrl-C to quit)\n")
                .and_then(|()| out.flush())
                .is_err()
            {
                return Ok(Ended::Interrupted);
            }
            drop(out);
            tokio::select! {
                _ = interrupt.recv() => return Ok(Ended::Interrupted),
                () = tokio::time::sleep(REFRESH) => {}
            }
        }
    })
}

/// Runs `step` now and then every `period` until Ctrl-C or until it fails.
pub fn every(
    period: Duration,
    mut step: impl FnMut() -> Result<(), DevnetError>,
) -> Result<(), DevnetError> {
    runtime()?.block_on(async {
        let mut interrupt =
            signal(SignalKind::interrupt()).map_err(DevnetError::io("SIGINT handler"))?;
        loop {
            step()?;
            tokio::select! {
                _ = interrupt.recv() => return Ok(()),
                () = tokio::time::sleep(period) => {}
            }
        }
    })
}

/// Prints the file at `path`, then (with `follow`) new lines as they come until Ctrl-C.
pub(crate) fn print_log(path: &Path, follow: bool) -> Result<(), DevnetError> {
    let mut file = std::fs::File::open(path).map_err(DevnetError::io(path))?;
    let mut out = std::io::stdout();
    std::io::copy(&mut file, &mut out).map_err(DevnetError::io(path))?;
    if !follow {
        return Ok(());
    }
    runtime()?.block_on(async {
        let mut interrupt =
            signal(SignalKind::interrupt()).map_err(DevnetError::io("SIGINT handler"))?;
        let mut position = file.stream_position().map_err(DevnetError::io(path))?;
        loop {
            tokio::select! {
                _ = interrupt.recv() => return Ok(()),
                () = tokio::time::sleep(FOLLOW_POLL) => {}
            }
            let length = file.metadata().map_err(DevnetError::io(path))?.len();
            // A log that shrank (truncated by hand) is read again from its start.
            if length < position {
                position = 0;
            }
            file.seek(SeekFrom::Start(position))
                .map_err(DevnetError::io(path))?;
            let mut fresh = Vec::new();
            file.read_to_end(&mut fresh)
                .map_err(DevnetError::io(path))?;
            position += fresh.len() as u64;
            out.write_all(&fresh)
                .and_then(|()| out.flush())
                .map_err(DevnetError::io("stdout"))?;
        }
    })
}
