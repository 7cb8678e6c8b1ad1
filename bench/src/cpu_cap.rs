//! Holding a process to a share of one core with a Linux control group's CPU quota, so that a
//! run can make the server processes the bottleneck on purpose: on a machine whose few cores
//! the database shares, that is the only way to see what several server processes serve when
//! the database is not what limits them (issue 17). Needs write access to the CPU controller
//! (root, cgroup v1 `cpu` or v2 `cpu.max`); without it the figures say they were not measured.

use std::path::{Path, PathBuf};

/// The quota's period, in µs (the kernel's default).
const PERIOD_US: u64 = 100_000;

/// A control group holding some processes to a CPU quota; removed when dropped (after its
/// processes have ended).
#[derive(Debug)]
pub struct CpuCap {
    dir: PathBuf,
}

impl CpuCap {
    /// A new group named `name` allowing `cores` (e.g. 0.25: a quarter of one core's time).
    pub fn new(name: &str, cores: f64) -> Result<CpuCap, String> {
        let quota = (cores * PERIOD_US as f64).round() as u64;
        if quota < 1_000 {
            return Err(format!(
                "a quota of {cores} cores is too small to hold a server"
            ));
        }
        let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers");
        if std::fs::read_to_string(v2).is_ok_and(|c| c.split_whitespace().any(|c| c == "cpu")) {
            let dir = Path::new("/sys/fs/cgroup").join(name);
            make(&dir)?;
            let cap = CpuCap { dir };
            cap.write("cpu.max", &format!("{quota} {PERIOD_US}"))?;
            return Ok(cap);
        }
        let v1 = Path::new("/sys/fs/cgroup/cpu");
        if v1.join("cpu.cfs_quota_us").exists() {
            let dir = v1.join(name);
            make(&dir)?;
            let cap = CpuCap { dir };
            cap.write("cpu.cfs_period_us", &PERIOD_US.to_string())?;
            cap.write("cpu.cfs_quota_us", &quota.to_string())?;
            return Ok(cap);
        }
        Err("no CPU controller of a control group to write (/sys/fs/cgroup)".into())
    }

    /// Moves the process `pid`, every thread of it, into the group.
    pub fn hold(&self, pid: u32) -> Result<(), String> {
        self.write("cgroup.procs", &pid.to_string())
    }

    fn write(&self, file: &str, value: &str) -> Result<(), String> {
        let path = self.dir.join(file);
        std::fs::write(&path, value).map_err(|e| format!("{}: {e}", path.display()))
    }
}

impl Drop for CpuCap {
    fn drop(&mut self) {
        // Fails while a process is still inside: the group is then left for the OS to clean.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn make(dir: &Path) -> Result<(), String> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
}

/// Whether this machine lets the harness hold a process to a quota (`Err` says why not).
pub fn available() -> Result<(), String> {
    CpuCap::new(&format!("gridwork-bench-probe-{}", std::process::id()), 0.5).map(drop)
}
