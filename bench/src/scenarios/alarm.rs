//! Scenario 6, alarm latency: the dispatcher raises a fire alarm and pushes it; the crew's
//! phone is waiting in a long poll. The figure is the time from the start of the dispatcher's
//! push to the crew's long poll returning with the alarm applied, on loopback.
//!
//! With `--alarm-upload` every round alone has a twin during which the dispatcher's phone
//! uploads a photo in its attachment lane (ADR 0042; a picture of noise, 31.5 MB as a JPEG in
//! full mode): the round takes a new photo (pushing its step first, so the alarm's push is the
//! same as without), starts the upload, and raises the alarm once the upload's first chunk is
//! on its way; the figures say how many rounds the upload was still in flight when the crew had the
//! alarm. The photo is then removed from the server and the phone, so the disk holds one at a
//! time. Every round, on either side, begins with both phones brought up to date.
//!
//! The comparison runs three times in full mode; within each repeat the rounds alone and the
//! rounds during an upload take turns (alone, upload; upload, alone; …). The raw figures give
//! each repeat's p50 and p99 on both sides, and the verdict (ADR 0055): the difference of the
//! p50s over every round (during − alone) with its 95 % bootstrap interval, met when the
//! interval's upper end is at most [`MARGIN_PERCENT`] (5 %) of the p50 alone.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gridwork_core::attachments::{BlobTransport, PatchAnswer, UploadOffset, UploadState};
use gridwork_core::new_id;
use gridwork_core::sync::transport::TransportError;
use gridwork_core::{Gridwork, HttpTransport, OpenOptions};
use gridwork_domain::attachment::BlobHash;
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

    // The comparison is run `repeats` times, and within a repeat the rounds alone and the
    // rounds during an upload take turns (alone, upload; upload, alone; …): a change of the
    // machine's load, or a figure that creeps up over the run as these do, falls on both sides
    // alike, round by round. Each repeat's figures alone against its figures during the upload,
    // and the spread of the repeats, say how far apart runs of the same thing fall.
    let repeats: usize = if cfg.alarm_upload { cfg.pick(3, 1) } else { 1 };
    let photo = match cfg.alarm_upload {
        true => {
            // The case the photos are taken on (raised before the rounds, not timed).
            let case = dispatcher
                .0
                .raise_alarm(buildings[0], "现场照片", "smoke", None)
                .expect("a case for the photos")
                .case
                .id;
            dispatcher.0.sync_now(&dispatcher.1).await.expect("pushed");
            Some(Upload {
                base: noise_jpeg(cfg.pick(20, 2)),
                blobs: blobs.clone(),
                case,
            })
        }
        false => None,
    };
    let log = CallLog::default();
    let mut alone = Side::default();
    let mut during = Side::default();
    let mut photos = 0;
    for repeat in 0..repeats {
        let (mut a, mut d) = (Vec::new(), Vec::new());
        for i in 0..rounds {
            let upload_first = (i + repeat) % 2 == 1;
            for with_upload in [upload_first, !upload_first] {
                match (&photo, with_upload) {
                    (Some(photo), true) => {
                        // Each round a new picture: one the phone uploaded before is not
                        // queued again.
                        let up = PhotoRound {
                            upload: photo,
                            number: photos,
                            log: &log,
                        };
                        photos += 1;
                        d.push(round(i, &dispatcher, &crew, &buildings, Some(up)).await);
                    }
                    (_, false) => a.push(round(i, &dispatcher, &crew, &buildings, None).await),
                    (None, true) => {}
                }
            }
        }
        alone.add(a);
        if photo.is_some() {
            during.add(d);
        }
    }
    handle.shutdown().await.expect("stops");
    let l = Latencies::from_durations(&alone.times);
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
        "rounds": alone.times.len(),
        "crew_applied": alone.applied,
        "p50_ms": l.p50_ms(),
        "p99_ms": l.p99_ms(),
        "max_ms": l.max_ms(),
        "diagnostics": alone.diagnostics(),
    });
    if photo.is_some() {
        let u = Latencies::from_durations(&during.times);
        // The size the phone uploaded, in the figures' names (the noise picture is larger as
        // a JPEG than its nominal size: 31.5 MB for 20 in full mode).
        let upload = upload_label(during.photo_bytes);
        figures.push(Figure::new(
            format!("{upload}: push → crew's long poll returns, p50"),
            u.p50_ms(),
            "ms",
            Target::None,
        ));
        figures.push(Figure::new(
            format!("{upload}: push → crew's long poll returns, p99"),
            u.p99_ms(),
            "ms",
            Target::Below { max: 100.0 },
        ));
        raw["repeats"] = json!(repeats);
        raw["rounds_per_repeat"] = json!(rounds);
        raw["per_repeat"] = alone.per_repeat();
        raw["with_upload"] = json!({
            "rounds": during.times.len(),
            "crew_applied": during.applied,
            "rounds_with_the_upload_in_flight_when_the_crew_had_the_alarm": during.overlapped,
            "photo_bytes": during.photo_bytes,
            "p50_ms": u.p50_ms(),
            "p99_ms": u.p99_ms(),
            "max_ms": u.max_ms(),
            "per_repeat": during.per_repeat(),
            "diagnostics": during.diagnostics(),
        });
        let verdict = verdict(&alone, &during);
        // The largest slowdown the run leaves possible: the upper end of the 95 % interval of
        // (p50 during − p50 alone), as a share of the p50 alone.
        figures.push(Figure::new(
            format!("{upload}: p50 − p50 alone, upper end of its 95 % interval, of p50 alone"),
            verdict["p50"]["upper_end_percent_of_alone"]
                .as_f64()
                .unwrap_or(f64::NAN),
            "%",
            Target::AtMost {
                max: MARGIN_PERCENT,
            },
        ));
        raw["verdict"] = verdict;
    }
    ScenarioResult {
        scenario: "alarm".into(),
        title: "6. Alarm latency".into(),
        figures,
        raw,
        not_measured: None,
    }
}

