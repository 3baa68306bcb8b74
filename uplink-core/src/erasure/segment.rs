//! The segment pipeline: plaintext to encrypted, erasure-coded pieces and back.
//!
//! Block `j` of a segment is sealed to exactly one stripe, stripe `j` is coded into one
//! share per piece, and piece `i` is share `i` of every stripe in order (see
//! [`crate::protocol::redundancy`]). Coding stripe by stripe would mean thousands of
//! tiny codec calls per segment; because Reed-Solomon is bytewise, the encoder instead
//! transposes a run of stripes into `k` contiguous data shards and codes them in one
//! call, and the decoder does the reverse. Runs are sized to stay in cache.

use std::fmt;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::{ErasureCodec, ErasureError, codec_for};
use crate::crypto::content::TAG_SIZE;
use crate::crypto::{BlockCipher, Key};
use crate::protocol::RedundancyScheme;

/// Ciphertext bytes coded per codec call: small enough that the data and parity of a
/// run stay in cache between encryption and coding, large enough to amortise the call.
const RUN_BYTES: usize = 128 * 1024;

/// Sizes that follow from a (validated) scheme, as `usize`.
#[derive(Clone, Copy, Debug)]
struct Layout {
    k: usize,
    total: usize,
    share: usize,
    stripe: usize,
    block: usize,
}

impl Layout {
    fn new(scheme: &RedundancyScheme) -> Result<Self, ErasureError> {
        scheme
            .validate()
            .map_err(|e| ErasureError::InvalidScheme(e.to_string()))?;
        let share = scheme.share_size as usize;
        let k = scheme.k as usize;
        Ok(Self {
            k,
            total: scheme.total as usize,
            share,
            stripe: k * share,
            block: k * share - TAG_SIZE,
        })
    }
}

/// Encrypts and erasure-codes one segment, batch by batch.
pub struct SegmentEncoder {
    scheme: RedundancyScheme,
    layout: Result<Layout, ErasureError>,
    cipher: BlockCipher,
    codec: Arc<dyn ErasureCodec>,
    next_block: u64,
    finished: bool,
    /// One stripe, reused: blocks are sealed here before being spread over the shards.
    scratch: Vec<u8>,
    /// One buffer per piece, handed out as `Bytes` and reclaimed by the next batch once
    /// the caller drops them: fresh multi-megabyte buffers would cost page faults that
    /// take as long as the encryption.
    pieces: Vec<BytesMut>,
}

impl fmt::Debug for SegmentEncoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentEncoder")
            .field("scheme", &self.scheme)
            .field("next_block", &self.next_block)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl SegmentEncoder {
    /// An invalid scheme is reported by the first [`SegmentEncoder::encode_batch`].
    pub fn new(scheme: RedundancyScheme, segment_key: &Key) -> Self {
        let layout = Layout::new(&scheme);
        let stripe = layout.as_ref().map_or(0, |l| l.stripe);
        Self {
            scheme,
            layout,
            cipher: BlockCipher::new(segment_key),
            codec: codec_for(&scheme),
            next_block: 0,
            finished: false,
            scratch: vec![0; stripe],
            pieces: (0..scheme.total).map(|_| BytesMut::new()).collect(),
        }
    }

    pub fn scheme(&self) -> &RedundancyScheme {
        &self.scheme
    }

    /// Encrypts and codes the next `plaintext` of the segment and returns `total`
    /// buffers: buffer `i` is what to append to piece `i`.
    ///
    /// `plaintext` must be a whole number of blocks (`scheme.block_plain_size()`)
    /// unless `last` is set, in which case the final block is zero-padded. Nothing may
    /// follow the last batch.
    pub fn encode_batch(
        &mut self,
        plaintext: &[u8],
        last: bool,
    ) -> Result<Vec<Bytes>, ErasureError> {
        let l = self.layout.clone()?;
        if self.finished {
            return Err(ErasureError::SizeMismatch(
                "no data may follow the last batch of a segment".into(),
            ));
        }
        if !last && !plaintext.len().is_multiple_of(l.block) {
            return Err(ErasureError::SizeMismatch(format!(
                "a batch that is not the last must be a whole number of {}-byte blocks, got {} bytes",
                l.block,
                plaintext.len()
            )));
        }
        self.finished = last;
        let stripes = plaintext.len().div_ceil(l.block);
        let piece_len = stripes * l.share;
        for piece in &mut self.pieces {
            // Empty here (the last batch was split off); this reuses the old allocation
            // if the caller has dropped every buffer of the previous batch.
            piece.reserve(piece_len);
        }

        let run = (RUN_BYTES / l.stripe).max(1);
        let mut blocks = plaintext.chunks(l.block);
        let mut done = 0;
        while done < stripes {
            let n = run.min(stripes - done);
            for block in blocks.by_ref().take(n) {
                self.scratch[..block.len()].copy_from_slice(block);
                self.scratch[block.len()..l.block].fill(0);
                self.cipher.seal_block(self.next_block, &mut self.scratch);
                self.next_block += 1;
                let shares = self.scratch.chunks_exact(l.share);
                for (piece, share) in self.pieces.iter_mut().zip(shares) {
                    piece.extend_from_slice(share);
                }
            }
            let range = done * l.share..(done + n) * l.share;
            for parity in &mut self.pieces[l.k..] {
                parity.resize(range.end, 0);
            }
            let mut shards: Vec<&mut [u8]> = self
                .pieces
                .iter_mut()
                .map(|p| &mut p[range.clone()])
                .collect();
            self.codec.encode(&mut shards)?;
            done += n;
        }
        Ok(self.pieces.iter_mut().map(|p| p.split().freeze()).collect())
    }
}

