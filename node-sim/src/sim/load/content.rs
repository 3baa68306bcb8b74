//! Object contents derived from a seed. Uploads stream them and downloads are compared
//! against them as they arrive, so no object is ever held in memory and the registry
//! keeps only a seed and a size per object.
//!
//! The bytes are BLAKE3's extendable output keyed by the seed: incompressible, and any
//! offset can be reached directly, which is what checking a range read needs.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const CONTEXT: &str = "node-sim load generator object content v1";

fn stream_at(seed: u64, offset: u64) -> blake3::OutputReader {
    let mut hasher = blake3::Hasher::new_derive_key(CONTEXT);
    hasher.update(&seed.to_le_bytes());
    let mut reader = hasher.finalize_xof();
    reader.set_position(offset);
    reader
}

/// Bytes `offset..offset + len` of the object with `seed`.
pub fn expected_bytes(seed: u64, offset: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    stream_at(seed, offset).fill(&mut out);
    out
}

/// Yields the `size` bytes of the object with `seed`.
pub struct ContentReader {
    stream: blake3::OutputReader,
    remaining: u64,
}

impl ContentReader {
    pub fn new(seed: u64, size: u64) -> Self {
        Self {
            stream: stream_at(seed, 0),
            remaining: size,
        }
    }
}

impl AsyncRead for ContentReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.remaining) as usize;
        if n > 0 {
            self.stream.fill(buf.initialize_unfilled_to(n));
            buf.advance(n);
            self.remaining -= n as u64;
        }
        Poll::Ready(Ok(()))
    }
}

/// How downloaded bytes differ from what was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The first differing byte, as an offset in the object.
    Differs { offset: u64 },
    /// Every byte received matched, but not as many came as expected.
    Length { expected: u64, received: u64 },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Differs { offset } => write!(f, "byte {offset} differs"),
            Mismatch::Length { expected, received } => {
                write!(f, "{received} bytes arrived where {expected} were expected")
            }
        }
    }
}

/// Compares bytes written to it with the object's contents from some offset on.
pub struct Verifier {
    stream: blake3::OutputReader,
    start: u64,
    received: u64,
    first_difference: Option<u64>,
    scratch: Vec<u8>,
}

const SCRATCH: usize = 64 << 10;

impl Verifier {
    /// Checks bytes of the object with `seed` from `offset` on.
    pub fn new(seed: u64, offset: u64) -> Self {
        Self {
            stream: stream_at(seed, offset),
            start: offset,
            received: 0,
            first_difference: None,
            scratch: Vec::new(),
        }
    }

    /// Compares the next bytes.
    pub fn update(&mut self, data: &[u8]) {
        for chunk in data.chunks(SCRATCH) {
            if self.first_difference.is_none() {
                self.scratch.resize(chunk.len(), 0);
                self.stream.fill(&mut self.scratch);
                if let Some(i) = chunk.iter().zip(&self.scratch).position(|(a, b)| a != b) {
                    self.first_difference = Some(self.start + self.received + i as u64);
                }
            }
            self.received += chunk.len() as u64;
        }
    }

    pub fn received(&self) -> u64 {
        self.received
    }

    /// The verdict once `expected` bytes should have arrived. A wrong byte is reported
    /// before a wrong length, and extra bytes count as a wrong length.
    pub fn finish(&self, expected: u64) -> Result<(), Mismatch> {
        if let Some(offset) = self.first_difference {
            return Err(Mismatch::Differs { offset });
        }
        if self.received != expected {
            return Err(Mismatch::Length {
                expected,
                received: self.received,
            });
        }
        Ok(())
    }
}

impl AsyncWrite for Verifier {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.update(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const SEED: u64 = 0x5eed;

    fn verify(seed: u64, offset: u64, data: &[u8], expected: u64) -> Result<(), Mismatch> {
        let mut v = Verifier::new(seed, offset);
        // Uneven pieces, as a download delivers them.
        for piece in data.chunks(7777) {
            v.update(piece);
        }
        v.finish(expected)
    }

    #[tokio::test]
    async fn the_reader_yields_the_expected_bytes_and_the_verifier_accepts_them() {
        let size = 200_000u64;
        let mut data = Vec::new();
        ContentReader::new(SEED, size)
            .read_to_end(&mut data)
            .await
            .unwrap();
        assert_eq!(data, expected_bytes(SEED, 0, size as usize));
        assert_eq!(verify(SEED, 0, &data, size), Ok(()));
        // A range read: bytes from an odd offset are checked against that offset.
        assert_eq!(verify(SEED, 12_345, &data[12_345..100_001], 87_656), Ok(()));
        let mut w = Verifier::new(SEED, 0);
        w.write_all(&data).await.unwrap();
        assert_eq!(w.finish(size), Ok(()));
    }

    #[test]
    fn a_flipped_byte_anywhere_is_a_mismatch() {
        let size = 3 * SCRATCH + 123;
        let good = expected_bytes(SEED, 0, size);
        for at in [0, 1, SCRATCH - 1, SCRATCH, 2 * SCRATCH + 5, size - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            assert_eq!(
                verify(SEED, 0, &bad, size as u64),
                Err(Mismatch::Differs { offset: at as u64 }),
                "flip at {at}"
            );
        }
        // In a range, the offset reported is the object's.
        let mut range = good[1000..5000].to_vec();
        range[10] ^= 0x80;
        assert_eq!(
            verify(SEED, 1000, &range, 4000),
            Err(Mismatch::Differs { offset: 1010 })
        );
    }

    #[test]
    fn other_objects_and_wrong_lengths_are_mismatches() {
        let good = expected_bytes(SEED, 0, 5000);
        assert!(matches!(
            verify(SEED + 1, 0, &good, 5000),
            Err(Mismatch::Differs { .. })
        ));
        assert!(matches!(
            verify(SEED, 1, &good[..4999], 4999),
            Err(Mismatch::Differs { .. })
        ));
        assert_eq!(
            verify(SEED, 0, &good[..4999], 5000),
            Err(Mismatch::Length {
                expected: 5000,
                received: 4999
            })
        );
        let mut longer = good.clone();
        longer.extend(expected_bytes(SEED, 5000, 1));
        assert_eq!(
            verify(SEED, 0, &longer, 5000),
            Err(Mismatch::Length {
                expected: 5000,
                received: 5001
            })
        );
        assert_eq!(verify(SEED, 0, &[], 0), Ok(()), "an empty object is empty");
    }
}