/// One side of the comparison (alone, or during the upload), over every repeat.
#[derive(Default)]
struct Side {
    times: Vec<Duration>,
    /// Each repeat's p50 and p99, ms.
    p50s: Vec<f64>,
    p99s: Vec<f64>,
    applied: u64,
    overlapped: u64,
    photo_bytes: u64,
    probes: Vec<Probe>,
    patch_ms: Vec<f64>,
}

impl Side {
    /// One repeat's rounds.
    fn add(&mut self, rounds: Vec<Round>) {
        let l = Latencies::from_durations(&rounds.iter().map(|r| r.time).collect::<Vec<_>>());
        self.p50s.push(l.p50_ms());
        self.p99s.push(l.p99_ms());
        for r in rounds {
            self.times.push(r.time);
            self.applied += r.applied;
            self.overlapped += u64::from(r.overlapped);
            self.photo_bytes = self.photo_bytes.max(r.photo_bytes);
            self.probes.push(r.probe);
            self.patch_ms.extend(r.patch_ms);
        }
    }

    /// What was on the wire and on the CPU while each alarm went through (step 1 of the
    /// round of ADR 0053's addendum): the `PATCH` in flight when the push started, how long it
    /// had left, the alarm's figure with and without one, and the process's CPU in the window.
    fn diagnostics(&self) -> serde_json::Value {
        let ms = |d: &Duration| d.as_secs_f64() * 1e3;
        let p50_of = |pick: &dyn Fn(&Probe) -> bool| {
            let t: Vec<Duration> = self
                .times
                .iter()
                .zip(&self.probes)
                .filter(|(_, p)| pick(p))
                .map(|(t, _)| *t)
                .collect();
            json!({ "rounds": t.len(), "p50_ms": Latencies::from_durations(&t).p50_ms() })
        };
        let left: Vec<f64> = self.probes.iter().filter_map(|p| p.chunk_left_ms).collect();
        let left_median = spread(&left)[1];
        json!({
            "rounds_with_a_patch_on_the_wire_when_the_push_started":
                self.probes.iter().filter(|p| p.chunk_left_ms.is_some()).count(),
            "that_patchs_time_left_after_the_push_started_ms_min_median_max": spread(&left),
            "rounds_that_patch_ended_after_the_crew_had_the_alarm":
                self.probes.iter().filter(|p| p.chunk_outlived_alarm).count(),
            "rounds_that_patch_was_cut_off": self.probes.iter().filter(|p| p.chunk_cut).count(),
            "patches_started_between_the_push_and_the_crew_having_the_alarm":
                self.probes.iter().map(|p| p.patches_in_window).sum::<u64>(),
            "of_which_started_before_the_dispatchers_sync_run_ended":
                self.probes.iter().map(|p| p.patches_in_sync_run).sum::<u64>(),
            "heads_sent_between_the_push_and_the_crew_having_the_alarm":
                self.probes.iter().map(|p| p.heads_in_window).sum::<u64>(),
            "alarm_with_a_patch_on_the_wire": p50_of(&|p| p.chunk_left_ms.is_some()),
            "alarm_with_no_patch_on_the_wire": p50_of(&|p| p.chunk_left_ms.is_none()),
            "alarm_with_the_patch_more_than_the_median_time_left":
                p50_of(&|p| p.chunk_left_ms.is_some_and(|l| l > left_median)),
            "alarm_with_the_patch_at_most_the_median_time_left":
                p50_of(&|p| p.chunk_left_ms.is_some_and(|l| l <= left_median)),
            "patch_round_trip_ms_min_median_max": spread(&self.patch_ms),
            "process_cpu_ms_push_to_alarm_min_median_max":
                spread(&self.probes.iter().map(|p| p.cpu_ms).collect::<Vec<_>>()),
            "runqueue_wait_ms_push_to_alarm_min_median_max":
                spread(&self.probes.iter().map(|p| p.wait_ms).collect::<Vec<_>>()),
            "sqlite_server_threads_cpu_ms_push_to_alarm_min_median_max":
                spread(&self.probes.iter().map(|p| p.writer_ms).collect::<Vec<_>>()),
            "alarm_ms_min_median_max": spread(&self.times.iter().map(ms).collect::<Vec<_>>()),
            // Every round, for a look beyond the medians: the figure, the time the PATCH on the
            // wire had left (-1: none), PATCHes and HEADs started in the window, CPU in the
            // window, the crew's return after the sync run, ms.
            "per_round": self.times.iter().zip(&self.probes).map(|(t, p)| json!([
                ms(t),
                p.chunk_left_ms.unwrap_or(-1.0),
                p.patches_in_window,
                p.heads_in_window,
                p.cpu_ms,
                p.crew_after_sync_ms,
            ])).collect::<Vec<_>>(),
        })
    }

