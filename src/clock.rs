//! The wall clock, for the shell: the node stamps events and block templates with it, and the
//! devnet's views read the age of what nodes report.
//!
//! Owns the node's and the views' wall-clock reads. The core must not call it: there time is an
//! argument, so the simulator can run it on simulated time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (0 if the clock is set before it).
pub(crate) fn unix_now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Milliseconds since the Unix epoch (0 if the clock is set before it).
pub(crate) fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}
