//! What this process has used so far, read from the kernel: benchmarks report CPU
//! seconds beside throughput (wall-clock rates on a shared machine say little alone),
//! and the CLI reports its peak memory after a transfer.
//!
//! Linux only (`/proc/self`); elsewhere the readings are `None`.

/// Clock ticks per second of `/proc/self/stat` (`USER_HZ`, 100 on every Linux ABI this
/// project builds for).
const USER_HZ: f64 = 100.0;

/// User and system CPU seconds of every thread of this process so far.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count fields
    // from the closing one. utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / USER_HZ)
}

/// The process's peak resident memory.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work_and_memory_is_read() {
        let before = cpu_seconds().expect("readable on Linux");
        // Spin for about 0.2 s of CPU.
        let start = std::time::Instant::now();
        let mut x = 1u64;
        while start.elapsed() < std::time::Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let after = cpu_seconds().unwrap();
        assert!(after - before >= 0.1, "{before} -> {after}");
        assert!(peak_rss_bytes().unwrap() > 1 << 20);
    }
}
