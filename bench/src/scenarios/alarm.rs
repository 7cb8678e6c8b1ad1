//! Scenario 6, alarm latency: the dispatcher raises a fire alarm and pushes it; the crew's
//! phone is waiting in a long poll. The figure is the time from the start of the dispatcher's
//! push to the crew's long poll returning with the alarm applied, on loopback.
//!
//! With `--alarm-upload` the rounds run a second time while the dispatcher's phone uploads a
//! 20 MB photo in its attachment lane (ADR 0042): each round takes a new photo (pushing its
//! step first, so the alarm's push is the same as without), starts the upload, and raises the
//! alarm once the upload's first chunk is on its way; the figures say how many rounds the
//! upload was still in flight when the crew had the alarm. The photo is then removed from the
//! server and the phone, so the disk holds one at a time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gridwork_core::attachments::UploadState;
use gridwork_core::new_id;
use gridwork_core::{Gridwork, HttpTransport, OpenOptions};
use gridwork_domain::sync::Role;
use gridwork_server::storage::SqliteStorage;
use serde_json::json;

use super::Config;
use crate::dataset::{DAY_MS, Size, Writer, now_ms, subdistrict};
use crate::report::{Figure, ScenarioResult, Target};
use crate::server;
use crate::stats::Latencies;

async fn phone(url: &str, code: &str) -> (Gridwork, HttpTransport) {
    phone_with(url, code, None).await
}

async fn phone_with(
    url: &str,
    code: &str,
    blob_dir: Option<&std::path::Path>,
) -> (Gridwork, HttpTransport) {
    let gw = Gridwork::open_in_memory(OpenOptions {
        blob_dir: blob_dir.map(std::path::Path::to_path_buf),
        ..OpenOptions::default()
    })
    .expect("a phone");
    let net = HttpTransport::new(url, None).expect("transport");
    gw.enroll(&net, code, "phone").await.expect("enrolls");
    gw.sync_now(&net).await.expect("bootstraps");
    (gw, net)
}

pub async fn run(cfg: &Config) -> ScenarioResult {
    let rounds: usize = cfg.pick(100, 3);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let storage = Arc::new(SqliteStorage::open(dir.path().join("server.db")).expect("storage"));
    let size = Size {
        grids: 6,
        buildings: 60,
        households: 300,
        residents: 600,
        cases: 30,
    };
    let mut w = Writer::new(new_id(), now_ms() - 30 * DAY_MS);
    let data = subdistrict(&mut w, size, 9);
    server::seed(storage.as_ref(), w.device, data.ops.clone()).await;
    let blobs = gridwork_server::blobs::BlobStore::local(&dir.path().join("server-blobs"))
        .expect("a blob folder");
    let handle = server::start_with_blobs(storage.clone(), blobs.clone()).await;
    let dispatcher_code = server::user_code(
        storage.as_ref(),
        "指挥中心",
        Role::Dispatcher,
        vec![data.subdistrict],
    )
    .await;
    let crew_code = server::user_code(
        storage.as_ref(),
        "队员",
        Role::FireCrew,
        vec![data.stations[0]],
    )
    .await;
    let phone_blobs = dir.path().join("phone-blobs");
    let (dispatcher, dnet) = phone_with(&handle.url(), &dispatcher_code, Some(&phone_blobs)).await;
    let dispatcher = Arc::new((dispatcher, dnet));
    let crew = Arc::new(phone(&handle.url(), &crew_code).await);
    // Buildings of the first community: their station is the crew's.
    let buildings: Vec<_> = data
        .buildings
        .iter()
        .filter(|(_, g)| *g == 0)
        .map(|(id, _)| *id)
        .collect();

    let (times, applied, _, _) = rounds_of(rounds, &dispatcher, &crew, &buildings, None).await;
    let with_upload = if cfg.alarm_upload {
        let photo = Upload {
            base: noise_jpeg(cfg.pick(20, 2)),
            blobs: blobs.clone(),
        };
        Some(rounds_of(rounds, &dispatcher, &crew, &buildings, Some(&photo)).await)
    } else {
        None
    };
    handle.shutdown().await.expect("stops");
    let l = Latencies::from_durations(&times);
    let mut figures = vec![
        Figure::new(
            "push → crew's long poll returns, p50",
            l.p50_ms(),
            "ms",
            Target::None,
        ),
        Figure::new(
            "push → crew's long poll returns, p99",
            l.p99_ms(),
            "ms",
            Target::Below { max: 100.0 },
        ),
    ];
    let mut raw = json!({
        "rounds": rounds,
        "crew_applied": applied,
        "p50_ms": l.p50_ms(),
        "p99_ms": l.p99_ms(),
        "max_ms": l.max_ms(),
    });
    if let Some((up_times, up_applied, overlapped, photo_bytes)) = with_upload {
        let u = Latencies::from_durations(&up_times);
        figures.push(Figure::new(
            "during a 20 MB photo upload: push → crew's long poll returns, p50",
            u.p50_ms(),
            "ms",
            Target::None,
        ));
        figures.push(Figure::new(
            "during a 20 MB photo upload: push → crew's long poll returns, p99",
            u.p99_ms(),
            "ms",
            Target::Below { max: 100.0 },
        ));
        raw["with_upload"] = json!({
            "rounds": rounds,
            "crew_applied": up_applied,
            "rounds_with_the_upload_in_flight_when_the_crew_had_the_alarm": overlapped,
            "photo_bytes": photo_bytes,
            "p50_ms": u.p50_ms(),
            "p99_ms": u.p99_ms(),
            "max_ms": u.max_ms(),
        });
    }
    ScenarioResult {
        scenario: "alarm".into(),
        title: "6. Alarm latency".into(),
        figures,
        raw,
        not_measured: None,
    }
}

