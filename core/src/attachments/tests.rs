//! Photos on the phone: taken offline, stored encrypted and stripped, uploaded in their own lane
//! (resumed after drops, policy, quota and refusals), downloaded and cached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use gridwork_domain::attachment::BlobHash;
use gridwork_domain::ids::Id;
use gridwork_domain::model::{Area, AreaLevel, Case, CaseKind, Severity};
use gridwork_domain::op::OpBody;
use gridwork_domain::workflow::CaseAction;
use uuid::Uuid;

use super::picture::tests::camera_jpeg;
use super::*;
use crate::StoreKey;
use crate::gridwork::OpenOptions;
use crate::sync::engine::SyncError;
use crate::sync::transport::TransportError;

fn store(dir: &Path, key: Option<StoreKey>) -> Gridwork {
    Gridwork::open_with(
        dir.join("phone.db"),
        OpenOptions {
            key,
            ..OpenOptions::default()
        },
    )
    .unwrap()
}

/// A grid and a hazard case in it.
fn a_case(gw: &Gridwork) -> Id {
    let mut parent = None;
    for (i, (level, code)) in [
        (AreaLevel::District, "330106"),
        (AreaLevel::Subdistrict, "330106001"),
        (AreaLevel::GridLayer, "330106001L01"),
        (AreaLevel::Community, "330106001001"),
        (AreaLevel::Grid, "330106001001001"),
    ]
    .into_iter()
    .enumerate()
    {
        let area = gw
            .create(Area {
                id: Uuid::nil(),
                level,
                code: code.into(),
                name: format!("区域{i}"),
                parent_id: parent,
                response_policies: vec![],
            })
            .unwrap();
        parent = Some(area.id);
    }
    gw.open_case(Case {
        id: Uuid::nil(),
        kind: CaseKind::Hazard,
        title: "楼道堆放杂物".into(),
        category: "fire".into(),
        severity: Severity::Medium,
        area_id: parent.unwrap(),
        building_id: None,
        household_id: None,
        position: None,
        opened_at_ms: 0,
        patrol_id: None,
    })
    .unwrap()
    .case
    .id
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_photo_is_a_step_at_once_stored_encrypted_and_stripped_and_queued_thumbnail_first() {
    let dir = tempfile::tempdir().unwrap();
    let gw = store(dir.path(), Some(StoreKey::generate()));
    let case = a_case(&gw);
    let original = camera_jpeg(800, 600);
    let photo_file = dir.path().join("camera.jpg");
    std::fs::write(&photo_file, &original).unwrap();
    gw.set_online(false);

    let (_, a) = gw.take_photo_file(case, &photo_file).unwrap();

    // The step is recorded and queued for the op sync, with the reference.
    let pending = gw.pending_ops(100).unwrap();
    let step = pending
        .iter()
        .find_map(|e| match &e.op.body {
            OpBody::CaseEvent { event } => match &event.action {
                CaseAction::Photo {
                    attachment: Some(r),
                    ..
                } => Some(r.clone()),
                _ => None,
            },
            _ => None,
        })
        .expect("the photo step is in the outbox");
    assert_eq!(*step, a);
    let pos = a.position.expect("the position is kept in the reference");
    assert!((pos.lat - 30.26).abs() < 1e-9);
    let want = chrono::DateTime::parse_from_rfc3339("2026-05-04T01:30:15Z").unwrap();
    assert_eq!(a.taken_at_ms, Some(want.timestamp_millis() as u64));
    assert_eq!(a.media_type, "image/jpeg");

    // The stored picture has no EXIF left but the orientation; it is what its hash names.
    let picture = gw.attachment_bytes(&a.blob.hash).unwrap().unwrap();
    assert_eq!(BlobHash::of(&picture), a.blob.hash);
    assert_eq!(picture.len() as u64, a.blob.size);
    assert!(!contains(&picture, b"SERIAL-8675309"));
    assert!(!contains(&picture, b"SNOOPCAM"));
    let left = exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(&picture))
        .unwrap();
    assert!(
        left.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .is_none()
    );
    assert!(
        left.get_field(exif::Tag::BodySerialNumber, exif::In::PRIMARY)
            .is_none()
    );

    // The files at rest hold neither the picture nor the camera's data in clear.
    for hash in [a.blob.hash, a.thumbnail.unwrap().hash] {
        let file = std::fs::read(gw.attachment_path(&hash).unwrap()).unwrap();
        let clear = gw.attachment_bytes(&hash).unwrap().unwrap();
        assert!(!contains(
            &file,
            &clear[clear.len() / 2..clear.len() / 2 + 64]
        ));
        assert!(!contains(&file, &clear[..32]));
        assert!(!contains(&file, &hash.to_string().into_bytes()));
    }
    let original_scan = &original[original.len() - 200..original.len() - 100];
    for entry in std::fs::read_dir(blob_dir_of(&dir.path().join("phone.db"))).unwrap() {
        let file = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!contains(&file, original_scan));
        assert!(!contains(&file, b"SERIAL-8675309"));
    }

    // Queued for upload, thumbnail first; nothing sent yet.
    let queue = gw.upload_progress().unwrap();
    assert_eq!(queue.len(), 2);
    assert_eq!(queue[0].role, BlobRole::Thumbnail);
    assert_eq!(queue[0].hash, a.thumbnail.unwrap().hash);
    assert_eq!(queue[1].role, BlobRole::Picture);
    assert!(
        queue
            .iter()
            .all(|p| p.sent == 0 && p.state == UploadState::Queued)
    );
    assert!(
        queue
            .iter()
            .all(|p| p.case_id == case && p.picture == a.blob.hash)
    );

    let photos = gw.case_photos(case).unwrap();
    assert_eq!(photos.len(), 1);
    assert!(photos[0].picture_here && photos[0].thumbnail_here);
    assert_eq!(photos[0].attachment, a);
    assert_eq!(
        photos[0].upload.as_ref().unwrap().state,
        UploadState::Queued
    );
}

