//! Small device metadata kept in the store: the device id, the last HLC handed out, the server
//! clock offset and (for sync) the cursor.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;

/// Reads a value.
pub fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

/// Writes a value (inside the caller's transaction when there is one).
pub fn set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

pub const DEVICE_ID: &str = "device_id";
pub const USER_ID: &str = "user_id";
/// The last HLC handed out, as of the last write that was not a local edit: a local edit keeps
/// its stamp only in its outbox row, so the clock's high-water mark is the larger of this and
/// the outbox's highest stamp (`crate::store::outbox::highest_stamp`, ADR 0036).
pub const HLC_LAST: &str = "hlc_last";
/// The highest stamp known to be on the server (`HlcClock::trusted`).
pub const HLC_TRUSTED: &str = "hlc_trusted";
pub const CLOCK_OFFSET_MS: &str = "clock_offset_ms";
/// The latest server time taken from an answer: an older answer is stale and does not move
/// the offset (`HlcClock::learn_server_time`).
pub const SERVER_TIME_SEEN: &str = "server_time_seen_ms";
pub const TOKEN: &str = "token";
pub const ROLE: &str = "role";
pub const SCOPE: &str = "scope";
/// The area path down to each scope entry, as the server last sent it (the device judges
/// changes with the same rule as the server: `crate::permissions`).
pub const ANCHORS: &str = "anchors";
/// The digest of the user's role and scope the server last reported; a different one means
/// the scope was changed and the device takes a new snapshot.
pub const SCOPE_DIGEST: &str = "scope_digest";
/// The pull cursor: the last server sequence number applied. Absent until bootstrapped.
/// The last outbox position the search catch-up has taken in (ADR 0047): every outbox row after
/// it names a record whose search row may be stale.
pub const SEARCH_OUTBOX_SEEN: &str = "search_outbox_seen";
pub const CURSOR: &str = "cursor";
/// A bootstrap in progress: the snapshot's sequence number and the last record id received.
pub const SNAPSHOT_SEQ: &str = "snapshot_seq";
pub const SNAPSHOT_AFTER: &str = "snapshot_after";
/// The total the snapshot's first page announced, and the records taken so far: an
/// interrupted bootstrap resumes its progress where it was.
pub const SNAPSHOT_TOTAL: &str = "snapshot_total";
pub const SNAPSHOT_DONE: &str = "snapshot_done";

/// Raises `hlc_last` to `hlc` unless it is already at or above it (an outbox row that held the
/// clock's last stamp is about to go: ADR 0036).
pub fn raise_hlc_last(conn: &Connection, hlc: gridwork_domain::hlc::Hlc) -> Result<()> {
    let held = get(conn, HLC_LAST)?
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if hlc.as_u64() > held {
        set(conn, HLC_LAST, &hlc.as_u64().to_string())?;
    }
    Ok(())
}

/// Removes a value.
pub fn delete(conn: &Connection, key: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM meta WHERE key = ?1")?
        .execute([key])?;
    Ok(())
}
