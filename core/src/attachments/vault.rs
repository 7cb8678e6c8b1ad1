//! Blob files at rest: every picture and thumbnail this phone holds (its own photos and the ones
//! it fetched), encrypted, in a directory beside the store (ADR 0042).
//!
//! The key is derived from the store's key with HKDF-SHA256 (an unencrypted store has a random
//! secret of its own in `meta` instead), so the files open only with the store. A file is:
//!
//! ```text
//! "GWBLOB1\n" | nonce prefix (19 random bytes) | plaintext length (u64 BE)      = the header
//! chunk 0 | chunk 1 | ... | chunk n-1      each = XChaCha20-Poly1305(64 KiB of plaintext)
//! ```
//!
//! Chunk `i`'s nonce is `prefix | i (u32 BE) | last (1 byte: 1 for the final chunk, else 0)`
//! (the STREAM construction), and every chunk authenticates the header and the blob's hash as
//! associated data: a chunk changed, moved, dropped or taken from another file fails to open,
//! and so does a file cut short or with a different length in its header. A range is read by
//! opening only the chunks it covers (the upload lane sends 512 KiB at a time).
//!
//! Files are named by a keyed hash of the blob's hash, so the directory does not say which
//! known picture the phone holds.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use gridwork_domain::attachment::BlobHash;
use hkdf::Hkdf;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"GWBLOB1\n";
const PREFIX_LEN: usize = 19;
const HEADER_LEN: usize = MAGIC.len() + PREFIX_LEN + 8;
/// Plaintext bytes per encrypted chunk.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;

/// The directory of blob files and the keys that open them.
#[derive(Clone)]
pub struct Vault {
    dir: PathBuf,
    cipher: XChaCha20Poly1305,
    names: [u8; 32],
    /// Held (shared) from a photo's files being written until the step or field that
    /// references them is committed or they are taken away again; the sweep of files nothing
    /// references takes it alone, so it never sees a file whose reference is on its way.
    writing: std::sync::Arc<std::sync::RwLock<()>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

fn damaged(what: &str) -> Error {
    Error::Attachment(format!(
        "a stored attachment failed its integrity check ({what}); it was changed or cut short"
    ))
}

fn io(action: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::File {
        action: action.to_string(),
        source,
    }
}

impl Vault {
    /// The vault in `dir` (created when missing) with keys derived from `secret` (the store's
    /// key, or an unencrypted store's own blob secret).
    pub fn open(dir: &Path, secret: &[u8; 32]) -> Result<Vault> {
        fs::create_dir_all(dir).map_err(io("create the attachment directory"))?;
        let hk = Hkdf::<Sha256>::new(Some(b"gridwork attachments"), secret);
        let mut key = [0u8; 32];
        let mut names = [0u8; 32];
        // Both outputs are 32 bytes, far below HKDF-SHA256's limit: expand cannot fail.
        hk.expand(b"blob encryption v1", &mut key)
            .map_err(|_| damaged("key derivation"))?;
        hk.expand(b"blob file names v1", &mut names)
            .map_err(|_| damaged("key derivation"))?;
        Ok(Vault {
            dir: dir.to_path_buf(),
            cipher: XChaCha20Poly1305::new(&key.into()),
            names,
            writing: Default::default(),
        })
    }

    /// Where the blob named `hash` is kept (whether or not it is there).
    pub fn path(&self, hash: &BlobHash) -> PathBuf {
        let mut h = Sha256::new();
        h.update(self.names);
        h.update(hash.as_bytes());
        self.dir.join(format!("{}.blob", hex::encode(h.finalize())))
    }

