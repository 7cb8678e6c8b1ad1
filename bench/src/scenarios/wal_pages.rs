//! Which tables and indexes a commit's pages belong to. A commit appends its pages to the
//! write-ahead log as frames, and a frame's header names its page in the clear (SQLCipher
//! encrypts the page, not the header); SQLite's `dbstat` table then says which b-tree holds each
//! page. The local edit reports its pages this way, by b-tree and by kind of edit, so that what
//! a further page would come off is read from each run, not guessed.
//!
//! The core's `store::health::read_wal` reads a whole log once, to judge a store on open; this
//! reads on from where it stopped after every commit, and stops at the first frame of an
//! earlier round of the log.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;

use gridwork_core::store::health::StoreFiles;
use rusqlite::Connection;

/// The log's header: magic, version, page size, checkpoint sequence, two salts, two checksums.
const LOG_HEADER: usize = 32;
/// A frame's header: page number, database size after a commit (0 on other frames), two salts,
/// two checksums.
const FRAME_HEADER: usize = 24;
/// The log's magic number (its last bit says the checksums' byte order).
const MAGIC: u32 = 0x377f_0682;

/// Reads the frames appended to a store's log since the last call.
///
/// Call [`LogTail::committed_pages`] after every commit: a commit not read before the log
/// starts over (after a checkpoint copied every frame) is not seen. The store's checkpoints
/// must leave the file's header in place (`PASSIVE`, as the device's checkpointer runs them; a
/// `TRUNCATE` cuts the file, which is read again from its start like any log started over).
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
        let mut tail = LogTail {
            path: StoreFiles::of(store).wal,
            salt: [0; 8],
            offset: 0,
        };
        tail.committed_pages()?;
        Ok(tail)
    }

    /// The pages of the commits appended since the last call, each page once per commit (the
    /// frames SQLite may repeat to pad a commit count once): after each transaction, that
    /// transaction's pages. A log started over since (new salts) is read from its start.
    pub fn committed_pages(&mut self) -> io::Result<Vec<u32>> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        let mut log = BufReader::new(file);
        let mut head = [0u8; LOG_HEADER];
        match log.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
        let word = |b: &[u8], at: usize| u32::from_be_bytes(b[at..at + 4].try_into().expect("4"));
        if word(&head, 0) & !1 != MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a write-ahead log",
            ));
        }
        let page_size = word(&head, 8) as i64;
        let salt: [u8; 8] = head[16..24].try_into().expect("8 bytes");
        if salt != self.salt {
            self.salt = salt;
            self.offset = LOG_HEADER as u64;
        }
        log.seek(SeekFrom::Start(self.offset))?;
        let (mut pages, mut uncommitted) = (Vec::new(), BTreeSet::new());
        let mut frame = [0u8; FRAME_HEADER];
        let mut read_to = self.offset;
        loop {
            match log.read_exact(&mut frame) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e),
            }
            if frame[8..16] != salt {
                break;
            }
            let next = read_to + FRAME_HEADER as u64 + page_size as u64;
            if next > len {
                break; // a frame cut short
            }
            // The page itself is not read: the header says all this needs.
            log.seek_relative(page_size)?;
            uncommitted.insert(word(&frame, 0));
            read_to = next;
            if word(&frame, 4) != 0 {
                pages.extend(std::mem::take(&mut uncommitted));
                self.offset = read_to;
            }
        }
        Ok(pages)
    }
}

/// Every page of the database and the table or index that holds it (`dbstat`), with page 1
/// named for what an edit writes it for: the file's header, which counts the file's pages. One
/// look at the end of a run: a page freed and used again by another b-tree meanwhile is named
/// after its last owner.
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
        let owner = owners.get(page).map_or(FREE, String::as_str);
        *counts.entry(owner.to_string()).or_default() += 1.0;
    }
    let n = commits.len().max(1) as f64;
    counts.values_mut().for_each(|c| *c /= n);
    counts
}

/// What a page in no b-tree is counted as.
pub const FREE: &str = "free pages";

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
    fn a_log_started_over_in_place_is_read_from_its_start_and_not_past_its_new_end() {
        let (_dir, conn, mut tail) = store();
        // Many frames, then every one copied back with the file left as it is: the next commit
        // starts the log over at its start, in front of the old frames.
        for i in 0..50 {
            conn.execute("INSERT INTO b (v) VALUES (?1)", [format!("{i:0>500}")])
                .unwrap();
        }
        assert!(tail.committed_pages().unwrap().len() >= 50);
        let (busy, _, _): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(busy, 0);
        let before = std::fs::metadata(&tail.path).unwrap().len();
        conn.execute("INSERT INTO a (v) VALUES ('x')", []).unwrap();
        assert_eq!(
            std::fs::metadata(&tail.path).unwrap().len(),
            before,
            "not cut"
        );
        let pages = tail.committed_pages().unwrap();
        let owners = btree_of_pages(&conn).unwrap();
        let by = per_commit_by_btree(std::slice::from_ref(&pages), &owners);
        assert_eq!(
            pages.len(),
            1,
            "only the new commit's page: {pages:?} {by:?}"
        );
        assert_eq!(by.get("a"), Some(&1.0));
    }

    #[test]
    fn a_page_in_no_b_tree_counts_as_free_and_a_file_not_a_log_is_refused() {
        let owners = HashMap::from([(2, "a".to_string())]);
        let by = per_commit_by_btree(&[vec![2, 9]], &owners);
        assert_eq!(by.get(FREE), Some(&1.0));
        assert_eq!(by.get("a"), Some(&1.0));

        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.db");
        std::fs::write(StoreFiles::of(&store).wal, [7u8; 64]).unwrap();
        let err = LogTail::new(&store).err().expect("refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_log_cut_by_a_truncating_checkpoint_is_read_from_its_start() {
        let (_dir, conn, mut tail) = store();
        conn.execute("INSERT INTO a (v) VALUES ('x')", []).unwrap();
        assert!(!tail.committed_pages().unwrap().is_empty());
        // Everything copied back and the file cut: the next commit starts a new log.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        conn.execute("INSERT INTO b (v) VALUES ('y')", []).unwrap();
        let pages = tail.committed_pages().unwrap();
        let owners = btree_of_pages(&conn).unwrap();
        let by = per_commit_by_btree(std::slice::from_ref(&pages), &owners);
        assert_eq!(by.get("b"), Some(&1.0), "{pages:?}");
        assert_eq!(by.get("a"), None, "{pages:?}");
    }
}
