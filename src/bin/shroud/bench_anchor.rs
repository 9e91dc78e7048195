//! The reference points of `shroud bench paillier`: the Montgomery product in cycles on
//! each backend, the same exponentiations through OpenSSL's constant-time code (feature
//! `anchor`), and python-paillier on the same operations (`--with-phe`).

use num_bigint::BigUint;
use rand_core::Rng;
use serde_json::{Value, json};
use shroud::monty::{Backend, raw};

use crate::Failure;
use crate::bench::time_ms;

/// The CPU clock the kernel reports, in GHz (`cpu MHz` in /proc/cpuinfo), used to turn
/// nanoseconds into cycles. `None` when the kernel does not say.
pub(crate) fn clock_ghz() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("cpu MHz"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|mhz| mhz / 1e3)
}

fn random_limbs(rng: &mut impl Rng, limbs: usize) -> Vec<u64> {
    (0..limbs).map(|_| rng.next_u64()).collect()
}

/// A random odd modulus of exactly `bits` bits (a multiple of 64).
fn random_modulus(rng: &mut impl Rng, bits: u32) -> Vec<u64> {
    let mut m = random_limbs(rng, (bits / 64) as usize);
    m[0] |= 1;
    *m.last_mut().expect("at least one limb") |= 1 << 63;
    m
}

fn big(w: &[u64]) -> BigUint {
    BigUint::from_slice(
        &w.iter()
            .flat_map(|x| [*x as u32, (*x >> 32) as u32])
            .collect::<Vec<_>>(),
    )
}

fn limbs_of(x: &BigUint, n: usize) -> Vec<u64> {
    let mut v = x.to_u64_digits();
    v.resize(n, 0);
    v
}