    fn per_repeat(&self) -> serde_json::Value {
        let crew_after_sync: Vec<f64> = self.probes.iter().map(|p| p.crew_after_sync_ms).collect();
        json!({
            "crew_after_the_dispatchers_sync_ms_min_median_max": spread(&crew_after_sync),
            "rounds_the_dispatchers_sync_ended_before_the_crew_had_the_alarm":
                crew_after_sync.iter().filter(|d| **d > 0.0).count(),
            "p50_ms": self.p50s,
            "p99_ms": self.p99s,
            "p50_ms_min_median_max": spread(&self.p50s),
            "p99_ms_min_median_max": spread(&self.p99s),
        })
    }
}

/// Min, median and max of some figures.
fn spread(v: &[f64]) -> [f64; 3] {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => [f64::NAN; 3],
        n => [v[0], v[n / 2], v[n - 1]],
    }
}

/// "As fast as with no upload", judged on every round of the run: the rounds alone and during
/// the upload take turns in pairs, so the two sides meet the same machine, and the difference of
/// their p50s (during − alone) comes with its 95 % interval, from a bootstrap over the pairs (over
/// each side on its own should the two ever hold different numbers of rounds). The target is
/// met when the interval's upper end is at most [`MARGIN_PERCENT`] of the p50 alone: the run rules
/// out a slowdown of more than a twentieth, whatever its noise (a noisier run has a wider
/// interval, so it is harder to meet, not easier). Each repeat's p50 and p99 on both sides, and
/// how many repeats were slower during the upload, are kept for a look at the spread.
fn verdict(alone: &Side, during: &Side) -> serde_json::Value {
    let ms = |t: &[Duration]| t.iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>();
    let (a, d) = (ms(&alone.times), ms(&during.times));
    let p50 = difference_of_percentiles(&a, &d, 50.0);
    let p99 = difference_of_percentiles(&a, &d, 99.0);
    let upper_share = 100.0 * p50.interval[1] / p50.alone;
    let per_repeat = |a: &[f64], d: &[f64]| {
        let gaps: Vec<f64> = d.iter().zip(a).map(|(d, a)| d - a).collect();
        json!({
            "alone_min_median_max": spread(a),
            "during_min_median_max": spread(d),
            "during_minus_alone_per_repeat": gaps,
            "repeats_slower_during_the_upload": gaps.iter().filter(|g| **g > 0.0).count(),
        })
    };
    json!({
        "rule": format!(
            "the upper end of the 95 % interval of p50 during − p50 alone (over every round, \
             the rounds taking turns in pairs, a bootstrap over the pairs) is at most \
             {MARGIN_PERCENT} % of the p50 alone"
        ),
        "p50": {
            "during_minus_alone_ms": p50.point,
            "interval_95_ms": p50.interval,
            "upper_end_percent_of_alone": upper_share,
            "met": upper_share <= MARGIN_PERCENT,
            "per_repeat": per_repeat(&alone.p50s, &during.p50s),
        },
        "p99": {
            "during_minus_alone_ms": p99.point,
            "interval_95_ms": p99.interval,
            "per_repeat": per_repeat(&alone.p99s, &during.p99s),
        },
    })
}

