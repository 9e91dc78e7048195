use curve25519_dalek::ristretto::RistrettoPoint;
use shroud::psi::oprf::*;
use std::time::Instant;
fn main() {
    let n = 20000;
    let dst = RFC_HASH_TO_GROUP_DST;
    let t = Instant::now();
    let pts: Vec<RistrettoPoint> = (0..n)
        .map(|i| hash_to_group(format!("x{i}").as_bytes(), dst).unwrap())
        .collect();
    println!("h2g {:.1} us", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    let t = Instant::now();
    for i in 0..n {
        let _ = expand_message_xmd(&[format!("x{i}").as_bytes()], dst, 64).unwrap();
    }
    println!("xmd {:.1} us", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    let mut rng = shroud::rng::seeded(1);
    let s = random_scalar(&mut rng);
    let t = Instant::now();
    let m: Vec<RistrettoPoint> = pts.iter().map(|p| p * s).collect();
    println!("mul {:.1} us", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    let t = Instant::now();
    let c: Vec<_> = m.iter().map(|p| p.compress()).collect();
    println!(
        "compress {:.1} us",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    let d: Vec<_> = c.iter().map(|p| p.decompress().unwrap()).collect();
    println!(
        "decompress {:.1} us {}",
        t.elapsed().as_secs_f64() * 1e6 / n as f64,
        d.len()
    );
    let t = Instant::now();
    let bytes: Vec<[u8; 64]> = (0..n)
        .map(|_| {
            let mut b = [0u8; 64];
            rand_core::Rng::fill_bytes(&mut rng, &mut b);
            b
        })
        .collect();
    let _: Vec<_> = bytes
        .iter()
        .map(|b| RistrettoPoint::from_uniform_bytes(b))
        .collect();
    println!(
        "from_uniform {:.1} us",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
