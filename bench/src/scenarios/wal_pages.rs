//! Which tables and indexes a commit's pages belong to. A commit appends its pages to the
//! write-ahead log as frames, and a frame's header names its page in the clear (SQLCipher
//! encrypts the page, not the header); SQLite's `dbstat` table then says which b-tree holds each
//! page. The local edit reports its pages this way, by b-tree and by kind of edit, so that what
//! a further page would come off is read from each run, not guessed.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

use rusqlite::Connection;

/// The log's header: magic, version, page size, checkpoint sequence, two salts, two checksums.
const LOG_HEADER: usize = 32;
/// A frame's header: page number, database size after a commit (0 on other frames), two salts,
/// two checksums.
const FRAME_HEADER: usize = 24;

/// Reads the frames appended to a store's log since the last call.
pub struct LogTail {
    path: PathBuf,
    /// The salts of the log's current round: a frame with others is left from an earlier one.
    salt: [u8; 8],
    /// Where the frames not read yet begin, in the current round.
    offset: u64,
}

impl LogTail {
    /// The log of the store at `store` (`<store>-wal`), read from its current end on.
    pub fn new(store: &std::path::Path) -> io::Result<LogTail> {
        let mut path = store.as_os_str().to_owned();
        path.push("-wal");
        let mut tail = LogTail {
            path: PathBuf::from(path),
            salt: [0; 8],
            offset: 0,
        };
        tail.committed_pages()?;
        Ok(tail)
    }

    /// The pages of the commits appended since the last call, in the order written: after
    /// each transaction, that transaction's pages. A log started over since (every frame
    /// copied into the database, new salts) is read from its start.
    pub fn committed_pages(&mut self) -> io::Result<Vec<u32>> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut head = [0u8; LOG_HEADER];
        match file.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
        let page_size = u32::from_be_bytes(head[8..12].try_into().expect("4 bytes")) as usize;
        let salt: [u8; 8] = head[16..24].try_into().expect("8 bytes");
        if salt != self.salt {
            self.salt = salt;
            self.offset = LOG_HEADER as u64;
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut rest = Vec::new();
        file.read_to_end(&mut rest)?;
        let frame = FRAME_HEADER + page_size;
        let (mut pages, mut uncommitted) = (Vec::new(), Vec::new());
        let (mut at, mut committed_to) = (0usize, 0usize);
        while at + frame <= rest.len() {
            let header = &rest[at..at + FRAME_HEADER];
            if header[8..16] != salt {
                break;
            }
            uncommitted.push(u32::from_be_bytes(
                header[0..4].try_into().expect("4 bytes"),
            ));
            at += frame;
            if header[4..8] != [0; 4] {
                pages.append(&mut uncommitted);
                committed_to = at;
            }
        }
        self.offset += committed_to as u64;
        Ok(pages)
    }
}

/// Every page of the database and the table or index that holds it (`dbstat`), with page 1
/// named for what an edit writes it for: the file's header, which counts the file's pages.
pub fn btree_of_pages(conn: &Connection) -> rusqlite::Result<HashMap<u32, String>> {
    let mut stmt = conn.prepare("SELECT name, pageno FROM dbstat")?;
    let mut owners: HashMap<u32, String> = stmt
        .query_map([], |r| Ok((r.get::<_, u32>(1)?, r.get::<_, String>(0)?)))?
        .collect::<rusqlite::Result<_>>()?;
    owners.insert(1, "page 1 (the file's header)".into());
    Ok(owners)
}

/// Pages per commit by b-tree, over `commits` (each a commit's pages): a page not in any
/// b-tree counts as "free pages".
pub fn per_commit_by_btree(
    commits: &[Vec<u32>],
    owners: &HashMap<u32, String>,
) -> BTreeMap<String, f64> {
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    for page in commits.iter().flatten() {
        let owner = owners.get(page).map_or("free pages", String::as_str);
        *counts.entry(owner.to_string()).or_default() += 1.0;
    }
    let n = commits.len().max(1) as f64;
    counts.values_mut().for_each(|c| *c /= n);
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store in WAL mode whose log is never copied back (no checkpoint), and its tail.
    fn store() -> (tempfile::TempDir, Connection, LogTail) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);
             CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT);
             CREATE INDEX b_v ON b (v);",
        )
        .unwrap();
        let tail = LogTail::new(&path).unwrap();
        (dir, conn, tail)
    }

    #[test]
    fn each_commit_is_read_once_and_named_by_its_b_trees() {
        let (_dir, conn, mut tail) = store();
        assert!(
            tail.committed_pages().unwrap().is_empty(),
            "nothing new yet"
        );
        conn.execute("INSERT INTO a (v) VALUES ('x')", []).unwrap();
        let first = tail.committed_pages().unwrap();
        conn.execute("INSERT INTO b (v) VALUES ('y')", []).unwrap();
        let second = tail.committed_pages().unwrap();
        assert!(
            tail.committed_pages().unwrap().is_empty(),
            "each commit once"
        );

        let owners = btree_of_pages(&conn).unwrap();
        let by = |pages: &Vec<u32>| per_commit_by_btree(std::slice::from_ref(pages), &owners);
        assert_eq!(by(&first).get("a"), Some(&1.0), "{first:?}");
        assert_eq!(by(&first).get("b"), None);
        // A row of `b` writes its table's leaf and its index's leaf.
        assert_eq!(by(&second).get("b"), Some(&1.0), "{second:?}");
        assert_eq!(by(&second).get("b_v"), Some(&1.0), "{second:?}");
        assert_eq!(by(&second).get("a"), None);
        // Two commits: the per-commit share of each b-tree.
        let both = per_commit_by_btree(&[first, second], &owners);
        assert_eq!(both.get("a"), Some(&0.5));
        assert_eq!(both.get("b_v"), Some(&0.5));
    }

    #[test]
    fn a_log_started_over_is_read_from_its_start() {
        let (_dir, conn, mut tail) = store();
        conn.execute("INSERT INTO a (v) VALUES ('x')", []).unwrap();
        assert!(!tail.committed_pages().unwrap().is_empty());
        // Everything copied back: the next commit starts the log over with new salts, at the
        // start of the file, over the old frames.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        conn.execute("INSERT INTO b (v) VALUES ('y')", []).unwrap();
        let pages = tail.committed_pages().unwrap();
        let owners = btree_of_pages(&conn).unwrap();
        let by = per_commit_by_btree(&[pages.clone()], &owners);
        assert_eq!(by.get("b"), Some(&1.0), "{pages:?}");
        assert_eq!(by.get("a"), None, "{pages:?}");
    }
}
