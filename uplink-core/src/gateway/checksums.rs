//! Integrity of request bodies: `Content-MD5` and the `x-amz-checksum-*` values that
//! current SDKs send by default, in a header or in the aws-chunked trailer.
//!
//! The protocol layer verifies signatures and chunk framing but not these digests, so
//! the body is hashed as it streams into the upload. A mismatch ends the stream with an
//! error before its end is reported, so the upload fails before it commits: nothing
//! with wrong content is ever acknowledged. The failure is kept for the handler to
//! answer `BadDigest`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures::Stream;
use md5::{Digest, Md5};
use parking_lot::Mutex;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::Checksum as _;
use s3s::dto::{Checksum, StreamingBlob};
use s3s::{S3Error, S3Result, TrailingHeaders, s3_error};

/// The digests announced by an S3 input with a body (`PutObjectInput`,
/// `UploadPartInput`: the same field names) and its headers.
macro_rules! expected_of {
    ($input:expr, $headers:expr) => {
        $crate::gateway::checksums::Expected {
            content_md5: $input.content_md5.clone(),
            checksum: s3s::dto::Checksum {
                checksum_crc32: $input.checksum_crc32.clone(),
                checksum_crc32c: $input.checksum_crc32c.clone(),
                checksum_crc64nvme: $input.checksum_crc64nvme.clone(),
                checksum_sha1: $input.checksum_sha1.clone(),
                checksum_sha256: $input.checksum_sha256.clone(),
                ..Default::default()
            },
            trailer: Vec::new(),
        }
        .with_trailer($headers)
    };
}
pub(crate) use expected_of;

/// The digests a request announced, as base64 strings.
#[derive(Default, Clone)]
pub(crate) struct Expected {
    pub content_md5: Option<String>,
    pub checksum: Checksum,
    /// Checksum headers announced for the trailer (`x-amz-trailer`).
    pub trailer: Vec<String>,
}

const NAMES: [&str; 5] = [
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
];

impl Expected {
    /// Reads `x-amz-trailer` from the request headers.
    pub fn with_trailer(mut self, headers: &http::HeaderMap) -> Self {
        if let Some(v) = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
            self.trailer = v
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| NAMES.contains(&s.as_str()))
                .collect();
        }
        self
    }

    /// Refuses a `Content-MD5` that is not the base64 of 16 bytes.
    pub fn validate(&self) -> S3Result<()> {
        if let Some(md5) = &self.content_md5 {
            match STANDARD.decode(md5.trim()) {
                Ok(bytes) if bytes.len() == 16 => {}
                _ => {
                    return Err(s3_error!(
                        InvalidDigest,
                        "The Content-MD5 you specified is not valid"
                    ));
                }
            }
        }
        Ok(())
    }

    fn hasher(&self) -> ChecksumHasher {
        let wants = |value: &Option<String>, name: &str| {
            value.is_some() || self.trailer.iter().any(|t| t == name)
        };
        let c = &self.checksum;
        ChecksumHasher {
            crc32: wants(&c.checksum_crc32, NAMES[0]).then(s3s::crypto::Crc32::new),
            crc32c: wants(&c.checksum_crc32c, NAMES[1]).then(s3s::crypto::Crc32c::new),
            crc64nvme: wants(&c.checksum_crc64nvme, NAMES[2]).then(s3s::crypto::Crc64Nvme::new),
            sha1: wants(&c.checksum_sha1, NAMES[3]).then(s3s::crypto::Sha1::new),
            sha256: wants(&c.checksum_sha256, NAMES[4]).then(s3s::crypto::Sha256::new),
        }
    }
}

/// Where a verifying body leaves its verdict.
#[derive(Clone, Default)]
pub(crate) struct Verdict(Arc<Mutex<Option<S3Error>>>);

impl Verdict {
    /// The digest failure, if the body had one.
    pub fn take(&self) -> Option<S3Error> {
        self.0.lock().take()
    }
}

/// A request body that checks its digests at its end.
pub(crate) struct Verified {
    inner: StreamingBlob,
    md5: Option<Md5>,
    hasher: Option<ChecksumHasher>,
    expected: Expected,
    trailers: Option<TrailingHeaders>,
    verdict: Verdict,
    done: bool,
}

impl Verified {
    pub fn new(
        inner: StreamingBlob,
        expected: Expected,
        trailers: Option<TrailingHeaders>,
    ) -> (Self, Verdict) {
        let verdict = Verdict::default();
        let body = Self {
            inner,
            md5: expected.content_md5.as_ref().map(|_| Md5::new()),
            hasher: Some(expected.hasher()),
            expected,
            trailers,
            verdict: verdict.clone(),
            done: false,
        };
        (body, verdict)
    }

    fn finish(&mut self) -> Result<(), S3Error> {
        if let (Some(md5), Some(want)) = (self.md5.take(), &self.expected.content_md5) {
            let got = STANDARD.encode(md5.finalize());
            if got != want.trim() {
                return Err(s3_error!(
                    BadDigest,
                    "The Content-MD5 you specified did not match what we received"
                ));
            }
        }
        let got = self
            .hasher
            .take()
            .map(ChecksumHasher::finalize)
            .unwrap_or_default();
        let mut want = self.expected.checksum.clone();
        if let Some(trailers) = &self.trailers {
            trailers.read(|h| {
                let value = |name: &str| {
                    h.get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                want.checksum_crc32 = want.checksum_crc32.take().or_else(|| value(NAMES[0]));
                want.checksum_crc32c = want.checksum_crc32c.take().or_else(|| value(NAMES[1]));
                want.checksum_crc64nvme =
                    want.checksum_crc64nvme.take().or_else(|| value(NAMES[2]));
                want.checksum_sha1 = want.checksum_sha1.take().or_else(|| value(NAMES[3]));
                want.checksum_sha256 = want.checksum_sha256.take().or_else(|| value(NAMES[4]));
            });
        }
        let pairs = [
            (NAMES[0], &want.checksum_crc32, &got.checksum_crc32),
            (NAMES[1], &want.checksum_crc32c, &got.checksum_crc32c),
            (NAMES[2], &want.checksum_crc64nvme, &got.checksum_crc64nvme),
            (NAMES[3], &want.checksum_sha1, &got.checksum_sha1),
            (NAMES[4], &want.checksum_sha256, &got.checksum_sha256),
        ];
        for (name, want, got) in pairs {
            let announced = self.expected.trailer.iter().any(|t| t == name);
            match (want, got) {
                (Some(w), Some(g)) if w.trim() != g => {
                    return Err(s3_error!(
                        BadDigest,
                        "The {name} you specified did not match the calculated checksum"
                    ));
                }
                (None, _) if announced => {
                    return Err(s3_error!(
                        InvalidRequest,
                        "The trailer announced {name} but did not carry it"
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl Stream for Verified {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match std::task::ready!(Pin::new(&mut this.inner).poll_next(cx)) {
            Some(Ok(chunk)) => {
                if let Some(m) = &mut this.md5 {
                    m.update(&chunk);
                }
                if let Some(h) = &mut this.hasher {
                    h.update(&chunk);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Some(Err(e)) => {
                this.done = true;
                Poll::Ready(Some(Err(std::io::Error::other(e.to_string()))))
            }
            None => {
                this.done = true;
                match this.finish() {
                    Ok(()) => Poll::Ready(None),
                    Err(e) => {
                        let message = e.message().unwrap_or("digest mismatch").to_string();
                        *this.verdict.0.lock() = Some(e);
                        Poll::Ready(Some(Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            message,
                        ))))
                    }
                }
            }
        }
    }
}
