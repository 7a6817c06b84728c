//! CPU time of this process's threads, read from `/proc/self/task`.
//!
//! Each server's threads are found by name (`/proc/self/task/<tid>/comm`):
//! berth names its port threads `berth-port-N`; this harness names the
//! threads it starts for the other servers. Time on CPU comes from
//! `schedstat` (nanoseconds); where that file is missing or reads zero, from
//! `stat`'s utime + stime in clock ticks (100 per second on Linux).

use std::fs;
use std::path::{Path, PathBuf};

/// Nanoseconds per clock tick, for the `stat` fallback (`_SC_CLK_TCK` is 100 on Linux).
const NS_PER_TICK: u64 = 10_000_000;

/// Nanoseconds on CPU, summed over this process's threads whose name starts with `prefix`.
pub(crate) fn threads_ns(prefix: &str) -> u64 {
    named_tasks(prefix).iter().map(|path| task_ns(path)).sum()
}

/// Nanoseconds spent runnable but waiting for a CPU (schedstat's second
/// field), summed like [`threads_ns`]: how much other load delayed the threads.
pub(crate) fn threads_wait_ns(prefix: &str) -> u64 {
    named_tasks(prefix)
        .iter()
        .filter_map(|path| {
            let schedstat = fs::read_to_string(path.join("schedstat")).ok()?;
            schedstat.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .sum()
}

/// The task directories of this process's threads whose name starts with `prefix`.
fn named_tasks(prefix: &str) -> Vec<PathBuf> {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .map(|task| task.path())
        .filter(|path| {
            fs::read_to_string(path.join("comm"))
                .is_ok_and(|name| name.trim_end().starts_with(prefix))
        })
        .collect()
}

/// How many live threads of this process have a name starting with `prefix`.
pub(crate) fn thread_count(prefix: &str) -> usize {
    named_tasks(prefix).len()
}

/// Nanoseconds on CPU of the calling thread.
pub(crate) fn this_thread_ns() -> u64 {
    task_ns(Path::new("/proc/thread-self"))
}

/// Nanoseconds on CPU of one task directory (`/proc/.../task/<tid>`).
fn task_ns(task: &Path) -> u64 {
    let from_schedstat = fs::read_to_string(task.join("schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .filter(|&ns| ns > 0);
    from_schedstat.unwrap_or_else(|| stat_ticks(task) * NS_PER_TICK)
}

/// utime + stime of a task, in clock ticks, from its `stat` file.
fn stat_ticks(task: &Path) -> u64 {
    let Ok(stat) = fs::read_to_string(task.join("stat")) else {
        return 0;
    };
    // The name (field 2) may hold spaces; the fields after its closing paren are fixed.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the paren, field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// Datagrams the kernel dropped for want of receive buffer space, system-wide
/// (`RcvbufErrors` of `Udp:` in `/proc/net/snmp`).
pub(crate) fn udp_rcvbuf_errors() -> u64 {
    let Ok(snmp) = fs::read_to_string("/proc/net/snmp") else {
        return 0;
    };
    let mut udp = snmp.lines().filter(|line| line.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0)
}
