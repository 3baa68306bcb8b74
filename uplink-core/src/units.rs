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

#[cfg(test)]
mod tests {
    use super::parse_size;

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
