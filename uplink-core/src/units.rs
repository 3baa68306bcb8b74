//! Byte sizes as people write them on command lines: `64MiB`, `1G`, `500kb`, `4096`.

/// Parses a size: a number with an optional unit. `K`/`KiB`, `M`/`MiB`, `G`/`GiB` and
/// `T`/`TiB` are powers of 1024; `KB`, `MB`, `GB`, `TB` are powers of 1000; `B` or no unit
/// means bytes. Case is ignored.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    const UNITS: [(&str, u64); 13] = [
        ("tib", 1 << 40),
        ("tb", 1_000_000_000_000),
        ("t", 1 << 40),
        ("gib", 1 << 30),
        ("gb", 1_000_000_000),
        ("g", 1 << 30),
        ("mib", 1 << 20),
        ("mb", 1_000_000),
        ("m", 1 << 20),
        ("kib", 1 << 10),
        ("kb", 1000),
        ("k", 1 << 10),
        ("b", 1),
    ];
    let (number, multiplier) = UNITS
        .iter()
        .find_map(|(suffix, mult)| t.strip_suffix(suffix).map(|n| (n, *mult)))
        .unwrap_or((t.as_str(), 1));
    number
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| format!("{s:?} is not a size like 4096, 64MiB or 1GB"))
}

/// A size for people: exact bytes below 1 KiB, otherwise binary units with up to two
/// decimals (`1.50 MiB`), the inverse of [`parse_size`] for whole units.
pub fn format_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::{format_size, parse_size};

    #[test]
    fn formatted_sizes() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(1023), "1023 B");
        assert_eq!(format_size(1024), "1 KiB");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(1 << 40), "1 TiB");
        assert_eq!(
            parse_size(&format_size(64 << 20).replace(' ', "")),
            Ok(64 << 20)
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size(" 1 GiB "), Ok(1 << 30));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("500kb"), Ok(500_000));
        assert_eq!(parse_size("10b"), Ok(10));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-1M").is_err());
        assert!(parse_size("99999999999TiB").is_err());
    }
}