    /// The directory the files are kept in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Held while a photo's files are written and referenced (see [`Vault::sweep_gate`]).
    pub fn writing(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.writing.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The sweep's hold: `None` while a photo is being written (the sweep waits for its next
    /// run rather than holding the camera back).
    pub fn sweep_gate(&self) -> Option<std::sync::RwLockWriteGuard<'_, ()>> {
        match self.writing.try_write() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Whether the blob is held here.
    pub fn has(&self, hash: &BlobHash) -> bool {
        self.path(hash).is_file()
    }

    /// Stores `bytes` under `hash` (their SHA-256, checked), encrypted; atomically (a crash
    /// leaves the old file or the new one). Storing a blob already held does nothing.
    pub fn put(&self, hash: &BlobHash, bytes: &[u8]) -> Result<()> {
        if BlobHash::of(bytes) != *hash {
            return Err(Error::Attachment(
                "the bytes do not hash to the attachment's name".into(),
            ));
        }
        let path = self.path(hash);
        if path.is_file() {
            return Ok(());
        }
        let mut prefix = [0u8; PREFIX_LEN];
        rand::rng().fill_bytes(&mut prefix);
        let header = header(&prefix, bytes.len() as u64);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let write = || -> Result<()> {
            let file = File::create(&tmp).map_err(io("write an attachment"))?;
            let mut out = BufWriter::new(file);
            out.write_all(&header).map_err(io("write an attachment"))?;
            let count = chunk_count(bytes.len() as u64);
            for i in 0..count {
                let start = i as usize * CHUNK;
                let end = (start + CHUNK).min(bytes.len());
                let sealed = self
                    .cipher
                    .encrypt(
                        &nonce(&prefix, i, i + 1 == count),
                        Payload {
                            msg: &bytes[start..end],
                            aad: &aad(&header, hash),
                        },
                    )
                    .map_err(|_| Error::Attachment("an attachment could not be sealed".into()))?;
                out.write_all(&sealed).map_err(io("write an attachment"))?;
            }
            let file = out
                .into_inner()
                .map_err(|e| io("write an attachment")(e.into_error()))?;
            file.sync_all().map_err(io("write an attachment"))?;
            fs::rename(&tmp, &path).map_err(io("write an attachment"))?;
            Ok(())
        };
        let out = write();
        if out.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        out
    }

    /// The blob's whole plaintext, every chunk authenticated and the whole checked against its
    /// hash. `None` when the blob is not held here.
    pub fn get(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>> {
        let Some(mut file) = self.open_file(hash)? else {
            return Ok(None);
        };
        let len = file.len;
        let bytes = file.read_range(self, hash, 0, len)?;
        if BlobHash::of(&bytes) != *hash {
            return Err(damaged("hash"));
        }
        Ok(Some(bytes))
    }

    /// The blob's size in bytes as its file says (authenticated when read), or `None`.
    pub fn len(&self, hash: &BlobHash) -> Result<Option<u64>> {
        Ok(self.open_file(hash)?.map(|f| f.len))
    }

    /// `len` bytes of the blob from `offset` (fewer at its end), opening only the chunks they
    /// lie in. `None` when the blob is not held here.
    pub fn read_range(&self, hash: &BlobHash, offset: u64, len: u64) -> Result<Option<Vec<u8>>> {
        let Some(mut file) = self.open_file(hash)? else {
            return Ok(None);
        };
        file.read_range(self, hash, offset, len).map(Some)
    }

    /// Deletes the blob's file (when held).
    pub fn remove(&self, hash: &BlobHash) -> Result<()> {
        match fs::remove_file(self.path(hash)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(io("delete an attachment")(e))
            }
            _ => Ok(()),
        }
    }

    fn open_file(&self, hash: &BlobHash) -> Result<Option<OpenBlob>> {
        let mut file = match File::open(self.path(hash)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("read an attachment")(e)),
        };
        let mut header = [0u8; HEADER_LEN];
        file.read_exact(&mut header)
            .map_err(|_| damaged("header cut short"))?;
        if &header[..MAGIC.len()] != MAGIC {
            return Err(damaged("not an attachment file"));
        }
        let mut prefix = [0u8; PREFIX_LEN];
        prefix.copy_from_slice(&header[MAGIC.len()..MAGIC.len() + PREFIX_LEN]);
        let mut len = [0u8; 8];
        len.copy_from_slice(&header[MAGIC.len() + PREFIX_LEN..]);
        let len = u64::from_be_bytes(len);
        let expected = HEADER_LEN as u64 + len + chunk_count(len) * TAG as u64;
        let actual = file.metadata().map_err(io("read an attachment"))?.len();
        if actual != expected {
            return Err(damaged("length"));
        }
        Ok(Some(OpenBlob {
            file,
            header,
            prefix,
            len,
        }))
    }
}

struct OpenBlob {
    file: File,
    header: [u8; HEADER_LEN],
    prefix: [u8; PREFIX_LEN],
    len: u64,
}

impl OpenBlob {
    fn read_range(
        &mut self,
        vault: &Vault,
        hash: &BlobHash,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>> {
        let end = offset.saturating_add(len).min(self.len);
        if offset >= end {
            return Ok(Vec::new());
        }
        let count = chunk_count(self.len);
        let first = offset / CHUNK as u64;
        let last = (end - 1) / CHUNK as u64;
        let aad = aad(&self.header, hash);
        let mut out = Vec::with_capacity((end - offset) as usize);
        let mut sealed = vec![0u8; CHUNK + TAG];
        for i in first..=last {
            let plain_len = (self.len - i * CHUNK as u64).min(CHUNK as u64) as usize;
            let at = HEADER_LEN as u64 + i * (CHUNK + TAG) as u64;
            self.file
                .seek(SeekFrom::Start(at))
                .map_err(io("read an attachment"))?;
            let buf = &mut sealed[..plain_len + TAG];
            self.file
                .read_exact(buf)
                .map_err(|_| damaged("chunk cut short"))?;
            let plain = vault
                .cipher
                .decrypt(
                    &nonce(&self.prefix, i, i + 1 == count),
                    Payload {
                        msg: buf,
                        aad: &aad,
                    },
                )
                .map_err(|_| damaged("chunk"))?;
            let chunk_start = i * CHUNK as u64;
            let from = offset.max(chunk_start) - chunk_start;
            let to = end.min(chunk_start + plain_len as u64) - chunk_start;
            out.extend_from_slice(&plain[from as usize..to as usize]);
        }
        Ok(out)
    }
}

/// Chunks in a blob of `len` bytes (an empty blob is one empty chunk).
fn chunk_count(len: u64) -> u64 {
    len.div_ceil(CHUNK as u64).max(1)
}

fn header(prefix: &[u8; PREFIX_LEN], len: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..MAGIC.len()].copy_from_slice(MAGIC);
    h[MAGIC.len()..MAGIC.len() + PREFIX_LEN].copy_from_slice(prefix);
    h[MAGIC.len() + PREFIX_LEN..].copy_from_slice(&len.to_be_bytes());
    h
}

fn aad(header: &[u8; HEADER_LEN], hash: &BlobHash) -> Vec<u8> {
    let mut a = Vec::with_capacity(HEADER_LEN + 32);
    a.extend_from_slice(header);
    a.extend_from_slice(hash.as_bytes());
    a
}

fn nonce(prefix: &[u8; PREFIX_LEN], index: u64, last: bool) -> XNonce {
    let mut n = [0u8; 24];
    n[..PREFIX_LEN].copy_from_slice(prefix);
    // A blob is at most a few tens of MiB: far fewer than 2^32 chunks.
    n[PREFIX_LEN..PREFIX_LEN + 4].copy_from_slice(&(index as u32).to_be_bytes());
    n[23] = u8::from(last);
    n.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(dir: &Path) -> Vault {
        Vault::open(dir, &[7u8; 32]).unwrap()
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn a_blob_round_trips_whole_and_by_range_and_its_file_holds_no_clear_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(dir.path());
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let bytes = sample(len);
            let hash = BlobHash::of(&bytes);
            v.put(&hash, &bytes).unwrap();
            assert_eq!(v.get(&hash).unwrap().unwrap(), bytes, "len {len}");
            assert_eq!(v.len(&hash).unwrap(), Some(len as u64));
            for (off, n) in [
                (0, 10),
                (CHUNK as u64 - 3, 7),
                (5, 2 * CHUNK as u64),
                (0, u64::MAX),
            ] {
                let want: Vec<u8> = bytes
                    .iter()
                    .skip(off as usize)
                    .take(n.min(len as u64) as usize)
                    .copied()
                    .collect();
                assert_eq!(v.read_range(&hash, off, n).unwrap().unwrap(), want);
            }
            if len >= 64 {
                let file = fs::read(v.path(&hash)).unwrap();
                assert!(
                    !file
                        .windows(32)
                        .any(|w| bytes.windows(32).take(64).any(|b| b == w)),
                    "clear bytes in the file"
                );
            }
        }
    }

