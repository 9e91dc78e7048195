//! Criterion benchmarks of the real Paillier operations (seeded keys; one thread except
//! where noted). `cargo bench --bench paillier`; the CLI's `shroud bench paillier` reports
//! medians of the same operations for the README table.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand_core::Rng;
use shroud::paillier::{KeygenOptions, Plaintext, RandomnessPool, SecretKey, generate_keypair};

fn key(bits: u32) -> SecretKey {
    let opts = KeygenOptions {
        bits,
        ..Default::default()
    };
    generate_keypair(opts, &mut shroud::rng::seeded(u64::from(bits)), &|_| {}).unwrap()
}

fn paillier(c: &mut Criterion) {
    let mut g = c.benchmark_group("paillier");
    g.sample_size(10);
    for bits in [2048u32, 3072, 4096] {
        let sk = key(bits);
        let pk = sk.public_key();
        let mut rng = shroud::rng::seeded(1);
        let m = Plaintext::from_u64(pk, rng.next_u64());
        let c1 = pk.encrypt(&m, &mut rng).unwrap();
        let c2 = pk.encrypt(&m, &mut rng).unwrap();
        g.bench_function(BenchmarkId::new("keygen", bits), |b| {
            b.iter(|| {
                generate_keypair(
                    KeygenOptions {
                        bits,
                        ..Default::default()
                    },
                    &mut rng,
                    &|_| {},
                )
                .unwrap()
            })
        });
        g.bench_function(BenchmarkId::new("encrypt", bits), |b| {
            b.iter(|| pk.encrypt(&m, &mut rng).unwrap())
        });
        g.bench_function(BenchmarkId::new("encrypt_owner", bits), |b| {
            b.iter(|| sk.encrypt(&m, &mut rng).unwrap())
        });
        g.bench_function(BenchmarkId::new("encrypt_pooled_online", bits), |b| {
            b.iter_batched(
                || {
                    let mut pool = RandomnessPool::new(pk);
                    pool.fill(1, &mut rng);
                    pool
                },
                |mut pool| pool.encrypt(&m).unwrap(),
                criterion::BatchSize::SmallInput,
            )
        });
        g.bench_function(BenchmarkId::new("decrypt", bits), |b| {
            b.iter(|| sk.decrypt(&c1).unwrap())
        });
        g.bench_function(BenchmarkId::new("add", bits), |b| {
            b.iter(|| pk.add(&c1, &c2).unwrap())
        });
        let k = rng.next_u64() as i64;
        g.bench_function(BenchmarkId::new("mul_scalar64", bits), |b| {
            b.iter(|| pk.mul_i64(&c1, k).unwrap())
        });
        let cts: Vec<_> = (0..16)
            .map(|i| pk.encrypt(&Plaintext::from_u64(pk, i), &mut rng).unwrap())
            .collect();
        let ws: Vec<i64> = (0..16).map(|_| rng.next_u64() as i64).collect();
        g.bench_function(BenchmarkId::new("dot16", bits), |b| {
            b.iter(|| pk.dot_i64(&cts, &ws).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, paillier);
criterion_main!(benches);
