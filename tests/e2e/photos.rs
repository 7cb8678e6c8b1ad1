//! Photo evidence end to end (issue 24): a gridworker's phone takes a 10 MB photo on a hazard,
//! pushes the step at once and uploads the bytes in its own lane through a faulty network
//! (drops, truncations, stale answers): resumed after each failure, never restarted, stored
//! once on the server; the dispatcher's phone pulls the step and fetches the thumbnail, then
//! the picture, identical by hash.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gridwork_core::attachments::{AttachmentProgress, UploadObserver, UploadState};
use gridwork_core::{Gridwork, HttpTransport, OpenOptions, SyncError, TransportError};
use gridwork_domain::attachment::BlobHash;
use gridwork_domain::model::{Case, CaseKind, Severity};
use gridwork_domain::sync::Role;
use gridwork_server::blobs::BlobStore;
use uuid::Uuid;

use crate::fault_proxy::FaultProxy;
use crate::harness::{TestServer, seeded_admin, subdistrict};

/// A phone whose store keeps attachments (in a directory of its own).
struct Phone {
    gw: Gridwork,
    net: HttpTransport,
    _blobs: tempfile::TempDir,
}

async fn phone(server: &TestServer, name: &str, role: Role, scope: Vec<uuid::Uuid>) -> Phone {
    let blobs = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicU64::new(gridwork_server::clock::now_ms()));
    let c = clock.clone();
    let gw = Gridwork::open_in_memory(OpenOptions {
        clock: Arc::new(move || c.load(Ordering::SeqCst)),
        blob_dir: Some(blobs.path().to_path_buf()),
        ..OpenOptions::default()
    })
    .unwrap();
    let code = server.user_code(name, role, scope).await;
    let net = HttpTransport::new(&server.url(), None).unwrap();
    gw.enroll(&net, &code, &format!("{name}的手机"))
        .await
        .unwrap();
    Phone {
        gw,
        net,
        _blobs: blobs,
    }
}

/// A JPEG of noise of about `mb` MB (noise does not compress).
/// A server whose blob store the test can read (in memory).
async fn server_keeping_blobs() -> (TestServer, BlobStore) {
    let blobs = BlobStore::in_memory();
    let server = TestServer::start_with(gridwork_server::ServerOptions {
        blobs: blobs.clone(),
        ..gridwork_server::ServerOptions::default()
    })
    .await;
    (server, blobs)
}

