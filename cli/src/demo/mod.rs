//! `gridwork demo`: the whole system doing its job on embedded defaults.
//!
//! A real sync server runs in-process on loopback with its SQLite backend in a temporary folder
//! (or `--data-dir`); a command centre seeds a realistic subdistrict; five devices enroll with
//! one-time codes (two gridworkers, a building head, a fire crew, a dispatcher) and bootstrap;
//! then a day is played on a simulated clock shared by the server and the phones (so deadlines,
//! colours and arrival minutes are real figures, not waits): patrols offline with hazards
//! found, a dispute escalated and settled, tenants checked in and out, a fire alarm reaching
//! the crew through the live long poll, two offline edits of the same household. Everyone syncs
//! and the demo prints what a person wants to see.

mod cast;
mod day;
mod report;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::args::DemoArgs;

/// Monday 2026-11-23, 07:30 China time: the day the demo plays.
pub const DAY_START_MS: u64 = 1_795_390_200_000;
const MINUTE: u64 = 60_000;

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
    /// Sets the time of day (minutes after midnight, China time) on the demo day.
    pub fn at(&self, hour: u64, minute: u64) {
        let midnight = DAY_START_MS - (7 * 60 + 30) * MINUTE;
        let t = midnight + (hour * 60 + minute) * MINUTE;
        self.0.fetch_max(t, Ordering::SeqCst);
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
        println!("  ✓ {line}");
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
    println!(
        "gridwork demo · seed {} · data in {}\n",
        args.seed,
        dir.display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outcome = rt.block_on(day::play(&dir, args.seed))?;
    report::print(&outcome);
    println!("\nfinished in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
