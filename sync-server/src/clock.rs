//! The server's wall clock: the one place that reads it, so every answer's `server_time_ms`,
//! every clock-ahead check and every expiry use the same time. A running server reads it through
//! its [`ServerClock`] (see [`crate::serve_with_clock`]).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The clock a running server reads: the system clock, or a simulated one (the demo plays a
/// day in seconds; tests can pin time).
pub type ServerClock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock as a [`ServerClock`].
pub fn system() -> ServerClock {
    Arc::new(now_ms)
}

/// Milliseconds since the Unix epoch. A clock set before 1970 reads as 0 rather than panicking.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