/// A hazard reported in `grid` (its title: what was found): the case the photos are of.
fn hazard(gw: &Gridwork, grid: Uuid, title: &str) -> Uuid {
    gw.open_case(Case {
        id: Uuid::nil(),
        kind: CaseKind::Hazard,
        title: title.into(),
        category: "fire".into(),
        severity: Severity::High,
        area_id: grid,
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

fn big_jpeg(mb: usize) -> Vec<u8> {
    let side = ((mb * 1_000_000) as f64 / 2.6).sqrt() as u32;
    let mut x: u32 = 0x9E37_79B9;
    let img = image::RgbImage::from_fn(side, side, |_, _| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        image::Rgb([x as u8, (x >> 8) as u8, (x >> 16) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 100)
        .encode_image(&img)
        .unwrap();
    out
}

#[derive(Default)]
struct Seen(Mutex<Vec<AttachmentProgress>>);

impl UploadObserver for Seen {
    fn on_upload(&self, p: &AttachmentProgress) {
        self.0.lock().unwrap().push(p.clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mb_photo_uploads_across_drops_resumed_stored_once_and_fetched_identical() {
    let (server, blobs) = server_keeping_blobs().await;
    let (_admin, seeded) = seeded_admin(&server, "管理员").await;
    let grid = seeded.grids[0].id;
    let worker = phone(&server, "网格员", Role::Gridworker, vec![grid]).await;
    let dispatcher = phone(
        &server,
        "调度员",
        Role::Dispatcher,
        vec![subdistrict(&seeded)],
    )
    .await;
    worker.gw.sync_now(&worker.net).await.unwrap();

    // The photo is a step at once, offline; the step goes with the next push.
    let case = hazard(&worker.gw, grid, "消防通道堵塞");
    let original = big_jpeg(10);
    assert!(original.len() > 9_500_000, "{}", original.len());
    let (_, photo) = worker.gw.take_photo(case, &original).unwrap();
    let thumb = photo.thumbnail.unwrap();
    assert!(photo.blob.size > 9_000_000);
    worker.gw.sync_now(&worker.net).await.unwrap();
    assert_eq!(worker.gw.pending_count().unwrap(), 0);

    // Before the bytes arrive, the dispatcher sees the step and the server answers "not yet".
    dispatcher.gw.sync_now(&dispatcher.net).await.unwrap();
    let listed = dispatcher.gw.case_photos(case).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].attachment, photo);
    assert!(!listed[0].thumbnail_here && !listed[0].picture_here);
    assert_eq!(
        dispatcher
            .gw
            .fetch_attachment(&dispatcher.net, &thumb.hash)
            .await
            .unwrap(),
        None
    );

    // The upload, through a network where a third of the exchanges meet a fault.
    let proxy = FaultProxy::start(&server.url(), 24, 0.35).await;
    let lane = HttpTransport::new(&proxy.url(), worker.gw.token().unwrap()).unwrap();
    let seen = Arc::new(Seen::default());
    worker.gw.add_upload_observer(seen.clone());
    let mut failures = 0;
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs <= 200, "the upload did not finish in 200 runs");
        match worker.gw.upload_pending(&lane).await {
            Ok(r) if r.queued == 0 => break,
            Ok(r) => panic!("stopped with blobs queued: {r:?}"),
            Err(SyncError::Transport(e))
                if e.is_retryable() || matches!(e, TransportError::BadAnswer(_)) =>
            {
                failures += 1
            }
            Err(e) => panic!("{e}"),
        }
    }
    let counts = proxy.counts();
    assert!(
        failures >= 2,
        "the network failed only {failures} times: {counts:?}"
    );
    assert!(
        counts.get(crate::fault_proxy::Fault::TruncateRequest)
            + counts.get(crate::fault_proxy::Fault::DropRequest)
            + counts.get(crate::fault_proxy::Fault::DropAnswer)
            >= 2,
        "{counts:?}"
    );

    // Resumed, never restarted: the bytes put on the wire (counted by the phone, lost ones
    // included) are at most 1.2 times the file, and the confirmed offset never went back.
    let wire = worker.gw.upload_wire_bytes(&photo.blob.hash).unwrap();
    assert!(
        wire as f64 <= 1.2 * photo.blob.size as f64,
        "{wire} bytes sent for {}",
        photo.blob.size
    );
    println!(
        "photo upload: {} bytes, {wire} on the wire ({:.3}x), {runs} runs, {failures} failures, faults {counts:?}",
        photo.blob.size,
        wire as f64 / photo.blob.size as f64
    );
    let sent: Vec<u64> = seen
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.hash == photo.blob.hash)
        .map(|p| p.sent)
        .collect();
    assert!(sent.windows(2).all(|w| w[0] <= w[1]), "{sent:?}");
    let states: Vec<UploadState> = worker
        .gw
        .upload_progress()
        .unwrap()
        .iter()
        .map(|p| p.state)
        .collect();
    assert_eq!(states, vec![UploadState::Uploaded; 2]);

    // Stored once: one blob per hash, of the right size.
    let stored = blobs.list_blobs().await.unwrap();
    for b in [photo.blob, thumb] {
        let found: Vec<_> = stored.iter().filter(|s| s.0 == b.hash).collect();
        assert_eq!(found.len(), 1, "{stored:?}");
        assert_eq!(found[0].1, b.size);
    }
    // A second run sends nothing: the server has it.
    let again = worker.gw.upload_pending(&worker.net).await.unwrap();
    assert_eq!((again.bytes, again.queued), (0, 0));

    // The dispatcher's phone fetches the thumbnail first, then the picture, through the same
    // faulty network: identical by hash, kept encrypted.
    let fetch_net = HttpTransport::new(&proxy.url(), dispatcher.gw.token().unwrap()).unwrap();
    for blob in [thumb, photo.blob] {
        let mut tries = 0;
        let bytes = loop {
            tries += 1;
            assert!(tries <= 50, "the fetch never got through");
            match dispatcher.gw.fetch_attachment(&fetch_net, &blob.hash).await {
                Ok(Some(b)) => break b,
                Ok(None) => panic!("the server said the blob is not there"),
                Err(_) => continue,
            }
        };
        assert_eq!(BlobHash::of(&bytes), blob.hash);
        assert_eq!(bytes.len() as u64, blob.size);
    }
    let listed = dispatcher.gw.case_photos(case).unwrap();
    assert!(listed[0].thumbnail_here && listed[0].picture_here);
    assert_eq!(
        dispatcher.gw.attachment_bytes(&photo.blob.hash).unwrap(),
        worker.gw.attachment_bytes(&photo.blob.hash).unwrap()
    );
}

/// The photo lane yields to the phone's sync runs (ADR 0053), through the real server: sync
/// runs started while a 10 MB photo uploads (each as soon as a PATCH of the picture has been
/// put on the wire) hold the lane back and never leave it waiting; the upload goes on after
/// each run from where it stood, never from 0, and arrives whole: stored equal to the phone's
/// bytes, the bytes put on the wire at most 1.2 times the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_runs_during_a_photo_upload_hold_it_back_and_it_still_arrives_whole() {
    let (server, blobs) = server_keeping_blobs().await;
    let (_admin, seeded) = seeded_admin(&server, "管理员").await;
    let grid = seeded.grids[0].id;
    let worker = Arc::new(phone(&server, "网格员", Role::Gridworker, vec![grid]).await);
    worker.gw.sync_now(&worker.net).await.unwrap();
    let case = hazard(&worker.gw, grid, "消防通道堵塞");
    let (_, photo) = worker.gw.take_photo(case, &big_jpeg(10)).unwrap();
    let hash = photo.blob.hash;
    assert!(photo.blob.size > 9_000_000);
    worker.gw.sync_now(&worker.net).await.unwrap();
    let seen = Arc::new(Seen::default());
    worker.gw.add_upload_observer(seen.clone());

    let lane_net = HttpTransport::new(&server.url(), worker.gw.token().unwrap()).unwrap();
    let upload = tokio::spawn({
        let worker = worker.clone();
        async move { worker.gw.upload_pending(&lane_net).await }
    });
    let mut runs = 0;
    while runs < 8 && !upload.is_finished() {
        // A PATCH of the picture has just been put on the wire (its bytes are counted first).
        let before = worker.gw.upload_wire_bytes(&hash).unwrap();
        while worker.gw.upload_wire_bytes(&hash).unwrap() == before && !upload.is_finished() {
            tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        }
        worker.gw.sync_now(&worker.net).await.unwrap();
        runs += 1;
    }
    assert!(runs >= 2, "the upload ended before two sync runs: {runs}");
    let report = tokio::time::timeout(std::time::Duration::from_secs(60), upload)
        .await
        .expect("the lane is not left waiting after the runs")
        .unwrap()
        .unwrap();
    assert_eq!((report.completed, report.queued), (2, 0), "{report:?}");
    // Arrived whole, and stored equal to the phone's bytes.
    let stored = blobs.bytes(&hash).await.unwrap().expect("stored");
    assert_eq!(BlobHash::of(&stored), hash);
    assert_eq!(
        stored.as_ref(),
        worker
            .gw
            .attachment_bytes(&hash)
            .unwrap()
            .unwrap()
            .as_slice()
    );
    // Resumed after each run from where it stood, never restarted.
    let wire = worker.gw.upload_wire_bytes(&hash).unwrap();
    assert!(
        wire as f64 <= 1.2 * photo.blob.size as f64,
        "{wire} bytes sent for {}",
        photo.blob.size
    );
    let sent: Vec<u64> = seen
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.hash == hash)
        .map(|p| p.sent)
        .collect();
    assert!(sent.windows(2).all(|w| w[0] <= w[1]), "{sent:?}");
}

/// A small JPEG whose pixels depend on `seed` (a different picture, a different hash).
fn small_jpeg(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x as u8).wrapping_mul(seed), (y as u8) ^ seed, seed])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    out
}