/// The photo each round of the upload variant takes (a new variant of `base` each round) and
/// the server's blob store (to remove it again).
struct Upload {
    base: Vec<u8>,
    blobs: gridwork_server::blobs::BlobStore,
}

type Phone = Arc<(Gridwork, HttpTransport)>;

/// `rounds` alarms, each from the dispatcher's push to the crew's long poll returning; with
/// `upload`, while the dispatcher's phone uploads a photo. Returns the times, the operations the
/// crew applied, and (with an upload) the rounds the upload was still in flight when the crew
/// had the alarm and the picture's size.
async fn rounds_of(
    rounds: usize,
    dispatcher: &Phone,
    crew: &Phone,
    buildings: &[uuid::Uuid],
    upload: Option<&Upload>,
) -> (Vec<Duration>, u64, u64, u64) {
    let mut times = Vec::with_capacity(rounds);
    let mut applied = 0u64;
    let mut overlapped = 0u64;
    let mut photo_bytes = 0u64;
    // The case the photos are taken on (raised before the rounds, not timed).
    let photo_case = match upload {
        Some(_) => {
            let case = dispatcher
                .0
                .raise_alarm(buildings[0], "现场照片", "smoke", None)
                .expect("a case for the photos")
                .case
                .id;
            dispatcher.0.sync_now(&dispatcher.1).await.expect("pushed");
            Some(case)
        }
        None => None,
    };
    for i in 0..rounds {
        let mut lane = None;
        if let (Some(up), Some(case)) = (upload, photo_case) {
            let (_, photo) = dispatcher
                .0
                .take_photo(case, &variant(&up.base, i))
                .expect("the photo is taken");
            photo_bytes = photo.blob.size;
            // The photo's step goes first, so the alarm's push carries the alarm alone, and
            // the crew is brought up to date past it before it waits.
            dispatcher.0.sync_now(&dispatcher.1).await.expect("pushed");
            crew.0.sync_now(&crew.1).await.expect("caught up");
            let uploader = dispatcher.clone();
            lane = Some((
                photo,
                tokio::spawn(async move { uploader.0.upload_pending(&uploader.1).await }),
            ));
            // The upload is under way: its first chunk is on the wire.
            let hash = lane.as_ref().map(|l| l.0.blob.hash).expect("set above");
            loop {
                let p = dispatcher.0.upload_of(&hash).expect("progress");
                if p.is_some_and(|p| p.state == UploadState::Uploaded || p.sent > 0)
                    || dispatcher.0.upload_wire_bytes(&hash).expect("bytes") > 0
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let waiting = crew.clone();
        let poll = tokio::spawn(async move {
            let r = waiting.0.wait_for_changes(&waiting.1, 30).await;
            (Instant::now(), r)
        });
        // Let the long poll reach the server and park.
        tokio::time::sleep(Duration::from_millis(40)).await;
        dispatcher
            .0
            .raise_alarm(buildings[i % buildings.len()], "闻到烟味", "smoke", None)
            .expect("the alarm is raised");
        let pushed = Instant::now();
        dispatcher
            .0
            .sync_now(&dispatcher.1)
            .await
            .expect("the alarm is pushed");
        let (returned, report) = poll.await.expect("joins");
        let report = report.expect("the long poll returns");
        applied += report.pulled + report.gained;
        times.push(returned.saturating_duration_since(pushed));
        if let (Some((photo, task)), Some(up)) = (lane, upload) {
            let state = dispatcher.0.upload_of(&photo.blob.hash).expect("progress");
            if state.is_some_and(|p| p.state != UploadState::Uploaded) {
                overlapped += 1;
            }
            let done = task.await.expect("joins").expect("the upload finishes");
            assert_eq!(done.queued, 0, "the photo was uploaded");
            for blob in photo.blobs() {
                up.blobs
                    .delete(&blob.hash)
                    .await
                    .expect("removed from the server");
                let file = dispatcher.0.attachment_path(&blob.hash).expect("a path");
                std::fs::remove_file(file).expect("removed from the phone");
            }
        }
    }
    (times, applied, overlapped, photo_bytes)
}

/// A JPEG of noise of about `mb` MB (noise does not compress).
fn noise_jpeg(mb: usize) -> Vec<u8> {
    let side = ((mb * 1_000_000) as f64 / 2.6).sqrt() as u32;
    let mut x: u32 = 0x2545_F491;
    let img = image::RgbImage::from_fn(side, side, |_, _| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        image::Rgb([x as u8, (x >> 8) as u8, (x >> 16) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 100)
        .encode_image(&img)
        .expect("encodes");
    out
}

/// `base` made a distinct blob for round `i`: an APP0 segment of its own after the start
/// marker (APP0 is kept when a photo's metadata is stripped, so the stored picture differs).
fn variant(base: &[u8], i: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(base.len() + 32);
    out.extend_from_slice(&base[..2]);
    let body = format!("GWBENCH{i:08}");
    out.extend_from_slice(&[0xFF, 0xE0]);
    out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(body.as_bytes());
    out.extend_from_slice(&base[2..]);
    out
}
