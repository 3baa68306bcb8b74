//! Times and durations as written on the command line (`--expires`, `--not-before`,
//! `--not-after`, `--max-object-ttl`) and as shown back to the user.
//!
//! One parser for every flag, so that `+24h` or an RFC 3339 time means the same thing
//! whether it makes an object expire or a shared grant stop working.

use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Result, bail};
use uplink_core::protocol::now_unix;

/// Unix seconds of `s`: `now`, a duration from now (`+24h`, `24h`, `1d 12h`), or an
/// RFC 3339 time (`2030-01-01T00:00:00Z`; without a zone it is taken as UTC).
/// `flag` names the option in error messages.
pub fn parse_time(flag: &str, s: &str) -> Result<i64> {
    let now = now_unix();
    let trimmed = s.trim();
    if trimmed.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    let rel = trimmed.strip_prefix('+').unwrap_or(trimmed);
    if let Ok(d) = humantime::parse_duration(rel) {
        let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        return Ok(now.saturating_add(secs));
    }
    let Ok(t) = humantime::parse_rfc3339_weak(trimmed) else {
        bail!("{flag} {s:?} is neither a duration like +24h nor a time like 2030-01-01T00:00:00Z");
    };
    Ok(t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0))
}

/// Like [`parse_time`], refusing times that are not in the future: an object that
/// expires, or a grant that stops working, before it is even used is a mistake.
pub fn parse_future_time(flag: &str, s: &str) -> Result<i64> {
    let t = parse_time(flag, s)?;
    if t <= now_unix() {
        bail!("{flag} {s:?} is in the past");
    }
    Ok(t)
}

/// Whole seconds of a duration like `24h` or `+90m`; at least one second.
pub fn parse_duration_secs(flag: &str, s: &str) -> Result<u64> {
    let rel = s.trim().strip_prefix('+').unwrap_or(s.trim());
    let Ok(d) = humantime::parse_duration(rel) else {
        bail!("{flag} {s:?} is not a duration like 24h or 30m");
    };
    if d.as_secs() == 0 {
        bail!("{flag} {s:?} must be at least one second");
    }
    Ok(d.as_secs())
}

/// `2030-01-01T00:00:00Z`.
pub fn show_time(unix: i64) -> String {
    u64::try_from(unix)
        .ok()
        .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
        .map(|t| humantime::format_rfc3339_seconds(t).to_string())
        .unwrap_or_else(|| format!("unix time {unix}"))
}

/// `1h 30m`.
pub fn show_duration(secs: u64) -> String {
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

/// `2030-01-01T00:00:00Z (in 2h)` or `... (3m ago)`, relative to `now`; beyond a
/// minute rounded to whole minutes, so `+1h` reads `in 1h`, not `in 59m 59s`.
pub fn show_time_relative(unix: i64, now: i64) -> String {
    let when = show_time(unix);
    let diff = unix.abs_diff(now);
    let diff = if diff >= 60 {
        diff.saturating_add(30) / 60 * 60
    } else {
        diff
    };
    match unix.cmp(&now) {
        std::cmp::Ordering::Greater => format!("{when} (in {})", show_duration(diff)),
        std::cmp::Ordering::Less => format!("{when} ({} ago)", show_duration(diff)),
        std::cmp::Ordering::Equal => format!("{when} (now)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_absolute_and_now() {
        let now = now_unix();
        let t = parse_time("--x", "+24h").unwrap();
        assert!((now + 86_400..now + 86_402).contains(&t));
        assert_eq!(parse_time("--x", "90m").unwrap() - now, 5400);
        assert!((now..now + 2).contains(&parse_time("--x", "now").unwrap()));
        assert_eq!(
            parse_time("--x", "2030-01-01T00:00:00Z").unwrap(),
            1_893_456_000
        );
        assert_eq!(
            parse_time("--x", "2030-01-01 00:00:00").unwrap(),
            1_893_456_000
        );
        let err = parse_time("--not-after", "tomorrow")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--not-after \"tomorrow\" is neither"),
            "{err}"
        );
    }

    #[test]
    fn future_times_only() {
        let err = parse_future_time("--expires", "2001-01-01T00:00:00Z")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "--expires \"2001-01-01T00:00:00Z\" is in the past");
        assert!(parse_future_time("--expires", "now").is_err());
        assert!(parse_future_time("--expires", "+1m").is_ok());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_secs("--ttl", "1h").unwrap(), 3600);
        assert_eq!(parse_duration_secs("--ttl", "+2d").unwrap(), 172_800);
        assert!(parse_duration_secs("--ttl", "0s").is_err());
        assert!(parse_duration_secs("--ttl", "soon").is_err());
        assert_eq!(show_duration(5400), "1h 30m");
        assert_eq!(show_time(1_893_456_000), "2030-01-01T00:00:00Z");
        assert_eq!(
            show_time_relative(1_000_060, 1_000_000),
            "1970-01-12T13:47:40Z (in 1m)"
        );
        assert!(show_time_relative(1_003_599, 1_000_000).ends_with("(in 1h)"));
        assert!(show_time_relative(1_000_000, 1_000_010).ends_with("(10s ago)"));
    }
}
