//! What the kernel knows about a process and the machine: CPU time, resident memory, CPU
//! model. Linux only (`/proc`).

use std::time::Duration;

/// `USER_HZ`: the unit of `utime` and `stime` in `/proc/<pid>/stat`, 100 on every Linux ABI.
const USER_HZ: u64 = 100;

/// CPU time of `pid` (all its threads), or `None` when it is gone.
///
/// The sum of each thread's time on a CPU from `/proc/<pid>/task/*/schedstat`, in
/// nanoseconds (a thread that has exited no longer counts: the servers' threads live as long
/// as they do); where the kernel does not keep it, user plus system time from
/// `/proc/<pid>/stat`, whose resolution is 10 ms (measure over seconds then).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    scheduled_time(pid).or_else(|| ticked_time(pid))
}

fn scheduled_time(pid: u32) -> Option<Duration> {
    let mut nanos = 0u64;
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut read_any = false;
    for task in tasks.flatten() {
        // A thread that exits between the listing and the read is skipped, not a reason to
        // fall back to the other clock halfway through a measurement.
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        nanos += stat.split_whitespace().next()?.parse::<u64>().ok()?;
        read_any = true;
    }
    read_any.then(|| Duration::from_nanos(nanos))
}

fn ticked_time(pid: u32) -> Option<Duration> {
    Some(Duration::from_millis(ticks(pid)? * 1000 / USER_HZ))
}

/// User plus system time of `pid` in clock ticks (`utime + stime` of `/proc/<pid>/stat`, 100
/// a second), or `None` when it is gone.
pub fn ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields resume after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    // After the name: state(3) ... utime(14), stime(15); `rest` starts at field 3.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Voluntary plus involuntary context switches of every thread of `pid` (how often its
/// threads woke up and slept), or `None` when it is gone.
pub fn context_switches(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut switches = 0;
    for task in tasks.flatten() {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        switches += status
            .lines()
            .filter(|l| {
                l.starts_with("voluntary_ctxt_switches:")
                    || l.starts_with("nonvoluntary_ctxt_switches:")
            })
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>();
    }
    Some(switches)
}

/// CPU time of this process.
pub fn own_cpu_time() -> Duration {
    cpu_time(std::process::id()).unwrap_or_default()
}

/// Resident memory (`VmRSS`) of `pid` in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The machine, as `docs/benchmarks.md` describes it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Machine {
    /// CPUs this process may use.
    pub cpus: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// `uname -r`.
    pub kernel: String,
}

impl Machine {
    /// Reads the machine description.
    pub fn current() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".to_owned(), |(_, v)| v.trim().to_owned());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".to_owned(), |k| k.trim().to_owned());
        Self {
            cpus: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            cpu_model,
            kernel,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        assert!(cpu_time(pid).is_some());
        assert!(rss_kib(pid).is_some_and(|kib| kib > 0));
        assert!(Machine::current().cpus >= 1);
    }
}
