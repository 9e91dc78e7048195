//! Statistical constant-time tests (DudeCT, Reparaz et al. 2017) with `dudect-bencher`:
//! each operation runs on a fixed secret (class Left) and on fresh random secrets (class
//! Right), interleaved at random, and Welch's t-test compares the two timing
//! distributions. |t| above 4.5 means the timing depends on the secret.
//!
//! `cargo bench --bench dudect` runs SHROUD_DUDECT_N measurements per operation (default
//! 20 000; CI runs 2 000 through `tests/ct/dudect.sh`); the README's figures come from
//! `SHROUD_DUDECT_N=1000000 SHROUD_DUDECT_BITS=1024 cargo bench --bench dudect`. A negative control (num-bigint's
//! variable-time modpow on the same secret classes) shows the harness catches a leak.

use dudect_bencher::rand::{Rng, RngExt};
use dudect_bencher::{BenchRng, Class, CtRunner};
use num_bigint::BigUint;
use shroud::paillier::{Ciphertext, KeygenOptions, Plaintext, SecretKey, generate_keypair};
use std::sync::OnceLock;

fn measurements() -> usize {
    std::env::var("SHROUD_DUDECT_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

/// The key: SHROUD_DUDECT_BITS bits (2048 by default; 1024 makes long runs four to eight
/// times cheaper and runs the same code).
fn key() -> &'static SecretKey {
    static K: OnceLock<SecretKey> = OnceLock::new();
    K.get_or_init(|| {
        let bits = std::env::var("SHROUD_DUDECT_BITS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2048);
        let opts = KeygenOptions {
            bits,
            insecure_allow_1024: bits == 1024,
            ..Default::default()
        };
        generate_keypair(opts, &mut shroud::rng::seeded(u64::from(bits)), &|_| {}).unwrap()
    })
}

/// The classes, drawn by coin flips so that drift over time hits both alike.
fn classes(rng: &mut BenchRng) -> Vec<Class> {
    (0..measurements())
        .map(|_| {
            if rng.random::<bool>() {
                Class::Left
            } else {
                Class::Right
            }
        })
        .collect()
}

fn random_u64(rng: &mut BenchRng) -> u64 {
    rng.next_u64()
}

/// CRT decryption: a fixed ciphertext against random elements of Z*_{n^2} (every one a
/// valid ciphertext; drawing them is far cheaper than encrypting). Both classes are parsed
/// from bytes the same way, so their memory layout does not differ by class (a clone for
/// one class and a parse for the other showed up as |t| near 10 at 10^6 measurements).
fn decrypt(runner: &mut CtRunner, rng: &mut BenchRng) {
    let sk = key();
    let pk = sk.public_key();
    let fixed = pk
        .encrypt(&Plaintext::from_u64(pk, 0), &mut shroud::rng::seeded(1))
        .unwrap()
        .to_bytes_be();
    let random_ct = |rng: &mut BenchRng| loop {
        let mut b = vec![0u8; pk.ciphertext_bytes()];
        rng.fill_bytes(&mut b);
        if let Ok(c) = pk.ciphertext_from_bytes_be(&b) {
            return c;
        }
    };
    let inputs: Vec<(Class, Ciphertext)> = classes(rng)
        .into_iter()
        .map(|c| {
            let ct = match c {
                Class::Left => pk.ciphertext_from_bytes_be(&fixed).unwrap(),
                Class::Right => random_ct(rng),
            };
            (c, ct)
        })
        .collect();
    for (class, ct) in inputs {
        runner.run_one(class, || sk.decrypt(&ct).unwrap());
    }
}

/// Key-owner (CRT) encryption: the plaintext 0 against random plaintexts, each with its
/// own internally drawn nonce.
fn encrypt_key_owner(runner: &mut CtRunner, rng: &mut BenchRng) {
    let sk = key();
    let pk = sk.public_key();
    let inputs: Vec<(Class, Plaintext)> = classes(rng)
        .into_iter()
        .map(|c| {
            let m = match c {
                Class::Left => Plaintext::from_u64(pk, 0),
                Class::Right => Plaintext::from_u64(pk, random_u64(rng)),
            };
            (c, m)
        })
        .collect();
    // run_one takes a Fn: the nonce generator sits in a RefCell.
    let r = std::cell::RefCell::new(shroud::rng::seeded(2));
    for (class, m) in inputs {
        runner.run_one(class, || sk.encrypt(&m, &mut *r.borrow_mut()));
    }
}

/// Multiplication of a ciphertext by a secret scalar in Z_n: 1 against random scalars.
fn mul_secret_scalar(runner: &mut CtRunner, rng: &mut BenchRng) {
    let sk = key();
    let pk = sk.public_key();
    let c = pk
        .encrypt(&Plaintext::from_u64(pk, 12345), &mut shroud::rng::seeded(3))
        .unwrap();
    let inputs: Vec<(Class, Plaintext)> = classes(rng)
        .into_iter()
        .map(|class| {
            let k = match class {
                // Both classes through the same constructor (same allocations).
                Class::Left => Plaintext::from_biguint(pk, &BigUint::from(1u8)).unwrap(),
                Class::Right => {
                    let mut b = vec![0u8; pk.bits() as usize / 8 - 1];
                    rng.fill_bytes(&mut b);
                    Plaintext::from_biguint(pk, &BigUint::from_bytes_be(&b)).unwrap()
                }
            };
            (class, k)
        })
        .collect();
    for (class, k) in inputs {
        runner.run_one(class, || pk.mul_plaintext(&c, &k).unwrap());
    }
}

/// Negative control: num-bigint's square-and-multiply modpow with the same classes of
/// exponent (1 against random 2040-bit values) must show a huge |t|.
fn control_vartime_modpow(runner: &mut CtRunner, rng: &mut BenchRng) {
    let pk = key().public_key();
    let n = pk.n().clone();
    let base = BigUint::from(3u8);
    let inputs: Vec<(Class, BigUint)> = classes(rng)
        .into_iter()
        .take(2_000)
        .map(|class| {
            let e = match class {
                Class::Left => BigUint::from(1u8),
                Class::Right => {
                    let mut b = vec![0u8; 255];
                    rng.fill_bytes(&mut b);
                    BigUint::from_bytes_be(&b)
                }
            };
            (class, e)
        })
        .collect();
    for (class, e) in inputs {
        runner.run_one(class, || base.modpow(&e, &n));
    }
}

/// `cargo bench` passes `--bench`, which dudect-bencher's own argument parser refuses, so
/// the options come from the environment: SHROUD_DUDECT_FILTER (a substring of the names).
fn main() {
    use dudect_bencher::ctbench::{BenchMetadata, BenchName, BenchOpts, run_benches_console};
    let benches: Vec<BenchMetadata> = [
        ("decrypt", decrypt as dudect_bencher::ctbench::BenchFn),
        ("encrypt_key_owner", encrypt_key_owner),
        ("mul_secret_scalar", mul_secret_scalar),
        ("control_vartime_modpow", control_vartime_modpow),
    ]
    .into_iter()
    .map(|(name, benchfn)| BenchMetadata {
        name: BenchName(name),
        seed: Some(7),
        benchfn,
    })
    .collect();
    let opts = BenchOpts {
        filter: std::env::var("SHROUD_DUDECT_FILTER").ok(),
        ..BenchOpts::default()
    };
    run_benches_console(opts, benches).expect("writing to stdout");
}