    #[test]
    fn a_tampered_truncated_or_swapped_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(dir.path());
        let a = sample(2 * CHUNK + 5);
        let b: Vec<u8> = a.iter().map(|x| x ^ 1).collect();
        let (ha, hb) = (BlobHash::of(&a), BlobHash::of(&b));
        v.put(&ha, &a).unwrap();
        v.put(&hb, &b).unwrap();
        let path = v.path(&ha);
        let good = fs::read(&path).unwrap();

        let mut flipped = good.clone();
        flipped[HEADER_LEN + CHUNK + 40] ^= 0x01;
        fs::write(&path, &flipped).unwrap();
        assert!(matches!(v.get(&ha), Err(Error::Attachment(_))));

        fs::write(&path, &good[..good.len() - 1]).unwrap();
        assert!(matches!(v.get(&ha), Err(Error::Attachment(_))));

        // B's file put under A's name: its chunks authenticate B's hash, not A's.
        fs::copy(v.path(&hb), &path).unwrap();
        assert!(matches!(v.get(&ha), Err(Error::Attachment(_))));

        fs::write(&path, &good).unwrap();
        assert_eq!(v.get(&ha).unwrap().unwrap(), a);
        // Another store's key opens nothing.
        let other = Vault::open(dir.path(), &[8u8; 32]).unwrap();
        assert!(
            other.get(&ha).unwrap().is_none(),
            "another key names files differently"
        );
        fs::copy(&path, other.path(&ha)).unwrap();
        assert!(matches!(other.get(&ha), Err(Error::Attachment(_))));
    }

    #[test]
    fn bytes_that_do_not_hash_to_the_name_are_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(dir.path());
        let err = v.put(&BlobHash::of(b"x"), b"y").unwrap_err();
        assert!(matches!(err, Error::Attachment(_)));
        assert!(!v.has(&BlobHash::of(b"x")));
    }
}
