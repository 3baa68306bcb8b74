//! A bucket's cross-origin rules (S3's CORS configuration), as the satellite keeps them
//! and the gateways apply them.
//!
//! The rules are bucket configuration, not object data: they say which web pages may
//! read the gateways' answers in a browser, and they are public in effect (a preflight
//! shows anyone what they allow), so the satellite stores them in clear beside the
//! bucket. Validation lives here so that the satellite (which refuses a bad
//! configuration for every client) and the gateways (which turn a refusal into S3's
//! `MalformedXML` before a round trip) apply the same bounds; matching lives here so
//! that both gateways answer alike.

use serde::{Deserialize, Serialize};

/// Most rules one bucket may have (S3's limit).
pub const MAX_RULES: usize = 100;
/// Most bytes of all the rules' strings together (S3 limits the document to 64 KiB).
pub const MAX_CONFIGURATION_BYTES: usize = 64 * 1024;
/// The methods a rule may allow.
pub const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

/// One rule: a request from an allowed origin, with an allowed method and only allowed
/// headers, may read the answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Origins (`https://app.example`), each with at most one `*` wildcard.
    pub allowed_origins: Vec<String>,
    /// Among [`METHODS`].
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may ask for, each with at most one `*`; matched
    /// without regard to case.
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// Response headers the page may read beyond the simple ones.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// How long a browser may cache a preflight's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u32>,
}

/// Why a configuration is refused; the message names the rule and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidCors(pub String);

/// Checks a whole configuration: at least one rule, at most [`MAX_RULES`], every rule
/// with an origin and a method, methods among [`METHODS`], at most one `*` per origin
/// or header, no control characters, and [`MAX_CONFIGURATION_BYTES`] in all.
pub fn validate(rules: &[CorsRule]) -> Result<(), InvalidCors> {
    if rules.is_empty() {
        return Err(InvalidCors(
            "a CORS configuration needs at least one rule".into(),
        ));
    }
    if rules.len() > MAX_RULES {
        return Err(InvalidCors(format!(
            "a CORS configuration has at most {MAX_RULES} rules, not {}",
            rules.len()
        )));
    }
    let mut bytes = 0;
    for (i, rule) in rules.iter().enumerate() {
        let n = i + 1;
        if rule.allowed_origins.is_empty() {
            return Err(InvalidCors(format!("CORS rule {n} allows no origin")));
        }
        if rule.allowed_methods.is_empty() {
            return Err(InvalidCors(format!("CORS rule {n} allows no method")));
        }
        for m in &rule.allowed_methods {
            if !METHODS.contains(&m.as_str()) {
                return Err(InvalidCors(format!(
                    "CORS rule {n}: unsupported method {m:?} (one of GET, PUT, POST, DELETE, HEAD)"
                )));
            }
        }
        let patterns = rule.allowed_origins.iter().chain(&rule.allowed_headers);
        for p in patterns {
            if p.matches('*').count() > 1 {
                return Err(InvalidCors(format!(
                    "CORS rule {n}: {p:?} has more than one wildcard"
                )));
            }
        }
        let strings = rule
            .allowed_origins
            .iter()
            .chain(&rule.allowed_methods)
            .chain(&rule.allowed_headers)
            .chain(&rule.expose_headers)
            .chain(&rule.id);
        for s in strings {
            if s.is_empty() || s.chars().any(|c| c.is_control()) {
                return Err(InvalidCors(format!(
                    "CORS rule {n}: {s:?} is empty or has control characters"
                )));
            }
            bytes += s.len();
        }
    }
    if bytes > MAX_CONFIGURATION_BYTES {
        return Err(InvalidCors(format!(
            "a CORS configuration has at most {MAX_CONFIGURATION_BYTES} bytes of values, not {bytes}"
        )));
    }
    Ok(())
}

/// `pattern` with at most one `*` standing for any run of characters.
fn wildcard_matches(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let eq = |a: &str, b: &str| {
        if ignore_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    match pattern.split_once('*') {
        None => eq(pattern, value),
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && value.is_char_boundary(head.len())
                && value.is_char_boundary(value.len() - tail.len())
                && eq(&value[..head.len()], head)
                && eq(&value[value.len() - tail.len()..], tail)
        }
    }
}

impl CorsRule {
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|p| wildcard_matches(p, origin, false))
    }

    /// Whether every header a preflight asks for is allowed.
    pub fn allows_headers<'a>(&self, mut requested: impl Iterator<Item = &'a str>) -> bool {
        requested.all(|h| {
            self.allowed_headers
                .iter()
                .any(|p| wildcard_matches(p, h, true))
        })
    }

    /// Whether the answer may name `*` rather than the caller's origin.
    pub fn any_origin(&self) -> bool {
        self.allowed_origins.iter().any(|o| o == "*")
    }
}

