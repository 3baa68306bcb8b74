//! Conditional requests (RFC 9110 section 13, as S3 applies them): `If-Match` and
//! `If-Unmodified-Since` fail with 412, `If-None-Match` and `If-Modified-Since` answer
//! 304 on reads, in that order of precedence.

use std::time::{Duration, UNIX_EPOCH};

use s3s::dto::{ETagCondition, Timestamp};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

use crate::client::ObjectEntry;

/// An object's time as the protocol's timestamp (whole seconds, as HTTP dates are).
pub(crate) fn timestamp(unix: i64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_secs(unix.max(0) as u64))
}

/// The conditions a read or write carries.
#[derive(Default)]
pub(crate) struct Conditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

fn matches(condition: &ETagCondition, etag: Option<&str>) -> bool {
    match condition {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => etag.is_some_and(|ours| e.value() == ours),
    }
}

impl Conditions<'_> {
    /// Checks the conditions against the object as it is (`None`: there is none).
    pub fn check(&self, object: Option<&ObjectEntry>) -> S3Result<()> {
        let etag = object.and_then(|o| o.etag.as_deref());
        let modified = object.map(|o| timestamp(o.created_at));
        if let Some(c) = self.if_match {
            if object.is_none() || !matches(c, etag) {
                return Err(precondition());
            }
        } else if let (Some(since), Some(modified)) = (self.if_unmodified_since, &modified)
            && modified > since
        {
            return Err(precondition());
        }
        if let Some(c) = self.if_none_match {
            if object.is_some() && matches(c, etag) {
                return Err(not_modified());
            }
        } else if let (Some(since), Some(modified)) = (self.if_modified_since, &modified)
            && modified <= since
        {
            return Err(not_modified());
        }
        Ok(())
    }
}

/// A write's `If-None-Match`: `*` makes it conditional on the key being free; an ETag
/// there is not supported on writes.
pub(crate) fn write_if_absent(if_none_match: Option<&ETagCondition>) -> S3Result<bool> {
    match if_none_match {
        Some(ETagCondition::Any) => Ok(true),
        Some(_) => Err(s3_error!(
            NotImplemented,
            "If-None-Match on a write supports only '*'"
        )),
        None => Ok(false),
    }
}

fn precondition() -> S3Error {
    s3_error!(
        PreconditionFailed,
        "At least one of the preconditions you specified did not hold"
    )
}

fn not_modified() -> S3Error {
    S3Error::new(S3ErrorCode::NotModified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::dto::ETag;

    fn entry(etag: &str, created_at: i64) -> ObjectEntry {
        ObjectEntry {
            key: "k".into(),
            is_prefix: false,
            size: 1,
            created_at,
            expires_at: None,
            content_type: None,
            metadata: Default::default(),
            etag: Some(etag.into()),
            sha256: None,
        }
    }

    fn code(r: S3Result<()>) -> Option<S3ErrorCode> {
        r.err().map(|e| e.code().clone())
    }

    #[test]
    fn precedence_and_outcomes() {
        let obj = entry("abc", 1000);
        let same = ETagCondition::ETag(ETag::Strong("abc".into()));
        let other = ETagCondition::ETag(ETag::Strong("xyz".into()));
        let (before, after) = (timestamp(500), timestamp(2000));
        let check = |c: Conditions<'_>| code(c.check(Some(&obj)));
        assert_eq!(
            check(Conditions {
                if_match: Some(&same),
                ..Default::default()
            }),
            None
        );
        assert_eq!(
            check(Conditions {
                if_match: Some(&other),
                ..Default::default()
            }),
            Some(S3ErrorCode::PreconditionFailed)
        );
        // If-Match wins over If-Unmodified-Since.
        assert_eq!(
            check(Conditions {
                if_match: Some(&same),
                if_unmodified_since: Some(&before),
                ..Default::default()
            }),
            None
        );
        assert_eq!(
            check(Conditions {
                if_unmodified_since: Some(&before),
                ..Default::default()
            }),
            Some(S3ErrorCode::PreconditionFailed)
        );
        assert_eq!(
            check(Conditions {
                if_none_match: Some(&same),
                ..Default::default()
            }),
            Some(S3ErrorCode::NotModified)
        );
        assert_eq!(
            check(Conditions {
                if_none_match: Some(&ETagCondition::Any),
                ..Default::default()
            }),
            Some(S3ErrorCode::NotModified)
        );
        // If-None-Match wins over If-Modified-Since.
        assert_eq!(
            check(Conditions {
                if_none_match: Some(&other),
                if_modified_since: Some(&after),
                ..Default::default()
            }),
            None
        );
        assert_eq!(
            check(Conditions {
                if_modified_since: Some(&after),
                ..Default::default()
            }),
            Some(S3ErrorCode::NotModified)
        );
        assert_eq!(
            check(Conditions {
                if_modified_since: Some(&before),
                ..Default::default()
            }),
            None
        );
        // No object: If-Match fails, If-None-Match holds.
        let none = Conditions {
            if_match: Some(&ETagCondition::Any),
            ..Default::default()
        };
        assert_eq!(
            code(none.check(None)),
            Some(S3ErrorCode::PreconditionFailed)
        );
        let none = Conditions {
            if_none_match: Some(&ETagCondition::Any),
            ..Default::default()
        };
        assert_eq!(code(none.check(None)), None);
    }
}