#[test]
fn a_tampered_blob_file_is_refused_on_read_and_the_store_reopens_with_its_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    let gw = store(dir.path(), Some(key.clone()));
    let case = a_case(&gw);
    let (_, a) = gw.take_photo(case, &camera_jpeg(300, 200)).unwrap();
    let path = gw.attachment_path(&a.blob.hash).unwrap();
    drop(gw);

    let gw = store(dir.path(), Some(key));
    assert!(gw.attachment_bytes(&a.blob.hash).unwrap().is_some());
    let mut file = std::fs::read(&path).unwrap();
    let at = file.len() / 2;
    file[at] ^= 0x40;
    std::fs::write(&path, &file).unwrap();
    let err = gw.attachment_bytes(&a.blob.hash).unwrap_err();
    assert!(matches!(err, Error::Attachment(_)), "{err}");
    assert!(!err.to_string().contains(&a.blob.hash.to_string()));
}

#[test]
fn a_photo_that_is_not_a_picture_records_nothing_and_an_in_memory_store_keeps_none() {
    let dir = tempfile::tempdir().unwrap();
    let gw = store(dir.path(), None);
    let case = a_case(&gw);
    let before = gw.pending_count().unwrap();
    let err = gw.take_photo(case, b"not a picture at all").unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(v) if v.field == "photo"),
        "{err}"
    );
    assert_eq!(gw.pending_count().unwrap(), before);
    assert!(gw.upload_progress().unwrap().is_empty());

    let mem = Gridwork::open_in_memory(OpenOptions::default()).unwrap();
    let case = a_case(&mem);
    let err = mem.take_photo(case, &camera_jpeg(10, 10)).unwrap_err();
    assert!(matches!(err, Error::Attachment(_)), "{err}");
}

/// The server's side of the protocol, in memory, with faults.
#[derive(Default)]
struct FakeServer {
    state: Mutex<FakeState>,
    patches: AtomicUsize,
}

#[derive(Default)]
struct FakeState {
    partial: HashMap<BlobHash, Vec<u8>>,
    stored: HashMap<BlobHash, Vec<u8>>,
    /// (hash, offset, body length) of every PATCH received.
    log: Vec<(BlobHash, u64, usize)>,
    /// Every `n`th PATCH is cut off after half its body arrived.
    cut_every: Option<usize>,
    /// Blobs above this size are refused (413).
    limit: Option<u64>,
    /// Bytes this device may still send today (429 beyond).
    quota: Option<u64>,
    /// The server flips a byte of what it receives (so the whole does not hash to its name).
    corrupt: bool,
    /// Answers a GET with other bytes.
    lie_on_get: bool,
    gets: usize,
    /// Each GET's body is cut off after this many bytes (the connection drops).
    cut_get_after: Option<usize>,
    /// Bytes of blob bodies sent by GETs, cut-off ones included.
    get_bytes: usize,
    /// Every `n`th PATCH is answered with the offset it started from (a stale answer), though
    /// its bytes were kept.
    stale_every: Option<usize>,
}

impl FakeServer {
    fn with(f: impl FnOnce(&mut FakeState)) -> FakeServer {
        let s = FakeServer::default();
        f(&mut s.state.lock().unwrap());
        s
    }
}

fn server_error(status: u16, code: &str) -> TransportError {
    TransportError::Server {
        status,
        code: code.into(),
        message: "refused".into(),
    }
}

impl BlobTransport for FakeServer {
    async fn upload_offset(&self, hash: &BlobHash) -> Result<UploadOffset, TransportError> {
        let s = self.state.lock().unwrap();
        if s.stored.contains_key(hash) {
            return Ok(UploadOffset::Complete);
        }
        Ok(UploadOffset::At(
            s.partial.get(hash).map_or(0, |p| p.len() as u64),
        ))
    }

    async fn upload_chunk(
        &self,
        hash: &BlobHash,
        offset: u64,
        total: u64,
        mut body: Vec<u8>,
    ) -> Result<PatchAnswer, TransportError> {
        let n = self.patches.fetch_add(1, Ordering::SeqCst) + 1;
        let mut s = self.state.lock().unwrap();
        s.log.push((*hash, offset, body.len()));
        if s.limit.is_some_and(|l| total > l) {
            return Err(server_error(413, "blob_too_large"));
        }
        if let Some(q) = s.quota {
            if body.len() as u64 > q {
                return Err(TransportError::RateLimited {
                    retry_after_s: 3600,
                    message: "quota".into(),
                });
            }
            s.quota = Some(q - body.len() as u64);
        }
        let held = s.partial.get(hash).map_or(0, |p| p.len() as u64);
        if offset != held {
            return Ok(PatchAnswer::OffsetMismatch(held));
        }
        if s.corrupt && !body.is_empty() {
            body[0] ^= 1;
        }
        let cut = s.cut_every.is_some_and(|every| n.is_multiple_of(every));
        if cut {
            body.truncate(body.len() / 2);
        }
        let partial = s.partial.entry(*hash).or_default();
        partial.extend_from_slice(&body);
        if cut {
            return Err(TransportError::Unreachable("connection reset".into()));
        }
        let now = partial.len() as u64;
        if now < total && s.stale_every.is_some_and(|every| n.is_multiple_of(every)) {
            return Ok(PatchAnswer::Accepted(offset));
        }
        if now == total {
            let whole = s.partial.remove(hash).unwrap();
            if BlobHash::of(&whole) != *hash {
                return Err(server_error(422, "hash_mismatch"));
            }
            s.stored.insert(*hash, whole);
            return Ok(PatchAnswer::Complete);
        }
        Ok(PatchAnswer::Accepted(now))
    }