/// The first rule (S3 applies the first that matches) that allows a request from
/// `origin` with `method` asking for `headers`.
pub fn matching<'r, 'h>(
    rules: &'r [CorsRule],
    origin: &str,
    method: &str,
    headers: impl Iterator<Item = &'h str> + Clone,
) -> Option<&'r CorsRule> {
    rules.iter().find(|r| {
        r.allows_origin(origin)
            && r.allowed_methods.iter().any(|m| m == method)
            && r.allows_headers(headers.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        CorsRule {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            allowed_headers: headers.iter().map(|s| s.to_string()).collect(),
            ..CorsRule::default()
        }
    }

    #[test]
    fn origins_match_exactly_or_by_one_wildcard() {
        let r = rule(
            &["https://app.example", "https://*.cdn.example"],
            &["GET"],
            &[],
        );
        assert!(r.allows_origin("https://app.example"));
        assert!(!r.allows_origin("https://app.example.evil"));
        assert!(!r.allows_origin("http://app.example"));
        assert!(r.allows_origin("https://eu.cdn.example"));
        assert!(
            !r.allows_origin("https://cdn.example"),
            "the wildcard needs its dot"
        );
        assert!(!r.allows_origin("https://x.cdn.example.evil"));
        assert!(rule(&["*"], &["GET"], &[]).allows_origin("null"));
        // Case matters for origins (schemes and hosts arrive lower-case from browsers).
        assert!(!r.allows_origin("https://APP.example"));
    }

    #[test]
    fn headers_match_without_case_and_all_must_be_allowed() {
        let r = rule(&["*"], &["PUT"], &["Content-Type", "x-amz-*"]);
        assert!(r.allows_headers(["content-type", "X-Amz-Date"].into_iter()));
        assert!(r.allows_headers(std::iter::empty()));
        assert!(!r.allows_headers(["content-type", "authorization"].into_iter()));
        assert!(rule(&["*"], &["PUT"], &["*"]).allows_headers(["anything"].into_iter()));
    }

    #[test]
    fn the_first_rule_that_allows_everything_asked_wins() {
        let rules = vec![
            rule(&["https://a.example"], &["GET"], &[]),
            rule(&["https://a.example"], &["GET", "PUT"], &["content-type"]),
        ];
        let none = std::iter::empty::<&str>();
        assert_eq!(
            matching(&rules, "https://a.example", "GET", none.clone()),
            Some(&rules[0])
        );
        assert_eq!(
            matching(
                &rules,
                "https://a.example",
                "PUT",
                ["content-type"].into_iter()
            ),
            Some(&rules[1])
        );
        assert_eq!(
            matching(
                &rules,
                "https://a.example",
                "GET",
                ["content-type"].into_iter()
            ),
            Some(&rules[1]),
            "a rule that lacks a requested header is skipped"
        );
        assert_eq!(
            matching(&rules, "https://a.example", "DELETE", none.clone()),
            None
        );
        assert_eq!(matching(&rules, "https://b.example", "GET", none), None);
    }

    #[test]
    fn bad_configurations_are_refused_with_the_rule_named() {
        assert!(validate(&[]).is_err());
        assert!(validate(&[rule(&["*"], &["GET"], &[])]).is_ok());
        let e = validate(&[rule(&["*"], &["GET"], &[]), rule(&["*"], &["PATCH"], &[])]);
        assert!(e.unwrap_err().0.contains("rule 2"), "names the rule");
        assert!(validate(&[rule(&[], &["GET"], &[])]).is_err());
        assert!(validate(&[rule(&["*"], &[], &[])]).is_err());
        assert!(validate(&[rule(&["https://*.*.example"], &["GET"], &[])]).is_err());
        assert!(validate(&[rule(&["https://a\n"], &["GET"], &[])]).is_err());
        assert!(validate(&[rule(&[""], &["GET"], &[])]).is_err());
        let many = vec![rule(&["*"], &["GET"], &[]); MAX_RULES + 1];
        assert!(validate(&many).is_err());
        let big = rule(&[&"o".repeat(MAX_CONFIGURATION_BYTES + 1)], &["GET"], &[]);
        assert!(validate(&[big]).is_err());
    }

    #[test]
    fn wildcards_never_split_a_character() {
        let r = rule(&["https://é*é"], &["GET"], &[]);
        assert!(!r.allows_origin("https://é"));
        assert!(r.allows_origin("https://éé"));
        assert!(r.allows_origin("https://éxé"));
    }
}
