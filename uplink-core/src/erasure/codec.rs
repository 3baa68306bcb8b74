//! The erasure code behind a small trait, so that it can be measured and replaced.
//!
//! Reed-Solomon over GF(2^8) is bytewise: coding `n` stripes one by one gives the same
//! bytes as coding their shares laid end to end, which is what lets the segment layer
//! code a whole batch in one call. Codecs are cached per `(k, total)` because building
//! the coding matrix (and the decode matrices it caches) is not free and schemes are few.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use reed_solomon_erasure::galois_8::ReedSolomon;

use super::ErasureError;
use crate::protocol::RedundancyScheme;

/// An erasure code with `data_shards` inputs and `total_shards - data_shards` parity
/// outputs; any `data_shards` of the `total_shards` recover the data.
pub trait ErasureCodec: Send + Sync + fmt::Debug {
    fn data_shards(&self) -> usize;
    fn total_shards(&self) -> usize;
    /// `shards.len() == total_shards()`, all of equal length; the first `data_shards()`
    /// hold data and the rest are overwritten with parity.
    fn encode(&self, shards: &mut [&mut [u8]]) -> Result<(), ErasureError>;
    /// At least `data_shards()` entries are `Some`, all of equal length; afterwards the
    /// first `data_shards()` entries are `Some`. Parity entries may stay `None`.
    fn reconstruct_data(&self, shards: &mut [Option<Vec<u8>>]) -> Result<(), ErasureError>;
}

/// Reed-Solomon over GF(2^8) (SIMD accelerated); with no parity it is the identity.
pub struct ReedSolomonCodec {
    k: usize,
    total: usize,
    /// `None` when `k == total`: the library refuses zero parity shards.
    rs: Option<ReedSolomon>,
}

impl fmt::Debug for ReedSolomonCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReedSolomonCodec({}/{})", self.k, self.total)
    }
}

fn codec_error(e: reed_solomon_erasure::Error) -> ErasureError {
    ErasureError::Codec(format!("{e:?}"))
}

impl ReedSolomonCodec {
    /// `k` data shards out of `total` (at most 256).
    pub fn new(k: usize, total: usize) -> Result<Self, ErasureError> {
        if k == 0 || k > total || total > 256 {
            return Err(ErasureError::InvalidScheme(format!(
                "{k} data shards of {total} (need 1 <= k <= total <= 256)"
            )));
        }
        let rs = if k == total {
            None
        } else {
            Some(ReedSolomon::new(k, total - k).map_err(codec_error)?)
        };
        Ok(Self { k, total, rs })
    }

    fn check_count(&self, got: usize) -> Result<(), ErasureError> {
        if got == self.total {
            Ok(())
        } else {
            Err(ErasureError::SizeMismatch(format!(
                "{got} shards given, the codec has {}",
                self.total
            )))
        }
    }
}

impl ErasureCodec for ReedSolomonCodec {
    fn data_shards(&self) -> usize {
        self.k
    }

    fn total_shards(&self) -> usize {
        self.total
    }

    fn encode(&self, shards: &mut [&mut [u8]]) -> Result<(), ErasureError> {
        self.check_count(shards.len())?;
        let len = shards[0].len();
        if let Some(bad) = shards.iter().position(|s| s.len() != len) {
            return Err(ErasureError::SizeMismatch(format!(
                "shard {bad} has {} bytes, shard 0 has {len}",
                shards[bad].len()
            )));
        }
        match &self.rs {
            Some(rs) if len > 0 => rs.encode(shards).map_err(codec_error),
            _ => Ok(()),
        }
    }

    fn reconstruct_data(&self, shards: &mut [Option<Vec<u8>>]) -> Result<(), ErasureError> {
        self.check_count(shards.len())?;
        let mut len = None;
        let mut present = 0;
        for (i, shard) in shards.iter().enumerate() {
            let Some(shard) = shard else { continue };
            present += 1;
            match len {
                None => len = Some(shard.len()),
                Some(l) if l != shard.len() => {
                    return Err(ErasureError::SizeMismatch(format!(
                        "shard {i} has {} bytes, others have {l}",
                        shard.len()
                    )));
                }
                Some(_) => {}
            }
        }
        if present < self.k {
            return Err(ErasureError::TooFewShards {
                present,
                needed: self.k,
                total: self.total,
            });
        }
        if shards[..self.k].iter().all(Option::is_some) {
            return Ok(());
        }
        match (&self.rs, len) {
            (Some(rs), Some(l)) if l > 0 => rs.reconstruct_data(shards).map_err(codec_error),
            // Empty shards: nothing to compute, only to fill in.
            _ => {
                for shard in &mut shards[..self.k] {
                    shard.get_or_insert_with(Vec::new);
                }
                Ok(())
            }
        }
    }
}

/// Stands in for a codec that cannot exist (an invalid scheme), so that the error
/// surfaces where data is coded, with the reason, rather than as a panic.
#[derive(Debug)]
struct UnusableCodec {
    k: usize,
    total: usize,
    reason: String,
}

