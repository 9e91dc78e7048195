//! Criterion benchmarks of PSI: the OPRF building blocks and whole sessions over the
//! in-memory transport. `cargo bench --bench psi`; `shroud bench psi --size N` times the
//! phases of one large session for the README table.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use curve25519_dalek::ristretto::RistrettoPoint;
use shroud::net::MemoryTransport;
use shroud::psi::oprf::{OprfKey, RFC_HASH_TO_GROUP_DST, hash_to_group, random_scalar};
use shroud::psi::{self, ClientConfig, Mode, ServerConfig, SetFormat};

fn oprf(c: &mut Criterion) {
    let mut g = c.benchmark_group("oprf");
    let mut rng = shroud::rng::seeded(1);
    let key = OprfKey::random(&mut rng);
    let s = random_scalar(&mut rng);
    let p = hash_to_group(b"patient-000001", RFC_HASH_TO_GROUP_DST).unwrap();
    g.bench_function("hash_to_group", |b| {
        b.iter(|| hash_to_group(b"patient-000001", RFC_HASH_TO_GROUP_DST).unwrap())
    });
    g.bench_function("variable_base_mul", |b| b.iter(|| p * s));
    g.bench_function("fixed_base_mul", |b| {
        b.iter(|| RistrettoPoint::mul_base(&s))
    });
    g.bench_function("compress", |b| b.iter(|| p.compress()));
    let points: Vec<RistrettoPoint> = (0..1024)
        .map(|_| RistrettoPoint::mul_base(&random_scalar(&mut rng)))
        .collect();
    g.bench_function("blind_evaluate_batch_1024", |b| {
        b.iter(|| key.blind_evaluate_batch_compressed(&points))
    });
    g.finish();
}

fn sessions(c: &mut Criterion) {
    let mut g = c.benchmark_group("psi_session");
    g.sample_size(10);
    let n = 2000;
    let server_set: Vec<Vec<u8>> = (0..n).map(|i| format!("id-{i}").into_bytes()).collect();
    let client_set: Vec<Vec<u8>> = (n / 2..n + n / 2)
        .map(|i| format!("id-{i}").into_bytes())
        .collect();
    for (mode, format) in [
        (Mode::Intersection, SetFormat::Compressed),
        (Mode::Intersection, SetFormat::Raw),
        (Mode::Cardinality, SetFormat::Compressed),
    ] {
        g.bench_function(BenchmarkId::new(format!("{mode}_{format:?}"), n), |b| {
            b.iter(|| {
                let mut cfg = ServerConfig::new(mode);
                cfg.format = format;
                let server = psi::Server::new(
                    cfg,
                    server_set.clone(),
                    None,
                    None,
                    &mut shroud::rng::seeded(2),
                )
                .unwrap();
                let client = psi::Client::new(ClientConfig::new(mode), client_set.clone()).unwrap();
                let (mut a, mut bt) = MemoryTransport::pair();
                let h = std::thread::spawn(move || {
                    psi::run_server(&mut a, server, &mut shroud::rng::seeded(3)).unwrap()
                });
                let out = psi::run_client(&mut bt, client, &mut shroud::rng::seeded(4)).unwrap();
                h.join().unwrap();
                assert_eq!(out.intersection_size, n / 2);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, oprf, sessions);
criterion_main!(benches);
