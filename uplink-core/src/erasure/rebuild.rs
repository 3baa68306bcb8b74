//! Rebuilding lost pieces from any `k` others, on ciphertext alone.
//!
//! Repair must never need a key: it holds only pieces. Since piece `i` is share `i` of
//! every stripe laid end to end and the code is bytewise, whole pieces are shards of the
//! same code; the rebuilder decodes and re-encodes them run by run so that its working
//! memory beyond its inputs and outputs is a few runs, whatever the piece size.

use super::{ErasureError, codec_for};
use crate::protocol::RedundancyScheme;

/// Bytes of each piece coded per codec call.
const RUN: usize = 64 * 1024;

/// Computes the pieces numbered `wanted` of a segment from `available` pieces
/// (`(number, bytes)`, at least `k`, all of one length). Returns them in `wanted` order.
pub fn rebuild_pieces(
    scheme: &RedundancyScheme,
    available: &[(u16, &[u8])],
    wanted: &[u16],
) -> Result<Vec<(u16, Vec<u8>)>, ErasureError> {
    scheme
        .validate()
        .map_err(|e| ErasureError::InvalidScheme(e.to_string()))?;
    let k = scheme.k as usize;
    let total = scheme.total as usize;
    let mut inputs: Vec<Option<&[u8]>> = vec![None; total];
    let mut taken = 0;
    for (num, bytes) in available {
        let slot = inputs.get_mut(*num as usize).ok_or_else(|| {
            ErasureError::Codec(format!("piece number {num} outside the scheme's {total}"))
        })?;
        if slot.is_none() && taken < k {
            *slot = Some(bytes);
            taken += 1;
        }
    }
    let chosen: Vec<&[u8]> = inputs.iter().flatten().copied().collect();
    if chosen.len() < k {
        return Err(ErasureError::Codec(format!(
            "{} distinct pieces given, {k} are needed",
            chosen.len()
        )));
    }
    let len = chosen[0].len();
    if chosen.iter().any(|p| p.len() != len) {
        return Err(ErasureError::Codec("pieces differ in length".into()));
    }
    if let Some(w) = wanted.iter().find(|w| **w as usize >= total) {
        return Err(ErasureError::Codec(format!(
            "piece number {w} outside the scheme's {total}"
        )));
    }
    let codec = codec_for(scheme);
    let mut out: Vec<(u16, Vec<u8>)> = wanted
        .iter()
        .map(|w| (*w, Vec::with_capacity(len)))
        .collect();
    let mut offset = 0;
    while offset < len {
        let end = (offset + RUN).min(len);
        let mut shards: Vec<Option<Vec<u8>>> = inputs
            .iter()
            .map(|s| s.map(|p| p[offset..end].to_vec()))
            .collect();
        codec.reconstruct_data(&mut shards)?;
        let needs_parity = wanted.iter().any(|w| *w as usize >= k);
        if needs_parity {
            let mut full: Vec<Vec<u8>> = Vec::with_capacity(total);
            for shard in shards.iter_mut().take(k) {
                full.push(shard.take().expect("reconstructed data shard"));
            }
            full.resize_with(total, || vec![0; end - offset]);
            let mut refs: Vec<&mut [u8]> = full.iter_mut().map(|v| v.as_mut_slice()).collect();
            codec.encode(&mut refs)?;
            for (num, buf) in out.iter_mut() {
                buf.extend_from_slice(&full[*num as usize]);
            }
        } else {
            for (num, buf) in out.iter_mut() {
                buf.extend_from_slice(shards[*num as usize].as_deref().expect("data shard"));
            }
        }
        offset = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Key;
    use crate::erasure::SegmentEncoder;

    fn encode(scheme: RedundancyScheme, data: &[u8]) -> Vec<Vec<u8>> {
        let key = Key::random();
        let mut enc = SegmentEncoder::new(scheme, &key);
        let pieces = enc.encode_batch(data, true).expect("encode");
        pieces.into_iter().map(|p| p.to_vec()).collect()
    }

    #[test]
    fn any_k_pieces_rebuild_every_other_piece_exactly() {
        let scheme: RedundancyScheme = "4/6/8/10@256".parse().unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let pieces = encode(scheme, &data);
        assert_eq!(pieces.len(), 10);
        for keep in [[0u16, 1, 2, 3], [6, 7, 8, 9], [1, 4, 7, 9], [0, 5, 2, 8]] {
            let available: Vec<(u16, &[u8])> = keep
                .iter()
                .map(|n| (*n, pieces[*n as usize].as_slice()))
                .collect();
            let wanted: Vec<u16> = (0..10).filter(|n| !keep.contains(n)).collect();
            let rebuilt = rebuild_pieces(&scheme, &available, &wanted).unwrap();
            for (num, bytes) in rebuilt {
                assert!(bytes == pieces[num as usize], "piece {num} from {keep:?}");
            }
        }
    }

    #[test]
    fn too_few_or_mismatched_pieces_are_refused() {
        let scheme: RedundancyScheme = "4/6/8/10@256".parse().unwrap();
        let pieces = encode(scheme, &[7u8; 10_000]);
        let three: Vec<(u16, &[u8])> = (0..3).map(|n| (n, pieces[n as usize].as_slice())).collect();
        assert!(rebuild_pieces(&scheme, &three, &[9]).is_err());
        // The same piece twice counts once.
        let dup: Vec<(u16, &[u8])> = [0u16, 0, 1, 2]
            .iter()
            .map(|n| (*n, pieces[*n as usize].as_slice()))
            .collect();
        assert!(rebuild_pieces(&scheme, &dup, &[9]).is_err());
        let short = &pieces[3][..pieces[3].len() - 1];
        let mut uneven: Vec<(u16, &[u8])> = three.clone();
        uneven.push((3, short));
        assert!(rebuild_pieces(&scheme, &uneven, &[9]).is_err());
        let mut four = three;
        four.push((3, pieces[3].as_slice()));
        assert!(rebuild_pieces(&scheme, &four, &[10]).is_err());
    }
}