impl ErasureCodec for UnusableCodec {
    fn data_shards(&self) -> usize {
        self.k
    }

    fn total_shards(&self) -> usize {
        self.total
    }

    fn encode(&self, _: &mut [&mut [u8]]) -> Result<(), ErasureError> {
        Err(ErasureError::InvalidScheme(self.reason.clone()))
    }

    fn reconstruct_data(&self, _: &mut [Option<Vec<u8>>]) -> Result<(), ErasureError> {
        Err(ErasureError::InvalidScheme(self.reason.clone()))
    }
}

type CodecCache = Mutex<HashMap<(usize, usize), Arc<dyn ErasureCodec>>>;

/// The shared codec for `scheme`'s `k` and `total`.
pub fn codec_for(scheme: &RedundancyScheme) -> Arc<dyn ErasureCodec> {
    static CACHE: OnceLock<CodecCache> = OnceLock::new();
    let (k, total) = (scheme.k as usize, scheme.total as usize);
    let mut cache = CACHE.get_or_init(Default::default).lock();
    if let Some(codec) = cache.get(&(k, total)) {
        return codec.clone();
    }
    match ReedSolomonCodec::new(k, total) {
        Ok(codec) => {
            let codec: Arc<dyn ErasureCodec> = Arc::new(codec);
            cache.insert((k, total), codec.clone());
            codec
        }
        Err(e) => Arc::new(UnusableCodec {
            k,
            total,
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shards(k: usize, total: usize, len: usize) -> Vec<Vec<u8>> {
        (0..total)
            .map(|i| {
                if i < k {
                    (0..len).map(|j| (i * 31 + j * 7) as u8).collect()
                } else {
                    vec![0; len]
                }
            })
            .collect()
    }

    fn encoded(codec: &dyn ErasureCodec, len: usize) -> Vec<Vec<u8>> {
        let mut s = shards(codec.data_shards(), codec.total_shards(), len);
        let mut refs: Vec<&mut [u8]> = s.iter_mut().map(Vec::as_mut_slice).collect();
        codec.encode(&mut refs).unwrap();
        s
    }

    #[test]
    fn any_k_shards_recover_the_data() {
        let codec = ReedSolomonCodec::new(3, 6).unwrap();
        let full = encoded(&codec, 100);
        for missing in 0u32..64 {
            if missing.count_ones() > 3 {
                continue;
            }
            let mut opts: Vec<Option<Vec<u8>>> = full
                .iter()
                .enumerate()
                .map(|(i, s)| (missing & (1 << i) == 0).then(|| s.clone()))
                .collect();
            codec.reconstruct_data(&mut opts).unwrap();
            for i in 0..3 {
                assert_eq!(opts[i].as_ref().unwrap(), &full[i], "missing {missing:b}");
            }
        }
    }

    #[test]
    fn too_few_and_mismatched_shards_are_refused() {
        let codec = ReedSolomonCodec::new(3, 5).unwrap();
        let full = encoded(&codec, 10);
        let mut two = vec![
            Some(full[0].clone()),
            None,
            None,
            Some(full[3].clone()),
            None,
        ];
        let err = codec.reconstruct_data(&mut two).unwrap_err();
        assert_eq!(
            err,
            ErasureError::TooFewShards {
                present: 2,
                needed: 3,
                total: 5
            }
        );
        assert!(err.to_string().contains("2 of the 3"), "{err}");
        let mut uneven = vec![
            Some(vec![0; 10]),
            None,
            Some(vec![0; 9]),
            Some(vec![0; 10]),
            None,
        ];
        assert!(matches!(
            codec.reconstruct_data(&mut uneven),
            Err(ErasureError::SizeMismatch(_))
        ));
        let mut a = vec![0u8; 4];
        let mut b = vec![0u8; 4];
        assert!(matches!(
            codec.encode(&mut [&mut a, &mut b]),
            Err(ErasureError::SizeMismatch(_))
        ));
    }

    #[test]
    fn no_parity_is_the_identity() {
        let codec = ReedSolomonCodec::new(2, 2).unwrap();
        let full = encoded(&codec, 5);
        let mut opts: Vec<Option<Vec<u8>>> = full.iter().cloned().map(Some).collect();
        codec.reconstruct_data(&mut opts).unwrap();
        let mut one = vec![Some(full[0].clone()), None];
        assert!(matches!(
            codec.reconstruct_data(&mut one),
            Err(ErasureError::TooFewShards { .. })
        ));
    }

    #[test]
    fn codecs_are_cached_and_invalid_schemes_fail_when_used() {
        let scheme = RedundancyScheme::default();
        assert!(Arc::ptr_eq(&codec_for(&scheme), &codec_for(&scheme)));
        let codec = codec_for(&scheme);
        assert_eq!((codec.data_shards(), codec.total_shards()), (4, 10));
        let bad = RedundancyScheme { k: 0, ..scheme };
        assert!(matches!(
            codec_for(&bad).encode(&mut []),
            Err(ErasureError::InvalidScheme(_))
        ));
    }
}
