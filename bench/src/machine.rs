//! What the figures were measured on: CPU, cores, memory, OS, compiler, commit, load.

use std::process::Command;

use serde::Serialize;

/// The machine line of a report.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub os: String,
    pub rustc: String,
    pub commit: String,
    /// `/proc/loadavg`'s three averages when the run started.
    pub load_average: String,
}

impl Machine {
    /// Reads it from `/proc`, `/etc/os-release`, `rustc` and `git` (each "unknown" when missing).
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or("unknown".into(), |(_, v)| v.trim().to_string());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kb: f64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let distro = os_release
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map_or("Linux".into(), |v| v.trim_matches('"').to_string());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| k.trim().to_string())
            .unwrap_or_default();
        let load = std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".into());
        let commit = run("git", &["rev-parse", "--short=10", "HEAD"]);
        let status = Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=no"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib: (mem_kb / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            os: format!("{distro}, kernel {kernel}"),
            rustc: run("rustc", &["--version"]),
            commit: describe_commit(commit, status.as_deref()),
            load_average: load,
        }
    }

    /// The whole line.
    pub fn line(&self) -> String {
        format!(
            "{}, {} cores, {} GiB RAM, {}, {}, commit {}",
            self.cpu, self.cores, self.memory_gib, self.os, self.rustc, self.commit
        )
    }

    /// A short name for the table's machine column.
    pub fn short(&self) -> String {
        format!("{} ×{}", self.cpu, self.cores)
    }
}

/// The commit as the run line names it: with "(with uncommitted changes)" only when `git
/// status` listed a changed tracked file; a clean checkout, or a folder git could not read, is
/// named by its commit alone (before, an empty status read as "unknown" and so as changed).
fn describe_commit(commit: String, status: Option<&str>) -> String {
    match status {
        Some(listed) if !listed.trim().is_empty() => format!("{commit} (with uncommitted changes)"),
        _ => commit,
    }
}

fn run(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::describe_commit;

    #[test]
    fn a_clean_checkout_is_named_by_its_commit_alone() {
        assert_eq!(describe_commit("05579a3".into(), Some("")), "05579a3");
        assert_eq!(
            describe_commit("05579a3".into(), Some(" M core/src/cases.rs\n")),
            "05579a3 (with uncommitted changes)"
        );
        assert_eq!(
            describe_commit("unknown".into(), None),
            "unknown",
            "outside a checkout"
        );
    }
}
