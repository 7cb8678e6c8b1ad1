//! Photo bytes (issue 24, ADR 0040): content-addressed blobs and their resumable uploads, kept
//! in one [`BlobStore`] whatever holds them.
//!
//! # Backends
//! A [`BlobStore`] lays the protocol's objects out over any [`ObjectStore`] of the
//! `object_store` crate, which is the one interface every backend implements:
//! - the local filesystem ([`BlobStore::local`], the embedded default, a folder under the data
//!   dir): every object is written to a temporary file beside its name and renamed into place,
//!   so a reader never sees half a blob;
//! - an S3-compatible object store ([`BlobStore::from_url`] with `s3://BUCKET`, for several
//!   server processes);
//! - memory ([`BlobStore::in_memory`], tests and tools).
//!
//! # Layout (names are hashes and device ids only, never a file name a client chose)
//! - `blobs/ab/abcdef…` — a stored blob, named by the SHA-256 of its bytes (64 hex digits; the
//!   first two also name its folder, so no folder holds millions).
//! - `uploads/HASH/DEVICE/OFFSET-LENGTH` — one piece of a device's upload of HASH: the bytes
//!   from OFFSET (20 digits) of a blob of LENGTH bytes. Every PATCH adds one piece; the offset of
//!   an upload is where its pieces, read from 0, stop being contiguous. The state of a partial
//!   upload is only these objects: it survives a restart and, on S3, another process resumes it.
//!
//! When the last piece arrives the pieces are read in order and hashed: a match is stored under
//! `blobs/` (once; a blob already there is never written again), a mismatch is discarded. The
//! pieces are deleted either way.

use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use gridwork_domain::attachment::BlobHash;
use gridwork_domain::ids::DeviceId;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload};
use sha2::{Digest, Sha256};

pub mod gc;

/// The most bytes one PATCH may carry (the protocol's chunk limit).
pub const MAX_CHUNK_BYTES: u64 = 4 * 1024 * 1024;

/// The limits of uploads, from the server's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLimits {
    /// The largest blob accepted, in bytes.
    pub max_blob_bytes: u64,
    /// The bytes one device may upload per UTC day.
    pub device_daily_bytes: u64,
}

impl BlobLimits {
    /// The protocol's defaults: 32 MiB per blob, 256 MiB per device per day.
    pub const DEFAULT: BlobLimits = BlobLimits {
        max_blob_bytes: 32 * 1024 * 1024,
        device_daily_bytes: 256 * 1024 * 1024,
    };
}

impl Default for BlobLimits {
    fn default() -> Self {
        BlobLimits::DEFAULT
    }
}

/// Why the blob store failed (the message names no bytes of the blob, only where it failed).
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store: {0}")]
    Store(#[from] object_store::Error),
    #[error("blob store configuration: {0}")]
    Config(String),
    #[error("blob store: {0}")]
    Io(#[from] std::io::Error),
    #[error("blob store: a blocking task failed: {0}")]
    Join(String),
}

/// Where a device's upload of a blob stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadState {
    /// The blob is stored (by anyone): nothing to send. Its size.
    Complete(u64),
    /// `offset` bytes held of this device's upload; `length` the total it declared, when any
    /// piece arrived.
    Partial { offset: u64, length: Option<u64> },
}

/// What appending a piece came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Held; the upload now stands at this offset.
    Partial(u64),
    /// The last piece: the whole hashed to its name and is stored.
    Stored,
    /// The last piece: the whole did not hash to its name; the upload was discarded.
    HashMismatch,
}

/// A stored blob's bytes from some offset, as a stream, with its total size.
pub struct BlobRead {
    pub size: u64,
    pub from: u64,
    pub stream: futures_util::stream::BoxStream<'static, Result<Bytes, BlobError>>,
}

impl std::fmt::Debug for BlobRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobRead")
            .field("size", &self.size)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// The blobs and partial uploads, over one object store. Cheap to clone.
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// What it is, for logs (`file:///…`, `s3://bucket`, `memory`); no credentials.
    describe: String,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("at", &self.describe)
            .finish()
    }
}

/// One piece of a partial upload, as its name says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece {
    offset: u64,
    length: u64,
    size: u64,
    location: Path,
}

impl BlobStore {
    /// Blobs in memory (lost when the process ends): tests and tools.
    pub fn in_memory() -> BlobStore {
        BlobStore {
            store: Arc::new(object_store::memory::InMemory::new()),
            describe: "memory".into(),
        }
    }