/// Decodes runs of stripes of one segment from any `k` of its pieces.
pub struct SegmentDecoder {
    scheme: RedundancyScheme,
    layout: Result<Layout, ErasureError>,
    cipher: BlockCipher,
    codec: Arc<dyn ErasureCodec>,
}

impl fmt::Debug for SegmentDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentDecoder")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl SegmentDecoder {
    /// An invalid scheme is reported by the first [`SegmentDecoder::decode_stripes`].
    pub fn new(scheme: RedundancyScheme, segment_key: &Key) -> Self {
        Self {
            scheme,
            layout: Layout::new(&scheme),
            cipher: BlockCipher::new(segment_key),
            codec: codec_for(&scheme),
        }
    }

    pub fn scheme(&self) -> &RedundancyScheme {
        &self.scheme
    }

    /// Decodes stripes `[first_stripe, first_stripe + count)` and returns their
    /// `count * block_plain_size` plaintext bytes (padding included; the caller
    /// truncates to the segment's size).
    ///
    /// `shares[i]` is piece `i`'s bytes for those stripes or `None`; all present entries
    /// have the same length `count * share_size`, and at least `k` are present. Missing
    /// data shares are reconstructed in place (only if needed). Every block is
    /// authenticated: a wrong byte in any share used gives
    /// [`ErasureError::Corrupted`], never wrong plaintext.
    pub fn decode_stripes(
        &self,
        first_stripe: u64,
        shares: &mut [Option<Vec<u8>>],
    ) -> Result<Vec<u8>, ErasureError> {
        let mut out = Vec::new();
        self.decode_stripes_into(first_stripe, shares, &mut out)?;
        Ok(out)
    }

    /// [`SegmentDecoder::decode_stripes`], appending the plaintext to `out`, so that a
    /// download loop can reuse one buffer instead of faulting in fresh pages per call.
    /// On error `out` is left as it was.
    pub fn decode_stripes_into(
        &self,
        first_stripe: u64,
        shares: &mut [Option<Vec<u8>>],
        out: &mut Vec<u8>,
    ) -> Result<(), ErasureError> {
        let l = self.layout.clone()?;
        if shares.len() != l.total {
            return Err(ErasureError::SizeMismatch(format!(
                "{} pieces given, the scheme has {}",
                shares.len(),
                l.total
            )));
        }
        let present: Vec<usize> = shares
            .iter()
            .filter_map(|s| s.as_ref().map(Vec::len))
            .collect();
        if present.len() < l.k {
            return Err(ErasureError::TooFewShards {
                present: present.len(),
                needed: l.k,
                total: l.total,
            });
        }
        let len = present[0];
        if present.iter().any(|&p| p != len) || !len.is_multiple_of(l.share) {
            return Err(ErasureError::SizeMismatch(format!(
                "piece lengths {present:?} must all be the same multiple of the {}-byte share size",
                l.share
            )));
        }
        let count = len / l.share;
        if first_stripe.checked_add(count as u64).is_none() {
            return Err(ErasureError::SizeMismatch(format!(
                "stripes from {first_stripe} overflow the stripe index"
            )));
        }
        if shares[..l.k].iter().any(Option::is_none) {
            self.codec.reconstruct_data(shares)?;
        }
        let data: Vec<&[u8]> = shares[..l.k]
            .iter()
            .map(|s| s.as_deref().unwrap_or_default())
            .collect();
        if data.iter().any(|d| d.len() != len) {
            return Err(ErasureError::Codec(
                "the codec did not reconstruct every data shard".into(),
            ));
        }

        // Stripe j is assembled at j * block: its tag lands where block j + 1 starts and
        // is overwritten by the next stripe, so plaintext ends up contiguous with one copy.
        let base = out.len();
        out.reserve(count * l.block + TAG_SIZE);
        for j in 0..count {
            let start = base + j * l.block;
            out.truncate(start);
            let shares_of_stripe = j * l.share..(j + 1) * l.share;
            for d in &data {
                out.extend_from_slice(&d[shares_of_stripe.clone()]);
            }
            let stripe = first_stripe + j as u64;
            if self.cipher.open_block(stripe, &mut out[start..]).is_err() {
                out.truncate(base);
                return Err(ErasureError::Corrupted { stripe });
            }
        }
        out.truncate(base + count * l.block);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, RngCore, SeedableRng};

    fn scheme(k: u16, repair: u16, optimal: u16, total: u16, share: u32) -> RedundancyScheme {
        RedundancyScheme::new(k, repair, optimal, total, share).unwrap()
    }

    fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut v = vec![0; len];
        rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut v);
        v
    }

    /// Encodes `data` in batches of `batch_blocks` blocks and returns the pieces.
    fn encode(s: RedundancyScheme, key: &Key, data: &[u8], batch_blocks: usize) -> Vec<Vec<u8>> {
        let mut enc = SegmentEncoder::new(s, key);
        let mut pieces = vec![Vec::new(); s.total as usize];
        let batch = batch_blocks * s.block_plain_size() as usize;
        let mut chunks = data.chunks(batch).peekable();
        if chunks.peek().is_none() {
            for (p, b) in pieces.iter_mut().zip(enc.encode_batch(&[], true).unwrap()) {
                p.extend_from_slice(&b);
            }
        }
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            for (p, b) in pieces
                .iter_mut()
                .zip(enc.encode_batch(chunk, last).unwrap())
            {
                p.extend_from_slice(&b);
            }
        }
        pieces
    }

    fn decode_all(s: RedundancyScheme, key: &Key, pieces: &[Vec<u8>], keep: &[usize]) -> Vec<u8> {
        let mut shares: Vec<Option<Vec<u8>>> = (0..s.total as usize)
            .map(|i| keep.contains(&i).then(|| pieces[i].clone()))
            .collect();
        SegmentDecoder::new(s, key)
            .decode_stripes(0, &mut shares)
            .unwrap()
    }

    fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
        fn rec(start: usize, n: usize, k: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
            if cur.len() == k {
                out.push(cur.clone());
                return;
            }
            for i in start..n {
                cur.push(i);
                rec(i + 1, n, k, cur, out);
                cur.pop();
            }
        }
        let mut out = Vec::new();
        rec(0, n, k, &mut Vec::new(), &mut out);
        out
    }

    #[test]
    fn every_set_of_k_pieces_decodes_every_size() {
        let s = scheme(4, 6, 8, 10, 64);
        let block = s.block_plain_size() as usize;
        let key = Key::random();
        for (len, batch_blocks) in [(1, 1), (block, 1), (7 * block + 5, 100), (9 * block - 3, 2)] {
            let data = random_bytes(len, len as u64);
            let pieces = encode(s, &key, &data, batch_blocks);
            let piece_len = s.piece_size(len as u64) as usize;
            assert!(pieces.iter().all(|p| p.len() == piece_len), "len {len}");
            for keep in subsets(10, 4) {
                let plain = decode_all(s, &key, &pieces, &keep);
                assert_eq!(plain.len(), s.stripes_for(len as u64) as usize * block);
                assert_eq!(&plain[..len], &data[..], "len {len} keep {keep:?}");
                assert!(plain[len..].iter().all(|&b| b == 0), "padding is zeros");
            }
        }
    }

    #[test]
    fn batching_does_not_change_the_pieces() {
        let s = scheme(4, 6, 8, 10, 256);
        let key = Key::random();
        let data = random_bytes(40 * s.block_plain_size() as usize + 17, 1);
        let whole = encode(s, &key, &data, 1000);
        assert_eq!(encode(s, &key, &data, 1), whole);
        assert_eq!(encode(s, &key, &data, 3), whole);
    }

    #[test]
    fn buffers_still_held_by_the_caller_are_never_reused() {
        let s = scheme(4, 6, 8, 10, 64);
        let block = s.block_plain_size() as usize;
        let mut enc = SegmentEncoder::new(s, &Key::random());
        let first = enc
            .encode_batch(&random_bytes(3 * block, 1), false)
            .unwrap();
        let copy: Vec<Vec<u8>> = first.iter().map(|b| b.to_vec()).collect();
        let second = enc
            .encode_batch(&random_bytes(3 * block, 2), false)
            .unwrap();
        drop(second);
        let third = enc.encode_batch(&random_bytes(3 * block, 3), true).unwrap();
        assert_eq!(first.iter().map(|b| b.to_vec()).collect::<Vec<_>>(), copy);
        assert_ne!(third[0], first[0]);
    }

    #[test]
    fn default_share_size_and_production_scheme() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for s in [RedundancyScheme::default(), scheme(29, 35, 80, 110, 256)] {
            let key = Key::random();
            let data = random_bytes(5 * s.block_plain_size() as usize + 100, 3);
            let pieces = encode(s, &key, &data, 2);
            for _ in 0..20 {
                let mut keep: Vec<usize> = (0..s.total as usize).collect();
                while keep.len() > s.k as usize {
                    keep.swap_remove(rng.gen_range(0..keep.len()));
                }
                assert_eq!(
                    &decode_all(s, &key, &pieces, &keep)[..data.len()],
                    &data[..]
                );
            }
        }
    }

    #[test]
    fn no_parity_scheme_works() {
        let s = scheme(3, 3, 3, 3, 32);
        let key = Key::random();
        let data = random_bytes(500, 9);
        let pieces = encode(s, &key, &data, 4);
        assert_eq!(&decode_all(s, &key, &pieces, &[0, 1, 2])[..500], &data[..]);
    }

    #[test]
    fn empty_last_batch_gives_empty_pieces() {
        let s = RedundancyScheme::default();
        let mut enc = SegmentEncoder::new(s, &Key::random());
        let out = enc.encode_batch(&[], true).unwrap();
        assert_eq!(out.len(), 10);
        assert!(out.iter().all(Bytes::is_empty));
        let mut shares: Vec<Option<Vec<u8>>> = vec![Some(Vec::new()); 10];
        let dec = SegmentDecoder::new(s, &Key::random());
        assert!(dec.decode_stripes(0, &mut shares).unwrap().is_empty());
    }

    #[test]
    fn decoding_from_the_middle_matches_the_plaintext_slice() {
        let s = scheme(4, 6, 8, 10, 128);
        let (block, share) = (s.block_plain_size() as usize, s.share_size as usize);
        let key = Key::random();
        let data = random_bytes(20 * block, 4);
        let pieces = encode(s, &key, &data, 20);
        let dec = SegmentDecoder::new(s, &key);
        for (first, count, keep) in [
            (5usize, 3usize, vec![0, 1, 2, 3]),
            (19, 1, vec![4, 6, 8, 9]),
            (7, 10, vec![0, 2, 5, 9]),
        ] {
            let mut shares: Vec<Option<Vec<u8>>> = (0..10)
                .map(|i| {
                    keep.contains(&i)
                        .then(|| pieces[i][first * share..(first + count) * share].to_vec())
                })
                .collect();
            let plain = dec.decode_stripes(first as u64, &mut shares).unwrap();
            assert_eq!(plain, &data[first * block..(first + count) * block]);
        }
        // The wrong stripe number is caught by the block nonce.
        let mut shares: Vec<Option<Vec<u8>>> = (0..10)
            .map(|i| (i < 4).then(|| pieces[i][5 * share..6 * share].to_vec()))
            .collect();
        assert_eq!(
            dec.decode_stripes(6, &mut shares),
            Err(ErasureError::Corrupted { stripe: 6 })
        );
    }

    #[test]
    fn decoding_into_a_buffer_appends_or_leaves_it_alone() {
        let s = scheme(4, 6, 8, 10, 64);
        let key = Key::random();
        let data = random_bytes(3 * s.block_plain_size() as usize, 6);
        let pieces = encode(s, &key, &data, 3);
        let dec = SegmentDecoder::new(s, &key);
        let mut out = b"head".to_vec();
        let mut shares: Vec<Option<Vec<u8>>> = pieces.iter().cloned().map(Some).collect();
        dec.decode_stripes_into(0, &mut shares, &mut out).unwrap();
        assert_eq!(&out[..4], b"head");
        assert_eq!(&out[4..], &data[..]);
        let mut shares: Vec<Option<Vec<u8>>> = pieces.iter().cloned().map(Some).collect();
        shares[1].as_mut().unwrap()[100] ^= 1;
        let before = out.clone();
        assert!(dec.decode_stripes_into(0, &mut shares, &mut out).is_err());
        assert_eq!(out, before);
    }

    #[test]
    fn flipped_bytes_are_detected_never_returned() {
        let s = scheme(4, 6, 8, 10, 64);
        let share = s.share_size as usize;
        let key = Key::random();
        let data = random_bytes(6 * s.block_plain_size() as usize, 5);
        let pieces = encode(s, &key, &data, 6);
        let dec = SegmentDecoder::new(s, &key);
        // A data share used directly, and a parity share used for reconstruction.
        for (keep, bad_piece) in [
            (vec![0, 1, 2, 3], 2),
            (vec![1, 2, 3, 7], 7),
            (vec![0, 5, 6, 9], 0),
        ] {
            for (stripe, offset) in [(0usize, 0usize), (3, 17), (5, share - 1)] {
                let mut shares: Vec<Option<Vec<u8>>> = (0..10)
                    .map(|i| keep.contains(&i).then(|| pieces[i].clone()))
                    .collect();
                shares[bad_piece].as_mut().unwrap()[stripe * share + offset] ^= 0x01;
                assert_eq!(
                    dec.decode_stripes(0, &mut shares),
                    Err(ErasureError::Corrupted {
                        stripe: stripe as u64
                    }),
                    "piece {bad_piece} stripe {stripe}"
                );
            }
        }
        // And a wrong segment key never decrypts.
        let mut shares: Vec<Option<Vec<u8>>> = pieces.iter().cloned().map(Some).collect();
        assert_eq!(
            SegmentDecoder::new(s, &Key::random()).decode_stripes(0, &mut shares),
            Err(ErasureError::Corrupted { stripe: 0 })
        );
    }

    #[test]
    fn misuse_is_reported() {
        let s = RedundancyScheme::default();
        let key = Key::random();
        let mut enc = SegmentEncoder::new(s, &key);
        assert!(matches!(
            enc.encode_batch(&[0; 100], false),
            Err(ErasureError::SizeMismatch(_))
        ));
        enc.encode_batch(&[0; 100], true).unwrap();
        assert!(matches!(
            enc.encode_batch(&[0; 100], true),
            Err(ErasureError::SizeMismatch(_))
        ));

        let dec = SegmentDecoder::new(s, &key);
        let mut three: Vec<Option<Vec<u8>>> =
            (0..10).map(|i| (i < 3).then(|| vec![0; 1024])).collect();
        let err = dec.decode_stripes(0, &mut three).unwrap_err();
        assert_eq!(
            err,
            ErasureError::TooFewShards {
                present: 3,
                needed: 4,
                total: 10
            }
        );
        let mut uneven: Vec<Option<Vec<u8>>> = (0..10).map(|i| Some(vec![0; 1024 + i])).collect();
        assert!(matches!(
            dec.decode_stripes(0, &mut uneven),
            Err(ErasureError::SizeMismatch(_))
        ));
        let mut unaligned: Vec<Option<Vec<u8>>> = (0..10).map(|_| Some(vec![0; 1000])).collect();
        assert!(matches!(
            dec.decode_stripes(0, &mut unaligned),
            Err(ErasureError::SizeMismatch(_))
        ));
        assert!(matches!(
            dec.decode_stripes(0, &mut []),
            Err(ErasureError::SizeMismatch(_))
        ));

        let bad = RedundancyScheme { share_size: 0, ..s };
        assert!(matches!(
            SegmentEncoder::new(bad, &key).encode_batch(&[1], true),
            Err(ErasureError::InvalidScheme(_))
        ));
        assert!(matches!(
            SegmentDecoder::new(bad, &key).decode_stripes(0, &mut []),
            Err(ErasureError::InvalidScheme(_))
        ));
    }
}