    async fn download(&self, hash: &BlobHash, into: &mut Vec<u8>) -> Result<bool, TransportError> {
        let mut s = self.state.lock().unwrap();
        s.gets += 1;
        let lie = s.lie_on_get;
        let Some(mut whole) = s.stored.get(hash).cloned() else {
            return Ok(false);
        };
        if lie {
            whole.push(0);
        }
        // `Range: bytes=k-`, answered from k; at or past the end, 416 (the transport then
        // drops what it kept).
        if !into.is_empty() && into.len() >= whole.len() {
            into.clear();
            return Err(server_error(416, "range_not_satisfiable"));
        }
        let rest = &whole[into.len().min(whole.len())..];
        match s.cut_get_after {
            Some(n) if rest.len() > n => {
                into.extend_from_slice(&rest[..n]);
                s.get_bytes += n;
                Err(TransportError::Unreachable("connection reset".into()))
            }
            _ => {
                into.extend_from_slice(rest);
                s.get_bytes += rest.len();
                Ok(true)
            }
        }
    }
}

fn two_threads() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[derive(Default)]
struct Seen(Mutex<Vec<AttachmentProgress>>);

impl UploadObserver for Seen {
    fn on_upload(&self, p: &AttachmentProgress) {
        self.0.lock().unwrap().push(p.clone());
    }
}