    /// Blobs in the folder `dir` (created when missing), written atomically (a temporary file
    /// renamed into place).
    pub fn local(dir: &FsPath) -> Result<BlobStore, BlobError> {
        std::fs::create_dir_all(dir)?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)?
            // A deleted blob's emptied folders go too.
            .with_automatic_cleanup(true);
        Ok(BlobStore {
            store: Arc::new(store),
            describe: format!("file://{}", dir.display()),
        })
    }

    /// A store from a URL: `file:///PATH` (or a plain path) for a local folder, `s3://BUCKET`
    /// for an S3-compatible store configured by the usual `AWS_…` environment variables
    /// (`AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
    /// `AWS_ALLOW_HTTP`), or `memory:`.
    pub fn from_url(url: &str) -> Result<BlobStore, BlobError> {
        if let Some(bucket) = url.strip_prefix("s3://") {
            let bucket = bucket.trim_end_matches('/');
            if bucket.is_empty() || bucket.contains('/') {
                return Err(BlobError::Config(format!(
                    "{url}: an S3 blob store is named s3://BUCKET"
                )));
            }
            return BlobStore::s3(bucket, &[]);
        }
        if url == "memory:" {
            return Ok(BlobStore::in_memory());
        }
        let path = url.strip_prefix("file://").unwrap_or(url);
        if path.is_empty() || url.contains("://") && !url.starts_with("file://") {
            return Err(BlobError::Config(format!(
                "{url}: expected s3://BUCKET, file:///PATH or a folder"
            )));
        }
        BlobStore::local(FsPath::new(path))
    }

    /// The S3-compatible bucket `bucket`, configured by the `AWS_…` environment variables and
    /// then by `config` (the same keys in lower case, e.g. `("aws_endpoint", "http://…")`,
    /// `("aws_allow_http", "true")`).
    pub fn s3(bucket: &str, config: &[(&str, &str)]) -> Result<BlobStore, BlobError> {
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in config {
            let key: object_store::aws::AmazonS3ConfigKey = key
                .parse()
                .map_err(|_| BlobError::Config(format!("{key}: not an S3 setting")))?;
            builder = builder.with_config(key, *value);
        }
        Ok(BlobStore {
            store: Arc::new(builder.build()?),
            describe: format!("s3://{bucket}"),
        })
    }

    /// Where the blobs are, for logs.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    fn blob_path(hash: &BlobHash) -> Path {
        let hex = hash.to_hex();
        Path::from(format!("blobs/{}/{hex}", &hex[..2]))
    }

    fn upload_dir(hash: &BlobHash, device: DeviceId) -> Path {
        Path::from(format!("uploads/{}/{}", hash.to_hex(), device.simple()))
    }

    /// The size of a stored blob, `None` when it is not stored.
    pub async fn size(&self, hash: &BlobHash) -> Result<Option<u64>, BlobError> {
        match self.store.head(&Self::blob_path(hash)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The pieces of a device's upload, in offset order.
    async fn pieces(&self, hash: &BlobHash, device: DeviceId) -> Result<Vec<Piece>, BlobError> {
        let dir = Self::upload_dir(hash, device);
        let mut listed = self.store.list(Some(&dir));
        let mut pieces = Vec::new();
        while let Some(meta) = listed.next().await {
            let meta = meta?;
            let Some(name) = meta.location.filename() else {
                continue;
            };
            let Some((offset, length)) = name.split_once('-') else {
                continue;
            };
            let (Ok(offset), Ok(length)) = (offset.parse(), length.parse()) else {
                continue;
            };
            pieces.push(Piece {
                offset,
                length,
                size: meta.size,
                location: meta.location,
            });
        }
        pieces.sort_by_key(|p| (p.offset, std::cmp::Reverse(p.size)));
        Ok(pieces)
    }

    /// The offset the pieces reach from 0 (contiguously) and the declared length, counting only
    /// pieces of the length of the latest declaration (the first piece's).
    fn reach(pieces: &[Piece]) -> (u64, Option<u64>) {
        let Some(length) = pieces.first().map(|p| p.length) else {
            return (0, None);
        };
        let mut offset = 0;
        for piece in pieces.iter().filter(|p| p.length == length) {
            if piece.offset > offset {
                break;
            }
            offset = offset.max(piece.offset + piece.size);
        }
        (offset.min(length), Some(length))
    }

    /// Where `device`'s upload of `hash` stands.
    pub async fn upload_state(
        &self,
        hash: &BlobHash,
        device: DeviceId,
    ) -> Result<UploadState, BlobError> {
        if let Some(size) = self.size(hash).await? {
            return Ok(UploadState::Complete(size));
        }
        let (offset, length) = Self::reach(&self.pieces(hash, device).await?);
        Ok(UploadState::Partial { offset, length })
    }

    /// Discards a device's partial upload of `hash`.
    pub async fn discard(&self, hash: &BlobHash, device: DeviceId) -> Result<(), BlobError> {
        for piece in self.pieces(hash, device).await? {
            self.delete_quietly(&piece.location).await?;
        }
        Ok(())
    }

    async fn delete_quietly(&self, location: &Path) -> Result<(), BlobError> {
        match self.store.delete(location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Holds `bytes`, the piece of `device`'s upload of `hash` (declared `length` bytes in all)
    /// from `offset`, which the caller checked is where the upload stands. When the piece ends
    /// the blob, hashes the whole and stores it or discards it.
    pub async fn append(
        &self,
        hash: &BlobHash,
        device: DeviceId,
        length: u64,
        offset: u64,
        bytes: Bytes,
    ) -> Result<Appended, BlobError> {
        let end = offset + bytes.len() as u64;
        if offset == 0 {
            // A new upload from 0 replaces whatever an earlier one (maybe of another declared
            // length) left.
            self.discard(hash, device).await?;
        }
        if !bytes.is_empty() || length == 0 {
            let name = Self::upload_dir(hash, device).child(format!("{offset:020}-{length}"));
            self.store.put(&name, PutPayload::from(bytes)).await?;
        }
        if end < length {
            return Ok(Appended::Partial(end));
        }
        self.complete(hash, device, length).await
    }

    /// Reads the pieces in order, checks the hash, stores the blob once, deletes the pieces.
    async fn complete(
        &self,
        hash: &BlobHash,
        device: DeviceId,
        length: u64,
    ) -> Result<Appended, BlobError> {
        let pieces = self.pieces(hash, device).await?;
        // The pieces are read here; joining and hashing them (up to the per-blob limit, tens of
        // milliseconds of CPU for 32 MiB) runs on a blocking thread, so the runtime's workers
        // stay free for pushes and polls (an alarm never waits behind a photo's hash).
        let mut parts: Vec<Bytes> = Vec::new();
        let mut at = 0u64;
        for piece in pieces.iter().filter(|p| p.length == length) {
            if piece.offset > at || piece.offset + piece.size <= at {
                continue;
            }
            let bytes = self.store.get(&piece.location).await?.bytes().await?;
            let skip = ((at - piece.offset) as usize).min(bytes.len());
            let take = (bytes.len() - skip).min((length - at) as usize);
            at += take as u64;
            parts.push(bytes.slice(skip..skip + take));
        }
        let (whole, digest) = tokio::task::spawn_blocking(move || {
            let mut whole = Vec::with_capacity(at as usize);
            let mut hasher = Sha256::new();
            for part in &parts {
                hasher.update(part);
                whole.extend_from_slice(part);
            }
            (whole, BlobHash::from_bytes(hasher.finalize().into()))
        })
        .await
        .map_err(|e| BlobError::Join(e.to_string()))?;
        let verdict = if whole.len() as u64 == length && digest == *hash {
            if self.size(hash).await?.is_none() {
                self.store
                    .put(&Self::blob_path(hash), PutPayload::from(whole))
                    .await?;
            }
            Appended::Stored
        } else {
            Appended::HashMismatch
        };
        for piece in pieces {
            self.delete_quietly(&piece.location).await?;
        }
        Ok(verdict)
    }

    /// Stores `bytes` as a blob at once (tools and tests), checking nothing but computing its
    /// name. Returns the hash.
    pub async fn put(&self, bytes: Bytes) -> Result<BlobHash, BlobError> {
        let hash = BlobHash::of(&bytes);
        if self.size(&hash).await?.is_none() {
            self.store
                .put(&Self::blob_path(&hash), PutPayload::from(bytes))
                .await?;
        }
        Ok(hash)
    }

    /// A stored blob's bytes from `from` on; `None` when it is not stored or `from` is past
    /// its end.
    pub async fn read(&self, hash: &BlobHash, from: u64) -> Result<Option<BlobRead>, BlobError> {
        let Some(size) = self.size(hash).await? else {
            return Ok(None);
        };
        if from > size || (from == size && size > 0) {
            return Ok(None);
        }
        let options = GetOptions {
            range: (from > 0).then_some(GetRange::Offset(from)),
            ..GetOptions::default()
        };
        let got = match self.store.get_opts(&Self::blob_path(hash), options).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let size = got.meta.size;
        let stream = got
            .into_stream()
            .map(|r| r.map_err(BlobError::from))
            .boxed();
        Ok(Some(BlobRead { size, from, stream }))
    }

    /// A stored blob's bytes, whole (tests and tools).
    pub async fn bytes(&self, hash: &BlobHash) -> Result<Option<Bytes>, BlobError> {
        match self.store.get(&Self::blob_path(hash)).await {
            Ok(got) => Ok(Some(got.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every stored blob: its hash, size and when it was written (ms since the epoch).
    pub async fn list_blobs(&self) -> Result<Vec<(BlobHash, u64, u64)>, BlobError> {
        let mut listed = self.store.list(Some(&Path::from("blobs")));
        let mut out = Vec::new();
        while let Some(meta) = listed.next().await {
            let meta = meta?;
            let Some(hash) = meta
                .location
                .filename()
                .and_then(|name| name.parse::<BlobHash>().ok())
            else {
                continue;
            };
            out.push((
                hash,
                meta.size,
                meta.last_modified.timestamp_millis().max(0) as u64,
            ));
        }
        Ok(out)
    }

    /// Deletes the partial uploads whose last piece was written before `before_ms`; returns
    /// how many uploads (a blob by a device) were deleted.
    pub async fn sweep_uploads(&self, before_ms: u64) -> Result<usize, BlobError> {
        let mut listed = self.store.list(Some(&Path::from("uploads")));
        // By upload (the folder `uploads/HASH/DEVICE`): its pieces and the newest write.
        let mut uploads: std::collections::BTreeMap<String, (Vec<Path>, u64)> =
            std::collections::BTreeMap::new();
        while let Some(meta) = listed.next().await {
            let meta = meta?;
            let parts: Vec<_> = meta.location.parts().collect();
            let key = parts
                .iter()
                .take(parts.len().saturating_sub(1))
                .map(|p| p.as_ref().to_string())
                .collect::<Vec<_>>()
                .join("/");
            let written = meta.last_modified.timestamp_millis().max(0) as u64;
            let entry = uploads.entry(key).or_default();
            entry.0.push(meta.location);
            entry.1 = entry.1.max(written);
        }
        let mut swept = 0;
        for (pieces, newest) in uploads.into_values() {
            if newest >= before_ms {
                continue;
            }
            for piece in &pieces {
                self.delete_quietly(piece).await?;
            }
            swept += 1;
        }
        Ok(swept)
    }

    /// Deletes a stored blob.
    pub async fn delete(&self, hash: &BlobHash) -> Result<(), BlobError> {
        self.delete_quietly(&Self::blob_path(hash)).await
    }
}

/// The UTC day of `ms` (days since the Unix epoch): the period of the daily upload quota.
pub fn utc_day(ms: u64) -> i64 {
    (ms / 86_400_000) as i64
}

/// Seconds from `ms` to the next UTC midnight (at least 1): when the daily quota starts again.
pub fn secs_to_next_day(ms: u64) -> u64 {
    let next = (ms / 86_400_000 + 1) * 86_400_000;
    (next - ms).div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(n: u128) -> DeviceId {
        DeviceId::from_u128(n)
    }

    #[tokio::test]
    async fn a_partial_upload_survives_a_restart_on_the_local_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let picture = vec![42u8; 10_000];
        let hash = BlobHash::of(&picture);
        {
            let store = BlobStore::local(dir.path()).unwrap();
            store
                .append(
                    &hash,
                    device(1),
                    10_000,
                    0,
                    Bytes::from(picture[..3_000].to_vec()),
                )
                .await
                .unwrap();
        }
        let reopened = BlobStore::from_url(&format!("file://{}", dir.path().display())).unwrap();
        assert_eq!(
            reopened.upload_state(&hash, device(1)).await.unwrap(),
            UploadState::Partial {
                offset: 3_000,
                length: Some(10_000)
            }
        );
        reopened
            .append(
                &hash,
                device(1),
                10_000,
                3_000,
                Bytes::from(picture[3_000..].to_vec()),
            )
            .await
            .unwrap();
        // The stored file is named by its hash alone, and holds the bytes.
        let hex = hash.to_hex();
        let file = dir.path().join("blobs").join(&hex[..2]).join(&hex);
        assert_eq!(std::fs::read(file).unwrap(), picture);
        // Nothing but the blob is left: no temporary file, no piece.
        let mut left = vec![];
        for entry in walk(dir.path()) {
            left.push(entry.strip_prefix(dir.path()).unwrap().to_path_buf());
        }
        assert_eq!(left, vec![FsPath::new("blobs").join(&hex[..2]).join(&hex)]);
    }

    fn walk(dir: &FsPath) -> Vec<std::path::PathBuf> {
        let mut out = vec![];
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }

    #[test]
    fn a_bad_url_is_refused_with_what_is_expected() {
        for bad in ["s3://", "s3://a/b", "ftp://x", ""] {
            let e = BlobStore::from_url(bad).unwrap_err().to_string();
            assert!(
                e.contains("expected") || e.contains("s3://BUCKET"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn the_quota_day_turns_at_utc_midnight() {
        let day = 86_400_000;
        assert_eq!(utc_day(day * 3 + 5), 3);
        assert_eq!(secs_to_next_day(day * 3), 86_400);
        assert_eq!(secs_to_next_day(day * 4 - 1), 1);
    }
}