/// The slowdown during an upload the alarm scenario accepts, as a share of the p50 alone: "as
/// fast as" within a twentieth, far below what a crew could notice and below the 2–4 ms a block
/// of rounds alone moves from one repeat to the next on this machine.
const MARGIN_PERCENT: f64 = 5.0;

/// The `p` percentile by nearest rank, as [`Latencies`] reports it (sorts `v`).
fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    crate::stats::nearest_rank(v, p)
}

/// A percentile during the upload against the same percentile alone.
#[derive(Debug, Clone, Copy)]
struct Difference {
    /// The percentile during minus the percentile alone, ms.
    point: f64,
    /// The 2.5 % and 97.5 % points of that difference over the bootstrap's resamples, ms.
    interval: [f64; 2],
    /// The percentile alone, ms.
    alone: f64,
}

/// The `p` percentile of `during` minus that of `alone`, with the 2.5 % and 97.5 % points of the
/// same difference over 2,000 bootstrap resamples drawn from a fixed seed (a run's JSON can be
/// checked again). When the two sides have as many rounds, the `k`-th of each were taken in one
/// pair, one after the other: the resamples draw pairs, keeping what the two had in common.
fn difference_of_percentiles(alone: &[f64], during: &[f64], p: f64) -> Difference {
    use rand::{Rng, SeedableRng};
    if alone.is_empty() || during.is_empty() {
        return Difference {
            point: f64::NAN,
            interval: [f64::NAN; 2],
            alone: f64::NAN,
        };
    }
    let alone_p = percentile(&mut alone.to_vec(), p);
    let point = percentile(&mut during.to_vec(), p) - alone_p;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x6A1A_2024);
    let paired = alone.len() == during.len();
    let mut diffs: Vec<f64> = (0..2000)
        .map(|_| {
            let (mut a, mut d): (Vec<f64>, Vec<f64>) = if paired {
                (0..alone.len())
                    .map(|_| {
                        let k = rng.random_range(0..alone.len());
                        (alone[k], during[k])
                    })
                    .unzip()
            } else {
                (
                    (0..alone.len())
                        .map(|_| alone[rng.random_range(0..alone.len())])
                        .collect(),
                    (0..during.len())
                        .map(|_| during[rng.random_range(0..during.len())])
                        .collect(),
                )
            };
            percentile(&mut d, p) - percentile(&mut a, p)
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    // 50 of the 2,000 below the interval and 50 above it.
    Difference {
        point,
        interval: [diffs[50], diffs[1949]],
        alone: alone_p,
    }
}

/// The photo each round of the upload variant takes (a new variant of `base` each round) and
/// the server's blob store (to remove it again).
struct Upload {
    base: Vec<u8>,
    blobs: gridwork_server::blobs::BlobStore,
    /// The case the photos are taken on.
    case: uuid::Uuid,
}

type Phone = Arc<(Gridwork, HttpTransport)>;

/// What one round saw besides its figure.
#[derive(Debug, Clone, Copy, Default)]
struct Probe {
    /// A `PATCH` was on the wire when the push started: how long it went on after, ms.
    chunk_left_ms: Option<f64>,
    /// That `PATCH` ended after the crew's long poll returned.
    chunk_outlived_alarm: bool,
    /// That `PATCH` was cut off (its future dropped before the answer).
    chunk_cut: bool,
    /// `PATCH`es and `HEAD`s started after the push started and before the crew had the alarm.
    patches_in_window: u64,
    heads_in_window: u64,
    /// Of those, the `PATCH`es started before the dispatcher's sync run had ended.
    patches_in_sync_run: u64,
    /// CPU the whole process (phones and server) ran from just before the push to just after
    /// the crew's return, the time its threads waited for a core, and the SQLite server threads' CPU
    /// (ms, from `/proc/self/task/*/schedstat`).
    cpu_ms: f64,
    wait_ms: f64,
    writer_ms: f64,
    /// The crew's return after the dispatcher's sync run returned, ms (negative: before).
    crew_after_sync_ms: f64,
}

/// One call of the upload as the harness saw it.
#[derive(Debug, Clone, Copy)]
struct Call {
    patch: bool,
    start: Instant,
    end: Option<Instant>,
    cut: bool,
}

type CallLog = Arc<Mutex<Vec<Call>>>;

/// The dispatcher's blob transport with every `HEAD` and `PATCH` timed: the calls go on
/// unchanged, the harness learns what was on the wire when an alarm's push started.
struct Timed {
    phone: Phone,
    log: CallLog,
}

/// Ends a logged call when the call's future ends or is dropped (cut off).
struct Logged<'a> {
    log: &'a CallLog,
    i: usize,
    answered: bool,
}

