//! Throughput of the client's cryptography: block sealing bounds upload and download
//! speed, and path encryption and key derivation run once per name and per request.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use uplink_core::crypto::content::TAG_SIZE;
use uplink_core::crypto::path::{decrypt_path, encrypt_path};
use uplink_core::crypto::{BlockCipher, Key, derive};

const BLOCK: usize = 4080;
const TOTAL: usize = 1 << 20;

fn blocks(c: &mut Criterion) {
    let cipher = BlockCipher::new(&Key::random());
    let count = TOTAL / BLOCK;
    let mut buffers: Vec<Vec<u8>> = (0..count).map(|_| vec![7u8; BLOCK + TAG_SIZE]).collect();

    let mut group = c.benchmark_group("block_cipher");
    group.throughput(Throughput::Bytes((count * BLOCK) as u64));
    group.bench_function("seal_1MiB_of_4080B_blocks", |b| {
        b.iter(|| {
            for (i, buf) in buffers.iter_mut().enumerate() {
                cipher.seal_block(i as u64, buf);
            }
        })
    });
    for (i, buf) in buffers.iter_mut().enumerate() {
        cipher.seal_block(i as u64, buf);
    }
    let sealed = buffers.clone();
    group.bench_function("open_1MiB_of_4080B_blocks", |b| {
        b.iter(|| {
            // Opening decrypts in place, so restore the ciphertext first (a memcpy,
            // small next to AES-GCM).
            for (i, (buf, src)) in buffers.iter_mut().zip(&sealed).enumerate() {
                buf.copy_from_slice(src);
                cipher.open_block(i as u64, buf).expect("authentic");
            }
        })
    });
    group.finish();
}

fn paths(c: &mut Criterion) {
    let base = Key::random();
    let path = "photos/2024/summer/italy/IMG_0001.jpg";
    let encrypted = encrypt_path(&base, path);
    let mut group = c.benchmark_group("path");
    group.bench_function("encrypt_5_components", |b| {
        b.iter(|| encrypt_path(&base, std::hint::black_box(path)))
    });
    group.bench_function("decrypt_5_components", |b| {
        b.iter(|| decrypt_path(&base, std::hint::black_box(&encrypted)).expect("decrypts"))
    });
    group.bench_function("derive", |b| {
        b.iter(|| derive(&base, std::hint::black_box(b"content")))
    });
    group.finish();
}

criterion_group!(benches, blocks, paths);
criterion_main!(benches);
