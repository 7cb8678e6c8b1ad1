//! How many connections a server process can hold: each takes a file descriptor, and so may
//! the storage while it answers (a SQLite read connection, a PostgreSQL connection), besides
//! the listeners, the database files and the logs. A process that runs out of descriptors
//! cannot even accept a connection to refuse it, and `/healthz` stops answering; so the
//! connection cap is kept well under the limit.
//!
//! [`raise_limit`] lifts the soft limit to the hard one at start (the binary calls it);
//! [`connection_cap`] is the pure rule from a limit to a cap.

/// Descriptors kept for everything but connections: listeners, database files and their
/// logs, the PostgreSQL pool (16) and its listening connection, log files, the runtime.
pub const RESERVED_DESCRIPTORS: u64 = 64;

/// The cap when the descriptor limit allows more: memory, not descriptors, bounds a process
/// past this (see "Hostile clients" in `docs/reliability.md` for the memory per connection).
pub const MAX_CONNECTIONS_DEFAULT: usize = 10_000;

/// The connection cap for a soft descriptor limit: half of what is left after
/// [`RESERVED_DESCRIPTORS`] (a connection being answered may hold a second descriptor, a
/// SQLite reader), at most [`MAX_CONNECTIONS_DEFAULT`], at least 1.
///
/// ```
/// use gridwork_server::server::descriptors::connection_cap;
/// assert_eq!(connection_cap(256), 96);
/// assert_eq!(connection_cap(1024), 480);
/// assert_eq!(connection_cap(1 << 20), 10_000);
/// ```
pub fn connection_cap(soft_limit: u64) -> usize {
    let usable = soft_limit.saturating_sub(RESERVED_DESCRIPTORS) / 2;
    usize::try_from(usable)
        .unwrap_or(usize::MAX)
        .clamp(1, MAX_CONNECTIONS_DEFAULT)
}

/// The cap to serve with: `asked` (from `--max-connections`) when the descriptors allow it,
/// else what they allow; the second value says whether `asked` was lowered.
pub fn effective_cap(asked: Option<usize>, soft_limit: Option<u64>) -> (usize, bool) {
    let allowed = soft_limit.map(|l| {
        usize::try_from(l.saturating_sub(RESERVED_DESCRIPTORS) / 2)
            .unwrap_or(usize::MAX)
            .max(1)
    });
    match (asked, allowed) {
        (Some(a), Some(max)) if a > max => (max, true),
        (Some(a), _) => (a.max(1), false),
        (None, Some(_)) => (connection_cap(soft_limit.unwrap_or(0)), false),
        (None, None) => (MAX_CONNECTIONS_DEFAULT, false),
    }
}

/// The soft descriptor limit of this process, when the platform has one.
pub fn soft_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// What raising the limit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    pub before: u64,
    pub after: u64,
}

/// Raises the soft descriptor limit as far as the hard limit allows (a process may do so
/// without privileges). `None` where the platform has no such limit or it cannot be read.
pub fn raise_limit() -> Option<Raised> {
    let before = soft_limit()?;
    let after = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(before);
    Some(Raised { before, after })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_storage_and_listeners() {
        // The soft limit of many distributions: 480 phones at once, and /healthz still has room.
        assert_eq!(connection_cap(1024), 480);
        assert_eq!(
            connection_cap(64),
            1,
            "never 0: the server must still answer"
        );
        assert_eq!(connection_cap(0), 1);
        assert_eq!(connection_cap(u64::MAX), MAX_CONNECTIONS_DEFAULT);
    }

    #[test]
    fn an_asked_cap_is_kept_unless_the_descriptors_cannot_hold_it() {
        assert_eq!(effective_cap(Some(100), Some(1024)), (100, false));
        assert_eq!(effective_cap(Some(5_000), Some(1024)), (480, true));
        assert_eq!(effective_cap(Some(50_000), Some(1 << 20)), (50_000, false));
        assert_eq!(effective_cap(None, Some(256)), (96, false));
        assert_eq!(effective_cap(None, None), (MAX_CONNECTIONS_DEFAULT, false));
        assert_eq!(effective_cap(Some(0), None), (1, false));
    }
}
