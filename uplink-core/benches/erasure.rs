//! Throughput of the segment pipeline (encrypt + erasure code, and back), the client's
//! hot path on upload and download.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::RngCore;
use uplink_core::crypto::Key;
use uplink_core::erasure::{SegmentDecoder, SegmentEncoder};
use uplink_core::protocol::RedundancyScheme;

const BATCH: usize = 4 << 20;

fn schemes() -> [RedundancyScheme; 2] {
    [
        RedundancyScheme::default(),
        "29/35/80/110".parse().expect("valid scheme"),
    ]
}

fn plaintext(scheme: &RedundancyScheme) -> Vec<u8> {
    // A whole number of blocks close to 4 MiB, so every batch is a full one.
    let block = scheme.block_plain_size() as usize;
    let mut data = vec![0u8; BATCH / block * block];
    rand::thread_rng().fill_bytes(&mut data);
    data
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("segment_encode");
    for scheme in schemes() {
        let data = plaintext(&scheme);
        let key = Key::random();
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(scheme), &data, |b, data| {
            let mut encoder = SegmentEncoder::new(scheme, &key);
            b.iter(|| encoder.encode_batch(data, false).expect("encodes"));
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("segment_decode");
    for scheme in schemes() {
        let data = plaintext(&scheme);
        let key = Key::random();
        let pieces = SegmentEncoder::new(scheme, &key)
            .encode_batch(&data, true)
            .expect("encodes");
        let decoder = SegmentDecoder::new(scheme, &key);
        let k = scheme.k as usize;
        group.throughput(Throughput::Bytes(data.len() as u64));
        for missing_data in [0usize, 2] {
            // Keep k pieces: all data pieces but `missing_data`, topped up with parity.
            let keep: Vec<usize> = (missing_data..k + missing_data).collect();
            let label = format!("{scheme}/missing_data={missing_data}");
            group.bench_function(BenchmarkId::from_parameter(label), |b| {
                b.iter_batched(
                    || {
                        pieces
                            .iter()
                            .enumerate()
                            .map(|(i, p)| keep.contains(&i).then(|| p.to_vec()))
                            .collect::<Vec<_>>()
                    },
                    |mut shares| decoder.decode_stripes(0, &mut shares).expect("decodes"),
                    criterion::BatchSize::LargeInput,
                );
            });
        }
        // The same with a reused output buffer, as a download loop would do: the
        // difference is the cost of faulting in fresh pages for every call.
        let label = format!("{scheme}/missing_data=0/reused_output");
        let mut out = Vec::with_capacity(data.len() + 16);
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter_batched(
                || {
                    pieces
                        .iter()
                        .take(k)
                        .map(|p| Some(p.to_vec()))
                        .chain((k..pieces.len()).map(|_| None))
                        .collect::<Vec<_>>()
                },
                |mut shares| {
                    out.clear();
                    decoder
                        .decode_stripes_into(0, &mut shares, &mut out)
                        .expect("decodes")
                },
                criterion::BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, encode, decode);
criterion_main!(benches);