/// Photos held by records (ADR 0043): two gridworkers of one grid photograph the same building
/// (a blocked exit, a rented room) offline; after both sync, both photos are on both phones and
/// on the server, each phone fetches the other's picture identical by hash, and a gridworker of
/// another grid is refused the bytes (the phone's `None`: the server's one 404).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phones_photograph_one_building_offline_and_both_photos_are_kept() {
    let server = TestServer::start().await;
    let (admin, seeded) = seeded_admin(&server, "管理员").await;
    let grid = seeded.grids[0].id;
    let community = &seeded.communities[0];
    let other_grid = admin
        .gw
        .create(gridwork_domain::model::Area {
            id: Uuid::nil(),
            level: gridwork_domain::model::AreaLevel::Grid,
            code: format!("{}009", community.code),
            name: "第九网格".into(),
            parent_id: Some(community.id),
            response_policies: vec![],
        })
        .unwrap()
        .id;
    admin.sync().await;
    let building = seeded
        .buildings
        .iter()
        .find(|b| b.grid_id == grid)
        .expect("a building in the first grid")
        .clone();
    let household = seeded
        .households
        .iter()
        .find(|h| h.building_id == building.id)
        .expect("a household in it")
        .clone();
    let a = phone(&server, "王芳", Role::Gridworker, vec![grid]).await;
    let b = phone(&server, "李强", Role::Gridworker, vec![grid]).await;
    let outsider = phone(&server, "赵敏", Role::Gridworker, vec![other_grid]).await;
    for p in [&a, &b, &outsider] {
        p.gw.sync_now(&p.net).await.unwrap();
    }

    // Both offline: each adds a photo to the building; one adds one to a room of it.
    use gridwork_domain::op::EntityKind;
    let exit =
        a.gw.add_record_photo(EntityKind::Building, building.id, &small_jpeg(3))
            .unwrap();
    let stairs =
        b.gw.add_record_photo(EntityKind::Building, building.id, &small_jpeg(7))
            .unwrap();
    let room =
        b.gw.add_record_photo(EntityKind::Household, household.id, &small_jpeg(11))
            .unwrap();
    assert_ne!(exit.blob.hash, stairs.blob.hash);
    // Each sees its own at once, offline.
    let held = |p: &Phone| -> Vec<BlobHash> {
        let mut h: Vec<BlobHash> =
            p.gw.record_photos(EntityKind::Building, building.id)
                .unwrap()
                .into_iter()
                .map(|r| r.attachment.blob.hash)
                .collect();
        h.sort();
        h
    };
    assert_eq!(held(&a), vec![exit.blob.hash]);
    assert_eq!(held(&b), vec![stairs.blob.hash]);

    // Online again: both push, both pull. Neither photo is lost.
    for p in [&a, &b, &a] {
        p.gw.sync_now(&p.net).await.unwrap();
        p.gw.upload_pending(&p.net).await.unwrap();
    }
    let mut both = vec![exit.blob.hash, stairs.blob.hash];
    both.sort();
    assert_eq!(held(&a), both);
    assert_eq!(held(&b), both);
    assert_eq!(
        a.gw.record_photos(EntityKind::Household, household.id)
            .unwrap()
            .iter()
            .map(|r| r.attachment.clone())
            .collect::<Vec<_>>(),
        vec![room.clone()]
    );
    // The building's other fields are untouched and it still reads as a building.
    let read: gridwork_domain::model::Building = a.gw.get(building.id).unwrap();
    assert_eq!(read.address, building.address);

    // Each fetches the other's picture, identical by hash.
    let got =
        a.gw.fetch_attachment(&a.net, &stairs.blob.hash)
            .await
            .unwrap()
            .expect("the other phone's picture is served");
    assert_eq!(BlobHash::of(&got), stairs.blob.hash);
    let got =
        a.gw.fetch_attachment(&a.net, &room.thumbnail.unwrap().hash)
            .await
            .unwrap()
            .expect("the room's thumbnail is served");
    assert_eq!(BlobHash::of(&got), room.thumbnail.unwrap().hash);
    let got =
        b.gw.fetch_attachment(&b.net, &exit.blob.hash)
            .await
            .unwrap()
            .expect("the first phone's picture is served");
    assert_eq!(BlobHash::of(&got), exit.blob.hash);

    // Another grid's gridworker holds neither the building nor its photos' bytes.
    outsider.gw.sync_now(&outsider.net).await.unwrap();
    assert!(
        outsider
            .gw
            .get::<gridwork_domain::model::Building>(building.id)
            .is_err()
    );
    for hash in [exit.blob.hash, stairs.blob.hash, room.blob.hash] {
        assert_eq!(
            outsider
                .gw
                .fetch_attachment(&outsider.net, &hash)
                .await
                .unwrap(),
            None
        );
    }

    // A photo removed on one phone leaves both: the other keeps the one left.
    a.gw.remove_record_photo(EntityKind::Building, building.id, &exit.blob.hash)
        .unwrap();
    a.gw.sync_now(&a.net).await.unwrap();
    b.gw.sync_now(&b.net).await.unwrap();
    assert_eq!(held(&b), vec![stairs.blob.hash]);
    assert_eq!(held(&a), vec![stairs.blob.hash]);

    // The removed photo's files leave the phone that removed it once nothing names them (the
    // removal pushed, the upload done): the app's sweep (ADR 0045).
    let file = |p: &Phone, h: &BlobHash| p.gw.attachment_path(h).unwrap().is_file();
    assert!(file(&a, &exit.blob.hash) && file(&b, &exit.blob.hash));
    let swept = a.gw.sweep_attachments().unwrap();
    assert_eq!(swept.removed, 2, "{swept:?}");
    assert!(!file(&a, &exit.blob.hash) && !file(&a, &exit.thumbnail.unwrap().hash));
    assert!(file(&a, &stairs.blob.hash), "a photo still held stays");
    // The building moves to another grid: the next sync evicts it and its room from b's phone
    // and sweeps at once every photo file they held (b's own, uploaded; the one it fetched).
    admin
        .gw
        .update::<gridwork_domain::model::Building>(building.id, |x| {
            x.grid_id = other_grid;
            x.micro_grid_id = None;
        })
        .unwrap();
    admin.sync().await;
    let report = b.gw.sync_now(&b.net).await.unwrap();
    assert!(report.evicted >= 2, "{report:?}");
    for h in [
        exit.blob.hash,
        stairs.blob.hash,
        stairs.thumbnail.unwrap().hash,
        room.blob.hash,
        room.thumbnail.unwrap().hash,
    ] {
        assert!(!file(&b, &h), "{h} left on the phone after the eviction");
    }
}