impl Drop for Logged<'_> {
    fn drop(&mut self) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log[self.i].end = Some(Instant::now());
        log[self.i].cut = !self.answered;
    }
}

impl Timed {
    fn begin(&self, patch: bool) -> Logged<'_> {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.push(Call {
            patch,
            start: Instant::now(),
            end: None,
            cut: false,
        });
        Logged {
            log: &self.log,
            i: log.len() - 1,
            answered: false,
        }
    }
}

impl BlobTransport for Timed {
    async fn upload_offset(&self, hash: &BlobHash) -> Result<UploadOffset, TransportError> {
        let mut call = self.begin(false);
        let r = self.phone.1.upload_offset(hash).await;
        call.answered = true;
        r
    }

    async fn upload_chunk(
        &self,
        hash: &BlobHash,
        offset: u64,
        total: u64,
        body: Vec<u8>,
    ) -> Result<PatchAnswer, TransportError> {
        let mut call = self.begin(true);
        let r = self.phone.1.upload_chunk(hash, offset, total, body).await;
        call.answered = true;
        r
    }

    async fn download(&self, hash: &BlobHash, into: &mut Vec<u8>) -> Result<bool, TransportError> {
        self.phone.1.download(hash, into).await
    }
}

/// The process's threads' CPU and run-queue wait so far, and the SQLite server threads' CPU (the writer's, and its watcher's, idle), ns.
fn cpu_now() -> (u64, u64, u64) {
    let (mut run, mut wait, mut writer) = (0, 0, 0);
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0, 0, 0);
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        let mut fields = stat
            .split_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0));
        let (r, w) = (fields.next().unwrap_or(0), fields.next().unwrap_or(0));
        run += r;
        wait += w;
        if std::fs::read_to_string(task.path().join("comm"))
            .is_ok_and(|c| c.trim_end() == "gridwork-sqlite")
        {
            writer += r;
        }
    }
    (run, wait, writer)
}

/// What a round during the upload needs: the picture (a new variant of it, numbered) and the
/// case it is taken on, and the log the upload's calls go to.
struct PhotoRound<'a> {
    upload: &'a Upload,
    number: usize,
    log: &'a CallLog,
}

/// What one round measured.
struct Round {
    time: Duration,
    applied: u64,
    /// The upload was still in flight when the crew had the alarm.
    overlapped: bool,
    photo_bytes: u64,
    probe: Probe,
    patch_ms: Vec<f64>,
}