#[test]
fn an_upload_cut_off_again_and_again_resumes_from_the_servers_offset_to_completion() {
    let dir = tempfile::tempdir().unwrap();
    let gw = store(dir.path(), None);
    let case = a_case(&gw);
    // A big picture (noise does not compress): several chunks.
    let (_, a) = gw.take_photo(case, &noisy_jpeg(1400, 1000)).unwrap();
    assert!(a.blob.size > 3 * lane::UPLOAD_CHUNK, "{}", a.blob.size);
    let seen = Arc::new(Seen::default());
    gw.add_upload_observer(seen.clone());
    let server = FakeServer::with(|s| s.cut_every = Some(2));
    let rt = runtime();

    let mut runs = 0;
    let mut failures = 0;
    loop {
        runs += 1;
        assert!(runs < 100, "the upload never finished");
        match rt.block_on(gw.upload_pending(&server)) {
            Ok(report) => {
                assert_eq!(report.queued, 0);
                break;
            }
            Err(SyncError::Transport(TransportError::Unreachable(_))) => failures += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(failures >= 3, "{failures}");
    let s = server.state.lock().unwrap();
    assert_eq!(
        s.stored[&a.blob.hash],
        gw.attachment_bytes(&a.blob.hash).unwrap().unwrap()
    );
    assert!(s.stored.contains_key(&a.thumbnail.unwrap().hash));
    // Thumbnail first; resumed, never restarted: every PATCH of the picture starts where the
    // server's bytes end, so offsets only grow.
    assert_eq!(s.log[0].0, a.thumbnail.unwrap().hash);
    let picture_offsets: Vec<u64> = s
        .log
        .iter()
        .filter(|l| l.0 == a.blob.hash)
        .map(|l| l.1)
        .collect();
    assert_eq!(picture_offsets.iter().filter(|o| **o == 0).count(), 1);
    assert!(
        picture_offsets.windows(2).all(|w| w[0] < w[1]),
        "{picture_offsets:?}"
    );
    assert!(s.log.iter().all(|l| l.2 as u64 <= lane::UPLOAD_CHUNK));
    // Bytes put on the wire: the file plus what the drops lost (half a chunk each).
    let wire = gw.upload_wire_bytes(&a.blob.hash).unwrap();
    assert!(wire < a.blob.size * 2, "{wire} of {}", a.blob.size);
    drop(s);
    // Progress: confirmed bytes never go back, the picture ends uploaded with all its bytes.
    let seen = seen.0.lock().unwrap();
    let picture: Vec<&AttachmentProgress> = seen.iter().filter(|p| p.hash == a.blob.hash).collect();
    assert!(picture.windows(2).all(|w| w[0].sent <= w[1].sent));
    assert!(picture.iter().any(|p| p.state == UploadState::Uploading));
    let last = picture.last().unwrap();
    assert_eq!(
        (last.sent, last.total, last.state),
        (a.blob.size, a.blob.size, UploadState::Uploaded)
    );
    assert!(
        gw.upload_progress()
            .unwrap()
            .iter()
            .all(|p| p.state == UploadState::Uploaded)
    );
}

/// A JPEG of noise (large for its size: nothing to compress).
fn noisy_jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut x: u32 = 12345;
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        image::Rgb([(x >> 16) as u8, (x >> 8) as u8, (x >> 24) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
        .encode_image(&img)
        .unwrap();
    out
}

#[test]
fn the_policy_pauses_or_waits_for_an_unmetered_network_and_a_blob_the_server_has_is_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let gw = store(dir.path(), None);
    let case = a_case(&gw);
    let (_, a) = gw.take_photo(case, &camera_jpeg(200, 100)).unwrap();
    let server = FakeServer::default();
    let rt = runtime();

    gw.set_upload_policy(UploadPolicy::Paused).unwrap();
    let r = rt.block_on(gw.upload_pending(&server)).unwrap();
    assert_eq!(r.stopped, Some(LaneStop::Paused));
    assert_eq!((r.bytes, r.queued), (0, 2));
    assert!(
        gw.upload_progress()
            .unwrap()
            .iter()
            .all(|p| p.state == UploadState::Paused)
    );

    gw.set_upload_policy(UploadPolicy::UnmeteredOnly).unwrap();
    assert_eq!(gw.upload_policy().unwrap(), UploadPolicy::UnmeteredOnly);
    // Until the app says otherwise, the network counts as metered.
    let r = rt.block_on(gw.upload_pending(&server)).unwrap();
    assert_eq!(r.stopped, Some(LaneStop::WaitingForUnmetered));
    assert!(server.state.lock().unwrap().log.is_empty());
    assert_eq!(
        gw.upload_of(&a.blob.hash).unwrap().unwrap().state,
        UploadState::WaitingForUnmetered
    );

    // The thumbnail is already on the server (another phone sent the same bytes).
    let thumb = a.thumbnail.unwrap().hash;
    let thumb_bytes = gw.attachment_bytes(&thumb).unwrap().unwrap();
    server
        .state
        .lock()
        .unwrap()
        .stored
        .insert(thumb, thumb_bytes);
    gw.set_network_metered(false).unwrap();
    let r = rt.block_on(gw.upload_pending(&server)).unwrap();
    assert_eq!((r.completed, r.queued, r.stopped), (2, 0, None));
    assert_eq!(r.bytes, a.blob.size, "only the picture's bytes went");
    assert!(
        server
            .state
            .lock()
            .unwrap()
            .log
            .iter()
            .all(|l| l.0 == a.blob.hash)
    );
}

#[test]
fn too_large_hash_mismatch_and_quota_each_get_their_state() {
    let rt = runtime();
    // 413: the blob never goes; the lane goes on with the next.
    let dir = tempfile::tempdir().unwrap();
    let gw = store(dir.path(), None);
    let case = a_case(&gw);
    let (_, a) = gw.take_photo(case, &noisy_jpeg(300, 300)).unwrap();
    let thumb = a.thumbnail.unwrap();
    let server = FakeServer::with(|s| s.limit = Some(thumb.size));
    let r = rt.block_on(gw.upload_pending(&server)).unwrap();
    assert_eq!((r.completed, r.queued), (1, 0));
    assert_eq!(
        gw.upload_of(&a.blob.hash).unwrap().unwrap().state,
        UploadState::TooLarge
    );
    assert_eq!(
        gw.upload_of(&thumb.hash).unwrap().unwrap().state,
        UploadState::Uploaded
    );

    // 422: refused until the app retries; the retry starts again from 0.
    let dir = tempfile::tempdir().unwrap();
    let gw = store(dir.path(), None);
    let case = a_case(&gw);
    let (_, a) = gw.take_photo(case, &camera_jpeg(120, 90)).unwrap();
    let server = FakeServer::with(|s| s.corrupt = true);
    let r = rt.block_on(gw.upload_pending(&server)).unwrap();
    assert_eq!((r.completed, r.queued), (0, 0));
    let states: Vec<_> = gw
        .upload_progress()
        .unwrap()
        .iter()
        .map(|p| p.state)
        .collect();
    assert_eq!(states, vec![UploadState::HashMismatch; 2]);
    let again = rt.block_on(gw.upload_pending(&server)).unwrap();
    assert_eq!(again.bytes, 0, "a refused blob is not resent by itself");
    server.state.lock().unwrap().corrupt = false;
    assert!(gw.retry_upload(&a.blob.hash).unwrap());
    let r = rt.block_on(gw.upload_pending(&server)).unwrap();
    assert_eq!(r.completed, 1);
    assert_eq!(
        gw.upload_of(&a.blob.hash).unwrap().unwrap().state,
        UploadState::Uploaded
    );

    // 429: the lane stops until the time the server gave.
    let dir = tempfile::tempdir().unwrap();
    let gw = store(dir.path(), None);
    let case = a_case(&gw);
    let (_, a) = gw.take_photo(case, &noisy_jpeg(400, 400)).unwrap();
    let thumb = a.thumbnail.unwrap();
    let server = FakeServer::with(|s| s.quota = Some(thumb.size + 10));
    let r = rt.block_on(gw.upload_pending(&server)).unwrap();
    let Some(LaneStop::QuotaExceeded { retry_at_ms }) = r.stopped else {
        panic!("{r:?}");
    };
    assert!(retry_at_ms >= gw.wall_ms() + 3_500_000);
    assert_eq!((r.completed, r.queued), (1, 1));
    assert_eq!(
        gw.upload_of(&a.blob.hash).unwrap().unwrap().state,
        UploadState::QuotaExceeded { retry_at_ms }
    );
    let later = rt.block_on(gw.upload_pending(&server)).unwrap();
    assert_eq!(
        (later.bytes, later.queued),
        (0, 1),
        "nothing is tried before the time"
    );
}

#[test]
fn downloads_are_verified_cached_encrypted_and_a_blob_not_there_yet_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let gw = store(dir.path(), None);
    let thumb = camera_jpeg(40, 30);
    let hash = BlobHash::of(&thumb);
    let server = FakeServer::default();
    let rt = runtime();

    assert_eq!(
        rt.block_on(gw.fetch_attachment(&server, &hash)).unwrap(),
        None
    );
    server
        .state
        .lock()
        .unwrap()
        .stored
        .insert(hash, thumb.clone());
    server.state.lock().unwrap().lie_on_get = true;
    let err = rt
        .block_on(gw.fetch_attachment(&server, &hash))
        .unwrap_err();
    assert!(
        matches!(err, SyncError::Transport(TransportError::BadAnswer(_))),
        "{err}"
    );
    assert_eq!(
        gw.attachment_bytes(&hash).unwrap(),
        None,
        "nothing unverified is kept"
    );

    server.state.lock().unwrap().lie_on_get = false;
    // The bytes that failed were kept in case they were a short answer's prefix: the next
    // fetch asks for the rest, which the server cannot give (they were not a prefix: 416),
    // and they are dropped; the one after fetches the whole again.
    let err = rt
        .block_on(gw.fetch_attachment(&server, &hash))
        .unwrap_err();
    assert!(
        matches!(
            &err,
            SyncError::Transport(TransportError::Server { status: 416, .. })
        ),
        "{err}"
    );
    let got = rt.block_on(gw.fetch_attachment(&server, &hash)).unwrap();
    assert_eq!(got.as_deref(), Some(&thumb[..]));
    let gets = server.state.lock().unwrap().gets;
    // Cached: offline, the same bytes, without asking the server.
    gw.set_online(false);
    let again = rt.block_on(gw.fetch_attachment(&server, &hash)).unwrap();
    assert_eq!(again.as_deref(), Some(&thumb[..]));
    assert_eq!(server.state.lock().unwrap().gets, gets);
    let file = std::fs::read(gw.attachment_path(&hash).unwrap()).unwrap();
    assert!(!contains(&file, &thumb[..48]));
}

#[test]
fn a_case_step_is_written_while_an_upload_waits_on_the_network() {
    // The lane holds no lock of the store while a PATCH is on the wire: an alarm's step is
    // recorded (and could be pushed) meanwhile.
    struct Held {
        inner: FakeServer,
        entered: tokio::sync::Notify,
        release: tokio::sync::Notify,
    }
    impl BlobTransport for Held {
        async fn upload_offset(&self, h: &BlobHash) -> Result<UploadOffset, TransportError> {
            self.inner.upload_offset(h).await
        }
        async fn upload_chunk(
            &self,
            h: &BlobHash,
            offset: u64,
            total: u64,
            body: Vec<u8>,
        ) -> Result<PatchAnswer, TransportError> {
            self.entered.notify_one();
            self.release.notified().await;
            self.inner.upload_chunk(h, offset, total, body).await
        }
        async fn download(&self, h: &BlobHash, into: &mut Vec<u8>) -> Result<bool, TransportError> {
            self.inner.download(h, into).await
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let gw = Arc::new(store(dir.path(), None));
    let case = a_case(&gw);
    gw.take_photo(case, &camera_jpeg(64, 64)).unwrap();
    let held = Arc::new(Held {
        inner: FakeServer::default(),
        entered: tokio::sync::Notify::new(),
        release: tokio::sync::Notify::new(),
    });
    let rt = two_threads();
    let lane = rt.spawn({
        let (gw, held) = (gw.clone(), held.clone());
        async move { gw.upload_pending(&*held).await.map(|r| r.completed) }
    });
    rt.block_on(held.entered.notified());
    let before = gw.pending_count().unwrap();
    gw.record_case_event(
        case,
        CaseAction::Note {
            text: "已到现场".into(),
        },
    )
    .unwrap();
    assert_eq!(gw.pending_count().unwrap(), before + 1);
    assert_eq!(
        gw.upload_progress().unwrap()[0].state,
        UploadState::Uploading
    );
    // Release every PATCH from now on.
    let releaser = rt.spawn({
        let held = held.clone();
        async move {
            loop {
                held.release.notify_one();
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
    });
    assert_eq!(rt.block_on(lane).unwrap().unwrap(), 2);
    releaser.abort();
}

#[test]
fn a_stale_patch_answer_is_checked_with_head_and_no_byte_is_sent_twice() {
    let dir = tempfile::tempdir().unwrap();
    let gw = store(dir.path(), None);
    let case = a_case(&gw);
    let (_, a) = gw.take_photo(case, &noisy_jpeg(1000, 800)).unwrap();
    let seen = Arc::new(Seen::default());
    gw.add_upload_observer(seen.clone());
    let server = FakeServer::with(|s| s.stale_every = Some(2));
    let r = runtime().block_on(gw.upload_pending(&server)).unwrap();
    assert_eq!((r.completed, r.queued), (2, 0));
    let thumb = a.thumbnail.unwrap();
    assert_eq!(r.bytes, a.blob.size + thumb.size, "nothing resent");
    let seen = seen.0.lock().unwrap();
    let sent: Vec<u64> = seen
        .iter()
        .filter(|p| p.hash == a.blob.hash)
        .map(|p| p.sent)
        .collect();
    assert!(sent.windows(2).all(|w| w[0] <= w[1]), "{sent:?}");
}

/// A building in the grid of `case`, and a rented room in it.
fn a_building_and_room(gw: &Gridwork, case: Id) -> (Id, Id) {
    use gridwork_domain::model::{Building, BuildingKind, Household, HouseholdKind};
    let grid = gw.get::<Case>(case).unwrap().area_id;
    let building = gw
        .create(Building {
            id: Uuid::nil(),
            address_code: "3301060010010010001".into(),
            address: "梅花碑社区 3 幢".into(),
            kind: BuildingKind::Rental,
            grid_id: grid,
            micro_grid_id: None,
            head_user_id: None,
            station_id: None,
            position: None,
        })
        .unwrap()
        .id;
    let room = gw
        .create(Household {
            id: Uuid::nil(),
            building_id: building,
            unit: "2-301".into(),
            kind: HouseholdKind::GroupRental,
            phone: None,
            archived: false,
        })
        .unwrap()
        .id;
    (building, room)
}

/// A building's and a household's photos (ADR 0043): a field each, written at once offline
/// and pushed as a `set` of that one field, both blobs queued for upload (thumbnail first),
/// listed with what the phone holds; an edit of the record keeps them; a removal nulls the
/// field; a kind that holds no photos and a record not here are refused, leaving no file.
#[test]
fn a_records_photo_is_a_field_at_once_queued_listed_and_removed() {
    use gridwork_domain::attachment::photo_field;
    use gridwork_domain::model::Building;
    use gridwork_domain::op::EntityKind;
    let dir = tempfile::tempdir().unwrap();
    let gw = store(dir.path(), Some(StoreKey::generate()));
    let case = a_case(&gw);
    let (building, room) = a_building_and_room(&gw, case);
    gw.set_online(false);
    let before = gw.pending_count().unwrap();
    let photo_file = dir.path().join("exit.jpg");
    std::fs::write(&photo_file, camera_jpeg(400, 300)).unwrap();

    let a = gw
        .add_record_photo_file(EntityKind::Building, building, &photo_file)
        .unwrap();
    let field = photo_field(&a.blob.hash);
    let pending = gw.pending_ops(100).unwrap();
    assert_eq!(pending.len() as u64, before + 1);
    let last = &pending.last().unwrap().op;
    assert_eq!(
        (last.entity, last.entity_id),
        (EntityKind::Building, building)
    );
    let OpBody::Set { fields } = &last.body else {
        panic!("a set")
    };
    assert_eq!(fields.keys().collect::<Vec<_>>(), vec![&field]);
    assert_eq!(fields[&field].value, serde_json::to_value(&a).unwrap());
    // Both blobs queued, the thumbnail first, under the building.
    let queued = gw.upload_progress().unwrap();
    assert_eq!(queued.len(), 2);
    assert_eq!(queued[0].hash, a.thumbnail.unwrap().hash);
    assert_eq!(queued[1].hash, a.blob.hash);
    assert!(queued.iter().all(|p| p.case_id == building));
    // Listed, its bytes here, stripped of the camera's serial number.
    let listed = gw.record_photos(EntityKind::Building, building).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].attachment, a);
    assert!(listed[0].thumbnail_here && listed[0].picture_here);
    assert_eq!(listed[0].upload.as_ref().unwrap().hash, a.blob.hash);
    let bytes = gw.attachment_bytes(&a.blob.hash).unwrap().unwrap();
    assert!(!contains(&bytes, b"SERIAL-8675309"));

    // The same picture again writes nothing.
    let n = gw.pending_count().unwrap();
    gw.add_record_photo_file(EntityKind::Building, building, &photo_file)
        .unwrap();
    assert_eq!(gw.pending_count().unwrap(), n);
    // A room's photo is its own.
    let r = gw
        .add_record_photo(EntityKind::Household, room, &noisy_jpeg(120, 90))
        .unwrap();
    assert_eq!(
        gw.record_photos(EntityKind::Household, room).unwrap()[0].attachment,
        r
    );
    // An edit of the building's other fields keeps its photo.
    gw.update::<Building>(building, |b| b.address = "梅花碑社区 3 幢东".into())
        .unwrap();
    assert_eq!(
        gw.record_photos(EntityKind::Building, building)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        gw.get::<Building>(building).unwrap().address,
        "梅花碑社区 3 幢东"
    );

    // Removed: the field is null, the list empty; removing it again is "not found".
    gw.remove_record_photo(EntityKind::Building, building, &a.blob.hash)
        .unwrap();
    assert!(
        gw.record_photos(EntityKind::Building, building)
            .unwrap()
            .is_empty()
    );
    let state = gw.record_state(building).unwrap().unwrap();
    assert_eq!(state.fields[&field], serde_json::Value::Null);
    assert!(matches!(
        gw.remove_record_photo(EntityKind::Building, building, &a.blob.hash),
        Err(Error::NotFound { .. })
    ));

    // Refused: a case holds no photo fields; an unknown record. No file is left behind.
    let other = noisy_jpeg(90, 60);
    let files = || {
        std::fs::read_dir(blob_dir_of(&dir.path().join("phone.db")))
            .unwrap()
            .count()
    };
    let held = files();
    assert!(matches!(
        gw.add_record_photo(EntityKind::Case, case, &other),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        gw.add_record_photo(EntityKind::Building, Uuid::now_v7(), &other),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(files(), held);
}

/// A download cut off again and again resumes from the bytes received (`Range`), never from 0:
/// the bytes received stay within 1.2 times the blob, and the picture is whole and checked.
#[test]
fn a_download_cut_off_again_and_again_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let gw = store(dir.path(), None);
    let picture = noisy_jpeg(400, 300);
    let hash = BlobHash::of(&picture);
    let server = FakeServer::default();
    {
        let mut s = server.state.lock().unwrap();
        s.stored.insert(hash, picture.clone());
        s.cut_get_after = Some(picture.len() / 5 + 1);
    }
    let rt = runtime();
    let mut failures = 0;
    let got = loop {
        match rt.block_on(gw.fetch_attachment(&server, &hash)) {
            Ok(Some(bytes)) => break bytes,
            Ok(None) => panic!("the blob is there"),
            Err(SyncError::Transport(TransportError::Unreachable(_))) => failures += 1,
            Err(e) => panic!("{e}"),
        }
        assert!(failures < 20, "the download never finished");
    };
    assert_eq!(got, picture);
    assert!(failures >= 4, "{failures}");
    let sent = server.state.lock().unwrap().get_bytes;
    assert!(
        sent as f64 <= 1.2 * picture.len() as f64,
        "{sent} bytes received for {}",
        picture.len()
    );
    // Kept encrypted, read back from the phone without the network.
    assert_eq!(gw.attachment_bytes(&hash).unwrap().unwrap(), picture);
}

/// The sweep of blob files nothing references (ADR 0045): a photo removed from a record keeps
/// its files while they wait to upload and while an unpushed operation names them, and loses
/// them then; a record and a case that leave the phone lose theirs; a photo still referenced is
/// kept; nothing is deleted while a photo is being written; a temporary file is
/// left alone unless a crash left it long ago.
#[test]
fn the_sweep_deletes_files_nothing_references_never_one_waiting_to_upload_or_being_written() {
    use gridwork_domain::attachment::AttachmentRef;
    use gridwork_domain::op::EntityKind;
    let dir = tempfile::tempdir().unwrap();
    let gw = store(dir.path(), Some(StoreKey::generate()));
    let case = a_case(&gw);
    let (building, room) = a_building_and_room(&gw, case);
    let b = gw
        .add_record_photo(EntityKind::Building, building, &noisy_jpeg(200, 150))
        .unwrap();
    let kept = gw
        .add_record_photo(EntityKind::Building, building, &noisy_jpeg(180, 120))
        .unwrap();
    let r = gw
        .add_record_photo(EntityKind::Household, room, &noisy_jpeg(150, 100))
        .unwrap();
    let (_, c) = gw.take_photo(case, &camera_jpeg(400, 300)).unwrap();
    let here = |a: &AttachmentRef| {
        a.blobs()
            .map(|x| gw.attachment_path(&x.hash).unwrap().is_file())
            .collect::<Vec<_>>()
    };
    for a in [&b, &kept, &r, &c] {
        assert_eq!(here(a), [true, true]);
    }

    // Removed before it was uploaded: both files wait for the lane.
    gw.remove_record_photo(EntityKind::Building, building, &b.blob.hash)
        .unwrap();
    let report = gw.sweep_attachments().unwrap();
    assert_eq!((report.removed, report.kept, report.busy), (0, 8, false));
    assert_eq!(here(&b), [true, true]);
    // Uploaded, but the operations that added them are not pushed yet: the outbox names them.
    let rt = runtime();
    let server = FakeServer::default();
    assert_eq!(rt.block_on(gw.upload_pending(&server)).unwrap().queued, 0);
    assert_eq!(gw.sweep_attachments().unwrap().removed, 0);
    assert_eq!(here(&b), [true, true]);
    // Pushed (the outbox empty): nothing names them any more, they go (and the lane's rows
    // with them); the photos still held stay.
    gw.read(|conn| Ok(conn.execute("DELETE FROM outbox", [])?))
        .unwrap();
    let report = gw.sweep_attachments().unwrap();
    assert_eq!((report.removed, report.kept), (2, 6));
    assert!(report.freed_bytes > b.blob.size, "{report:?}");
    assert_eq!(here(&b), [false, false]);
    assert!(gw.upload_of(&b.blob.hash).unwrap().is_none());
    for a in [&kept, &r, &c] {
        assert_eq!(here(a), [true, true]);
    }

    // The room and the case leave the phone (as an eviction purges them): their photos go;
    // the building's remaining photo stays.
    gw.read(|conn| {
        crate::store::records::purge(conn, room)?;
        crate::store::records::purge(conn, case)?;
        Ok(())
    })
    .unwrap();
    let report = gw.sweep_attachments().unwrap();
    assert_eq!((report.removed, report.kept), (4, 2));
    assert_eq!(here(&r), [false, false]);
    assert_eq!(here(&c), [false, false]);
    assert_eq!(here(&kept), [true, true]);
    assert_eq!(
        gw.record_photos(EntityKind::Building, building).unwrap()[0].attachment,
        kept
    );

    // While a photo is being written the sweep does nothing; after, it runs.
    let vault = gw.vault().unwrap();
    let stray = BlobHash::of(b"a fetched picture nothing names");
    let writing = vault.writing();
    vault
        .put(&stray, b"a fetched picture nothing names")
        .unwrap();
    let report = gw.sweep_attachments().unwrap();
    assert!(report.busy);
    assert!(vault.has(&stray));
    drop(writing);
    assert_eq!(gw.sweep_attachments().unwrap().removed, 1);
    assert!(!vault.has(&stray));

    // A temporary file is a write under way, unless it is more than a day old.
    let fresh = vault.dir().join("0a.blob.tmp77");
    let old = vault.dir().join("0b.blob.tmp78");
    std::fs::write(&fresh, b"x").unwrap();
    std::fs::write(&old, b"x").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400))
        .unwrap();
    let report = gw.sweep_attachments().unwrap();
    assert_eq!((report.removed, report.kept), (0, 2));
    assert!(fresh.is_file());
    assert!(!old.is_file());
}

/// The operations lane's side of a server whose push is held until released; pulls find
/// nothing new.
#[derive(Default)]
struct HeldPush {
    entered: tokio::sync::Notify,
    release: tokio::sync::Notify,
    pushed: AtomicUsize,
}

/// As far as a sync run is concerned, the store is enrolled and bootstrapped.
fn enrolled_and_bootstrapped(gw: &Gridwork) {
    gw.read(|c| {
        crate::store::meta::set(c, crate::store::meta::TOKEN, "token")?;
        crate::store::meta::set(c, crate::store::meta::CURSOR, "0")
    })
    .unwrap();
}

fn server_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

impl crate::sync::transport::Transport for HeldPush {
    async fn enroll(
        &self,
        _: &gridwork_domain::sync::EnrollRequest,
    ) -> Result<crate::sync::transport::Sized<gridwork_domain::sync::EnrollResponse>, TransportError>
    {
        Err(TransportError::BadAnswer("no enrollment here".into()))
    }

    async fn push(
        &self,
        req: &gridwork_domain::sync::PushRequest,
    ) -> Result<crate::sync::transport::Sized<gridwork_domain::sync::PushResponse>, TransportError>
    {
        use gridwork_domain::sync::{PushOutcome, PushResponse, PushResult};
        self.entered.notify_one();
        self.release.notified().await;
        let results = req
            .ops
            .iter()
            .map(|op| PushResult {
                op_id: op.id,
                outcome: PushOutcome::Accepted {
                    seq: self.pushed.fetch_add(1, Ordering::SeqCst) as u64 + 1,
                },
            })
            .collect();
        Ok(crate::sync::transport::Sized {
            bytes: 0,
            value: PushResponse {
                results,
                server_time_ms: server_now_ms(),
                records: vec![],
                events: vec![],
                evict: vec![],
            },
        })
    }

    async fn pull(
        &self,
        after: u64,
        _limit: usize,
        _wait_s: u64,
    ) -> Result<crate::sync::transport::Sized<gridwork_domain::sync::PullResponse>, TransportError>
    {
        Ok(crate::sync::transport::Sized {
            bytes: 0,
            value: gridwork_domain::sync::PullResponse {
                ops: vec![],
                next: after,
                more: false,
                server_time_ms: server_now_ms(),
                records: vec![],
                events: vec![],
                evict: vec![],
                user: None,
            },
        })
    }

    async fn snapshot(
        &self,
        _after: Option<Id>,
        _limit: usize,
    ) -> Result<
        crate::sync::transport::Sized<gridwork_domain::sync::SnapshotResponse>,
        TransportError,
    > {
        Err(TransportError::BadAnswer("no snapshot here".into()))
    }

    fn set_token(&self, _: Option<String>) {}
}

/// The blob side of a server whose every PATCH is held until released, counting them.
#[derive(Default)]
struct HeldChunks {
    inner: FakeServer,
    entered: tokio::sync::Notify,
    release: tokio::sync::Notify,
    calls: AtomicUsize,
}

impl BlobTransport for HeldChunks {
    async fn upload_offset(&self, h: &BlobHash) -> Result<UploadOffset, TransportError> {
        self.inner.upload_offset(h).await
    }
    async fn upload_chunk(
        &self,
        h: &BlobHash,
        offset: u64,
        total: u64,
        body: Vec<u8>,
    ) -> Result<PatchAnswer, TransportError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.entered.notify_one();
        self.release.notified().await;
        self.inner.upload_chunk(h, offset, total, body).await
    }
    async fn download(&self, h: &BlobHash, into: &mut Vec<u8>) -> Result<bool, TransportError> {
        self.inner.download(h, into).await
    }
}

#[test]
fn no_chunk_is_sent_while_an_operation_push_is_under_way_and_the_upload_resumes_after_it() {
    // ADR 0053: the chunk on the wire when a sync run starts is the last until the run ends;
    // then the upload goes on from where it stood, to completion.
    let dir = tempfile::tempdir().unwrap();
    let gw = Arc::new(store(dir.path(), None));
    let case = a_case(&gw);
    let (_, photo) = gw.take_photo(case, &noisy_jpeg(1400, 1000)).unwrap();
    assert!(
        photo.blob.size > 3 * lane::UPLOAD_CHUNK,
        "{}",
        photo.blob.size
    );
    enrolled_and_bootstrapped(&gw);
    let chunks = Arc::new(HeldChunks::default());
    let ops = Arc::new(HeldPush::default());
    let rt = two_threads();
    let lane = rt.spawn({
        let (gw, chunks) = (gw.clone(), chunks.clone());
        async move { gw.upload_pending(&*chunks).await.map(|r| r.completed) }
    });
    // The thumbnail's PATCH is on the wire; then a sync run starts and its push is held.
    rt.block_on(chunks.entered.notified());
    let sync = rt.spawn({
        let (gw, ops) = (gw.clone(), ops.clone());
        async move { gw.sync_now(&*ops).await.map(|r| r.pushed) }
    });
    rt.block_on(ops.entered.notified());
    assert!(gw.lane.ops_busy());
    // The chunk on the wire completes; no other starts while the push is pending.
    chunks.release.notify_one();
    rt.block_on(async { tokio::time::sleep(std::time::Duration::from_millis(300)).await });
    assert_eq!(chunks.calls.load(Ordering::SeqCst), 1);
    let thumbnail = photo.thumbnail.unwrap().hash;
    assert_eq!(
        gw.upload_of(&thumbnail).unwrap().unwrap().state,
        UploadState::Uploaded
    );
    assert_eq!(gw.upload_of(&photo.blob.hash).unwrap().unwrap().sent, 0);
    assert!(!lane.is_finished());

    // The push is answered: the run ends, and the upload goes on to completion.
    ops.release.notify_one();
    let pushed = rt.block_on(sync).unwrap().unwrap();
    assert!(pushed >= 1, "{pushed}");
    assert!(!gw.lane.ops_busy());
    let releaser = rt.spawn({
        let chunks = chunks.clone();
        async move {
            loop {
                chunks.release.notify_one();
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
    });
    assert_eq!(rt.block_on(lane).unwrap().unwrap(), 2);
    releaser.abort();
    assert!(chunks.calls.load(Ordering::SeqCst) > 3);
    let s = chunks.inner.state.lock().unwrap();
    assert_eq!(
        s.stored[&photo.blob.hash],
        gw.attachment_bytes(&photo.blob.hash).unwrap().unwrap()
    );
    // Resumed, not restarted: the picture's offsets start at 0 once and only grow.
    let offsets: Vec<u64> = s
        .log
        .iter()
        .filter(|l| l.0 == photo.blob.hash)
        .map(|l| l.1)
        .collect();
    assert_eq!(offsets[0], 0);
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
}

#[test]
fn a_sync_run_dropped_before_its_end_does_not_leave_the_lane_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Arc::new(store(dir.path(), None));
    let case = a_case(&gw);
    let (_, photo) = gw.take_photo(case, &camera_jpeg(64, 64)).unwrap();
    enrolled_and_bootstrapped(&gw);
    let ops = Arc::new(HeldPush::default());
    let rt = two_threads();
    let sync = rt.spawn({
        let (gw, ops) = (gw.clone(), ops.clone());
        async move { gw.sync_now(&*ops).await.map(|r| r.pushed) }
    });
    rt.block_on(ops.entered.notified());
    assert!(gw.lane.ops_busy());
    // The app gives up on the run (its task cancelled) while the push hangs.
    sync.abort();
    assert!(rt.block_on(sync).unwrap_err().is_cancelled());
    assert!(!gw.lane.ops_busy());
    let server = FakeServer::default();
    let report = rt
        .block_on(async {
            tokio::time::timeout(
                std::time::Duration::from_secs(10),
                gw.upload_pending(&server),
            )
            .await
        })
        .expect("the lane does not wait for a run that was dropped")
        .unwrap();
    assert_eq!((report.completed, report.queued), (2, 0));
    assert!(
        server
            .state
            .lock()
            .unwrap()
            .stored
            .contains_key(&photo.blob.hash)
    );
}