/// Nanoseconds per call of `f`: the fastest of 15 batches of `per` calls (the least
/// disturbed by other load on a shared machine).
fn ns_per_call(per: usize, mut f: impl FnMut()) -> f64 {
    (0..15)
        .map(|_| {
            let t = std::time::Instant::now();
            for _ in 0..per {
                f();
            }
            t.elapsed().as_secs_f64() * 1e9 / per as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// Montgomery multiplication and squaring at `bits` (a modulus size), per backend: ns and
/// cycles per product.
pub(crate) fn kernel_row(bits: u32) -> Value {
    let mut rng = shroud::rng::seeded(u64::from(bits));
    let limbs = (bits / 64) as usize;
    let m = random_modulus(&mut rng, bits);
    let mb = big(&m);
    let a = limbs_of(&(big(&random_limbs(&mut rng, limbs)) % &mb), limbs);
    let b = limbs_of(&(big(&random_limbs(&mut rng, limbs)) % &mb), limbs);
    let ghz = clock_ghz();
    let mut out = serde_json::Map::new();
    out.insert("modulus_bits".into(), json!(bits));
    for be in [Backend::Portable, Backend::Mulx] {
        if !be.available() {
            continue;
        }
        let mul_ns = ns_per_call(2000, || {
            std::hint::black_box(raw::mont_mul(be, &a, &b, &m));
        });
        let sqr_ns = ns_per_call(2000, || {
            std::hint::black_box(raw::mont_sqr(be, &a, &m));
        });
        out.insert(
            be.name().into(),
            json!({
                "mul_ns": mul_ns,
                "sqr_ns": sqr_ns,
                "mul_cycles": ghz.map(|g| mul_ns * g),
                "sqr_cycles": ghz.map(|g| sqr_ns * g),
            }),
        );
    }
    Value::Object(out)
}

/// Products a fixed-window-5 exponentiation with an `exp_bits`-bit exponent performs (the
/// table, one squaring per bit, one multiplication per window): shroud's and OpenSSL's
/// x86-64 `BN_mod_exp_mont_consttime` (which uses window 5 at these sizes) alike.
fn products(exp_bits: u32) -> f64 {
    f64::from(32 + exp_bits + exp_bits.div_ceil(5))
}

/// One anchor row: `exp_bits`-bit secret exponent modulo a `mod_bits`-bit modulus, through
/// shroud's kernel and (with the `anchor` feature) OpenSSL's constant-time code.
pub(crate) fn anchor_row(exp_bits: u32, mod_bits: u32) -> Result<Value, Failure> {
    let mut rng = shroud::rng::seeded(u64::from(exp_bits + mod_bits));
    let limbs = (mod_bits / 64) as usize;
    let m = random_modulus(&mut rng, mod_bits);
    let mb = big(&m);
    let base = big(&random_limbs(&mut rng, limbs)) % &mb;
    let mut e = random_limbs(&mut rng, (exp_bits / 64) as usize);
    *e.last_mut().expect("at least one limb") |= 1 << 63;
    let r = (BigUint::from(1u8) << (64 * limbs)) % &mb;
    let base_m = limbs_of(&(&base * &r % &mb), limbs);
    let one = limbs_of(&r, limbs);
    let shroud_ms = time_ms(1.0, || {
        std::hint::black_box(raw::pow(
            shroud::monty::backend(),
            &base_m,
            &e,
            exp_bits,
            &m,
            &one,
        ));
    });
    // Check the kernel's answer against num-bigint once.
    let got = raw::pow(shroud::monty::backend(), &base_m, &e, exp_bits, &m, &one)
        .ok_or_else(|| Failure("no kernel for this size".into()))?;
    if big(&got) != base.modpow(&big(&e), &mb) * &r % &mb {
        return Err(Failure(format!(
            "kernel result wrong at {mod_bits} bits (a bug: please report)"
        )));
    }
    let openssl_ms = openssl_ms(&m, &base, &e)?;
    let ghz = clock_ghz();
    let per_product = |ms: f64| ms * 1e6 / products(exp_bits);
    Ok(json!({
        "exp_bits": exp_bits,
        "mod_bits": mod_bits,
        "shroud_ms": shroud_ms,
        "openssl_ms": openssl_ms,
        "ratio": openssl_ms.map(|o| shroud_ms / o),
        "shroud_product_ns": per_product(shroud_ms),
        "openssl_product_ns": openssl_ms.map(per_product),
        "openssl_product_cycles": openssl_ms.and_then(|o| ghz.map(|g| per_product(o) * g)),
    }))
}

#[cfg(feature = "anchor")]
fn openssl_ms(m: &[u64], base: &BigUint, e: &[u64]) -> Result<Option<f64>, Failure> {
    use openssl::bn::{BigNum, BigNumContext};
    let err = |e: openssl::error::ErrorStack| Failure(format!("OpenSSL: {e}"));
    let m = BigNum::from_slice(&big(m).to_bytes_be()).map_err(err)?;
    let b = BigNum::from_slice(&base.to_bytes_be()).map_err(err)?;
    let mut p = BigNum::from_slice(&big(e).to_bytes_be()).map_err(err)?;
    // BN_FLG_CONSTTIME on the exponent: BN_mod_exp takes BN_mod_exp_mont_consttime.
    p.set_const_time();
    let mut ctx = BigNumContext::new().map_err(err)?;
    let mut r = BigNum::new().map_err(err)?;
    let mut failed = false;
    let ms = time_ms(1.0, || {
        failed |= r.mod_exp(&b, &p, &m, &mut ctx).is_err();
    });
    if failed {
        return Err(Failure("OpenSSL's BN_mod_exp failed".into()));
    }
    Ok(Some(ms))
}

#[cfg(not(feature = "anchor"))]
fn openssl_ms(_m: &[u64], _base: &BigUint, _e: &[u64]) -> Result<Option<f64>, Failure> {
    Ok(None)
}

/// Whether OpenSSL is linked in (feature `anchor`).
pub(crate) const HAVE_OPENSSL: bool = cfg!(feature = "anchor");

/// python-paillier's figures for the key sizes, from `benches/phe_paillier.py`.
pub(crate) fn phe_rows(bits: &[u32]) -> Result<Vec<Value>, Failure> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/phe_paillier.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(bits.iter().map(u32::to_string))
        .output()
        .map_err(|e| Failure(format!("cannot run python3 {script}: {e}")))?;
    if !out.status.success() {
        return Err(Failure(format!(
            "{script} failed (needs `pip install phe==1.5.0 gmpy2`): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| Failure(format!("{script}: {e}"))))
        .collect()
}
