//! Is the store's file whole? Checks made before SQLite touches the files (SQLite itself would
//! silently delete a write-ahead log beside an empty database file, and silently open a store
//! whose log was removed), and SQLite's own structural check after unlocking.
//!
//! Every finding is an [`Error::StoreDamaged`] whose text describes structure only.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::error::{Error, Result};

/// The first 16 bytes of an unencrypted SQLite database.
pub const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The page size of an encrypted store (SQLCipher 4's default, pinned when the store is made).
pub const CIPHER_PAGE_SIZE: u64 = 4096;

/// The write-ahead log's header; a log shorter than this holds no frame.
const WAL_HEADER_LEN: u64 = 32;

/// The files of a store: the database and, in WAL mode, its log and shared-memory index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFiles {
    pub db: PathBuf,
    pub wal: PathBuf,
    pub shm: PathBuf,
}

impl StoreFiles {
    pub fn of(db: &Path) -> StoreFiles {
        let with = |suffix: &str| {
            let mut s = db.as_os_str().to_owned();
            s.push(suffix);
            PathBuf::from(s)
        };
        StoreFiles {
            db: db.to_path_buf(),
            wal: with("-wal"),
            shm: with("-shm"),
        }
    }

    /// The three paths, the database first.
    pub fn all(&self) -> [&Path; 3] {
        [&self.db, &self.wal, &self.shm]
    }
}

/// What the database file looks like before it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// No file, or an empty one with no log: a store made now.
    New,
    /// An unencrypted SQLite database.
    Plain,
    /// Not an unencrypted SQLite database: an encrypted store, or something else.
    Opaque,
}

fn len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Looks at the files of the store at `db` without opening it with SQLite.
pub fn inspect(db: &Path) -> Result<FileKind> {
    let files = StoreFiles::of(db);
    let db_len = len(&files.db);
    let wal_len = len(&files.wal);
    if db_len == 0 {
        if wal_len > WAL_HEADER_LEN && read_wal(&files.wal)?.is_some_and(|w| w.committed) {
            // SQLite would delete this log on open, and the changes in it with it.
            return Err(Error::StoreDamaged(
                "the store file is empty but its write-ahead log holds changes".into(),
            ));
        }
        return Ok(FileKind::New);
    }
    if wal_missing_frames(&files)? {
        return Err(Error::StoreDamaged(
            "its write-ahead log (-wal) was removed before its last changes reached the store \
             file"
                .into(),
        ));
    }
    let mut header = [0u8; 100];
    let read = read_prefix(&files.db, &mut header)?;
    if read >= SQLITE_MAGIC.len() && header[..16] == SQLITE_MAGIC[..] {
        let page = plain_page_size(&header);
        if read < header.len() || page == 0 || !db_len.is_multiple_of(page) {
            return Err(Error::StoreDamaged(
                "the store file is cut short (not a whole number of pages)".into(),
            ));
        }
        return Ok(FileKind::Plain);
    }
    if read == header.len() && header[21..24] == [64, 32, 32] {
        // Bytes 21–23 are fixed in every SQLite header and random in an encrypted file: this
        // is an unencrypted store whose first bytes were overwritten.
        return Err(Error::StoreDamaged(
            "the store file's header is damaged".into(),
        ));
    }
    if !db_len.is_multiple_of(CIPHER_PAGE_SIZE) {
        return Err(Error::StoreDamaged(
            "the store file is cut short (not a whole number of pages) or is not a gridwork \
             store"
                .into(),
        ));
    }
    Ok(FileKind::Opaque)
}

/// The page size in an unencrypted header (bytes 16–17, big-endian; 1 means 65536), or 0 when
/// it is not a power of two between 512 and 65536.
fn plain_page_size(header: &[u8; 100]) -> u64 {
    let raw = u16::from_be_bytes([header[16], header[17]]) as u64;
    let size = if raw == 1 { 65536 } else { raw };
    if (512..=65536).contains(&size) && size.is_power_of_two() {
        size
    } else {
        0
    }
}

