//! `shroud bench mpc`: the secret-sharing engine, two parties in one process over the
//! in-memory transport (each party on its own thread), timing the real operations.

use std::sync::{Arc, Barrier};
use std::time::Instant;

use clap::Args;
use serde_json::{Map, Value, json};
use shroud::mpc::share::matmul_plain;
use shroud::mpc::{
    Dealer, FractionalBits, Material, Mesh, MpcError, Party, Request, SessionId, Shared,
};

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
    let session = SessionId::random(&mut shroud::rng::os_rng());
    let dealt = Dealer::new(2)?.deal(&session, &req, &mut shroud::rng::chacha_from_os())?;
    let m0 = Material::from_corrections(req.clone(), &session, dealt.corrections)?;
    let m1 = Material::from_seed(req, &session, &dealt.seeds[0])?;
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

    // Authenticated mode: the same multiplication with MACs (best of 3).
    let mut auth_times = Vec::new();
    for _ in 0..3 {
        auth_times.push(auth_mul(n)?);
    }
    let auth = n as f64 / auth_times.iter().copied().fold(f64::INFINITY, f64::min);
    out.insert("mac_beaver_mults_per_s".into(), json!(auth));

    // Two-party Paillier offline phase at 2048 bits (key generated beforehand).
    let count = 240;
    let paillier = count as f64 / paillier_offline(count)?;
    out.insert("paillier_triples_per_s".into(), json!(paillier));

    // Dealer: 1M triples for two parties (draw, multiply, expand one seed, corrections).
    let req = Request {
        triples: 1_000_000,
        ..Request::default()
    };
    let t = Instant::now();
    let session = SessionId::random(&mut shroud::rng::os_rng());
    let dealt = Dealer::new(2)?.deal(&session, &req, &mut shroud::rng::chacha_from_os())?;
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
        println!("  Paillier offline triples (2048 bits)     {paillier:>12.1} /s");
        println!(
            "  authenticated (SPDZ2k) multiplication    {:>12.1} M/s  ({:.1}x the plain cost)",
            auth / 1e6,
            beaver / auth
        );
    }
    Ok(())
}

/// Online time of one authenticated multiplication of n elements, two parties.
fn auth_mul(n: usize) -> Result<f64, Failure> {
    use shroud::mpc::spdz::{AuthMaterial, AuthParty, AuthRequest, deal};
    let req = AuthRequest {
        triples: n,
        inputs: vec![(0, n), (1, n)],
        outputs: 0,
    };
    let session = SessionId::random(&mut shroud::rng::os_rng());
    let dealt = deal(2, &session, &req, &mut shroud::rng::chacha_from_os())?;
    let m0 = AuthMaterial::from_corrections(req.clone(), &session, dealt.corrections)?;
    let m1 = AuthMaterial::from_seed(req, &session, 1, &dealt.seeds[0])?;
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = Mesh::memory(2)
        .into_iter()
        .zip([m0, m1])
        .map(|(mesh, m)| {
            let barrier = barrier.clone();
            std::thread::spawn(move || -> Result<f64, MpcError> {
                let mut p = AuthParty::new(mesh, m)?;
                let me = p.index();
                let v = random_shares(n);
                let x = p.input(0, (me == 0).then_some(&v[..]), n)?;
                let y = p.input(1, (me == 1).then_some(&v[..]), n)?;
                barrier.wait();
                let t = Instant::now();
                let z = p.mul(&x, &y)?;
                std::hint::black_box(z);
                Ok(t.elapsed().as_secs_f64())
            })
        })
        .collect();
    let mut wall: f64 = 0.0;
    for h in handles {
        wall = wall.max(h.join().map_err(|_| Failure("a party panicked".into()))??);
    }
    Ok(wall)
}

/// Wall time of the two-party Paillier offline phase for `count` triples, 2048-bit key.
fn paillier_offline(count: usize) -> Result<f64, Failure> {
    use shroud::mpc::paillier_offline::{triples_helper, triples_key_holder};
    use shroud::paillier::{KeygenOptions, generate_keypair};
    let sk = generate_keypair(
        KeygenOptions {
            bits: 2048,
            ..KeygenOptions::default()
        },
        &mut shroud::rng::chacha_from_os(),
        &|_| {},
    )?;
    let mut meshes = Mesh::memory(2);
    let mut m1 = meshes.pop().ok_or_else(|| Failure("mesh".into()))?;
    let mut m0 = meshes.pop().ok_or_else(|| Failure("mesh".into()))?;
    let t = Instant::now();
    let h = std::thread::spawn(move || {
        triples_helper(&mut m1, count, 2048, &mut shroud::rng::chacha_from_os()).map(|_| ())
    });
    triples_key_holder(&mut m0, &sk, count, &mut shroud::rng::chacha_from_os())?;
    h.join().map_err(|_| Failure("helper panicked".into()))??;
    Ok(t.elapsed().as_secs_f64())
}