/// A 10 MB photo fetched by a second phone through a network that drops and cuts the
/// answers: every try asks only for the bytes not received yet (`Range`), so the bytes the
/// proxy carried to the phone stay within 1.2 times the file (resumed, not restarted), and the
/// picture kept is identical by SHA-256 to the one taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mb_photo_downloads_across_drops_and_cuts_resumed_with_range() {
    use crate::fault_proxy::Fault;
    let server = TestServer::start().await;
    let (_admin, seeded) = seeded_admin(&server, "管理员").await;
    let grid = seeded.grids[0].id;
    let worker = phone(&server, "网格员", Role::Gridworker, vec![grid]).await;
    let colleague = phone(&server, "同事", Role::Gridworker, vec![grid]).await;
    worker.gw.sync_now(&worker.net).await.unwrap();
    let case = hazard(&worker.gw, grid, "电动车楼道充电");
    let (_, photo) = worker.gw.take_photo(case, &big_jpeg(10)).unwrap();
    assert!(photo.blob.size > 9_000_000, "{}", photo.blob.size);
    worker.gw.sync_now(&worker.net).await.unwrap();
    let up = worker.gw.upload_pending(&worker.net).await.unwrap();
    assert_eq!(up.queued, 0);
    colleague.gw.sync_now(&colleague.net).await.unwrap();
    assert_eq!(colleague.gw.case_photos(case).unwrap()[0].attachment, photo);

    // Only drops and cuts (cuts three times as likely), on most exchanges: the download cannot
    // pass in one piece.
    let proxy = FaultProxy::start(&server.url(), 7, 0.75).await;
    proxy.set_kinds(&[
        Fault::DropRequest,
        Fault::DropAnswer,
        Fault::TruncateAnswer,
        Fault::TruncateAnswer,
        Fault::TruncateAnswer,
    ]);
    let net = HttpTransport::new(&proxy.url(), colleague.gw.token().unwrap()).unwrap();
    let mut tries = 0;
    let bytes = loop {
        tries += 1;
        assert!(tries <= 200, "the download never finished");
        match colleague.gw.fetch_attachment(&net, &photo.blob.hash).await {
            Ok(Some(b)) => break b,
            Ok(None) => panic!("the server said the photo is not there"),
            Err(SyncError::Transport(_)) => continue,
            Err(e) => panic!("{e}"),
        }
    };
    let counts = proxy.counts();
    let carried = proxy.blob_bytes_to_devices();
    println!(
        "photo download: {} bytes, {carried} carried ({:.3}x), {tries} tries, {} ranged, faults {counts:?}",
        photo.blob.size,
        carried as f64 / photo.blob.size as f64,
        proxy.ranged_blob_requests()
    );
    assert!(
        counts.get(Fault::TruncateAnswer) >= 2,
        "the answers were cut only {} times: {counts:?}",
        counts.get(Fault::TruncateAnswer)
    );
    assert!(tries >= 3, "{tries}");
    // Resumed: the tries after a cut asked for the rest only.
    assert!(proxy.ranged_blob_requests() >= 2, "{counts:?}");
    assert!(
        carried as f64 <= 1.2 * photo.blob.size as f64,
        "{carried} bytes carried for {}",
        photo.blob.size
    );
    // Identical by SHA-256 (a blob's name is its SHA-256) to what the worker's phone took, and
    // kept (encrypted) on this one.
    let digest = |b: &[u8]| BlobHash::of(b).to_string();
    let original = worker
        .gw
        .attachment_bytes(&photo.blob.hash)
        .unwrap()
        .unwrap();
    assert_eq!(digest(&bytes), digest(&original));
    assert_eq!(digest(&bytes), photo.blob.hash.to_string());
    assert_eq!(
        colleague.gw.attachment_bytes(&photo.blob.hash).unwrap(),
        Some(original)
    );
    assert!(colleague.gw.case_photos(case).unwrap()[0].picture_here);
}
