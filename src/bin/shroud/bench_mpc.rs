//! `shroud bench mpc`: the secret-sharing engine, two parties in one process over the
//! in-memory transport (each party on its own thread), timing the real operations.

use std::sync::{Arc, Barrier};
use std::time::Instant;

use clap::Args;
use serde_json::{Map, Value, json};
use shroud::mpc::share::matmul_plain;
use shroud::mpc::{Dealer, FractionalBits, Material, Mesh, MpcError, Party, Request, Shared};

use crate::Failure;

#[derive(Args)]
pub struct MpcArgs {
    /// Elements for the elementwise multiplication.
    #[arg(long, default_value_t = 1_000_000)]
    elements: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `f` as both parties with dealer material for `req`; returns the wall time of the
/// part after the barrier (the online phase) and party 0's result.
fn two_parties<T: Send + 'static>(
    req: Request,
    setup: impl Fn(&mut Party<Material>) -> Result<Vec<Shared>, MpcError>
    + Send
    + Sync
    + Clone
    + 'static,
    online: impl Fn(&mut Party<Material>, &[Shared]) -> Result<T, MpcError>
    + Send
    + Sync
    + Clone
    + 'static,
) -> Result<(f64, T), Failure> {
    let dealt = Dealer::new(2)?.deal(&req, &mut shroud::rng::chacha_from_os())?;
    let m0 = Material::from_corrections(req.clone(), dealt.corrections)?;
    let m1 = Material::from_seed(req, &dealt.seeds[0])?;
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = Mesh::memory(2)
        .into_iter()
        .zip([m0, m1])
        .map(|(mesh, m)| {
            let (setup, online, barrier) = (setup.clone(), online.clone(), barrier.clone());
            std::thread::spawn(move || -> Result<(f64, T), MpcError> {
                let mut p = Party::new(mesh, m, FractionalBits::default());
                let inputs = setup(&mut p)?;
                barrier.wait();
                let t = Instant::now();
                let out = online(&mut p, &inputs)?;
                Ok((t.elapsed().as_secs_f64(), out))
            })
        })
        .collect();
    let mut results = Vec::new();
    for h in handles {
        results.push(h.join().map_err(|_| Failure("a party panicked".into()))??);
    }
    let wall = results.iter().map(|r| r.0).fold(0.0, f64::max);
    let (_, out) = results.swap_remove(0);
    Ok((wall, out))
}

fn random_shares(len: usize) -> Vec<u64> {
    let mut rng = shroud::rng::chacha_from_os();
    (0..len)
        .map(|_| rand_core::Rng::next_u64(&mut rng))
        .collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

pub fn run(a: MpcArgs) -> Result<(), Failure> {
    let n = a.elements;
    if n == 0 {
        return Err(Failure("--elements must be positive".into()));
    }
    let mut out = Map::new();

    // Online Beaver multiplication of n elements (best of 5 runs).
    let mut times = Vec::new();
    for _ in 0..5 {
        let req = Request {
            triples: n,
            ..Request::default()
        };
        let (t, _) = two_parties(
            req,
            move |_| {
                Ok(vec![
                    Shared::from_vec(random_shares(n)),
                    Shared::from_vec(random_shares(n)),
                ])
            },
            |p, xs| p.mul(&xs[0], &xs[1]).map(|z| z.len()),
        )?;
        times.push(t);
    }
    let beaver = n as f64 / times.iter().copied().fold(f64::INFINITY, f64::min);
    out.insert("beaver_mults_per_s".into(), json!(beaver));
    out.insert("beaver_elements".into(), json!(n));

    // 128 x 128 fixed-point matmul (matrix triple + truncation), median of 21, against the
    // same kernel on plaintext i64.
    let d = 128;
    let mut shared = Vec::new();
    for _ in 0..21 {
        let req = Request {
            matrix: vec![(d, d, d)],
            trunc: vec![(d * d, 16)],
            ..Request::default()
        };
        let (t, _) = two_parties(
            req,
            move |_| {
                Ok(vec![
                    Shared::from_matrix(random_shares(d * d), d, d)?,
                    Shared::from_matrix(random_shares(d * d), d, d)?,
                ])
            },
            |p, xs| p.matmul_fixed(&xs[0], &xs[1]).map(|z| z.len()),
        )?;
        shared.push(t * 1e3);
    }
    let x = random_shares(d * d);
    let y = random_shares(d * d);
    let mut plain = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        let z = matmul_plain(std::hint::black_box(&x), std::hint::black_box(&y), d, d, d);
        std::hint::black_box(z);
        plain.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (shared_ms, plain_ms) = (median(shared), median(plain));
    out.insert("matmul128_ms".into(), json!(shared_ms));
    out.insert("plain_matmul128_ms".into(), json!(plain_ms));

    // Dealer: 1M triples for two parties (draw, multiply, expand one seed, corrections).
    let req = Request {
        triples: 1_000_000,
        ..Request::default()
    };
    let t = Instant::now();
    let dealt = Dealer::new(2)?.deal(&req, &mut shroud::rng::chacha_from_os())?;
    let dealer = 1e6 / t.elapsed().as_secs_f64();
    drop(dealt);
    out.insert("dealer_triples_per_s".into(), json!(dealer));

    if a.json {
        println!("{}", Value::Object(out));
    } else {
        println!("secret sharing, 2 parties, in-memory transport, each party on its own thread");
        println!(
            "  online Beaver multiplication ({n} elements)  {:>12.1} M/s",
            beaver / 1e6
        );
        println!("  fixed-point 128x128 matmul (shared)      {shared_ms:>12.2} ms");
        println!(
            "  same product on plaintext i64            {plain_ms:>12.2} ms  (ratio {:.2})",
            shared_ms / plain_ms
        );
        println!(
            "  dealer triples (2 parties)               {:>12.1} M/s",
            dealer / 1e6
        );
    }
    Ok(())
}
