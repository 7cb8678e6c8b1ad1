//! `gridwork demo`: the whole system doing its job on embedded defaults.
//!
//! A real sync server runs in-process on loopback with its SQLite backend in a temporary folder
//! (or `--data-dir`); an operator seeds a realistic subdistrict (祥符街道 of 拱墅区); five phones
//! enroll with one-time codes (two gridworkers, a building head, a fire crew, a dispatcher) and
//! bootstrap; then a week is played on a simulated clock shared by the server and the phones
//! (so deadlines, colours and arrival minutes are real figures, not waits): Monday to Thursday
//! as history (the admin sets Wulin's 1/5/30 response policy on Wednesday), then Friday scene by
//! scene: a patrol offline with hazards found and key-group visits, tenants checked in by the
//! rules, a dispute climbing the three lines of defence in order, an incident dispatched on
//! minute-level times, a fire alarm reaching the crew through the live long poll and the crew
//! (not the dispatcher) acknowledging, setting off and arriving, a 12345 case taken in with its
//! assignee, two offline edits of the same household. Everyone syncs, and the demo prints what a
//! person wants to see, and the brief the Tuesday meeting reviews.

mod cast;
mod day;
mod report;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::args::DemoArgs;

/// Monday 2026-11-16, 00:00 China time: the week the demo plays.
pub const MONDAY_MS: u64 = 1_794_758_400_000;
const MINUTE: u64 = 60_000;
const DAY: u64 = 24 * 60 * MINUTE;

/// The clock the server and every phone read in the demo; scenes move it forward.
#[derive(Clone, Debug)]
pub struct SimClock(Arc<AtomicU64>);

impl SimClock {
    fn new(ms: u64) -> SimClock {
        SimClock(Arc::new(AtomicU64::new(ms)))
    }
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    /// Sets the time to `hour:minute` (China time) on the day `day` days after the week's
    /// Monday (0 is Monday); never backwards.
    pub fn on(&self, day: u64, hour: u64, minute: u64) {
        let t = MONDAY_MS + day * DAY + (hour * 60 + minute) * MINUTE;
        self.0.fetch_max(t, Ordering::SeqCst);
    }
    /// Sets the time of day on the demo day (Friday).
    pub fn at(&self, hour: u64, minute: u64) {
        self.on(4, hour, minute);
    }
    pub fn advance_minutes(&self, m: f64) {
        self.0
            .fetch_add((m * MINUTE as f64) as u64, Ordering::SeqCst);
    }
    pub fn wall(&self) -> gridwork_core::WallClock {
        let c = self.0.clone();
        Arc::new(move || c.load(Ordering::SeqCst))
    }
}

/// Progress of the demo's stages on the terminal (hidden when output is not a terminal).
pub struct Stage {
    bar: ProgressBar,
}

impl Stage {
    pub fn new(len: u64, msg: &str) -> Stage {
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {msg:<34} [{bar:30}] {pos}/{len}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(msg.to_string());
        Stage { bar }
    }
    pub fn set(&self, pos: u64) {
        self.bar.set_position(pos);
    }
    pub fn inc(&self) {
        self.bar.inc(1);
    }
    pub fn done(self, line: String) {
        self.bar.finish_and_clear();
        outln!("  ✓ {line}");
    }
}

/// Runs the demo.
pub fn run(args: &DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let temp;
    let dir = match &args.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    outln!(
        "{}\n",
        crate::i18n::tr(
            "demo-header",
            &[
                ("seed", &args.seed.to_string()),
                ("dir", &dir.display().to_string())
            ]
        )
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outcome = rt.block_on(day::play(&dir, args.seed))?;
    report::print(&outcome);
    outln!(
        "\n{}",
        crate::i18n::tr(
            "demo-finished",
            &[("s", &format!("{:.1}", started.elapsed().as_secs_f64()))]
        )
    );
    Ok(())
}