fn read_prefix(path: &Path, buf: &mut [u8]) -> Result<usize> {
    let mut file = File::open(path).map_err(|source| Error::File {
        action: "reading the store file's header".into(),
        source,
    })?;
    let mut read = 0;
    while read < buf.len() {
        match file.read(&mut buf[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(source) => {
                return Err(Error::File {
                    action: "reading the store file's header".into(),
                    source,
                });
            }
        }
    }
    Ok(read)
}

/// Whether the shared-memory index says the log held frames that were not yet copied into the
/// database file, while the log itself is gone. (A crash never removes the log; something
/// else did, and the changes in those frames are lost.) The index's header is SQLite's
/// `WalIndexHdr` (version 3007000 at offset 0, `mxFrame` at 16, native byte order) followed by
/// a second copy and the checkpoint info (`nBackfill` at 96).
fn wal_missing_frames(files: &StoreFiles) -> Result<bool> {
    if files.wal.exists() || !files.shm.exists() {
        return Ok(false);
    }
    let mut shm = [0u8; 100];
    if read_prefix(&files.shm, &mut shm)? < shm.len() {
        return Ok(false);
    }
    let word = |at: usize| u32::from_ne_bytes([shm[at], shm[at + 1], shm[at + 2], shm[at + 3]]);
    let initialised = word(0) == 3_007_000 && shm[12] == 1 && shm[..48] == shm[48..96];
    Ok(initialised && word(16) > word(96))
}

/// What a write-ahead log holds, read without SQLite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalContents {
    /// At least one transaction was committed into it (a frame of the log's current generation
    /// that ends a transaction).
    pub committed: bool,
    /// The newest committed image of page 1 (the schema, and for an encrypted store the salt
    /// that the key is combined with).
    pub first_page: Option<Vec<u8>>,
}

/// Reads a log's header and frame headers (SQLite's WAL format: a 32-byte header with the
/// magic, page size and two salts, big-endian; then frames of a 24-byte header, whose second
/// word is non-zero on the frame that commits a transaction, and a page). Frames whose salts
/// are not the header's belong to an earlier generation and are skipped. Checksums are left to
/// SQLite, which checks them when it opens the log.
pub fn read_wal(wal: &Path) -> Result<Option<WalContents>> {
    let bytes = match std::fs::read(wal) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::File {
                action: "reading the store's write-ahead log".into(),
                source,
            });
        }
    };
    let word =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    if bytes.len() < WAL_HEADER_LEN as usize || (word(0) & !1) != 0x377f_0682 {
        return Ok(None);
    }
    let page = word(8) as usize;
    let salts = &bytes[16..24];
    let mut contents = WalContents {
        committed: false,
        first_page: None,
    };
    let mut pending_first_page = None;
    let mut at = WAL_HEADER_LEN as usize;
    while at + 24 + page <= bytes.len() {
        if &bytes[at + 8..at + 16] == salts {
            if word(at) == 1 {
                pending_first_page = Some(bytes[at + 24..at + 24 + page].to_vec());
            }
            if word(at + 4) != 0 {
                contents.committed = true;
                if pending_first_page.is_some() {
                    contents.first_page = pending_first_page.take();
                }
            }
        }
        at += 24 + page;
    }
    Ok(Some(contents))
}

/// SQLite's structural check of every page and index (`PRAGMA quick_check`), on an unlocked
/// connection. Reports how many problems it found, not what they were about.
pub fn quick_check(conn: &Connection) -> Result<()> {
    let mut stmt = conn.prepare("PRAGMA quick_check")?;
    let found: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<_>>()?;
    if found.len() == 1 && found[0] == "ok" {
        return Ok(());
    }
    Err(Error::StoreDamaged(format!(
        "SQLite's integrity check found {} problem(s)",
        found.len()
    )))
}