/// One alarm (round `i`), from the dispatcher's push to the crew's long poll returning; with
/// `upload`, while the dispatcher's phone uploads a new photo, which is then removed from the
/// server and the phone again.
async fn round(
    i: usize,
    dispatcher: &Phone,
    crew: &Phone,
    buildings: &[uuid::Uuid],
    upload: Option<PhotoRound<'_>>,
) -> Round {
    let mut taken = None;
    let mut photo_bytes = 0;
    if let Some(up) = &upload {
        let (_, photo) = dispatcher
            .0
            .take_photo(up.upload.case, &variant(&up.upload.base, up.number))
            .expect("the photo is taken");
        photo_bytes = photo.blob.size;
        assert!(
            dispatcher
                .0
                .upload_of(&photo.blob.hash)
                .expect("progress")
                .is_some_and(|p| p.state != UploadState::Uploaded),
            "each round's photo is a new blob, queued for upload"
        );
        // The photo's step goes first (the syncs below), so the alarm's push carries the
        // alarm alone.
        taken = Some(photo);
    }
    // Both phones are brought up to date before the crew waits, in every round: what an
    // earlier round left behind (measured: a round right after one with an upload ran 0.6–2 ms
    // slower when it began without these syncs) is taken up here, on both sides alike.
    dispatcher.0.sync_now(&dispatcher.1).await.expect("pushed");
    crew.0.sync_now(&crew.1).await.expect("caught up");
    let lane = match (taken, &upload) {
        (Some(photo), Some(up)) => {
            let uploader = Timed {
                phone: dispatcher.clone(),
                log: up.log.clone(),
            };
            let hash = photo.blob.hash;
            let task =
                tokio::spawn(async move { uploader.phone.0.upload_pending(&uploader).await });
            // The upload is under way: its first chunk is on the wire.
            loop {
                let p = dispatcher.0.upload_of(&hash).expect("progress");
                if p.is_some_and(|p| p.state == UploadState::Uploaded || p.sent > 0)
                    || dispatcher.0.upload_wire_bytes(&hash).expect("bytes") > 0
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Some((photo, task))
        }
        _ => None,
    };
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
    let cpu_before = cpu_now();
    let pushed = Instant::now();
    dispatcher
        .0
        .sync_now(&dispatcher.1)
        .await
        .expect("the alarm is pushed");
    let synced = Instant::now();
    let (returned, report) = poll.await.expect("joins");
    let cpu_after = cpu_now();
    let mut probe = Probe {
        cpu_ms: cpu_after.0.saturating_sub(cpu_before.0) as f64 / 1e6,
        wait_ms: cpu_after.1.saturating_sub(cpu_before.1) as f64 / 1e6,
        writer_ms: cpu_after.2.saturating_sub(cpu_before.2) as f64 / 1e6,
        // How long the crew's apply went on after the dispatcher's sync run had ended
        // (negative: the crew had the alarm first).
        crew_after_sync_ms: if returned >= synced {
            returned.duration_since(synced).as_secs_f64() * 1e3
        } else {
            -(synced.duration_since(returned).as_secs_f64() * 1e3)
        },
        ..Probe::default()
    };
    let report = report.expect("the long poll returns");
    let mut out = Round {
        time: returned.saturating_duration_since(pushed),
        applied: report.pulled + report.gained,
        overlapped: false,
        photo_bytes,
        probe,
        patch_ms: Vec::new(),
    };
    if let (Some((photo, task)), Some(up)) = (lane, upload) {
        let state = dispatcher.0.upload_of(&photo.blob.hash).expect("progress");
        out.overlapped = state.is_some_and(|p| p.state != UploadState::Uploaded);
        let done = task.await.expect("joins").expect("the upload finishes");
        assert_eq!(done.queued, 0, "the photo was uploaded");
        let calls = std::mem::take(&mut *up.log.lock().unwrap_or_else(|p| p.into_inner()));
        for c in &calls {
            let end = c.end.expect("every call ended with the upload");
            if c.patch {
                out.patch_ms
                    .push(end.duration_since(c.start).as_secs_f64() * 1e3);
            }
            if c.start <= pushed && end > pushed && c.patch {
                probe.chunk_left_ms = Some(end.duration_since(pushed).as_secs_f64() * 1e3);
                probe.chunk_outlived_alarm = end > returned;
                probe.chunk_cut = c.cut;
            }
            if c.start > pushed && c.start < returned {
                if c.patch {
                    probe.patches_in_window += 1;
                    if c.start < synced {
                        probe.patches_in_sync_run += 1;
                    }
                } else {
                    probe.heads_in_window += 1;
                }
            }
        }
        out.probe = probe;
        for blob in photo.blobs() {
            up.upload
                .blobs
                .delete(&blob.hash)
                .await
                .expect("removed from the server");
            let file = dispatcher.0.attachment_path(&blob.hash).expect("a path");
            std::fs::remove_file(file).expect("removed from the phone");
        }
    }
    out
}

/// "during a photo upload (31.5 MB)": the words the upload's figures begin with.
fn upload_label(photo_bytes: u64) -> String {
    format!("during a photo upload ({:.1} MB)", photo_bytes as f64 / 1e6)
}

/// A JPEG of noise from a picture of `mb` × 10⁶ / 2.6 pixels (noise does not compress: at
/// quality 100 the JPEG is about 1.6 times `mb` MB, 31.5 MB for 20).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Rounds of a noisy figure: a fixed spread of values around `base` ms.
    fn rounds(base: f64) -> Vec<f64> {
        (0..300)
            .map(|k| base + ((k * 37) % 100) as f64 * 0.02)
            .collect()
    }

    fn side(ms: &[f64]) -> Side {
        Side {
            times: ms
                .iter()
                .map(|m| Duration::from_secs_f64(m / 1e3))
                .collect(),
            ..Side::default()
        }
    }

    #[test]
    fn percentiles_are_taken_by_nearest_rank_as_the_figures_are() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut v.clone(), 50.0), 50.0);
        assert_eq!(percentile(&mut v.clone(), 99.0), 99.0);
        let d: Vec<Duration> = v.iter().map(|m| Duration::from_millis(*m as u64)).collect();
        assert_eq!(
            Latencies::from_durations(&d).p50_ms(),
            percentile(&mut v.clone(), 50.0)
        );
    }

    #[test]
    fn the_same_rounds_on_both_sides_give_no_difference_and_are_met() {
        let a = rounds(6.0);
        let diff = difference_of_percentiles(&a, &a, 50.0);
        let (point, [low, high]) = (diff.point, diff.interval);
        assert_eq!(point, 0.0);
        assert_eq!(diff.alone, percentile(&mut a.clone(), 50.0));
        assert!(low <= 0.0 && high >= 0.0, "[{low}, {high}]");
        let v = verdict(&side(&a), &side(&a));
        assert_eq!(v["p50"]["met"], json!(true), "{v}");
    }

    #[test]
    fn an_upload_that_slows_every_round_by_a_tenth_is_not_met() {
        let a = rounds(6.0);
        let d: Vec<f64> = a.iter().map(|m| m + 0.6).collect();
        let diff = difference_of_percentiles(&a, &d, 50.0);
        let (point, [low, high]) = (diff.point, diff.interval);
        assert!((point - 0.6).abs() < 1e-9, "{point}");
        assert!(low > 0.5 && high > 0.59, "[{low}, {high}]");
        let v = verdict(&side(&a), &side(&d));
        assert_eq!(v["p50"]["met"], json!(false), "{v}");
        assert!(v["p50"]["upper_end_percent_of_alone"].as_f64().unwrap() > MARGIN_PERCENT);
    }

    #[test]
    fn a_slowdown_within_the_margin_is_met_and_one_the_noise_could_hide_is_not() {
        let a = rounds(6.0);
        // 0.1 ms slower: well within 5 % of 6 ms, and the pairs are exact.
        let d: Vec<f64> = a.iter().map(|m| m + 0.1).collect();
        assert_eq!(verdict(&side(&a), &side(&d))["p50"]["met"], json!(true));
        // The same 0.1 ms on a side so noisy (±3 ms) that the run cannot rule out more than
        // 5 %: a noisier run is harder to meet, not easier.
        let noisy: Vec<f64> = a
            .iter()
            .enumerate()
            .map(|(k, m)| {
                m + 0.1 + if k % 2 == 0 { 3.0 } else { -3.0 } * ((k * 7 % 11) as f64 / 10.0)
            })
            .collect();
        assert_eq!(
            verdict(&side(&a), &side(&noisy))["p50"]["met"],
            json!(false)
        );
    }
}
